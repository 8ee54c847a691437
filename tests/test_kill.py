"""Runs killed with SIGKILL at several points leave the old outputs or the new ones, never a mix and never a torn
file: training (model, metadata, plot), export (TFLite model and its metadata), mask augmentation (a dataset
folder) and video recording. (A kill between the moves that publish a set is rolled forward by the next run:
tests/test_outputs.py.) Each run is a real script in a subprocess on real faces; it is killed the moment
the temporary file of a given output appears (polled), or while it works. Afterwards the folder is recovered as
the next run would (`facemask.outputs.recover`) and checked.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from facemask.defaults import default_keras_model
from facemask.imageio import letterbox, read_image
from facemask.metadata import metadata_path
from facemask.outputs import recover

from test_data import make_dataset

pytestmark = pytest.mark.slow
REPOSITORY = Path(__file__).resolve().parents[1]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def temporaries(folder: Path) -> list[Path]:
    """The temporary outputs and journals in `folder` (files or staging folders)."""
    return [p for p in folder.iterdir() if p.name.startswith(".") and "facemask-" in p.name]


def start(keras_home: str | None, script: str, *args, temporary_folder: Path | None = None) -> subprocess.Popen:
    """`script` with `args` in a process of its own; `temporary_folder`: its TMPDIR (the system's by default)."""
    env = dict(os.environ)
    if keras_home:
        env["KERAS_HOME"] = keras_home
    if temporary_folder is not None:
        env["TMPDIR"] = str(temporary_folder)
    return subprocess.Popen(
        [sys.executable, str(REPOSITORY / script), *map(str, args)],
        cwd=REPOSITORY,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def signal_when(
    process: subprocess.Popen, ready: Callable[[], bool], signum: int = signal.SIGKILL, timeout: float = 900
) -> tuple[bool, str]:
    """Send `signum` to `process` as soon as `ready()` holds (polled every 2 ms); (whether it was sent before
    the process ended by itself, its standard output). The process has ended when this returns."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            process.send_signal(signum)
            return True, process.communicate(timeout=60)[0]
        if process.poll() is not None:
            return False, process.communicate()[0]
        time.sleep(0.002)
    process.kill()
    process.communicate()
    raise AssertionError(f"nothing happened in {timeout} s")


def appeared(folder: Path, pattern: str) -> Callable[[], bool]:
    return lambda: any(folder.glob(pattern))


def after(seconds: float, condition: Callable[[], bool]) -> Callable[[], bool]:
    """`condition`, then `seconds` later."""
    seen: list[float] = []

    def ready() -> bool:
        if not seen and condition():
            seen.append(time.monotonic())
        return bool(seen) and time.monotonic() - seen[0] >= seconds

    return ready


# Training ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_dataset(faces_dir, tmp_path_factory) -> Path:
    return make_dataset(faces_dir, tmp_path_factory.mktemp("kill-train") / "dataset", 8)


@pytest.mark.parametrize("moment", ["while training", "plot being written"])
def test_killed_training_leaves_the_earlier_model_set_whole(moment, tiny_dataset, keras_home, tmp_path):
    model = tmp_path / "m.keras"
    shipped = default_keras_model()
    for source, target in (
        (shipped, model),
        (metadata_path(shipped), tmp_path / "m.json"),
        (shipped.with_suffix(".png"), tmp_path / "m.png"),
    ):
        shutil.copy(source, target)
    old = {p.name: sha(p) for p in tmp_path.iterdir()}
    inputs = {str(p): sha(p) for p in tiny_dataset.rglob("*.jpg")}
    process = start(
        keras_home,
        "train_mask_detector.py",
        "--dataset",
        tiny_dataset,
        "--model",
        model,
        "--epochs",
        "20",
        "--batch-size",
        "8",
        "--force",
        "--quiet",
    )
    ready = {
        # TensorFlow starting, the faces loading or training (the whole run takes about 15 s here)
        "while training": after(6.0, lambda: True),
        "plot being written": appeared(tmp_path, ".m.png.*facemask-tmp*"),
    }[moment]  # model and metadata done
    killed, _ = signal_when(process, ready)
    assert killed, f"the run ended before it could be killed ({moment})"
    recover(tmp_path)  # what the next run does first
    assert not temporaries(tmp_path)
    now = {p.name: sha(p) for p in tmp_path.iterdir()}
    # the three are published together or not at all: all as they were, or (where the kill landed after the
    # publishing, on a fast machine) all new
    assert now.keys() == old.keys()
    assert now == old or all(now[name] != old[name] for name in old), (now, old)
    assert zipfile.ZipFile(model).testzip() is None
    assert {str(p): sha(p) for p in tiny_dataset.rglob("*.jpg")} == inputs


# Export -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("moment", ["while converting", "model being written"])
def test_killed_export_leaves_the_earlier_export_whole(moment, keras_home, tmp_path):
    source = default_keras_model()
    before = sha(source)
    old = {}
    for kind in ("float32", "int8"):  # earlier exports (not byte-identical to what this export writes)
        target = tmp_path / f"{source.stem}_{kind}.tflite"
        target.write_bytes(f"an earlier {kind} export".encode())
        metadata_path(target).write_text(json.dumps({"class_names": ["with_mask", "without_mask"], "earlier": kind}))
        old[kind] = (sha(target), sha(metadata_path(target)))
    scratch = tmp_path / "scratch"  # the export's TMPDIR: the converter's working files appear there
    scratch.mkdir()
    process = start(
        keras_home,
        "export_tflite.py",
        "--model",
        source,
        "-o",
        tmp_path,
        "--force",
        "-q",
        "float32",
        temporary_folder=scratch,
    )
    ready = {
        "while converting": appeared(scratch, "*"),  # converting to float32, nothing published yet
        "model being written": appeared(tmp_path, "*float32.tflite.*facemask-tmp*"),
    }[moment]
    killed, _ = signal_when(process, ready)
    assert killed, f"the export ended before it could be killed ({moment})"
    recover(tmp_path)
    assert not temporaries(tmp_path)
    for kind in ("float32", "int8"):  # killed before the export was published: both as they were
        target = tmp_path / f"{source.stem}_{kind}.tflite"
        assert (sha(target), sha(metadata_path(target))) == old[kind], kind
    assert sha(source) == before


# Augmentation -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def unmasked_photos(faces_dir, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("kill-augment") / "photos"
    folder.mkdir()
    for path in sorted((faces_dir / "without_mask").glob("*.jpg"))[:12]:
        shutil.copy(path, folder / path.name)
    return folder


def test_killed_augmentation_leaves_no_half_filled_dataset(unmasked_photos, keras_home, tmp_path):
    inputs = {p.name: sha(p) for p in unmasked_photos.iterdir()}
    fresh, existing = tmp_path / "fresh", tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("the user's own file")
    for output, extra in ((fresh, []), (existing, ["--force"])):
        for moment in ("staging folder created", "some faces masked"):
            before = {str(p): sha(p) for p in tmp_path.rglob("*") if p.is_file() and "facemask-" not in str(p)}
            process = start(
                keras_home, "augment_masks.py", "-i", unmasked_photos, "-o", output, "--dataset", "--quiet", *extra
            )
            staging = f".{output.name}.*facemask-tmp"
            condition = (
                appeared(tmp_path, staging)
                if moment == "staging folder created"
                else (
                    lambda staging=staging: (
                        sum(1 for folder in tmp_path.glob(staging) for _ in folder.rglob("*.jpg")) >= 4
                    )
                )
            )
            assert signal_when(process, condition)[0], f"augmentation ended before it was killed ({moment})"
            recover(tmp_path)
            assert not temporaries(tmp_path)
            after_kill = {str(p): sha(p) for p in tmp_path.rglob("*") if p.is_file()}
            assert after_kill == before, f"{output.name}, killed when {moment}: the output changed"
        done = start(
            keras_home, "augment_masks.py", "-i", unmasked_photos, "-o", output, "--dataset", "--quiet", *extra
        )
        _out, err = done.communicate(timeout=400)
        assert done.returncode == 0, err
        assert len(list((output / "without_mask").glob("*.jpg"))) == len(inputs)
        assert len(list((output / "with_mask").glob("*.jpg"))) >= len(inputs) // 2
    assert (existing / "keep.txt").read_text() == "the user's own file"
    assert {p.name: sha(p) for p in unmasked_photos.iterdir()} == inputs


# Video recording --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip(scenes_dir, tmp_path_factory) -> Path:
    """Six seconds of 640x480 video of a real scene photo."""
    path = tmp_path_factory.mktemp("kill-video") / "clip.avi"
    frame = letterbox(read_image(sorted((scenes_dir / "images").glob("*.jpg"))[0]), (640, 480))[0]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (640, 480))
    for index in range(150):
        writer.write(np.roll(frame, index, axis=1))
    writer.release()
    return path


def frames_in(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


@pytest.mark.parametrize(
    "moment, signum",
    [
        ("recording started", signal.SIGKILL),
        ("recording for a second", signal.SIGKILL),
        ("recording for a second", signal.SIGTERM),
    ],
    ids=["killed at the start", "killed while recording", "stopped with SIGTERM"],
)
def test_a_recording_replaces_its_target_only_at_a_clean_stop(moment, signum, clip, keras_home, tmp_path):
    target = tmp_path / "recording.avi"
    shutil.copy(clip, target)  # an earlier recording
    old, source = sha(target), sha(clip)
    process = start(keras_home, "detect_mask_video.py", "--source", clip, "--output", target, "--force", "--no-display")
    started = appeared(tmp_path, ".recording.avi.*facemask-tmp*")
    ready = started if moment == "recording started" else after(1.0, started)
    stopped, out = signal_when(process, ready, signum)
    assert stopped, "the video ended before the run was stopped"
    if signum == signal.SIGKILL:
        recover(tmp_path)
        assert sha(target) == old and not temporaries(tmp_path)
    else:  # stopped cleanly: the recording of what was seen replaces the old one, whole
        assert process.returncode == 0 and "stopped by interrupted" in out, out
        assert not temporaries(tmp_path)
        recorded = frames_in(target)
        assert sha(target) != old and 0 < recorded < frames_in(clip)
    assert sha(clip) == source
