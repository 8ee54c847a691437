"""The training data of the pipeline's two checks for masks worn incorrectly: the part of each training face
that the check looks at.

The nose check (facemask.pipeline.NoseCheck) classifies the upper part of a face called with_mask, from the
forehead down to a cut between the tip of the nose and the mouth. Its model is trained on exactly those parts of
the training faces: a face wearing its mask correctly gives a part whose nose is covered (class with_mask); an
unmasked face, or one whose mask is drawn below the nose or on the chin (`augment_masks.py --incorrect-fraction`),
a part whose nose is bare (class without_mask).

The chin check (facemask.pipeline.ChinCheck) classifies the lower part of a face called without_mask, from the
tip of the nose to below the chin. Masked faces, worn correctly or drawn worn incorrectly, give a part with a mask
on it (with_mask); unmasked faces a part without (without_mask).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facemask.classification import crop_face
from facemask.detection import FaceDetector
from facemask.errors import FacemaskError
from facemask.geometry import Box, Detection, Landmarks
from facemask.metadata import INCORRECT, MASKED, UNMASKED
from facemask.pipeline import ChinCheck, NoseCheck

# For each check, each class of a face dataset and the check model's class for the part of its faces it looks at.
PART_CLASSES = {
    "nose": {MASKED: MASKED, UNMASKED: UNMASKED, INCORRECT: UNMASKED},  # with_mask: the nose is covered
    "chin": {MASKED: MASKED, UNMASKED: UNMASKED, INCORRECT: MASKED},  # with_mask: a mask on the lower face
}
# A training photo is a close-up: the detector gets it with a grey border of this fraction of its longer side
# (detectors miss faces that touch the frame), and only a face covering at least MIN_AREA of it counts.
BORDER = 0.3
MIN_AREA = 0.15


@dataclass(frozen=True)
class FacePart:
    """The part of a training photo's face a check looks at (RGB, `size` square), and how it was cut:
    "landmarks" (by the face's landmarks; for the nose check at one of its cuts, chosen at random), "box" (detector
    box without landmarks) or "whole image" (no face found: the photo taken as the face's box)."""

    crop: np.ndarray
    cut: str


def part_class(check: str, label: str) -> str:
    """The class of `check`'s model ("nose" or "chin") for the faces of dataset class `label`."""
    classes = PART_CLASSES[check]
    if label not in classes:
        raise FacemaskError(f"the {check} check's data needs the classes {', '.join(classes)}, got a folder "
                            f"called {label!r}")
    return classes[label]


def main_face(image: np.ndarray, detector: FaceDetector) -> Detection | None:
    """The largest face `detector` finds in the close-up `image` (at least MIN_AREA of it), with its box and
    landmarks in `image`'s coordinates; None if there is none."""
    height, width = image.shape[:2]
    pad = int(round(BORDER * max(height, width)))
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(127, 127, 127))
    faces = [d for d in detector.detect(padded) if d.box.w * d.box.h >= MIN_AREA * width * height]
    if not faces:
        return None
    face = max(faces, key=lambda d: d.box.w * d.box.h)
    landmarks = None if face.landmarks is None else Landmarks.from_values(face.landmarks.as_array() - pad)
    return Detection(Box(face.box.x - pad, face.box.y - pad, face.box.w, face.box.h), face.score, landmarks)


def upper_face(image: np.ndarray, detector: FaceDetector, check: NoseCheck, rng: np.random.Generator,
               size: int = 224) -> FacePart:
    """The part of the face in the close-up `image` that `check` would classify, cut where the pipeline would
    cut it (one of the check's cuts at random where the detector gives landmarks)."""
    face = main_face(image, detector)
    if face is None:
        height, width = image.shape[:2]
        parts, cut = check.upper_boxes(Box(0, 0, width, height)), "whole image"
    else:
        parts = check.upper_boxes(face.box, face.landmarks)
        cut = "box" if face.landmarks is None else "landmarks"
    return FacePart(crop_face(image, parts[int(rng.integers(len(parts)))], size), cut)


def lower_face(image: np.ndarray, detector: FaceDetector, check: ChinCheck, size: int = 224) -> FacePart | None:
    """The part of the face in the close-up `image` that `check` would classify, cut where the pipeline would cut
    it; None where no face is found (the part reaches below the face, which the photo's edge cannot stand for)."""
    face = main_face(image, detector)
    if face is None:
        return None
    return FacePart(crop_face(image, check.lower_box(face.box, face.landmarks), size),
                    "box" if face.landmarks is None else "landmarks")
