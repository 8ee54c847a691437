"""The detect-and-classify pipeline on real scenes, with the real detector and the shipped model."""

from __future__ import annotations

import numpy as np
import pytest

from facemask.classification import crop_face
from facemask.errors import FacemaskError
from facemask.imageio import read_image
from facemask.pipeline import MaskPipeline
from facemask.settings import CropSettings

from scenes import single_face_scenes


@pytest.fixture(scope="module")
def pipeline(default_pipeline):
    return default_pipeline


@pytest.mark.parametrize("label", ["with_mask", "without_mask"])
def test_finds_and_labels_the_annotated_face(pipeline, scenes_dir, label):
    scenes = single_face_scenes(scenes_dir, label)
    assert scenes, f"no single-face {label} scene to test with"
    for path, truth in scenes:
        faces = pipeline.process(read_image(path))
        best = max(faces, key=lambda face: face.box.iou(truth), default=None)
        assert best is not None and best.box.iou(truth) > 0.5, f"{path.name}: annotated face not found"
        assert best.label == label, f"{path.name}: {best.label} {best.probabilities}"


def test_image_result_carries_size_and_clipped_boxes(pipeline, example_scenes_dir):
    path, _ = single_face_scenes(example_scenes_dir, "without_mask")[0]
    image = read_image(path)
    result = pipeline.process_image(image, str(path))
    assert (result.width, result.height) == (image.shape[1], image.shape[0])
    for face in result.faces:
        assert face.box.x >= 0 and face.box.right <= result.width
        assert face.box.y >= 0 and face.box.bottom <= result.height
        assert 0.0 < face.score <= 1.0
    assert result.to_json()["faces"][0]["label"] == result.faces[0].label


def test_a_photo_without_faces_gives_no_faces(pipeline):
    sky = np.dstack([np.linspace(120, 250, 480 * 640).reshape(480, 640).astype(np.uint8)] * 3)
    assert pipeline.process(sky) == []


def test_crop_settings_are_checked():
    for bad in ({"margin": -0.5}, {"margin": 1.5}):
        with pytest.raises(FacemaskError, match=r"crop_margin must be between -0\.4 and 1"):
            CropSettings(**bad)


def test_a_faces_probabilities_are_the_classifier_on_its_crop(pipeline, example_scenes_dir):
    """On a real photo (a masked face and an unmasked one): each face is classified once, on its box cut with the
    pipeline's crop settings; another crop gives other probabilities."""
    image = read_image(example_scenes_dir / "images" / "two_people.jpg")
    boxes = [d.box for d in pipeline.detector.detect(image)]
    assert boxes
    classifier, size, crop = pipeline.classifier, pipeline.classifier.input_size, pipeline.crop
    crops = np.asarray([crop_face(image, box, size, crop.margin, crop.square) for box in boxes], np.float32)
    assert np.allclose(pipeline.probabilities(image, boxes), classifier.probabilities(crops), atol=1e-6)
    wider = MaskPipeline(pipeline.detector, classifier, CropSettings(0.3, True))
    assert not np.allclose(wider.probabilities(image, boxes), classifier.probabilities(crops), rtol=1e-3, atol=0.0)
    assert pipeline.probabilities(image, []).shape == (0, len(classifier.class_names))
