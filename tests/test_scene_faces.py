"""Training faces cut from real annotated scenes: as the pipeline cuts a detection, jittered like a detector's box,
held back by whole photo."""

from __future__ import annotations

import numpy as np
import pytest

from facemask.classification import crop_face
from facemask.data import split_groups
from facemask.errors import FacemaskError
from facemask.evaluation import load_scenes
from facemask.geometry import Box
from facemask.imageio import read_image
from facemask.scene_faces import MIN_FACE_SIDE, PATCH_FACE_SIDE, BoxJitter, load_scene_faces
from facemask.settings import CropSettings

from scenes import make_scene_set


@pytest.fixture(scope="module")
def small_set(train_scenes_dir, tmp_path_factory):
    return make_scene_set(train_scenes_dir, tmp_path_factory.mktemp("scenes") / "set", 12)


@pytest.fixture(scope="module")
def faces(small_set):
    return load_scene_faces(small_set)


def test_every_annotated_face_is_kept_with_its_label(small_set, faces):
    annotated = [
        (scene, face)
        for scene in load_scenes(small_set)
        for face in scene.faces
        if min(face.box.w, face.box.h) >= MIN_FACE_SIDE
    ]
    assert len(faces) == len(annotated)
    assert faces.class_names == ("mask_worn_incorrectly", "with_mask", "without_mask")  # the helper picks all three
    assert [faces.class_names[i] for i in faces.labels] == [face.label for _, face in annotated]
    assert faces.sizes.tolist() == [min(face.box.w, face.box.h) for _, face in annotated]


def test_a_plain_crop_is_the_pipelines_crop_of_the_annotated_box(small_set, faces):
    """Without jitter, a face is cut from its patch exactly as the pipeline cuts that box from the photo."""
    crop = CropSettings()
    cut = faces.crops(224, crop.margin, crop.square, BoxJitter(), rng=None)
    index = 0
    compared = 0
    for scene in load_scenes(small_set):
        kept = [face for face in scene.faces if min(face.box.w, face.box.h) >= MIN_FACE_SIDE]
        if not kept:
            continue
        photo = read_image(scene.path)
        for face in kept:
            if max(face.box.w, face.box.h) <= PATCH_FACE_SIDE:  # kept at full resolution
                expected = crop_face(photo, face.box, 224, crop.margin, crop.square)
                assert np.abs(cut[index].astype(int) - expected.astype(int)).max() <= 1
                compared += 1
            index += 1
    assert compared >= 10


def test_jittered_boxes_stray_like_a_detectors(faces):
    jitter = BoxJitter()
    rng = np.random.default_rng(0)
    ious = []
    for box in faces.boxes:
        exact = jitter.apply(box, None)
        moved = jitter.apply(box, rng)
        ious.append(exact.iou(moved))
    ious = np.asarray(ious)
    assert ious.min() > 0.45 and 0.7 < np.median(ious) < 0.97  # never the same box, never another face
    with pytest.raises(FacemaskError, match="shift and spread"):
        BoxJitter(shift=0.7)


def test_faces_of_one_photo_stay_on_one_side_of_the_split(faces):
    train, held = split_groups(faces.labels, faces.groups, 0.25, seed=1)
    assert len(train) and len(held) and not set(faces.groups[train]) & set(faces.groups[held])
    assert sorted(np.concatenate([train, held]).tolist()) == list(range(len(faces)))


def test_a_missing_scene_set_is_named(tmp_path):
    with pytest.raises(FacemaskError, match="scenes folder not found") as error:
        load_scene_faces(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(error.value)


def test_box_jitter_keeps_boxes_inside_sensible_sizes():
    jitter = BoxJitter()
    box = jitter.apply(np.array([10.0, 20.0, 2.0, 2.0]), np.random.default_rng(3))
    assert isinstance(box, Box) and box.w >= 1 and box.h >= 1
