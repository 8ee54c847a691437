"""Face detectors on real annotated scenes and on the example photos (examples/, on every clone): the default finds
the faces, every backend works, bad input is an error (the box geometry they share: test_geometry.py)."""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import pytest

from facemask.detection import (
    DETECTORS,
    CenterFaceDetector,
    FusedDetector,
    YuNetDetector,
    create_detector,
    locate_ssd_files,
)
from facemask.errors import FacemaskError
from facemask.evaluation import MATCH_IOU, load_scenes
from facemask.geometry import Box, match_boxes
from facemask.imageio import read_image


@pytest.fixture(scope="module")
def scenes(scenes_dir: Path) -> dict:
    return {scene.name: scene for scene in load_scenes(scenes_dir)}


@pytest.fixture(scope="module")
def crowd_scenes(crowd_scenes_dir: Path) -> dict:
    return {scene.name: scene for scene in load_scenes(crowd_scenes_dir)}


@pytest.fixture(scope="module")
def examples(example_scenes_dir: Path) -> dict:
    return {scene.name: scene for scene in load_scenes(example_scenes_dir)}


@pytest.fixture(scope="module")
def default_detector(default_pipeline):
    """The default detector (facemask.defaults.DETECTOR), as the default pipeline runs it."""
    return default_pipeline.detector


def found_and_false(detector, scene) -> tuple[int, int]:
    """How many annotated faces of `scene` the detector finds (IoU > 0.5) and how many boxes match no face."""
    boxes = [d.box for d in detector.detect(read_image(scene.path))]
    matched = match_boxes([face.box for face in scene.faces], boxes, MATCH_IOU)
    return len(matched), len(boxes) - len(matched)


@pytest.mark.parametrize("name", ["93.jpg", "246.jpg", "0.jpg"])
def test_default_detector_finds_every_face_of_hand_checked_scenes(default_detector, scenes, name):
    # 93.jpg: three people in masks; 246.jpg: three without; 0.jpg: one large masked face in a 934x1401 photo.
    scene = scenes[name]
    assert found_and_false(default_detector, scene) == (len(scene.faces), 0)


@pytest.mark.parametrize("name", ["astronaut.jpg", "grace_hopper.jpg", "two_people.jpg"])
def test_default_detector_finds_every_face_of_the_example_photos(default_detector, examples, name):
    scene = examples[name]
    assert found_and_false(default_detector, scene) == (len(scene.faces), 0)


def test_pyramid_finds_small_masked_faces_a_single_pass_misses(scenes):
    # 37.jpg: a street with seven masked faces 10-19 px wide.
    single_pass = YuNetDetector(upscale=1.0, large_face_side=0)
    found_pyramid, _ = found_and_false(YuNetDetector(), scenes["37.jpg"])
    found_single, _ = found_and_false(single_pass, scenes["37.jpg"])
    assert found_pyramid >= 4 and found_pyramid > found_single


def test_default_is_yunet_fused_with_centerface(default_detector):
    assert isinstance(default_detector, FusedDetector)
    assert [type(part) for part in default_detector.detectors] == [YuNetDetector, CenterFaceDetector]


@pytest.mark.parametrize("name", ["maksssksksss167.jpg", "maksssksksss447.jpg", "maksssksksss634.jpg"])
def test_default_finds_masked_faces_the_yunet_pyramid_missed(default_detector, crowd_scenes, name):
    # Small masked faces (10-19 px in groups of three or four) of which YuNet's pyramid alone, the default before,
    # misses at least one at its 0.7 threshold; the default finds every face and nothing else.
    scene = crowd_scenes[name]
    found_yunet, _ = found_and_false(create_detector("yunet"), scene)
    assert found_yunet < len(scene.faces)
    assert found_and_false(default_detector, scene) == (len(scene.faces), 0)


def test_default_finds_no_face_in_a_street_without_people(default_detector, scenes):
    # The right part of 25.jpg: shop fronts, parked motorbikes and railings, no person (looked at).
    image = read_image(scenes["25.jpg"].path)[:, 280:]
    assert all(face.box.x + face.box.w <= 280 for face in scenes["25.jpg"].faces)
    assert default_detector.detect(image) == []


