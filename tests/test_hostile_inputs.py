"""Hostile inputs across every tool, tried as a new user would: degenerate and corrupt images, outputs that
cannot be created, corrupt models and metadata, bad scene files and datasets, dead sources, bad numbers.

Every case runs the tool's `main()` in this process through `run_cli` (what the script does) and checks: a
non-zero exit, exactly one `error:` line that names the problem and the path (or option) at fault, no traceback,
and not one input file changed. Degenerate images that are valid pictures (1 pixel, 1 pixel thin, 100 megapixels)
are results instead: exit 0 and a result that describes them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from facemask.cli import augment, calibrate, detect_image, detect_video, evaluate, export, train
from facemask.defaults import default_keras_model, default_model
from facemask.errors import run_cli
from facemask.metadata import metadata_path

REPOSITORY = Path(__file__).resolve().parents[1]
PHOTO = REPOSITORY / "examples" / "two_people.jpg"  # public-domain portraits shipped with the repository
HEADER = "image,x,y,w,h,label\n"


def digest(*folders: Path) -> dict[str, str]:
    """sha256 of every file under `folders`."""
    return {
        str(path): hashlib.sha256(path.read_bytes()).hexdigest()
        for folder in folders
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def png_with_zero_height() -> bytes:
    """A PNG whose header says 10 x 0 pixels (an image with a zero-length side)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 10, 0, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def scenes(root: Path, csv: str, images: dict[str, bytes]) -> Path:
    (root / "images").mkdir(parents=True)
    for name, data in images.items():
        (root / "images" / name).write_bytes(data)
    if csv is not None:
        (root / "annotations.csv").write_text(csv, encoding="utf-8")
    return root


