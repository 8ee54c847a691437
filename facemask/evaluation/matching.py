"""Matching predicted boxes to annotated faces."""

from __future__ import annotations

from facemask.detection import Box

MATCH_IOU = 0.5


def match_boxes(truth: list[Box], predicted: list[Box], threshold: float = MATCH_IOU) -> dict[int, int]:
    """Greedy matching, best overlap first: {truth index: predicted index} for pairs with IoU > `threshold`.

    Each annotated face takes at most one predicted box and each predicted box at most one face.
    """
    pairs = sorted(((t.iou(p), i, j) for i, t in enumerate(truth) for j, p in enumerate(predicted)),
                   key=lambda pair: pair[0], reverse=True)
    matched: dict[int, int] = {}
    used: set[int] = set()
    for overlap, i, j in pairs:
        if overlap <= threshold:
            break
        if i not in matched and j not in used:
            matched[i] = j
            used.add(j)
    return matched
