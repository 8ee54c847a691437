"""The detect-and-classify pipeline on real scenes, with the real detector and the shipped model."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from facemask.errors import FacemaskError
from facemask.evaluation import MATCH_IOU, large_enough, load_scenes
from facemask.geometry import Box, Landmarks, match_boxes
from facemask.imageio import read_image
from facemask.metadata import INCORRECT, MASKED, UNMASKED
from facemask.classification import crop_face
from facemask.pipeline import ChinCheck, CropSettings, MaskPipeline, NoseCheck
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


def test_the_nose_check_looks_at_the_face_above_the_mouth_and_checks_its_settings():
    # without landmarks: the box narrowed by the check's margin (5 % per side), then its top 60 %
    assert NoseCheck().upper_boxes(Box(10, 20, 100, 200)) == [Box(15, 30, 90, 108)]
    assert NoseCheck(fraction=0.5, margin=0.0).upper_boxes(Box(0, 0, 40, 40)) == [Box(0, 0, 40, 20)]
    # with landmarks: cut at the nose tip (y 50), a quarter and half way to the mouth (y 70)
    face = Landmarks((30.0, 30.0), (70.0, 30.0), (50.0, 50.0), (35.0, 68.0), (65.0, 72.0))
    assert [box.h for box in NoseCheck(margin=0.0).upper_boxes(Box(0, 0, 100, 100), face)] == [50, 55, 60]
    # a stray landmark cannot cut the face to its forehead or past its chin
    stray = Landmarks((30.0, 30.0), (70.0, 30.0), (50.0, 5.0), (35.0, 300.0), (65.0, 300.0))
    assert [box.h for box in NoseCheck(cuts=(0.0, 1.0), margin=0.0).upper_boxes(Box(0, 0, 100, 100), stray)] == [30, 90]
    for bad in ({"fraction": 1.5}, {"fraction": 0.0}, {"threshold": 1.0}, {"threshold": 0.0}, {"cuts": ()},
                {"cuts": (0.0, 2.0)}, {"screen": -0.1}, {"screen": 1.0}, {"margin": -0.5}):
        with pytest.raises(FacemaskError, match="nose check"):
            NoseCheck(**bad)


def test_the_chin_check_looks_from_the_nose_to_below_the_chin_and_checks_its_settings():
    # without landmarks: from 55 % of the box's height to a quarter of it below the box, the box's width
    assert ChinCheck().lower_box(Box(10, 20, 100, 200)) == Box(10, 130, 100, 140)
    # with landmarks: from the tip of the nose (y 50)
    face = Landmarks((30.0, 30.0), (70.0, 30.0), (50.0, 50.0), (35.0, 68.0), (65.0, 72.0))
    assert ChinCheck(below=0.0).lower_box(Box(0, 0, 100, 100), face) == Box(0, 50, 100, 50)
    # a stray nose cannot make the part the whole face or a sliver under the chin
    stray = Landmarks((30.0, 30.0), (70.0, 30.0), (50.0, 5.0), (35.0, 68.0), (65.0, 72.0))
    assert ChinCheck(below=0.0).lower_box(Box(0, 0, 100, 100), stray).y == 30
    assert ChinCheck(below=0.0).lower_box(Box(0, 0, 100, 100), replace(stray, nose=(50.0, 99.0))).h == 10
    assert ChinCheck().looks_at(Box(0, 0, 20, 24)) and not ChinCheck().looks_at(Box(0, 0, 19, 40))
    for bad in ({"threshold": 1.0}, {"threshold": 0.0}, {"below": -0.1}, {"below": 1.5}, {"fraction": 0.1},
                {"min_size": -1}):
        with pytest.raises(FacemaskError, match="chin check"):
            ChinCheck(**bad)


def test_the_chin_check_finds_masks_pulled_down_and_never_changes_an_alarm(pipeline, crowd_scenes_dir):
    """On the crowd photos with a mask worn incorrectly (>= 20 px), the default pipeline against the same one
    without the chin check: only faces called without_mask (and large enough) are relabelled, only to
    mask_worn_incorrectly (so no alarm is raised or dropped), and more of the worn-incorrectly faces are labelled
    so."""
    check = pipeline.chin_check
    assert check is not None, "the chin check is on by default"
    unchecked = MaskPipeline(pipeline.detector, pipeline.classifier, pipeline.crop, pipeline.nose_check,
                             pipeline.nose_classifier, chin_check=None)
    scenes = [scene for scene in load_scenes(crowd_scenes_dir)
              if any(face.label == INCORRECT and large_enough(face.box) for face in scene.faces)]
    labelled = {"without the check": 0, "with it": 0}
    relabelled = 0
    for scene in scenes:
        image = read_image(scene.path)
        detections = pipeline.detector.detect(image)
        landmarks = [d.landmarks for d in detections]
        plain = unchecked.classify(image, detections)
        checked = pipeline.check_chins(image, plain, landmarks)
        assert [f.label for f in pipeline.classify(image, detections)] == [f.label for f in checked]
        for before, after in zip(plain, checked, strict=True):
            assert (after.box, after.score, after.probabilities) == (before.box, before.score, before.probabilities)
            assert (after.mask_on_chin is not None) == (before.label == UNMASKED and check.looks_at(before.box))
            if after.label != before.label:
                assert (before.label, after.label) == (UNMASKED, INCORRECT)
                assert after.probability == after.mask_on_chin >= check.threshold
                relabelled += 1
            elif after.mask_on_chin is not None:
                assert after.mask_on_chin < check.threshold
        truth = [face.box for face in scene.faces if face.label == INCORRECT and large_enough(face.box)]
        for found in match_boxes(truth, [result.box for result in plain], MATCH_IOU).values():
            labelled["without the check"] += plain[found].label == INCORRECT
            labelled["with it"] += checked[found].label == INCORRECT
    assert relabelled > 0
    assert labelled["with it"] > labelled["without the check"], labelled


def test_the_nose_check_flags_real_masks_below_the_nose_and_changes_nothing_else(pipeline, crowd_scenes_dir):
    """On the crowd photos with a mask worn incorrectly (>= 20 px), the default pipeline against the same one
    without the check: only faces called with_mask are relabelled, only to mask_worn_incorrectly, and fewer of the
    worn-incorrectly faces are let through as with_mask; screening (NoseCheck.screen) changes no label."""
    check = pipeline.nose_check
    assert check is not None, "the nose check is on by default"
    unchecked = MaskPipeline(pipeline.detector, pipeline.classifier, pipeline.crop, nose_check=None,
                             chin_check=None)
    scenes = [scene for scene in load_scenes(crowd_scenes_dir)
              if any(face.label == INCORRECT and large_enough(face.box) for face in scene.faces)]
    assert scenes, "no crowd photo with a mask worn incorrectly"
    every_cut = MaskPipeline(pipeline.detector, pipeline.classifier, pipeline.crop, replace(check, screen=0.0))
    let_through = {"without the check": 0, "with it": 0}
    relabelled = 0
    for scene in scenes:
        image = read_image(scene.path)
        detections = pipeline.detector.detect(image)
        landmarks = [d.landmarks for d in detections]
        plain = unchecked.classify(image, detections)
        checked = pipeline.check_noses(image, plain, landmarks)
        # screening by the middle cut spares the classifier and loses no face the whole check flags
        assert [f.label for f in every_cut.check_noses(image, plain, landmarks)] == [f.label for f in checked]
        for before, after in zip(plain, checked, strict=True):
            assert (after.box, after.score, after.probabilities) == (before.box, before.score, before.probabilities)
            assert (after.nose_uncovered is not None) == (before.label == MASKED)
            if after.label != before.label:
                assert (before.label, after.label) == (MASKED, INCORRECT)
                assert after.probability == after.nose_uncovered >= check.threshold
                relabelled += 1
            elif before.label == MASKED:
                assert after.nose_uncovered < check.threshold
        truth = [face.box for face in scene.faces if face.label == INCORRECT and large_enough(face.box)]
        for found in match_boxes(truth, [result.box for result in plain], MATCH_IOU).values():
            let_through["without the check"] += plain[found].label == MASKED
            let_through["with it"] += checked[found].label == MASKED
    assert relabelled > 0
    assert let_through["with it"] < let_through["without the check"], let_through