def unwritable_folder(tmp: Path) -> Path:
    """A folder where nothing can be created: a read-only folder, or /sys where permissions do not hold (root)."""
    folder = tmp / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        (folder / "probe").write_bytes(b"")
    except OSError:
        return folder
    (folder / "probe").unlink()
    folder.chmod(0o755)
    return Path("/sys")


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> SimpleNamespace:
    """Every hostile input, made once: `inp` holds them (hashed around each case); outputs go elsewhere."""
    inp = tmp_path_factory.mktemp("inputs")
    photo = PHOTO.read_bytes()
    (inp / "photo.jpg").write_bytes(photo)
    cv2.imwrite(str(inp / "one_pixel.png"), np.full((1, 1, 3), 128, np.uint8))
    cv2.imwrite(str(inp / "thin.png"), np.full((1, 500, 3), 128, np.uint8))
    (inp / "zero_height.png").write_bytes(png_with_zero_height())
    (inp / "empty.jpg").write_bytes(b"")
    (inp / "truncated.jpg").write_bytes(photo[: len(photo) // 2])
    (inp / "text.jpg").write_text("this is not a picture")
    (inp / "file").write_text("a file where a folder should be")
    (inp / "no_images").mkdir()
    (inp / "no_images" / "notes.txt").write_text("nothing to see")

    models = inp / "models"
    models.mkdir()
    shipped = default_model()
    (models / "garbage.tflite").write_bytes(os.urandom(4096))
    (models / "truncated.tflite").write_bytes(shipped.read_bytes()[:200_000])
    (models / "garbage.keras").write_bytes(b"PK\x03\x04 not really a zip")
    for name, meta in [
        ("bad_json", "{not json"),
        ("two_classes", json.dumps({"class_names": ["a", "b"]})),
        ("other_hash", json.dumps({"class_names": ["with_mask", "without_mask"], "model_sha256": "0" * 64})),
    ]:
        shutil.copy(shipped, models / f"{name}.tflite")
        (models / f"{name}.json").write_text(meta)
    shutil.copy(shipped, models / "no_metadata.tflite")

    face = '"photo.jpg",663,106,151,196,without_mask\n'
    images = {"photo.jpg": photo}
    scenes(inp / "scenes_no_csv", None, images)
    scenes(inp / "scenes_bad_header", "picture,left,top\nphoto.jpg,1,2\n", images)
    scenes(inp / "scenes_bad_box", HEADER + "photo.jpg,ten,106,151,196,without_mask\n", images)
    scenes(inp / "scenes_inf_box", HEADER + "photo.jpg,inf,106,151,196,without_mask\n", images)
    scenes(inp / "scenes_zero_area", HEADER + "photo.jpg,663,106,0,196,without_mask\n", images)
    scenes(inp / "scenes_missing_image", HEADER + "gone.jpg,1,1,20,20,with_mask\n", images)
    (inp / "scenes_binary").mkdir()
    scenes(inp / "scenes_binary", None, images)
    (inp / "scenes_binary" / "annotations.csv").write_bytes(b"\xff\xfe\x00\x81" * 64)
    scenes(
        inp / "scenes_truncated_image",
        HEADER + '"photo.jpg",663,106,151,196,with_mask\n',
        {"photo.jpg": photo[: len(photo) // 2]},
    )
    scenes(inp / "scenes_only_masked", HEADER + '"photo.jpg",663,106,151,196,with_mask\n', images)
    scenes(inp / "scenes_good", HEADER + face, images)
    scenes(
        inp / "scenes_degenerate",
        HEADER + "one.png,0,0,1,1,with_mask\n",
        {
            "photo.jpg": photo,
            "one.png": (inp / "one_pixel.png").read_bytes(),
            "thin.png": (inp / "thin.png").read_bytes(),
        },
    )

    datasets = inp / "datasets"
    for name in ("with_mask", "without_mask"):
        (datasets / "one_class" / "with_mask").mkdir(parents=True, exist_ok=True)
        (datasets / "empty_class" / name).mkdir(parents=True)
        (datasets / "unreadable" / name).mkdir(parents=True)
        (datasets / "too_few" / name).mkdir(parents=True)
    (datasets / "one_class" / "with_mask" / "a.jpg").write_bytes(photo)
    (datasets / "empty_class" / "with_mask" / "a.jpg").write_bytes(photo)
    (datasets / "unreadable" / "with_mask" / "a.jpg").write_bytes(photo)
    (datasets / "unreadable" / "without_mask" / "a.jpg").write_bytes(photo[:1000])
    (datasets / "unreadable" / "without_mask" / "b.jpg").write_text("not an image")
    (datasets / "too_few" / "with_mask" / "a.jpg").write_bytes(photo)
    (datasets / "too_few" / "without_mask" / "a.jpg").write_bytes(photo)
    for name, manifest in (("manifest_columns", b"a,b\n1,2\n"), ("manifest_binary", b"\xff\xfe\x00not text")):
        for label in ("with_mask", "without_mask"):
            (datasets / name / label).mkdir(parents=True)
            (datasets / name / label / "a.jpg").write_bytes(photo)
        (datasets / name / "sources.csv").write_bytes(manifest)

    (inp / "faces").mkdir()
    (inp / "faces" / "photo.jpg").write_bytes(photo)
    (inp / "bad_templates").mkdir()
    (inp / "bad_templates" / "mask.json").write_text("{not json")
    (inp / "garbage.mp4").write_bytes(os.urandom(20_000))
    writer = cv2.VideoWriter(str(inp / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (160, 120))
    for _ in range(5):
        writer.write(cv2.resize(cv2.imread(str(inp / "photo.jpg")), (160, 120)))
    writer.release()
    (inp / "empty.mp4").write_bytes(b"")
    (inp / "existing.json").write_text("[]\n")
    (inp / "existing.avi").write_bytes(b"an earlier recording")
    return SimpleNamespace(
        inp=inp, unwritable=unwritable_folder(tmp_path_factory.mktemp("locked")), long_name="x" * 300 + ".json"
    )


@dataclass(frozen=True)
class Case:
    """One hostile run: the tool, its arguments, the problem its error must state and the path it must name."""

    tool: Callable
    args: Callable[[SimpleNamespace, Path], list]
    problem: str  # a regular expression
    names: Callable[[SimpleNamespace, Path], object]


def case(name: str, tool, args, problem, names, *marks) -> object:
    return pytest.param(Case(tool.main, args, problem, names), id=name, marks=marks)


IMAGE, VIDEO, EVALUATE, CALIBRATE = detect_image, detect_video, evaluate, calibrate
TRAIN, EXPORT, AUGMENT = train, export, augment
slow = pytest.mark.slow

CASES = [
    # detect_mask_image.py
    case(
        "image-missing",
        IMAGE,
        lambda e, o: ["--image", e.inp / "nope.jpg"],
        "no such file",
        lambda e, o: e.inp / "nope.jpg",
    ),
    case(
        "image-empty-file",
        IMAGE,
        lambda e, o: ["--image", e.inp / "empty.jpg"],
        "empty file",
        lambda e, o: e.inp / "empty.jpg",
    ),
    case(
        "image-truncated-jpeg",
        IMAGE,
        lambda e, o: ["--image", e.inp / "truncated.jpg", "--output", o / "a.jpg"],
        "truncated JPEG",
        lambda e, o: e.inp / "truncated.jpg",
    ),
    case(
        "image-text-as-jpeg",
        IMAGE,
        lambda e, o: ["--image", e.inp / "text.jpg"],
        "not an image",
        lambda e, o: e.inp / "text.jpg",
    ),
    case(
        "image-zero-height-png",
        IMAGE,
        lambda e, o: ["--image", e.inp / "zero_height.png"],
        "not an image",
        lambda e, o: e.inp / "zero_height.png",
    ),
    case(
        "image-folder-without-images",
        IMAGE,
        lambda e, o: ["--image", e.inp / "no_images", "--output", o],
        "no images found",
        lambda e, o: e.inp / "no_images",
    ),
    case(
        "image-output-parent-is-a-file",
        IMAGE,
        lambda e, o: ["--image", e.inp / "photo.jpg", "--output", e.inp / "file" / "a.jpg"],
        "is a file, not a folder",
        lambda e, o: e.inp / "file",
    ),
    case(
        "image-output-in-unwritable-folder",
        IMAGE,
        lambda e, o: ["--image", e.inp / "thin.png", "--output", e.unwritable / "facemask-test.jpg"],
        r"cannot write \(.+\)",
        lambda e, o: e.unwritable / "facemask-test.jpg",
    ),
    case(
        "image-output-overwrites-input",
        IMAGE,
        lambda e, o: ["--image", e.inp / "photo.jpg", "--output", e.inp / "photo.jpg", "--force"],
        "would overwrite an input",
        lambda e, o: e.inp / "photo.jpg",
    ),
    case(
        "image-output-bad-extension",
        IMAGE,
        lambda e, o: ["--image", e.inp / "photo.jpg", "--output", o / "a.txt"],
        "needs one of the extensions",
        lambda e, o: o / "a.txt",
    ),
    case(
        "image-json-parent-is-a-file",
        IMAGE,
        lambda e, o: ["--image", e.inp / "photo.jpg", "--json", e.inp / "file" / "r.json"],
        "is a file, not a folder",
        lambda e, o: e.inp / "file",
    ),
    case(
        "image-json-is-a-folder",
        IMAGE,
        lambda e, o: ["--image", e.inp / "photo.jpg", "--json", o, "--force"],
        "is a folder",
        lambda e, o: o,
    ),
    case(
        "image-json-exists",
        IMAGE,
        lambda e, o: ["--image", e.inp / "photo.jpg", "--json", e.inp / "existing.json"],
        "use --force",
        lambda e, o: e.inp / "existing.json",
    ),
    case(
        "image-json-name-too-long",
        IMAGE,
        lambda e, o: ["--image", e.inp / "thin.png", "--json", o / e.long_name],
        "too long",
        lambda e, o: o / e.long_name,
    ),
    case(
        "image-model-garbage",
        IMAGE,
        lambda e, o: ["--image", e.inp / "photo.jpg", "-m", e.inp / "models/garbage.tflite"],
        "cannot load TFLite model",
        lambda e, o: e.inp / "models/garbage.tflite",
    ),
    case(
        "image-model-truncated",
        IMAGE,
        lambda e, o: ["--image", e.inp / "photo.jpg", "-m", e.inp / "models/truncated.tflite"],
        "cannot load TFLite model",
        lambda e, o: e.inp / "models/truncated.tflite",
    ),
    case(
        "image-model-missing",
        IMAGE,
        lambda e, o: ["--image", e.inp / "photo.jpg", "-m", o / "none.tflite"],
        "model file not found",
        lambda e, o: o / "none.tflite",
    ),
    case(
        "image-model-is-a-folder",
        IMAGE,
        lambda e, o: ["--image", e.inp / "photo.jpg", "-m", e.inp / "models"],
        "model file not found",
        lambda e, o: e.inp / "models",
    ),
    case(
        "image-metadata-not-json",
        IMAGE,
        lambda e, o: ["--image", e.inp / "photo.jpg", "-m", e.inp / "models/bad_json.tflite"],
        "not valid JSON",
        lambda e, o: e.inp / "models/bad_json.json",
    ),
    case(
        "image-metadata-wrong-class-count",
        IMAGE,
        lambda e, o: ["--image", e.inp / "photo.jpg", "-m", e.inp / "models/two_classes.tflite"],
        "names 2 classes but the model has 3",
        lambda e, o: e.inp / "models/two_classes.json",
    ),
    case(
        "image-metadata-for-another-model",
        IMAGE,
        lambda e, o: ["--image", e.inp / "photo.jpg", "-m", e.inp / "models/other_hash.tflite"],
        "describes another model file",
        lambda e, o: e.inp / "models/other_hash.json",
    ),
    case(
        "image-confidence-above-one",
        IMAGE,
        lambda e, o: ["--image", e.inp / "photo.jpg", "--confidence", "1.5"],
        "between 0 and 1",
        lambda e, o: "--confidence",
    ),
    case(
        "image-threshold-nan",
        IMAGE,
        lambda e, o: ["--image", e.inp / "photo.jpg", "--unmasked-threshold", "nan"],
        "between 0 and 1",
        lambda e, o: "--unmasked-threshold",
    ),
    case(
        "image-crop-margin-too-large",
        IMAGE,
        lambda e, o: ["--image", e.inp / "photo.jpg", "--crop-margin", "5"],
        "between -0.4 and 1",
        lambda e, o: "--crop-margin",
    ),
    case(
        "image-face-folder-missing",
        IMAGE,
        lambda e, o: ["--image", e.inp / "photo.jpg", "--face", o / "ssd"],
        "face detector folder not found",
        lambda e, o: o / "ssd",
    ),
    case(
        "image-face-folder-without-model",
        IMAGE,
        lambda e, o: ["--image", e.inp / "photo.jpg", "--face", e.inp / "no_images"],
        "no deploy .prototxt",
        lambda e, o: e.inp / "no_images",
    ),
    # detect_mask_video.py
    case(
        "video-file-missing",
        VIDEO,
        lambda e, o: ["--source", e.inp / "nope.mp4", "--no-display"],
        "video file not found",
        lambda e, o: e.inp / "nope.mp4",
    ),
    case(
        "video-file-garbage",
        VIDEO,
        lambda e, o: ["--source", e.inp / "garbage.mp4", "--no-display"],
        "cannot open video file",
        lambda e, o: e.inp / "garbage.mp4",
    ),
    case(
        "video-file-empty",
        VIDEO,
        lambda e, o: ["--source", e.inp / "empty.mp4", "--no-display"],
        "cannot open video file",
        lambda e, o: e.inp / "empty.mp4",
    ),
    case(
        "video-dead-stream",
        VIDEO,
        lambda e, o: ["--source", "rtsp://127.0.0.1:9/none", "--max-retries", "0", "--no-display"],
        "cannot open stream",
        lambda e, o: "rtsp://127.0.0.1:9/none",
    ),
    case(
        "video-no-such-camera",
        VIDEO,
        lambda e, o: ["--source", "99", "--no-display"],
        "cannot open camera",
        lambda e, o: "99",
    ),
    case(
        "video-output-parent-is-a-file",
        VIDEO,
        lambda e, o: ["--source", e.inp / "garbage.mp4", "--output", e.inp / "file" / "r.avi", "--no-display"],
        "is a file, not a folder",
        lambda e, o: e.inp / "file",
    ),
    case(
        "video-output-exists",
        VIDEO,
        lambda e, o: ["--source", e.inp / "garbage.mp4", "--output", e.inp / "existing.avi", "--no-display"],
        "use --force",
        lambda e, o: e.inp / "existing.avi",
    ),
    case(
        "video-output-bad-extension",
        VIDEO,
        lambda e, o: ["--source", e.inp / "garbage.mp4", "--output", o / "r.gif", "--no-display"],
        "needs one of the extensions",
        lambda e, o: o / "r.gif",
    ),
    case(
        "video-events-is-a-folder",
        VIDEO,
        lambda e, o: ["--source", e.inp / "clip.avi", "--events", o, "--no-display"],
        "events file is a folder",
        lambda e, o: o,
    ),
    case(
        "video-events-parent-is-a-file",
        VIDEO,
        lambda e, o: ["--source", e.inp / "clip.avi", "--events", e.inp / "file" / "e.jsonl", "--no-display"],
        "is a file, not a folder",
        lambda e, o: e.inp / "file",
    ),
    case(
        "video-events-in-unwritable-folder",
        VIDEO,
        lambda e, o: ["--source", e.inp / "clip.avi", "--events", e.unwritable / "facemask.jsonl", "--no-display"],
        r"cannot open the events file \(.+\)",
        lambda e, o: e.unwritable / "facemask.jsonl",
    ),
    case(
        "video-model-garbage",
        VIDEO,
        lambda e, o: ["--source", e.inp / "clip.avi", "-m", e.inp / "models/garbage.tflite", "--no-display"],
        "cannot load TFLite model",
        lambda e, o: e.inp / "models/garbage.tflite",
    ),
    case(
        "video-output-in-unwritable-folder",
        VIDEO,
        lambda e, o: ["--source", e.inp / "clip.avi", "--output", e.unwritable / "facemask.avi", "--no-display"],
        r"cannot write \(.+\)",
        lambda e, o: e.unwritable / "facemask.avi",
    ),
    case(
        "video-negative-retries",
        VIDEO,
        lambda e, o: ["--source", "0", "--max-retries", "-1"],
        "must be 0 or more",
        lambda e, o: "--max-retries",
    ),
    case(
        "video-detection-size-too-small",
        VIDEO,
        lambda e, o: ["--source", "0", "--detection-size", "4"],
        "at least 32",
        lambda e, o: "--detection-size",
    ),
    # evaluate_pipeline.py
    case(
        "evaluate-scenes-missing",
        EVALUATE,
        lambda e, o: ["--scenes", o / "none", "-q"],
        "scenes folder not found",
        lambda e, o: o / "none",
    ),
    case(
        "evaluate-no-annotations",
        EVALUATE,
        lambda e, o: ["--scenes", e.inp / "scenes_no_csv", "-q"],
        "no annotations.csv",
        lambda e, o: e.inp / "scenes_no_csv",
    ),
    case(
        "evaluate-wrong-columns",
        EVALUATE,
        lambda e, o: ["--scenes", e.inp / "scenes_bad_header", "-q"],
        "annotations need the columns",
        lambda e, o: e.inp / "scenes_bad_header" / "annotations.csv",
    ),
    case(
        "evaluate-box-not-a-number",
        EVALUATE,
        lambda e, o: ["--scenes", e.inp / "scenes_bad_box", "-q"],
        "bad box on line 2",
        lambda e, o: e.inp / "scenes_bad_box" / "annotations.csv",
    ),
    case(
        "evaluate-box-infinite",
        EVALUATE,
        lambda e, o: ["--scenes", e.inp / "scenes_inf_box", "-q"],
        "bad box on line 2",
        lambda e, o: e.inp / "scenes_inf_box" / "annotations.csv",
    ),
    case(
        "evaluate-box-without-area",
        EVALUATE,
        lambda e, o: ["--scenes", e.inp / "scenes_zero_area", "-q"],
        "box with no area",
        lambda e, o: e.inp / "scenes_zero_area" / "annotations.csv",
    ),
    case(
        "evaluate-annotated-image-missing",
        EVALUATE,
        lambda e, o: ["--scenes", e.inp / "scenes_missing_image", "-q"],
        "annotated image not found",
        lambda e, o: e.inp / "scenes_missing_image" / "images" / "gone.jpg",
    ),
    case(
        "evaluate-annotations-not-text",
        EVALUATE,
        lambda e, o: ["--scenes", e.inp / "scenes_binary", "-q"],
        "cannot read annotations",
        lambda e, o: e.inp / "scenes_binary" / "annotations.csv",
    ),
    case(
        "evaluate-truncated-scene-image",
        EVALUATE,
        lambda e, o: ["--scenes", e.inp / "scenes_truncated_image", "-q"],
        "truncated JPEG",
        lambda e, o: e.inp / "scenes_truncated_image" / "images" / "photo.jpg",
    ),
    case(
        "evaluate-json-parent-is-a-file",
        EVALUATE,
        lambda e, o: ["--scenes", e.inp / "scenes_good", "--json", e.inp / "file" / "m.json", "-q"],
        "is a file, not a folder",
        lambda e, o: e.inp / "file",
    ),
    case(
        "evaluate-json-in-unwritable-folder",
        EVALUATE,
        lambda e, o: ["--scenes", e.inp / "scenes_good", "--json", e.unwritable / "facemask-test.json", "-q"],
        r"cannot write \(.+\)",
        lambda e, o: e.unwritable / "facemask-test.json",
    ),
    case(
        "evaluate-plots-is-a-file",
        EVALUATE,
        lambda e, o: ["--scenes", e.inp / "scenes_good", "--plots", e.inp / "file", "-q"],
        "--plots must be a folder",
        lambda e, o: e.inp / "file",
    ),
    case(
        "evaluate-plots-in-unwritable-folder",
        EVALUATE,
        lambda e, o: ["--scenes", e.inp / "scenes_good", "--plots", e.unwritable / "facemask-plots", "-q"],
        r"cannot create the output folder \(.+\)",
        lambda e, o: e.unwritable / "facemask-plots",
    ),
    case(
        "evaluate-model-garbage",
        EVALUATE,
        lambda e, o: ["--scenes", e.inp / "scenes_good", "-m", e.inp / "models/garbage.tflite", "-q"],
        "cannot load TFLite model",
        lambda e, o: e.inp / "models/garbage.tflite",
    ),
    # calibrate_threshold.py
    case(
        "calibrate-scenes-missing",
        CALIBRATE,
        lambda e, o: ["--scenes", o / "none", "-q"],
        "scenes folder not found",
        lambda e, o: o / "none",
    ),
    case(
        "calibrate-one-fold",
        CALIBRATE,
        lambda e, o: ["--scenes", e.inp / "scenes_good", "--folds", "1", "-q"],
        "at least 2",
        lambda e, o: "--folds",
    ),
    case(
        "calibrate-write-without-metadata",
        CALIBRATE,
        lambda e, o: ["--scenes", e.inp / "scenes_good", "-m", e.inp / "models/no_metadata.tflite", "--write", "-q"],
        "model has 3 outputs and no metadata naming its classes",
        lambda e, o: e.inp / "models/no_metadata.json",
    ),
    case(
        "calibrate-only-masked-faces",
        CALIBRATE,
        lambda e, o: ["--scenes", e.inp / "scenes_only_masked", "-q"],
        "needs both masked faces and unmasked",
        lambda e, o: e.inp / "scenes_only_masked",
    ),
    case(
        "calibrate-metadata-not-json",
        CALIBRATE,
        lambda e, o: ["--scenes", e.inp / "scenes_good", "-m", e.inp / "models/bad_json.tflite", "-q"],
        "not valid JSON",
        lambda e, o: e.inp / "models/bad_json.json",
    ),
    # train_mask_detector.py
    case(
        "train-dataset-missing",
        TRAIN,
        lambda e, o: ["--dataset", o / "none", "--model", o / "m.keras", "-q"],
        "dataset folder not found",
        lambda e, o: o / "none",
    ),
    case(
        "train-one-class",
        TRAIN,
        lambda e, o: ["--dataset", e.inp / "datasets/one_class", "--model", o / "m.keras", "-q"],
        "at least two class folders",
        lambda e, o: e.inp / "datasets/one_class",
    ),
    case(
        "train-empty-class",
        TRAIN,
        lambda e, o: ["--dataset", e.inp / "datasets/empty_class", "--model", o / "m.keras", "-q"],
        "class folder has no images",
        lambda e, o: e.inp / "datasets/empty_class/without_mask",
    ),
    case(
        "train-unreadable-class",
        TRAIN,
        lambda e, o: ["--dataset", e.inp / "datasets/unreadable", "--model", o / "m.keras", "-q"],
        "no readable images",
        lambda e, o: e.inp / "datasets/unreadable/without_mask",
    ),
    case(
        "train-too-few-to-hold-back",
        TRAIN,
        lambda e, o: ["--dataset", e.inp / "datasets/too_few", "--model", o / "m.keras", "-q"],
        "too few images to hold back",
        lambda e, o: e.inp / "datasets/too_few",
    ),
    case(
        "train-sources-manifest-wrong-columns",
        TRAIN,
        lambda e, o: ["--dataset", e.inp / "datasets/manifest_columns", "--model", o / "m.keras", "-q"],
        "needs the columns image,source",
        lambda e, o: e.inp / "datasets/manifest_columns/sources.csv",
    ),
    case(
        "train-sources-manifest-not-text",
        TRAIN,
        lambda e, o: ["--dataset", e.inp / "datasets/manifest_binary", "--model", o / "m.keras", "-q"],
        "cannot read the sources manifest",
        lambda e, o: e.inp / "datasets/manifest_binary/sources.csv",
    ),
    case(
        "train-model-parent-is-a-file",
        TRAIN,
        lambda e, o: ["--dataset", e.inp / "datasets/too_few", "--model", e.inp / "file" / "m.keras"],
        "is a file, not a folder",
        lambda e, o: e.inp / "file",
    ),
    case(
        "train-model-not-keras",
        TRAIN,
        lambda e, o: ["--dataset", e.inp / "datasets/too_few", "--model", o / "m.h5"],
        "must end in .keras",
        lambda e, o: o / "m.h5",
    ),
    case(
        "train-zero-epochs",
        TRAIN,
        lambda e, o: ["--dataset", e.inp / "datasets/too_few", "--model", o / "m.keras", "--epochs", "0"],
        "at least 1",
        lambda e, o: "--epochs",
    ),
    case(
        "train-low-resolution-above-one",
        TRAIN,
        lambda e, o: ["--dataset", e.inp / "datasets/too_few", "--model", o / "m.keras", "--low-resolution", "3"],
        "between 0 and 1",
        lambda e, o: "--low-resolution",
    ),
    # export_tflite.py
    case(
        "export-model-missing",
        EXPORT,
        lambda e, o: ["--model", o / "none.keras", "-o", o],
        "model file not found",
        lambda e, o: o / "none.keras",
    ),
    case(
        "export-model-not-keras",
        EXPORT,
        lambda e, o: ["--model", e.inp / "models/no_metadata.tflite", "-o", o],
        "only a .keras model",
        lambda e, o: e.inp / "models/no_metadata.tflite",
    ),
    case(
        "export-output-dir-missing",
        EXPORT,
        lambda e, o: ["-o", o / "none"],
        "output folder does not exist",
        lambda e, o: o / "none",
    ),
    case(
        "export-output-dir-is-a-file",
        EXPORT,
        lambda e, o: ["-o", e.inp / "file"],
        "is a file, not a folder",
        lambda e, o: e.inp / "file",
    ),
    case(
        "export-scenes-bad-box",
        EXPORT,
        lambda e, o: ["-o", o, "--scenes", e.inp / "scenes_bad_box"],
        "bad box on line 2",
        lambda e, o: e.inp / "scenes_bad_box" / "annotations.csv",
    ),
    case(
        "export-model-garbage",
        EXPORT,
        lambda e, o: ["--model", e.inp / "models/garbage.keras", "-o", o],
        "cannot load model",
        lambda e, o: e.inp / "models/garbage.keras",
        slow,
    ),
    case(
        "export-into-unwritable-folder",
        EXPORT,
        lambda e, o: ["-q", "float32", "-o", e.unwritable],
        r"cannot write \(.+\)",
        lambda e, o: e.unwritable / "mask_detector_float32.tflite",
        slow,
    ),
    # augment_masks.py
    case(
        "augment-input-missing",
        AUGMENT,
        lambda e, o: ["-i", o / "none", "-o", o / "out"],
        "input is not a folder",
        lambda e, o: o / "none",
    ),
    case(
        "augment-output-inside-input",
        AUGMENT,
        lambda e, o: ["-i", e.inp / "faces", "-o", e.inp / "faces" / "out"],
        "must not be inside the input",
        lambda e, o: e.inp / "faces" / "out",
    ),
    case(
        "augment-output-is-a-file",
        AUGMENT,
        lambda e, o: ["-i", e.inp / "faces", "-o", e.inp / "file"],
        "output is not a folder",
        lambda e, o: e.inp / "file",
    ),
    case(
        "augment-output-parent-is-a-file",
        AUGMENT,
        lambda e, o: ["-i", e.inp / "faces", "-o", e.inp / "file" / "out", "-q"],
        "is a file, not a folder",
        lambda e, o: e.inp / "file",
    ),
    case(
        "augment-output-in-unwritable-folder",
        AUGMENT,
        lambda e, o: ["-i", e.inp / "faces", "-o", e.unwritable / "facemask-out", "-q"],
        r"cannot create the output folder \(.+\)",
        lambda e, o: e.unwritable / "facemask-out",
    ),
    case(
        "augment-zero-per-face",
        AUGMENT,
        lambda e, o: ["-i", e.inp / "faces", "-o", o / "out", "--per-face", "0"],
        "at least 1",
        lambda e, o: "--per-face",
    ),
    case(
        "augment-incorrect-fraction-above-one",
        AUGMENT,
        lambda e, o: ["-i", e.inp / "faces", "-o", o / "out", "--incorrect-fraction", "2"],
        "between 0 and 1",
        lambda e, o: "--incorrect-fraction",
    ),
    case(
        "augment-templates-missing",
        AUGMENT,
        lambda e, o: ["-i", e.inp / "faces", "-o", o / "out", "--templates", o / "none"],
        "template folder not found",
        lambda e, o: o / "none",
    ),
    case(
        "augment-template-not-json",
        AUGMENT,
        lambda e, o: ["-i", e.inp / "faces", "-o", o / "out", "--templates", e.inp / "bad_templates"],
        "not a valid mask template file",
        lambda e, o: e.inp / "bad_templates" / "mask.json",
    ),
    case(
        "augment-unknown-mask-type",
        AUGMENT,
        lambda e, o: ["-i", e.inp / "faces", "-o", o / "out", "--types", "scarf"],
        "unknown mask type scarf",
        lambda e, o: "scarf",
    ),
    case(
        "augment-input-without-images",
        AUGMENT,
        lambda e, o: ["-i", e.inp / "no_images", "-o", o / "out"],
        "no images found",
        lambda e, o: e.inp / "no_images",
    ),
]


def run(tool, argv: list, capfd) -> tuple[int, str, str]:
    """Run a tool's main() as its script does; its exit code and what it printed (native libraries' output too)."""
    code = run_cli(tool, [str(a) for a in argv])
    captured = capfd.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("hostile", CASES)
def test_hostile_input_is_one_line_error_and_changes_nothing(hostile: Case, env, tmp_path, capfd):
    models = default_model().parent
    before = digest(env.inp, models)
    code, out, err = run(hostile.tool, hostile.args(env, tmp_path), capfd)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code != 0, (out, err)
    assert "Traceback" not in out + err
    assert len(errors) == 1 and err.lower().count("error") == errors[0].lower().count("error"), err
    assert re.search(hostile.problem, errors[0]), errors[0]
    assert str(hostile.names(env, tmp_path)) in errors[0], errors[0]
    assert digest(env.inp, models) == before
    if hostile.tool is train.main:
        assert not (tmp_path / "m.keras").exists()
    assert not [p for p in tmp_path.rglob("*") if "facemask-tmp" in p.name]


def test_there_are_many_cases_for_every_tool():
    tools = [param.values[0].tool for param in CASES]
    assert len(tools) >= 40
    for tool in (detect_image, detect_video, evaluate, calibrate, train, export, augment):
        assert tools.count(tool.main) >= 4, tool.__name__


# Degenerate images that are valid pictures are results, not errors ---------------------------------------------


@pytest.mark.parametrize("name, size", [("one_pixel.png", (1, 1)), ("thin.png", (500, 1))])
def test_image_tool_describes_a_degenerate_image(name, size, env, tmp_path, capfd):
    before = digest(env.inp)
    code, _out, err = run(
        detect_image.main,
        ["--image", env.inp / name, "--output", tmp_path / "a.png", "--json", tmp_path / "r.json"],
        capfd,
    )
    assert code == 0 and "Traceback" not in err, err
    (result,) = json.loads((tmp_path / "r.json").read_text())
    assert (result["width"], result["height"], result["faces"]) == (*size, [])
    assert cv2.imread(str(tmp_path / "a.png")).shape[:2] == size[::-1]
    assert digest(env.inp) == before


@pytest.mark.slow
def test_image_tool_handles_a_hundred_megapixel_photo(env, tmp_path, capfd):
    photo = cv2.imread(str(env.inp / "photo.jpg"))
    huge = tmp_path / "huge.jpg"
    cv2.imwrite(
        str(huge),
        cv2.resize(photo, (14_000, 14_000 * photo.shape[0] // photo.shape[1])),
        [cv2.IMWRITE_JPEG_QUALITY, 70],
    )
    code, _out, err = run(detect_image.main, ["--image", huge, "--json", tmp_path / "r.json"], capfd)
    assert code == 0 and "Traceback" not in err, err
    (result,) = json.loads((tmp_path / "r.json").read_text())
    assert result["width"] * result["height"] >= 100_000_000
    assert len(result["faces"]) >= 1  # the two enlarged portraits are still faces


def test_evaluation_counts_degenerate_scene_images(env, tmp_path, capfd):
    code, _out, err = run(
        evaluate.main, ["--scenes", env.inp / "scenes_degenerate", "--json", tmp_path / "m.json", "-q"], capfd
    )
    assert code == 0 and "Traceback" not in err, err
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["images"] == 3 and metrics["faces"] == 1


def test_augmentation_skips_degenerate_and_corrupt_images_with_warnings(env, tmp_path, capfd):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("one_pixel.png", "thin.png", "zero_height.png", "truncated.jpg"):
        shutil.copy(env.inp / name, folder / name)
    code, out, err = run(augment.main, ["-i", folder, "-o", tmp_path / "out", "-q"], capfd)
    assert code == 0 and "Traceback" not in err, err
    assert "4 images: 0 faces masked" in out and "2 unreadable" in out
    assert err.count("warning: skipped") == 2 and "error:" not in err


def test_an_unused_metadata_file_of_a_keras_model_is_checked_by_export(env, tmp_path, capfd):
    """The export reads the source model's metadata before converting: corrupt metadata stops it at once."""
    model = tmp_path / "m.keras"
    shutil.copy(default_keras_model(), model)
    metadata_path(model).write_text("[1, 2")
    code, _out, err = run(export.main, ["--model", model, "-o", tmp_path], capfd)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code != 0 and len(errors) == 1 and "not valid JSON" in errors[0] and str(metadata_path(model)) in errors[0]
    assert not list(tmp_path.glob("*.tflite"))


def test_video_tool_records_a_one_pixel_video(env, tmp_path, capfd):
    clip = tmp_path / "dot.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (1, 1))
    for _ in range(5):
        writer.write(np.full((1, 1, 3), 90, np.uint8))
    writer.release()
    handler = signal.getsignal(signal.SIGTERM)
    try:
        code, out, err = run(
            detect_video.main, ["--source", clip, "--output", tmp_path / "rec.avi", "--no-display"], capfd
        )
    finally:
        signal.signal(signal.SIGTERM, handler)  # the tool stops on SIGTERM as on Ctrl-C; pytest keeps its own
    assert code == 0 and "Traceback" not in err, err
    assert "5 frames" in out and "stopped by end of video" in out
    capture = cv2.VideoCapture(str(tmp_path / "rec.avi"))
    grabbed, frame = capture.read()
    capture.release()
    assert grabbed and frame.shape[:2] == (1, 1)


def test_training_data_takes_degenerate_images_and_skips_corrupt_ones(env, tmp_path):
    """What train_mask_detector.py reads: 1-pixel and 1-pixel-thin faces are used, a zero-height PNG skipped."""
    from facemask.data import load_dataset

    for name in ("with_mask", "without_mask"):
        (tmp_path / name).mkdir()
        shutil.copy(env.inp / "photo.jpg", tmp_path / name / "photo.jpg")
    for name in ("one_pixel.png", "thin.png", "zero_height.png"):
        shutil.copy(env.inp / name, tmp_path / "with_mask" / name)
    skipped = []
    dataset = load_dataset(tmp_path, 64, skipped.append)
    assert [item.path.name for item in skipped] == ["zero_height.png"]
    assert dataset.counts() == {"with_mask": 3, "without_mask": 1} and dataset.images.shape[1:] == (64, 64, 3)


def test_export_scene_crops_of_degenerate_images(env):
    """What export_tflite.py --scenes feeds the classifier: a face box on a 1-pixel image is still a crop."""
    from facemask.evaluation import load_scenes
    from facemask.export import scene_crops

    crops, labels = scene_crops(load_scenes(env.inp / "scenes_degenerate"), 224)
    assert labels == ["with_mask"] and crops[0].shape == (224, 224, 3)
