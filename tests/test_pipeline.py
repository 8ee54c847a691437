"""The detect-and-classify pipeline on real scenes, with the real detector and the shipped model."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from facemask.errors import FacemaskError
from facemask.evaluation import large_enough, load_scenes
from facemask.imageio import read_image
from facemask.metadata import MASKED
from facemask.classification import crop_face
from facemask.pipeline import CropSettings, MaskPipeline
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
        assert 0 <= face.box.x and face.box.right <= result.width
        assert 0 <= face.box.y and face.box.bottom <= result.height
        assert 0.0 < face.score <= 1.0
    assert result.to_json()["faces"][0]["label"] == result.faces[0].label


def test_a_photo_without_faces_gives_no_faces(pipeline):
    sky = np.dstack([np.linspace(120, 250, 480 * 640).reshape(480, 640).astype(np.uint8)] * 3)
    assert pipeline.process(sky) == []


def test_the_views_of_a_face_and_their_settings():
    crop = CropSettings()
    assert crop.crops() == [(crop.margin, crop.square), (crop.context, True)] and crop.views == 4
    assert CropSettings.single(0.1, True).crops() == [(0.1, True)] and CropSettings.single().views == 1
    assert replace(crop, mirror=False).views == 2 and replace(crop, context=None).views == 2
    for bad in ({"margin": -0.5}, {"margin": 1.5}, {"context": -0.41}, {"context": 2.0}):
        with pytest.raises(FacemaskError, match="crop"):
            CropSettings(**bad)


def test_a_faces_probabilities_are_the_mean_over_its_views(pipeline, example_scenes_dir):
    """On a real photo (a masked face and an unmasked one): the default pipeline averages the classifier over the
    box, the wider square and both mirrored; one view is the classifier on the box alone; the views really
    differ."""
    image = read_image(example_scenes_dir / "images" / "two_people.jpg")
    boxes = [d.box for d in pipeline.detector.detect(image)]
    assert boxes
    classifier, size, crop = pipeline.classifier, pipeline.classifier.input_size, pipeline.crop
    views = []
    for margin, square in crop.crops():
        crops = np.asarray([crop_face(image, box, size, margin, square) for box in boxes], np.float32)
        views += [classifier.probabilities(crops), classifier.probabilities(np.ascontiguousarray(crops[:, :, ::-1]))]
    assert np.allclose(pipeline.probabilities(image, boxes), np.mean(views, axis=0), atol=1e-6)
    single = MaskPipeline(pipeline.detector, classifier, CropSettings.single(crop.margin, crop.square))
    assert np.allclose(single.probabilities(image, boxes), views[0], atol=1e-6)
    assert not np.allclose(views[0], views[2], rtol=1e-3, atol=0.0), "the wider square crop is another view"
    assert pipeline.probabilities(image, []).shape == (0, len(classifier.class_names))


@pytest.mark.slow
def test_the_four_views_rank_crowd_faces_better_than_one(pipeline, crowd_scenes_dir):
    """The classifier on the annotated crowd faces of 20 px and more (masked against not compliant): the mean of
    the default views separates them better (ROC AUC) than the box alone."""
    from sklearn.metrics import roc_auc_score

    single = MaskPipeline(pipeline.detector, pipeline.classifier, CropSettings.single())
    labels, scores = [], {"four views": [], "one view": []}
    masked = pipeline.classifier.class_names.index(MASKED)
    for scene in load_scenes(crowd_scenes_dir):
        faces = [face for face in scene.faces if large_enough(face.box)]
        if not faces:
            continue
        image = read_image(scene.path)
        boxes = [face.box for face in faces]
        labels += [face.label != MASKED for face in faces]
        scores["four views"] += list(1.0 - pipeline.probabilities(image, boxes)[:, masked])
        scores["one view"] += list(1.0 - single.probabilities(image, boxes)[:, masked])
    auc = {name: roc_auc_score(labels, values) for name, values in scores.items()}
    assert auc["four views"] > auc["one view"], auc

