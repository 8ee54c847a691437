"""Training a tiny model for one epoch on real faces with the script, loading it back, and bad datasets."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from facemask.classification import MaskClassifier, crop_face
from facemask.imageio import read_image
from facemask.detection import Box
from facemask.errors import FacemaskError
from test_data import make_dataset


@pytest.fixture(scope="module")
def tiny_model(faces_dir, tmp_path_factory, run_script):
    """A model trained for one epoch on 24 real faces per class, with the script a user runs.

    Input size stays 224: the ImageNet weights on hand are those of the 224 px MobileNetV2."""
    root = tmp_path_factory.mktemp("training")
    dataset = make_dataset(faces_dir, root / "dataset", 24)
    model = root / "tiny.keras"
    done = run_script("train_mask_detector.py", "--dataset", dataset, "--model", model, "--epochs", "1",
                      "--batch-size", "16", "--quiet")
    assert done.returncode == 0, done.stderr
    return model, done


@pytest.mark.slow
def test_training_writes_model_metadata_and_plot(tiny_model):
    model, done = tiny_model
    assert "precision" in done.stdout and "held-back accuracy" in done.stdout
    meta = json.loads(model.with_suffix(".json").read_text())
    assert meta["class_names"] == ["with_mask", "without_mask"]
    assert meta["dataset"]["counts"] == {"with_mask": 24, "without_mask": 24}
    held = meta["dataset"]["held_back"]
    assert sum(held.values()) in range(8, 13) and min(held.values()) >= 3  # 20 % in whole groups, per class
    grouping = meta["dataset"]["grouping"]
    assert grouping["method"] == "dhash64" and grouping["max_distance_bits"] == 5 and grouping["images"] == 48
    assert 0 < grouping["groups"] <= 48 and 0 <= grouping["images_in_multi_image_groups"] <= 48
    matrix = np.array(meta["held_back"]["confusion_matrix"])
    # rows: the held-back faces per class
    assert matrix.shape == (2, 2) and matrix.sum(axis=1).tolist() == [held["with_mask"], held["without_mask"]]
    assert meta["held_back"]["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
    assert len(meta["history"]["loss"]) == 1 and meta["settings"]["epochs"] == 1
    assert model.with_suffix(".png").stat().st_size > 10_000
    assert not list(model.parent.glob(".*.keras"))


@pytest.mark.slow
def test_trained_model_loads_back_and_classifies(tiny_model, faces_dir):
    model, _ = tiny_model
    classifier = MaskClassifier(model)
    assert classifier.input_size == 224 and classifier.class_names == ("with_mask", "without_mask")
    face = read_image(sorted((faces_dir / "with_mask").glob("*.jpg"))[-1])
    crop = crop_face(face, Box(0, 0, face.shape[1], face.shape[0]), classifier.input_size)
    (prediction,) = classifier.predict([crop])
    assert prediction.probability == max(prediction.probabilities.values())  # no stored threshold: the top class
    assert prediction.label == max(prediction.probabilities, key=prediction.probabilities.get)


@pytest.mark.slow
def test_existing_model_is_not_overwritten(tiny_model, run_script):
    model, _ = tiny_model
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
def test_low_resolution_augmentation_blurs_a_share_of_real_faces(faces_dir, tmp_path):
    import cv2

    from facemask.runtime import import_tensorflow
    from facemask.data import load_dataset
    from facemask.training import degrade_resolution

    tf = import_tensorflow()
    dataset = load_dataset(make_dataset(faces_dir, tmp_path, 16), 224)
    images = dataset.images.astype(np.float32)
    degraded = degrade_resolution(tf.constant(images), 0.5, (12, 24), seed=3).numpy()
    changed = [not np.array_equal(a, b) for a, b in zip(images, degraded)]
    assert 4 <= sum(changed) <= 28

    def sharpness(image):
        return cv2.Laplacian(cv2.cvtColor(image.astype(np.uint8), cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()

    for before, after, was_changed in zip(images, degraded, changed):
        if was_changed:
            assert sharpness(after) < 0.5 * sharpness(before)


@pytest.mark.slow
def test_photometric_augmentation_varies_brightness_and_contrast_of_real_faces(faces_dir, tmp_path):
    from facemask.runtime import import_tensorflow
    from facemask.data import load_dataset
    from facemask.training import augmentation

    tf = import_tensorflow()
    images = tf.constant(load_dataset(make_dataset(faces_dir, tmp_path, 16), 224).images.astype(np.float32))
    geometric = augmentation(7, 0.0)(images, training=True).numpy()  # the same seed moves the faces the same way
    jittered = augmentation(7, 0.3)(images, training=True).numpy()
    assert jittered.min() >= 0 and jittered.max() <= 255
    level = jittered.mean(axis=(1, 2, 3)) - geometric.mean(axis=(1, 2, 3))
    spread = np.log(jittered.std(axis=(1, 2, 3)) / geometric.std(axis=(1, 2, 3)))
    assert np.abs(level).mean() > 10 and level.min() < 0 < level.max()  # darker and brighter, in 0-255 levels
    assert np.abs(spread).mean() > 0.05 and spread.min() < 0 < spread.max()  # flatter and harder
    for before, after in zip(geometric, jittered):  # the same face in the same place, only its tones changed
        assert np.corrcoef(before.ravel(), after.ravel())[0, 1] > 0.9


def test_photometric_strength_is_checked(faces_dir, tmp_path, run_script):
    dataset = make_dataset(faces_dir, tmp_path / "dataset", 3)
    done = run_script("train_mask_detector.py", "--dataset", dataset, "--model", tmp_path / "m.keras",
                      "--photometric", "1.5")
    assert done.returncode == 2 and "--photometric must be between 0 and 1, got 1.5" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "m.keras").exists()


def test_balanced_class_weights_make_every_class_weigh_the_same(faces_dir, tmp_path):
    from facemask.data import load_dataset
    from facemask.training import class_weights

    make_dataset(faces_dir, tmp_path, 12)
    for path in sorted((tmp_path / "without_mask").glob("*.jpg"))[4:]:  # 12 masked faces against 4 bare ones
        path.unlink()
    dataset = load_dataset([tmp_path], 224)
    counts = np.bincount(dataset.labels)
    assert counts.tolist() == [12, 4]
    assert class_weights(dataset.labels, 2, "none") is None
    weights = class_weights(dataset.labels, 2, "balanced")
    totals = [weights[index] * count for index, count in enumerate(counts)]
    assert totals == pytest.approx([len(dataset.labels) / 2] * 2)  # each class carries half the loss
    assert weights[1] > 1 > weights[0]
    with pytest.raises(FacemaskError, match="every class"):
        class_weights(dataset.labels[dataset.labels == 0], 2, "balanced")


@pytest.mark.slow
def test_balanced_training_records_its_class_weights(faces_dir, tmp_path, run_script):
    dataset = make_dataset(faces_dir, tmp_path / "dataset", 16)
    for path in sorted((dataset / "without_mask").glob("*.jpg"))[8:]:
        path.unlink()
    model = tmp_path / "balanced.keras"
    done = run_script("train_mask_detector.py", "--dataset", dataset, "--model", model, "--epochs", "1",
                      "--batch-size", "8", "--class-weight", "balanced", "--quiet")
    assert done.returncode == 0, done.stderr
    meta = json.loads(model.with_suffix(".json").read_text())
    assert meta["settings"]["class_weight"] == "balanced"
    weights, train = meta["class_weights"], meta["dataset"]["train"]
    assert weights["without_mask"] > weights["with_mask"]
    totals = [weights[name] * train[name] for name in ("with_mask", "without_mask")]
    assert totals[0] == pytest.approx(totals[1], rel=1e-3)


def test_class_weight_choice_is_checked(faces_dir, tmp_path, run_script):
    dataset = make_dataset(faces_dir, tmp_path / "dataset", 3)
    done = run_script("train_mask_detector.py", "--dataset", dataset, "--model", tmp_path / "m.keras",
                      "--class-weight", "heavy")
    assert done.returncode == 2 and "--class-weight" in done.stderr and "balanced" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "m.keras").exists()
