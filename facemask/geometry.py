"""Box geometry, owned here: boxes and their overlap, the five landmarks of a face, a detection (a scored box),
one-to-one box matching, non-maximum suppression and weighted box fusion. Pure arithmetic on pixels: no model,
no image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixels: top-left corner (x, y), width w and height h."""

    x: int
    y: int
    w: int
    h: int

    @classmethod
    def from_corners(cls, x1: float, y1: float, x2: float, y2: float, width: int, height: int) -> Box:
        """The box between two corners, clipped to an image of `width` x `height`."""
        left, top = int(round(max(0.0, min(x1, x2)))), int(round(max(0.0, min(y1, y2))))
        right, bottom = int(round(min(float(width), max(x1, x2)))), int(round(min(float(height), max(y1, y2))))
        return cls(left, top, max(0, right - left), max(0, bottom - top))

    @property
    def right(self) -> int:
        """The x just past the box's right edge: x + w."""
        return self.x + self.w

    @property
    def bottom(self) -> int:
        """The y just below the box's bottom edge: y + h."""
        return self.y + self.h

    def as_list(self) -> list[int]:
        """[x, y, w, h], as the JSON results give it."""
        return [self.x, self.y, self.w, self.h]

    def corners(self) -> list[float]:
        """[left, top, right, bottom]."""
        return [self.x, self.y, self.right, self.bottom]

    def iou(self, other: Box) -> float:
        """Intersection over union with `other` (0 when either is empty)."""
        inter_w = min(self.right, other.right) - max(self.x, other.x)
        inter_h = min(self.bottom, other.bottom) - max(self.y, other.y)
        if inter_w <= 0 or inter_h <= 0:
            return 0.0
        inter = inter_w * inter_h
        return inter / float(self.w * self.h + other.w * other.h - inter)


@dataclass(frozen=True)
class Landmarks:
    """Five points of a face in image pixels, (x, y) each: the eyes, the tip of the nose and the corners of the
    mouth, the one on the image's left first. On a masked face the nose and mouth are the detector's estimate of
    where they are under the mask."""

    left_eye: tuple[float, float]
    right_eye: tuple[float, float]
    nose: tuple[float, float]
    mouth_left: tuple[float, float]
    mouth_right: tuple[float, float]

    @classmethod
    def from_values(cls, values) -> Landmarks:
        """From ten numbers x1, y1, ..., x5, y5 in the order of the fields."""
        points = np.asarray(values, dtype=np.float64).reshape(5, 2)
        return cls(*((float(x), float(y)) for x, y in points))

    def as_array(self) -> np.ndarray:
        """The points as a 5 x 2 array, in the order of the fields."""
        return np.array([self.left_eye, self.right_eye, self.nose, self.mouth_left, self.mouth_right])

    @property
    def mouth_y(self) -> float:
        """The height of the mouth: the mean y of its corners."""
        return (self.mouth_left[1] + self.mouth_right[1]) / 2.0


@dataclass(frozen=True)
class Detection:
    """One face found by a detector: its box in image pixels, the detector's confidence and, from detectors that
    find them, its five landmarks."""

    box: Box
    score: float
    landmarks: Landmarks | None = None


def match_boxes(first: list[Box], second: list[Box], threshold: float, inclusive: bool = False) -> dict[int, int]:
    """Greedy one-to-one matching by overlap, best IoU first: {index in `first`: index in `second`} for the pairs
    whose IoU exceeds `threshold` (reaches it, with `inclusive`). Each box of either list takes part in at most
    one pair. Matches detections to annotated faces (evaluation, IoU above 0.5) and to the faces tracked from
    the previous frame (video, inclusive)."""
    pairs = sorted(
        ((a.iou(b), i, j) for i, a in enumerate(first) for j, b in enumerate(second)),
        key=lambda pair: pair[0],
        reverse=True,
    )
    matched: dict[int, int] = {}
    used: set[int] = set()
    for overlap, i, j in pairs:
        if overlap < threshold or (overlap == threshold and not inclusive):
            break
        if i not in matched and j not in used:
            matched[i] = j
            used.add(j)
    return matched


def non_max_suppression(detections: list[Detection], iou_threshold: float) -> list[Detection]:
    """The detections OpenCV's NMS keeps at `iou_threshold`, best score first."""
    if not detections:
        return []
    import cv2  # OpenCV only where boxes are suppressed: a Box needs no image library

    boxes = [d.box.as_list() for d in detections]
    scores = [d.score for d in detections]
    keep = cv2.dnn.NMSBoxes(boxes, scores, score_threshold=0.0, nms_threshold=iou_threshold)
    kept = [detections[i] for i in np.asarray(keep).reshape(-1)]
    return sorted(kept, key=lambda d: d.score, reverse=True)


def _rounded(corners: np.ndarray) -> Box:
    left, top = int(round(corners[0])), int(round(corners[1]))
    return Box(left, top, int(round(corners[2])) - left, int(round(corners[3])) - top)


def _weighted_mean(items: list[tuple[np.ndarray, float]]) -> np.ndarray:
    mass = np.array([weight for _, weight in items])
    values = np.array([value for value, _ in items])
    return np.tensordot(mass, values, axes=1) / max(mass.sum(), 1e-12)


def weighted_box_fusion(
    groups: list[list[Detection]], iou_threshold: float = 0.55, weights: list[float] | None = None
) -> list[Detection]:
    """Weighted box fusion of the detections of several passes or detectors, one list per source.

    Boxes are taken best score first; a box joins the fused box it overlaps most when their IoU exceeds
    `iou_threshold`, and a fused box is the score-weighted mean of its members (its landmarks too, over the
    members that have them). Its score is the weighted mean, over every source, of that source's best score in
    it (0 for a source that did not see the face): a face seen by every source keeps its score, one seen by one
    source of two gets half of it. `weights`: one per source (default: all 1). Returns the fused detections,
    best score first; raises ValueError when `weights` does not have one weight per source.
    """
    # (The ensemble-boxes package implements the same method but needs numba and pandas.)
    weights = [1.0] * len(groups) if weights is None else weights
    if len(weights) != len(groups):
        raise ValueError("one weight per group of detections")
    members: list[list[tuple[Detection, int]]] = []
    corners: list[np.ndarray] = []
    ranked = sorted(
        ((d, source) for source, group in enumerate(groups) for d in group),
        key=lambda pair: pair[0].score,
        reverse=True,
    )
    for detection, source in ranked:
        box = detection.box
        best, best_iou = -1, iou_threshold
        for index, fused in enumerate(corners):
            overlap = box.iou(_rounded(fused))
            if overlap > best_iou:
                best, best_iou = index, overlap
        if best < 0:
            members.append([(detection, source)])
            corners.append(np.array(box.corners(), dtype=np.float64))
            continue
        members[best].append((detection, source))
        corners[best] = _weighted_mean([(np.array(d.box.corners()), d.score * weights[s]) for d, s in members[best]])
    fused_detections = []
    total = float(sum(weights))
    for group, fused in zip(members, corners):
        best_per_source: dict[int, float] = {}
        for detection, source in group:
            best_per_source[source] = max(best_per_source.get(source, 0.0), detection.score)
        score = sum(weights[source] * value for source, value in best_per_source.items()) / total
        marked = [(d.landmarks.as_array(), d.score * weights[s]) for d, s in group if d.landmarks is not None]
        landmarks = Landmarks.from_values(_weighted_mean(marked)) if marked else None
        fused_detections.append(Detection(_rounded(fused), score, landmarks))
    return sorted(fused_detections, key=lambda d: d.score, reverse=True)
