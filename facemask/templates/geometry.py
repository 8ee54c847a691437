"""Mask template geometry: the anchor points that tie a template picture to dlib's 68 landmarks.

Every template is drawn on the same canvas, where the anchors sit on a mean face (dlib landmarks measured on the
training faces). Synthesis maps each anchor to the same named point on a real face and warps the picture there,
so any template fits any placement (worn correctly, below the nose, on the chin).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CANVAS_SIZE = (400, 300)  # width, height of every template picture
CANVAS_ORIGIN = (200.0, 45.0)  # where the midpoint of landmarks 1 and 15 falls on the canvas
CANVAS_SCALE = 360.0  # pixels per jaw width (landmark 1 to 15)
JAW_SAMPLES = 13  # anchors along the jaw, from one top corner round the chin to the other
OUTWARD = 0.05  # the mask stands this far (in jaw widths) outside the jaw line, as a real mask wraps the face

# Median dlib 68-landmark positions over the training faces, in a frame where landmark 1 is (-0.5, 0) and
# landmark 15 is (0.5, 0), y pointing down the face.
MEAN_LANDMARKS = np.array(
    [
        (-0.504, -0.131),
        (-0.5, 0.0),
        (-0.486, 0.129),
        (-0.459, 0.252),
        (-0.407, 0.363),
        (-0.328, 0.459),
        (-0.232, 0.54),
        (-0.124, 0.599),
        (-0.005, 0.617),
        (0.117, 0.593),
        (0.225, 0.533),
        (0.326, 0.454),
        (0.403, 0.358),
        (0.454, 0.245),
        (0.483, 0.125),
        (0.5, -0.0),
        (0.508, -0.129),
        (-0.395, -0.208),
        (-0.325, -0.264),
        (-0.234, -0.275),
        (-0.141, -0.259),
        (-0.06, -0.224),
        (0.093, -0.222),
        (0.181, -0.26),
        (0.269, -0.27),
        (0.36, -0.262),
        (0.424, -0.211),
        (0.015, -0.125),
        (0.014, -0.039),
        (0.017, 0.042),
        (0.018, 0.126),
        (-0.091, 0.172),
        (-0.042, 0.192),
        (0.016, 0.215),
        (0.066, 0.19),
        (0.114, 0.173),
        (-0.299, -0.119),
        (-0.24, -0.147),
        (-0.178, -0.149),
        (-0.126, -0.107),
        (-0.184, -0.095),
        (-0.246, -0.096),
        (0.147, -0.112),
        (0.203, -0.15),
        (0.265, -0.148),
        (0.322, -0.125),
        (0.268, -0.099),
        (0.207, -0.097),
        (-0.198, 0.316),
        (-0.116, 0.296),
        (-0.043, 0.281),
        (0.008, 0.292),
        (0.06, 0.279),
        (0.127, 0.29),
        (0.201, 0.312),
        (0.127, 0.375),
        (0.054, 0.401),
        (0.002, 0.405),
        (-0.053, 0.404),
        (-0.125, 0.375),
        (-0.169, 0.321),
        (-0.044, 0.319),
        (0.01, 0.328),
        (0.06, 0.321),
        (0.168, 0.315),
        (0.053, 0.336),
        (0.005, 0.343),
        (-0.05, 0.338),
    ]
)


@dataclass(frozen=True)
class Placement:
    """Where a mask sits: the jaw landmark (fractional index) of its top corners, and its top and inner points.

    `top` and `inner` are (landmark a, landmark b, t): the point a + t (b - a).
    """

    name: str
    corner: float
    top: tuple[int, int, float]
    inner: tuple[tuple[int, int, float], tuple[int, int, float]]


PLACEMENTS = {
    "correct": Placement("correct", 1.0, (27, 30, 0.35), ((30, 30, 0.0), (62, 66, 0.5))),
    "below_nose": Placement("below_nose", 2.4, (33, 51, 0.4), ((62, 66, 0.5), (57, 8, 0.5))),
    "on_chin": Placement("on_chin", 4.0, (57, 8, 0.2), ((57, 8, 0.55), (57, 8, 0.8))),
    # slipped down to the nostrils: the bridge and tip of the nose show, the mouth is covered (the commonest
    # incorrectly worn mask in real crowd scenes)
    "nose_tip": Placement("nose_tip", 1.9, (30, 33, 0.6), ((33, 51, 0.6), (62, 66, 0.5))),
}
INCORRECT_PLACEMENTS = ("below_nose", "nose_tip", "on_chin")


def anchor_names() -> list[str]:
    """The anchors of every template: the outline (left top corner, over the nose bridge, right top corner, back
    round the chin along the jaw), then two inner points."""
    return (
        ["jaw_0", "top_left_mid", "bridge", "top_right_mid"]
        + [f"jaw_{i}" for i in range(JAW_SAMPLES - 1, 0, -1)]
        + ["inner_upper", "inner_lower"]
    )


def _lerp(landmarks: np.ndarray, spec: tuple[int, int, float]) -> np.ndarray:
    a, b, t = spec
    return landmarks[a] + t * (landmarks[b] - landmarks[a])


def _jaw_point(landmarks: np.ndarray, index: float) -> np.ndarray:
    low = int(np.floor(index))
    high = min(low + 1, 16)
    return landmarks[low] + (index - low) * (landmarks[high] - landmarks[low])


def face_anchors(landmarks: np.ndarray, placement: Placement) -> dict[str, np.ndarray]:
    """Each anchor's position on a face with these 68 landmarks (x, y pixels) for a mask worn at `placement`."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    width = float(np.linalg.norm(landmarks[15] - landmarks[1]))
    centre = _lerp(landmarks, (27, 8, 0.45))
    anchors: dict[str, np.ndarray] = {}
    for i, index in enumerate(np.linspace(placement.corner, 16.0 - placement.corner, JAW_SAMPLES)):
        point = _jaw_point(landmarks, float(index))
        direction = point - centre
        anchors[f"jaw_{i}"] = point + OUTWARD * width * direction / max(float(np.linalg.norm(direction)), 1e-6)
    anchors["bridge"] = _lerp(landmarks, placement.top)
    anchors["top_left_mid"] = 0.5 * (anchors["jaw_0"] + anchors["bridge"])
    anchors["top_right_mid"] = 0.5 * (anchors[f"jaw_{JAW_SAMPLES - 1}"] + anchors["bridge"])
    anchors["inner_upper"] = _lerp(landmarks, placement.inner[0])
    anchors["inner_lower"] = _lerp(landmarks, placement.inner[1])
    return anchors


def canonical_landmarks() -> np.ndarray:
    """The mean face's 68 landmarks in canvas pixels."""
    return np.asarray(CANVAS_ORIGIN) + CANVAS_SCALE * MEAN_LANDMARKS


def canonical_anchors() -> dict[str, tuple[float, float]]:
    """The anchors on the template canvas: the mean face wearing the mask correctly."""
    anchors = face_anchors(canonical_landmarks(), PLACEMENTS["correct"])
    return {name: (round(float(anchors[name][0]), 2), round(float(anchors[name][1]), 2)) for name in anchor_names()}


def outline_names() -> list[str]:
    """The anchors on the mask's outline, in order round it."""
    return anchor_names()[:-2]
