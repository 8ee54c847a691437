"""Shared fixtures: where the read-only data lives, the shipped model, and running the scripts as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]


def _shared_dir() -> Path:
    return Path(os.environ.get("FACEMASK_SHARED", REPOSITORY.parent / "shared"))


@pytest.fixture(scope="session")
def repository() -> Path:
    """The repository root (the scripts live here)."""
    return REPOSITORY


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only ../shared folder (or $FACEMASK_SHARED); skips the test where it is absent."""
    shared = _shared_dir()
    if not (shared / "data").is_dir():
        pytest.skip(f"shared data not found at {shared} (set FACEMASK_SHARED to its path)")
    return shared


@pytest.fixture(scope="session")
def scenes_dir(shared_dir: Path) -> Path:
    """The annotated real scenes (images/ and annotations.csv)."""
    scenes = shared_dir / "data" / "scenes-dev"
    if not (scenes / "annotations.csv").is_file():
        pytest.skip(f"annotated scenes not found at {scenes}")
    return scenes


@pytest.fixture(scope="session")
def faces_dir(shared_dir: Path) -> Path:
    """The training faces (with_mask/, without_mask/)."""
    faces = shared_dir / "data" / "faces"
    if not (faces / "with_mask").is_dir():
        pytest.skip(f"training faces not found at {faces}")
    return faces


@pytest.fixture(scope="session")
def shipped_model() -> Path:
    """The classifier shipped in models/."""
    model = REPOSITORY / "models" / "mask_detector.keras"
    assert model.is_file(), f"the shipped model is missing: {model}"
    return model


@pytest.fixture(scope="session")
def run_script():
    """Run a root script as a user would: `run_script("detect_mask_image.py", "--image", ...)`."""

    def run(script: str, *args: str | os.PathLike, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(REPOSITORY / script), *map(str, args)], cwd=REPOSITORY,
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    return run
