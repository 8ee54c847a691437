"""Annotating images: coloured boxes and "Mask: 99.12%" labels readable at any image size."""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:  # for annotations only: facemask.pipeline imports this module to draw its results
    from facemask.pipeline import FaceResult

LABEL_TEXT = {"with_mask": "Mask", "without_mask": "No Mask", "mask_worn_incorrectly": "Mask Worn Wrong"}
LABEL_COLOUR = {"with_mask": (0, 200, 0), "without_mask": (0, 0, 255), "mask_worn_incorrectly": (0, 165, 255)}
OTHER_COLOUR = (255, 160, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def label_text(face: FaceResult) -> str:
    """The caption of a face, e.g. "Mask: 99.12%"."""
    return f"{LABEL_TEXT.get(face.label, face.label)}: {face.probability * 100:.2f}%"


def label_colour(label: str) -> tuple[int, int, int]:
    """BGR colour of a class: green for masked, red for unmasked, orange for a mask worn wrong."""
    return LABEL_COLOUR.get(label, OTHER_COLOUR)


def _text_scale(image: np.ndarray) -> tuple[float, int]:
    """Font scale and line thickness that read well on an image of this size."""
    short_side = min(image.shape[:2])
    scale = float(np.clip(short_side / 900.0, 0.4, 3.0))
    return scale, max(1, int(round(scale * 2)))


def draw_caption(
    image: np.ndarray,
    text: str,
    x: int,
    y: int,
    colour: tuple[int, int, int],
    scale: float,
    thickness: int,
    above: bool = True,
) -> None:
    """Write `text` in white on a filled `colour` band at (x, y), above that point or below it."""
    (text_w, text_h), baseline = cv2.getTextSize(text, FONT, scale, thickness)
    pad = max(2, thickness)
    band_h = text_h + baseline + 2 * pad
    top = y - band_h if above else y
    top = int(np.clip(top, 0, max(0, image.shape[0] - band_h)))
    left = int(np.clip(x, 0, max(0, image.shape[1] - text_w - 2 * pad)))
    cv2.rectangle(image, (left, top), (left + text_w + 2 * pad, top + band_h), colour, cv2.FILLED)
    cv2.putText(image, text, (left + pad, top + pad + text_h), FONT, scale, (255, 255, 255), thickness, cv2.LINE_AA)


def annotate(image: np.ndarray, faces: list[FaceResult]) -> np.ndarray:
    """A copy of `image` with a box and a caption for every face."""
    annotated = image.copy()
    scale, thickness = _text_scale(annotated)
    for face in faces:
        colour = label_colour(face.label)
        box = face.box
        cv2.rectangle(annotated, (box.x, box.y), (box.right - 1, box.bottom - 1), colour, thickness + 1)
        draw_caption(annotated, label_text(face), box.x, box.y, colour, scale, thickness, above=box.y > 0)
    return annotated
