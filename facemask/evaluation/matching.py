"""Matching predicted boxes to annotated faces."""

from __future__ import annotations

from facemask.detection import Box, match_boxes as greedy_match

MATCH_IOU = 0.5


def match_boxes(truth: list[Box], predicted: list[Box], threshold: float = MATCH_IOU) -> dict[int, int]:
    """Greedy matching, best overlap first (facemask.detection.match_boxes): {truth index: predicted index} for
    pairs with IoU > `threshold`. Each annotated face takes at most one predicted box and each predicted box at
    most one face."""
    return greedy_match(truth, predicted, threshold)