def test_centerface_gives_the_same_boxes_after_a_photo_of_another_size(examples):
    # One OpenCV net fed inputs of different sizes in turn: with layer fusion on, its output was corrupted.
    detector = CenterFaceDetector()
    first, other = read_image(examples["astronaut.jpg"].path), read_image(examples["two_people.jpg"].path)
    assert first.shape != other.shape
    before = detector.detect(first)
    detector.detect(other)
    assert before and detector.detect(first) == before


@pytest.mark.slow
def test_video_setting_finds_more_faces_than_the_ssd_in_640x480_frames(scenes):
    # The video tool's default (YuNet, one pass at 320 px) against the res10 SSD it replaced, on every scene
    # fitted into a 640x480 frame as a camera would show it (measured: 0.81 against 0.54 of the faces).
    fast_yunet, ssd = YuNetDetector(frame_side=320), create_detector("ssd")
    assert fast_yunet.scales(640, 480) == [0.5]
    found = {"yunet": 0, "ssd": 0}
    total = 0
    for scene in scenes.values():
        image = read_image(scene.path)
        scale = min(640 / image.shape[1], 480 / image.shape[0])
        frame = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        truth = [
            Box(
                round(f.box.x * scale),
                round(f.box.y * scale),
                max(1, round(f.box.w * scale)),
                max(1, round(f.box.h * scale)),
            )
            for f in scene.faces
        ]
        total += len(truth)
        for name, detector in (("yunet", fast_yunet), ("ssd", ssd)):
            found[name] += len(match_boxes(truth, [d.box for d in detector.detect(frame)], MATCH_IOU))
    assert found["yunet"] >= 0.75 * total and found["yunet"] > found["ssd"] + 0.15 * total, (found, total)


@pytest.mark.parametrize("name", DETECTORS)
def test_every_backend_finds_clear_faces(examples, name):
    detector = create_detector(name)
    scene = examples["two_people.jpg"]  # two faces, 90 and 154 px wide, the left one masked
    image = read_image(scene.path)
    detections = detector.detect(image)
    matched = match_boxes([face.box for face in scene.faces], [d.box for d in detections], MATCH_IOU)
    assert len(matched) == 2
    height, width = image.shape[:2]
    for detection in detections:
        box = detection.box
        assert box.x >= 0 and box.y >= 0 and box.right <= width and box.bottom <= height
        assert detector.confidence <= detection.score <= 1.0
    assert [d.score for d in detections] == sorted((d.score for d in detections), reverse=True)
    for detection in (detections[i] for i in matched.values()):  # upright faces: landmarks where a face has them
        if name == "ssd":
            assert detection.landmarks is None
            continue
        points, box = detection.landmarks.as_array(), detection.box
        assert (points[:, 0] > box.x).all() and (points[:, 0] < box.right).all(), (box, points)
        assert (points[:, 1] > box.y).all() and (points[:, 1] < box.bottom).all(), (box, points)
        left_eye, right_eye, nose, mouth_left, mouth_right = points
        assert left_eye[0] < nose[0] < right_eye[0] and mouth_left[0] < mouth_right[0]
        assert max(left_eye[1], right_eye[1]) < nose[1] < detection.landmarks.mouth_y


def test_default_on_a_large_photo_gives_no_warning_and_scores_below_one(default_detector, examples):
    image = read_image(examples["two_people.jpg"].path)  # 949 x 512: 1424 x 768 below, the pyramid enlarges it to 1600
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        detections = default_detector.detect(cv2.resize(image, None, fx=1.5, fy=1.5))
    assert detections and all(0.0 < d.score <= 1.0 for d in detections)


def test_unknown_detector_and_bad_ssd_folder_are_errors(tmp_path: Path):
    with pytest.raises(FacemaskError, match="unknown face detector 'hog'"):
        create_detector("hog")
    with pytest.raises(FacemaskError, match="cannot load the CenterFace face detector"):
        CenterFaceDetector(model=tmp_path / "absent.onnx")
    with pytest.raises(FacemaskError, match="face detector folder not found"):
        locate_ssd_files(tmp_path / "absent")
    with pytest.raises(FacemaskError, match=r"no deploy \.prototxt"):
        locate_ssd_files(tmp_path)
