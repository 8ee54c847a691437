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


def _scene_set(shared_dir: Path, name: str) -> Path:
    """The annotated scene set `name` under the shared data (images/ and annotations.csv); skips where absent."""
    scenes = shared_dir / "data" / name
    if not (scenes / "annotations.csv").is_file():
        pytest.skip(f"annotated scenes not found at {scenes}")
    return scenes


@pytest.fixture(scope="session")
def scenes_dir(shared_dir: Path) -> Path:
    """The annotated real scenes (images/ and annotations.csv)."""
    return _scene_set(shared_dir, "scenes-dev")


@pytest.fixture(scope="session")
def example_scenes_dir(tmp_path_factory) -> Path:
    """The photos shipped in examples/ as an annotated scene set (images/ and annotations.csv; their faces boxed by
    hand, tests/scenes.py's EXAMPLE_FACES): real photos with faces on every clone, no ../shared needed."""
    from scenes import example_scene_set

    return example_scene_set(REPOSITORY / "examples", tmp_path_factory.mktemp("example_scenes"))


@pytest.fixture(scope="session")
def crowd_scenes_dir(shared_dir: Path) -> Path:
    """The annotated crowd scenes (small faces, masks worn incorrectly)."""
    return _scene_set(shared_dir, "scenes-crowd-dev")


@pytest.fixture(scope="session")
def train_scenes_dir(shared_dir: Path) -> Path:
    """The annotated training scenes (scenes-train: the one scene set a model may learn from)."""
    return _scene_set(shared_dir, "scenes-train")


@pytest.fixture(scope="session")
def faces_dir(shared_dir: Path) -> Path:
    """The training faces (with_mask/, without_mask/)."""
    faces = shared_dir / "data" / "faces"
    if not (faces / "with_mask").is_dir():
        pytest.skip(f"training faces not found at {faces}")
    return faces


@pytest.fixture(scope="session")
def shipped_model() -> Path:
    """The shipped `.keras` classifier (training, export; loading it needs TensorFlow)."""
    from facemask.defaults import default_keras_model

    model = default_keras_model()
    assert model.is_file(), f"the shipped model is missing: {model}"
    return model


@pytest.fixture(scope="session")
def default_model() -> Path:
    """The shipped TFLite classifier every inference tool uses by default."""
    from facemask.defaults import default_model

    model = default_model()
    assert model.is_file(), f"the shipped TFLite model is missing: {model}"
    return model


@pytest.fixture(scope="session")
def keras_home(tmp_path_factory) -> str | None:
    """A KERAS_HOME holding the ImageNet MobileNetV2 weights from ../shared, where Keras' own cache lacks them.

    None keeps the user's Keras cache (which has the weights, or downloads them on first use).
    """
    from facemask.training import imagenet_weights_file

    cached = imagenet_weights_file(224)
    shared = _shared_dir() / "weights" / cached.name
    if cached.is_file() or not shared.is_file():
        return None
    home = tmp_path_factory.mktemp("keras_home")
    (home / "models").mkdir()
    (home / "models" / cached.name).symlink_to(shared)
    return str(home)


@pytest.fixture(scope="session")
def run_script(keras_home):
    """Run a root script as a user would: `run_script("detect_mask_image.py", "--image", ...)`."""

    def run(
        script: str, *args: str | os.PathLike, timeout: float = 600, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        env = dict(os.environ if env is None else env)
        if keras_home:
            env["KERAS_HOME"] = keras_home
        return subprocess.run(
            [sys.executable, str(REPOSITORY / script), *map(str, args)],
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            env=env,
        )

    return run


@pytest.fixture(scope="session")
def default_pipeline(default_model):
    """The default pipeline (the default detector and the shipped TFLite classifier), loaded once per session and
    shared by every module that only runs it."""
    from facemask.pipeline import MaskPipeline

    return MaskPipeline.load(model=default_model)
