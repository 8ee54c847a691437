"""Annotations: colours by class, captions inside the image, text that grows with the image."""

from __future__ import annotations

import numpy as np

from facemask.drawing import annotate, label_text
from facemask.geometry import Box
from facemask.pipeline import FaceResult


def face(label, box=Box(40, 60, 80, 80), probability=0.9912):
    other = "without_mask" if label == "with_mask" else "with_mask"
    return FaceResult(box, 0.99, label, probability, {label: probability, other: 1 - probability})


def test_caption_text():
    assert label_text(face("with_mask")) == "Mask: 99.12%"
    assert label_text(face("without_mask", probability=0.974)) == "No Mask: 97.40%"
    assert label_text(face("mask_worn_incorrectly", probability=0.81)) == "Mask Worn Wrong: 81.00%"


def test_a_mask_worn_incorrectly_has_its_own_orange_box():
    image = np.full((300, 300, 3), 128, np.uint8)
    edge = (slice(100, 130), 40)
    boxes = {
        label: annotate(image, [face(label)])[edge].mean(axis=0)
        for label in ("with_mask", "without_mask", "mask_worn_incorrectly")
    }
    blue, green, red = boxes["mask_worn_incorrectly"]
    assert red > 200 and 100 < green < 200 and blue < 50  # orange, in BGR
    for other in ("with_mask", "without_mask"):
        assert np.abs(boxes["mask_worn_incorrectly"] - boxes[other]).max() > 60


def test_masked_faces_are_green_and_unmasked_red():
    image = np.full((300, 300, 3), 128, np.uint8)
    masked = annotate(image, [face("with_mask")])
    unmasked = annotate(image, [face("without_mask")])
    edge = (slice(100, 130), 40)  # a stretch of the box's left edge
    assert (masked[edge][:, 1] > 150).all() and (masked[edge][:, 2] < 50).all()
    assert (unmasked[edge][:, 2] > 200).all() and (unmasked[edge][:, 1] < 50).all()
    assert (image == 128).all()  # the input is left as it was


def test_caption_stays_inside_for_a_face_at_the_border():
    image = np.full((200, 200, 3), 128, np.uint8)
    annotated = annotate(image, [face("without_mask", Box(0, 0, 60, 60))])
    changed = np.argwhere((annotated != 128).any(axis=2))
    assert changed[:, 0].min() == 0 and changed[:, 1].min() == 0  # drawn from the very corner, not off-image
    assert (annotated[2:10, 2:40] != 128).any()


def test_text_grows_with_the_image():
    def caption_rows(size):
        image = np.full((size, size, 3), 128, np.uint8)
        box = Box(size // 4, size // 2, size // 4, size // 4)
        annotated = annotate(image, [face("with_mask", box)])
        above = annotated[: box.y, box.x :]
        return int(((above != 128).any(axis=2)).any(axis=1).sum())

    assert caption_rows(3000) > 3 * caption_rows(400)
