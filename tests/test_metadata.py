"""Model metadata has one owner: validation, one threshold range, models and metadata replaced together."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from facemask.classification import MaskClassifier
from facemask.errors import FacemaskError
from facemask.evaluation import NOT_COMPLIANT
from facemask.geometry import Box
from facemask.metadata import (
    INCORRECT,
    MASKED,
    UNMASKED,
    ModelMetadata,
    add_model,
    check_threshold,
    file_sha256,
    is_flagged,
    metadata_path,
    read_metadata,
    update_metadata,
)
from facemask.outputs import OutputSet
from facemask.pipeline import FaceResult


def test_the_shipped_models_carry_valid_metadata_that_matches_them(default_model, shipped_model):
    tflite, keras = read_metadata(default_model), read_metadata(shipped_model)
    assert tflite.class_names == keras.class_names and tflite.input_size == keras.input_size == 224
    assert tflite.model_sha256 == file_sha256(default_model) and keras.model_sha256 == file_sha256(shipped_model)
    assert tflite.unmasked_threshold == keras.unmasked_threshold  # the export carries the decision rule along
    assert tflite.record["export"]["source_sha256"] == keras.model_sha256


@pytest.mark.parametrize("value", [0.0, 1.0, -0.1, 1.5, "0.5", True, None])
def test_one_valid_range_for_the_threshold(value):
    with pytest.raises(FacemaskError, match="between 0 and 1"):
        check_threshold(value)


@pytest.mark.parametrize(
    "payload, problem",
    [
        ([1, 2], "not a JSON object"),
        ({"class_names": "with_mask"}, "class_names"),
        ({"class_names": ["with_mask", "with_mask"]}, "class_names"),
        ({"class_names": ["a", "b"], "input": {"size": "big"}}, "input size"),
        ({"class_names": ["a", "b"], "unmasked_threshold": 2}, "between 0 and 1"),
        ({"class_names": ["a", "b"], "model_sha256": "abc"}, "model_sha256"),
    ],
)
def test_invalid_metadata_is_a_one_line_error_naming_the_file(tmp_path: Path, payload, problem):
    model = tmp_path / "model.tflite"
    model.write_bytes(b"model")
    metadata_path(model).write_text(json.dumps(payload))
    with pytest.raises(FacemaskError, match=problem) as raised:
        read_metadata(model)
    assert str(metadata_path(model)) in str(raised.value) and "\n" not in str(raised.value)


def test_a_model_beside_metadata_of_another_model_is_refused(default_model, tmp_path: Path):
    model = tmp_path / "model.tflite"
    shutil.copy(default_model, model)
    shutil.copy(metadata_path(default_model), metadata_path(model))
    assert MaskClassifier(model).unmasked_threshold == read_metadata(default_model).unmasked_threshold
    with model.open("ab") as handle:  # the model changed, its metadata did not
        handle.write(b"\0")
    with pytest.raises(FacemaskError, match="describes another model file"):
        MaskClassifier(model)


def test_model_and_metadata_are_published_together_and_updated_in_place(tmp_path: Path):
    model = tmp_path / "model.bin"
    metadata = ModelMetadata(("with_mask", "without_mask"), 224, record={"settings": {"epochs": 1}})
    with OutputSet() as outputs:
        add_model(outputs, model, lambda temporary: temporary.write_bytes(b"weights"), metadata)
        assert not model.exists()  # nothing is visible before the set is published
        outputs.publish()
    stored = read_metadata(model)
    assert stored.model_sha256 == file_sha256(model) and stored.record["settings"] == {"epochs": 1}
    updated = update_metadata(model, unmasked_threshold=0.3, unmasked_threshold_choice={"scenes": "dev"})
    assert read_metadata(model) == updated
    assert updated.unmasked_threshold == 0.3 and updated.model_sha256 == stored.model_sha256
    with pytest.raises(FacemaskError, match="between 0 and 1"):
        update_metadata(model, unmasked_threshold=1.2)


def test_one_rule_for_flagged():
    """Every label but with_mask is flagged; no label (a face not found) is not. Results and the evaluation's
    alarm labels follow the same rule."""
    labels = (MASKED, UNMASKED, INCORRECT, "face_shield")
    assert [is_flagged(label) for label in labels] == [False, True, True, True]
    assert not is_flagged(None)
    assert [FaceResult(Box(0, 0, 10, 10), 0.9, label, 0.9, {label: 0.9}).flagged for label in labels] == [
        is_flagged(label) for label in labels
    ]
    assert NOT_COMPLIANT == (UNMASKED, INCORRECT)
