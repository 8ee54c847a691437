"""The models of the nose and chin checks and their training data: the upper and lower parts of real faces, cut as
the pipeline cuts them."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from facemask.classification import crop_face
from facemask.defaults import DETECTOR, default_chin_model, default_nose_model
from facemask.detection import create_detector
from facemask.evaluation import load_scenes
from facemask.geometry import Box
from facemask.imageio import read_image
from facemask.metadata import MASKED
from facemask.nose_data import lower_face, main_face, upper_face
from facemask.pipeline import ChinCheck, NoseCheck

SCRIPT = "prepare_nose_dataset.py"


@pytest.fixture(scope="module")
def small_dataset(faces_dir, tmp_path_factory):
    """Four real faces per class, and a mask_worn_incorrectly/ folder whose one face names its source photo."""
    root = tmp_path_factory.mktemp("faces")
    for label in ("with_mask", "without_mask"):
        (root / label).mkdir()
        for path in sorted((faces_dir / label).iterdir())[:4]:
            shutil.copy(path, root / label / path.name)
    drawn = tmp_path_factory.mktemp("drawn")
    (drawn / "mask_worn_incorrectly").mkdir()
    photo = sorted((root / "without_mask").iterdir())[0]
    shutil.copy(photo, drawn / "mask_worn_incorrectly" / "drawn.jpg")
    (drawn / "sources.csv").write_text(f"image,source\nmask_worn_incorrectly/drawn.jpg,{photo}\n")
    return root, drawn, photo


def test_the_upper_face_is_the_part_the_pipeline_would_classify(faces_dir):
    """On real close-ups the face is found with its landmarks (most of them) and the crop is one of the parts the
    nose check looks at; where no face is found, the whole photo is the face."""
    detector, check, rng = create_detector(DETECTOR), NoseCheck(), np.random.default_rng(0)
    cuts = []
    for path in sorted((faces_dir / "without_mask").iterdir())[:10]:
        image = read_image(path)
        face = main_face(image, detector)
        part = upper_face(image, detector, check, rng)
        cuts.append(part.cut)
        if face is None:
            height, width = image.shape[:2]
            boxes = check.upper_boxes(Box(0, 0, width, height))
            assert part.cut == "whole image"
        else:
            height, width = image.shape[:2]
            assert face.box.w * face.box.h >= 0.15 * width * height, path.name
            boxes = check.upper_boxes(face.box, face.landmarks)
            assert part.cut == ("box" if face.landmarks is None else "landmarks")
        assert any(np.array_equal(part.crop, crop_face(image, box, 224)) for box in boxes), path.name
    assert cuts.count("landmarks") >= 8, cuts


def test_the_lower_face_is_the_part_the_chin_check_would_classify(faces_dir):
    """On real close-ups the chin check's part runs from the face's nose to below its chin, cut by the pipeline's
    rule; a photo whose face is not found gives none."""
    detector, check = create_detector(DETECTOR), ChinCheck()
    cuts = []
    for path in sorted((faces_dir / "with_mask").iterdir())[:10]:
        image = read_image(path)
        face = main_face(image, detector)
        part = lower_face(image, detector, check)
        if face is None:
            assert part is None, path.name
            continue
        cuts.append(part.cut)
        assert np.array_equal(part.crop, crop_face(image, check.lower_box(face.box, face.landmarks), 224)), path.name
    assert cuts.count("landmarks") >= 6, cuts


def test_prepare_writes_both_classes_with_their_sources(small_dataset, tmp_path, run_script):
    root, drawn, photo = small_dataset
    before = {path: path.read_bytes() for path in root.rglob("*") if path.is_file()}
    out = tmp_path / "nose"
    done = run_script(SCRIPT, "--dataset", root, drawn, "--output", out, "--quiet")
    assert done.returncode == 0, done.stderr
    assert "9 faces: 4 nose covered" in done.stdout, done.stdout
    assert len(list((out / "with_mask").iterdir())) == 4
    assert len(list((out / "without_mask").iterdir())) == 5  # the unmasked faces and the mask drawn below the nose
    for crop in out.rglob("*.jpg"):
        assert read_image(crop).shape == (224, 224, 3)
    with open(out / "sources.csv", newline="") as handle:
        sources = {row["image"]: row["source"] for row in csv.DictReader(handle)}
    assert len(sources) == 9
    assert sources["without_mask/mask_worn_incorrectly_drawn.jpg"] == str(photo.resolve())
    assert sources[f"without_mask/without_mask_{photo.stem}.jpg"] == str(photo.resolve())
    assert {path: path.read_bytes() for path in root.rglob("*") if path.is_file()} == before
    again = run_script(SCRIPT, "--dataset", root, drawn, "--output", tmp_path / "again", "--quiet")
    assert again.returncode == 0
    for crop in out.rglob("*.jpg"):  # same seed, same crops
        assert crop.read_bytes() == (tmp_path / "again" / crop.relative_to(out)).read_bytes()


def test_prepare_for_the_chin_check_puts_drawn_masks_with_the_masked_faces(small_dataset, tmp_path, run_script):
    root, drawn, photo = small_dataset
    out = tmp_path / "chin"
    done = run_script(SCRIPT, "--dataset", root, drawn, "--output", out, "--check", "chin", "--quiet")
    assert done.returncode == 0, done.stderr
    masked, bare = (sorted(path.name for path in (out / label).iterdir()) for label in ("with_mask", "without_mask"))
    assert f"{len(masked) + len(bare)} faces: {len(masked)} a mask on the lower face" in done.stdout, done.stdout
    assert len(masked) + len(bare) >= 6, done.stdout  # at most three of the nine photos without a face found
    assert all(name.startswith(("with_mask_", "mask_worn_incorrectly_")) for name in masked)
    assert all(name.startswith("without_mask_") for name in bare)
    # the mask drawn on an unmasked photo is cut from the same face as the photo itself
    assert ("mask_worn_incorrectly_drawn.jpg" in masked) == (f"without_mask_{photo.stem}.jpg" in bare)
    with open(out / "sources.csv", newline="") as handle:
        sources = {row["image"]: row["source"] for row in csv.DictReader(handle)}
    assert len(sources) == len(masked) + len(bare)
    if "mask_worn_incorrectly_drawn.jpg" in masked:
        assert sources["with_mask/mask_worn_incorrectly_drawn.jpg"] == str(photo.resolve())


def test_prepare_refuses_a_class_it_does_not_know_and_writes_nothing(small_dataset, tmp_path, run_script):
    root, _, _ = small_dataset
    odd = tmp_path / "odd"
    shutil.copytree(root, odd)
    (odd / "with_mask").rename(odd / "masked")
    done = run_script(SCRIPT, "--dataset", odd, "--output", tmp_path / "nose")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "'masked'" in done.stderr and done.stderr.strip().count("\n") == 0
    assert not (tmp_path / "nose").exists()


def test_the_nose_model_tells_a_bare_nose_from_a_covered_one_on_real_scenes(default_pipeline, scenes_dir):
    """The shipped nose model on the upper part of every annotated scenes-dev face of 20 px and more (cut at the
    check's share of the box): the unmasked faces look bare, the masked ones covered."""
    model, check = default_pipeline.nose_classifier, NoseCheck()
    assert model.path == default_nose_model()
    bare, labels = [], []
    for scene in load_scenes(scenes_dir):
        faces = [face for face in scene.faces if min(face.box.w, face.box.h) >= 20]
        if not faces:
            continue
        image = read_image(scene.path)
        crops = [crop_face(image, check.upper_boxes(face.box)[0], model.input_size) for face in faces]
        bare += list(1.0 - model.probabilities(crops)[:, model.class_names.index(MASKED)])
        labels += [face.label != MASKED for face in faces]
    assert 40 < sum(labels) < len(labels) - 40
    assert roc_auc_score(labels, bare) > 0.95


def test_the_chin_model_sees_the_mask_on_the_lower_face_on_real_scenes(default_pipeline, scenes_dir):
    """The shipped chin model on the lower part of every annotated scenes-dev face of 20 px and more (cut at the
    check's share of the box): the masked faces show a mask there, the unmasked ones do not."""
    model, check = default_pipeline.chin_classifier, ChinCheck()
    assert model.path == default_chin_model()
    masked, labels = [], []
    for scene in load_scenes(scenes_dir):
        faces = [face for face in scene.faces if min(face.box.w, face.box.h) >= 20]
        if not faces:
            continue
        image = read_image(scene.path)
        crops = [crop_face(image, check.lower_box(face.box), model.input_size) for face in faces]
        masked += list(model.probabilities(crops)[:, model.class_names.index(MASKED)])
        labels += [face.label == MASKED for face in faces]
    assert 40 < sum(labels) < len(labels) - 40
    assert roc_auc_score(labels, masked) > 0.95


@pytest.mark.parametrize("option, shipped", [("--nose-model", default_nose_model),
                                             ("--chin-model", default_chin_model)])
def test_the_tools_take_another_check_model_and_name_a_missing_one(scenes_dir, tmp_path, run_script, option, shipped):
    """`--nose-model` / `--chin-model` with the shipped file gives the default results; a missing file is a one-line
    error naming it."""
    photo = sorted((scenes_dir / "images").iterdir())[0]
    default, chosen = tmp_path / "default.json", tmp_path / "chosen.json"
    assert run_script("detect_mask_image.py", "--image", photo, "--json", default).returncode == 0
    done = run_script("detect_mask_image.py", "--image", photo, "--json", chosen, option, shipped())
    assert done.returncode == 0, done.stderr
    assert chosen.read_text() == default.read_text()
    missing = tmp_path / "check.tflite"
    done = run_script("detect_mask_image.py", "--image", photo, "--json", tmp_path / "out.json", option, missing)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert str(missing) in done.stderr and done.stderr.strip().count("\n") == 0
    assert not (tmp_path / "out.json").exists()
