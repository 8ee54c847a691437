"""Training a tiny model for one epoch on real faces with the script, loading it back, and bad datasets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from facemask.classification import MaskClassifier, crop_face
from facemask.cli.train import build_parser
from facemask.errors import FacemaskError
from facemask.geometry import Box
from facemask.imageio import read_image

from scenes import make_scene_set
from test_data import make_dataset

CLASSES = ["mask_worn_incorrectly", "with_mask", "without_mask"]


@pytest.fixture(scope="module")
def tiny_model(faces_dir, train_scenes_dir, tmp_path_factory, run_script):
    """A model trained for one epoch on 24 real close-ups per class and the faces of 24 real training scenes (masks
    worn incorrectly among them), with the script a user runs.

    Input size stays 224: the ImageNet weights on hand are those of the 224 px MobileNetV2."""
    root = tmp_path_factory.mktemp("training")
    dataset = make_dataset(faces_dir, root / "dataset", 24)
    scenes = make_scene_set(train_scenes_dir, root / "scenes", 24)
    model = root / "tiny.keras"
    done = run_script(
        "train_mask_detector.py",
        "--dataset",
        dataset,
        "--scenes",
        scenes,
        "--model",
        model,
        "--epochs",
        "1",
        "--variants",
        "2",
        "--batch-size",
        "16",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    return model, done, scenes


def test_repeated_dataset_flags_add_up():
    """`--dataset A --dataset B` trains on both (it once kept only the last), as `--scenes` does."""
    args = build_parser().parse_args(["--dataset", "a", "b", "--dataset", "c", "--scenes", "s", "--scenes", "t"])
    assert args.dataset == [Path("a"), Path("b"), Path("c")] and args.scenes == [Path("s"), Path("t")]
    assert build_parser().parse_args([]).dataset is None


@pytest.mark.slow
def test_training_writes_model_metadata_and_plot(tiny_model):
    from facemask.evaluation import load_scenes

    model, done, scenes = tiny_model
    assert "precision" in done.stdout and "held-back accuracy" in done.stdout and "frozen_features" in done.stdout
    meta = json.loads(model.with_suffix(".json").read_text())
    assert meta["class_names"] == CLASSES
    folders, scene_part = meta["dataset"]["folders"], meta["dataset"]["scenes"]
    assert folders["counts"] == {"mask_worn_incorrectly": 0, "with_mask": 24, "without_mask": 24}
    held = folders["held_back"]
    assert sum(held.values()) in range(5, 10) and min(held["with_mask"], held["without_mask"]) >= 2  # 15 %, per class
    grouping = folders["grouping"]
    assert grouping["method"] == "dhash64" and grouping["max_distance_bits"] == 5 and grouping["images"] == 48
    annotated = [
        face.label for scene in load_scenes(scenes) for face in scene.faces if min(face.box.w, face.box.h) >= 6
    ]
    assert scene_part["counts"] == {name: annotated.count(name) for name in CLASSES}
    assert scene_part["photos"] == 24 and 0 < scene_part["held_back_photo_groups"] < scene_part["photo_groups"]
    for name in CLASSES:
        assert scene_part["train"][name] + scene_part["held_back"][name] == scene_part["counts"][name]
    matrix = np.array(meta["held_back"]["confusion_matrix"])
    # rows: the held-back faces per class, close-ups and scene faces together
    assert matrix.shape == (3, 3)
    assert matrix.sum(axis=1).tolist() == [held[name] + scene_part["held_back"][name] for name in CLASSES]
    assert meta["held_back"]["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
    assert set(meta["held_back"]["accuracy_by_source"]) == {"folders", "scenes"}
    assert set(meta["stages_seconds"]) == {"load", "frozen_features", "fit", "held_back"}
    assert len(meta["history"]["loss"]) == 1 and meta["settings"]["epochs"] == 1
    assert meta["settings"]["variants"] == 2 and meta["input"]["crop"]["margin"] == -0.05
    assert model.with_suffix(".png").stat().st_size > 10_000
    assert not list(model.parent.glob(".*.keras"))


@pytest.mark.slow
def test_trained_model_loads_back_and_classifies(tiny_model, faces_dir):
    model, _, _ = tiny_model
    classifier = MaskClassifier(model)
    assert classifier.input_size == 224 and tuple(classifier.class_names) == tuple(CLASSES)
    face = read_image(sorted((faces_dir / "with_mask").glob("*.jpg"))[-1])
    crop = crop_face(face, Box(0, 0, face.shape[1], face.shape[0]), classifier.input_size)
    (prediction,) = classifier.predict([crop])
    assert prediction.probability == max(prediction.probabilities.values())  # no stored threshold: the top class
    assert prediction.label == max(prediction.probabilities, key=prediction.probabilities.get)


@pytest.mark.slow
def test_existing_model_is_not_overwritten(tiny_model, run_script):
    model, _, _ = tiny_model
    before = model.read_bytes()
    done = run_script("train_mask_detector.py", "--dataset", model.parent / "dataset", "--model", model)
    assert done.returncode == 2 and "--force" in done.stderr and "Traceback" not in done.stderr
    assert model.read_bytes() == before


@pytest.mark.slow  # the script starts TensorFlow before it reads the dataset
def test_one_class_dataset_gives_a_one_line_error(faces_dir, tmp_path, run_script):
    dataset = make_dataset(faces_dir, tmp_path / "dataset", 3)
    shutil.rmtree(dataset / "with_mask")
    done = run_script("train_mask_detector.py", "--dataset", dataset, "--model", tmp_path / "m.keras")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr
    assert "at least two class folders" in done.stderr and str(dataset) in done.stderr
    assert not (tmp_path / "m.keras").exists()


def test_model_must_be_a_keras_file(faces_dir, tmp_path, run_script):
    dataset = make_dataset(faces_dir, tmp_path / "dataset", 3)
    done = run_script("train_mask_detector.py", "--dataset", dataset, "--model", tmp_path / "m.h5")
    assert done.returncode == 2 and ".keras" in done.stderr


@pytest.mark.slow
def test_low_resolution_augmentation_blurs_the_chosen_real_faces(faces_dir, tmp_path):
    import cv2

    from facemask.data import load_dataset
    from facemask.runtime import import_tensorflow
    from facemask.training import degrade_resolution

    tf = import_tensorflow()
    dataset = load_dataset(make_dataset(faces_dir, tmp_path, 8), 224)
    images = dataset.images.astype(np.float32)
    chosen = np.arange(len(images)) % 2 == 0
    degraded = degrade_resolution(tf.constant(images), tf.constant(chosen), tf.constant(16)).numpy()

    def sharpness(image):
        return cv2.Laplacian(cv2.cvtColor(image.astype(np.uint8), cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()

    for before, after, blurred in zip(images, degraded, chosen):
        if blurred:
            assert sharpness(after) < 0.5 * sharpness(before)
        else:
            assert np.array_equal(before, after)


@pytest.mark.slow
def test_the_split_models_compute_what_the_whole_model_computes(faces_dir, tmp_path, keras_home, monkeypatch):
    """Training the cached-feature head trains the saved model: frozen part then head == the whole model."""
    if keras_home:
        monkeypatch.setenv("KERAS_HOME", keras_home)
    from facemask.data import load_dataset
    from facemask.training import TrainingConfig, build_model, split_model

    images = load_dataset(make_dataset(faces_dir, tmp_path, 3), 224).images.astype(np.float32)
    model = build_model(3, TrainingConfig())
    trunk, head = split_model(model, 30)
    whole = model.predict(images, verbose=0)
    assert np.allclose(head.predict(trunk.predict(images, verbose=0), verbose=0), whole, atol=1e-4)
    assert trunk.output.shape[1:] == (7, 7, 160)
    with pytest.raises(FacemaskError, match="residual block"):
        split_model(model, 27)  # block_14's expansion: its input also feeds block_14_add
