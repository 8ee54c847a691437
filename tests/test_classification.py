"""The shipped classifier on real faces, crops, and the errors a missing or wrong model gives."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from facemask.classification import MaskClassifier, crop_face
from facemask.errors import FacemaskError
from facemask.geometry import Box
from facemask.imageio import read_image
from facemask.metadata import MASKED, UNMASKED, class_names_for, is_flagged

from scenes import annotated_faces


@pytest.fixture(scope="module")
def classifier(default_pipeline):
    return default_pipeline.classifier


@pytest.mark.slow
def test_shipped_model_tells_masked_from_unmasked_on_annotated_scene_faces(classifier, scenes_dir):
    """The classifier alone, on the ground-truth boxes of real scenes (faces 40 px and wider)."""
    crops, truth = [], []
    for name, faces in annotated_faces(scenes_dir).items():
        image = read_image(scenes_dir / "images" / name)
        for box, label in faces:
            if box.w >= 40 and label in classifier.class_names:
                crops.append(crop_face(image, box, classifier.input_size))
                truth.append(label)
    predicted = [p.label for p in classifier.predict(crops)]
    accuracy = np.mean([p == t for p, t in zip(predicted, truth)])
    assert len(truth) > 100 and accuracy >= 0.85, f"accuracy {accuracy:.3f} on {len(truth)} faces"


def test_a_face_gets_the_same_answer_alone_and_in_a_batch_and_the_threshold_decides(classifier):
    """Literal inputs (noise, flat grey, a gradient): batching must not mix faces up, the label follows the stored
    threshold on the unmasked probability, and different faces get different probabilities."""
    size = classifier.input_size
    crops = [
        np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8),
        np.full((size, size, 3), 128, np.uint8),
        np.repeat(np.linspace(0, 255, size, dtype=np.uint8)[None, :, None], size, axis=0).repeat(3, axis=2),
    ]
    batch = classifier.predict(crops)
    alone = [classifier.predict([crop])[0] for crop in crops]
    assert classifier.predict([]) == []
    for together, single in zip(batch, alone):
        assert set(together.probabilities) == set(classifier.class_names)
        for name in classifier.class_names:
            assert together.probabilities[name] == pytest.approx(single.probabilities[name], abs=1e-5)
        flagged = 1.0 - together.probabilities[MASKED] >= classifier.unmasked_threshold
        assert is_flagged(together.label) == flagged
        assert together.probability == together.probabilities[together.label]
    assert len({round(p.probabilities[UNMASKED], 4) for p in batch}) == 3


def test_crop_is_square_rgb_even_at_the_border():
    image = np.zeros((100, 200, 3), np.uint8)
    image[:, :, 0] = 255  # blue in BGR
    crop = crop_face(image, Box(180, 90, 40, 30), 64, margin=0.2, square=True)
    assert crop.shape == (64, 64, 3)
    assert (crop[:, :, 2] == 255).all() and (crop[:, :, 0] == 0).all()  # RGB order, border replicated


def test_margin_and_square_widen_the_crop():
    image = np.zeros((200, 200, 3), np.uint8)
    image[90:110, 90:110] = 255
    box = Box(90, 80, 20, 40)
    assert crop_face(image, box, 40).mean() > crop_face(image, box, 40, margin=0.5, square=True).mean()


def test_missing_model(tmp_path):
    with pytest.raises(FacemaskError, match="model file not found") as raised:
        MaskClassifier(tmp_path / "none.keras")
    assert "none.keras" in str(raised.value)


@pytest.mark.parametrize("suffix", [".tflite", pytest.param(".keras", marks=pytest.mark.slow)])  # .keras: TensorFlow
def test_corrupt_model_is_one_error(tmp_path, suffix):
    bad = tmp_path / f"bad{suffix}"
    bad.write_bytes(b"definitely not a zip archive")
    with pytest.raises(FacemaskError, match=r"cannot load (TFLite )?model") as raised:
        MaskClassifier(bad)
    assert str(bad) in str(raised.value)


def test_class_names_come_from_metadata(default_model, tmp_path):
    copy = tmp_path / "model.tflite"
    shutil.copy(default_model, copy)
    with pytest.raises(FacemaskError, match="model has 3 outputs and no metadata naming its classes"):
        MaskClassifier(copy)  # without metadata only a two-class model gets the default names
    assert class_names_for(copy, None, 2) == ("with_mask", "without_mask")
    copy.with_suffix(".json").write_text(json.dumps({"class_names": ["a", "b"]}))
    with pytest.raises(FacemaskError, match="names 2 classes but the model has 3"):
        MaskClassifier(copy)
    shutil.copy(default_model.with_suffix(".json"), copy.with_suffix(".json"))
    assert MaskClassifier(copy).class_names == ("mask_worn_incorrectly", "with_mask", "without_mask")


def test_the_stored_threshold_travels_with_the_model_and_must_be_valid(default_model, tmp_path):
    copy = tmp_path / "model.tflite"
    shutil.copy(default_model, copy)
    metadata = json.loads(default_model.with_suffix(".json").read_text())
    assert metadata["unmasked_threshold"] != 0.2
    copy.with_suffix(".json").write_text(json.dumps({**metadata, "unmasked_threshold": 0.2}))
    assert MaskClassifier(copy).unmasked_threshold == 0.2
    assert MaskClassifier(copy, 0.7).unmasked_threshold == 0.7  # an explicit threshold wins
    copy.with_suffix(".json").write_text(json.dumps({**metadata, "unmasked_threshold": 1.5}))
    with pytest.raises(FacemaskError, match="'unmasked_threshold' must be between 0 and 1"):
        MaskClassifier(copy)


@pytest.mark.slow
def test_unmasked_threshold_decides_the_label_and_travels_with_the_model(default_model, scenes_dir, tmp_path):
    crops = []
    for name, faces in annotated_faces(scenes_dir).items():
        image = read_image(scenes_dir / "images" / name)
        crops += [crop_face(image, box, 224, -0.05) for box, _ in faces]
    copy = tmp_path / "model.tflite"
    shutil.copy(default_model, copy)
    metadata = json.loads(default_model.with_suffix(".json").read_text())
    copy.with_suffix(".json").write_text(json.dumps({**metadata, "unmasked_threshold": 0.2}))
    stored = MaskClassifier(copy)
    assert stored.unmasked_threshold == 0.2
    flagged = {}
    for threshold in (0.001, 0.2, 0.999):
        predictions = MaskClassifier(copy, threshold).predict(crops)
        for prediction in predictions:
            not_compliant = 1.0 - prediction.probabilities[MASKED] >= threshold
            assert is_flagged(prediction.label) == not_compliant
        flagged[threshold] = sum(is_flagged(p.label) for p in predictions)
    assert [p.label for p in stored.predict(crops)] == [p.label for p in MaskClassifier(copy, 0.2).predict(crops)]
    assert flagged[0.001] >= flagged[0.2] >= flagged[0.999] and flagged[0.001] > flagged[0.999] > 0, flagged
    copy.with_suffix(".json").write_text(json.dumps({**metadata, "unmasked_threshold": 1.5}))
    with pytest.raises(FacemaskError, match="'unmasked_threshold' must be between 0 and 1"):
        MaskClassifier(copy)
