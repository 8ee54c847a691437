"""Box geometry: overlap, clipping, landmarks, one-to-one matching, non-maximum suppression and box fusion."""

from __future__ import annotations

import pytest

from facemask.geometry import Box, Detection, Landmarks, match_boxes, non_max_suppression, weighted_box_fusion


def test_box_iou_clipping_and_corners():
    assert Box(0, 0, 10, 10).iou(Box(5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert Box(0, 0, 10, 10).iou(Box(20, 20, 5, 5)) == 0.0
    assert Box(0, 0, 0, 10).iou(Box(0, 0, 0, 10)) == 0.0
    assert Box.from_corners(-5.0, -5.0, 30.0, 12.0, width=20, height=10) == Box(0, 0, 20, 10)
    assert Box.from_corners(12.0, 8.0, 2.0, 1.0, width=20, height=10) == Box(2, 1, 10, 7)
    box = Box(10, 20, 100, 50)
    assert (box.right, box.bottom, box.as_list(), box.corners()) == (110, 70, [10, 20, 100, 50], [10, 20, 110, 70])


def test_landmarks_from_ten_values():
    points = Landmarks.from_values(range(10))
    assert points.left_eye == (0.0, 1.0) and points.mouth_right == (8.0, 9.0)
    assert points.as_array().shape == (5, 2) and points.mouth_y == 8.0


def test_matching_takes_best_overlap_first_and_one_box_per_face():
    left, right = Box(0, 0, 100, 100), Box(60, 0, 100, 100)
    # The box between both faces overlaps `right` best; the exact `left` box then goes to `left`.
    between, exact_left = Box(50, 0, 100, 100), Box(0, 0, 100, 100)
    assert match_boxes([left, right], [between, exact_left], 0.5) == {0: 1, 1: 0}
    # One box of the second list cannot count for two of the first.
    assert match_boxes([left, Box(0, 0, 100, 100)], [exact_left], 0.5) in ({0: 0}, {1: 0})
    assert match_boxes([], [left], 0.5) == {} and match_boxes([left], [], 0.5) == {}


def test_matching_needs_iou_above_the_threshold_or_reaching_it_when_inclusive():
    face, half = Box(0, 0, 100, 100), Box(0, 0, 100, 50)
    assert face.iou(half) == pytest.approx(0.5)
    assert match_boxes([face], [half], 0.5) == {}
    assert match_boxes([face], [half], 0.5, inclusive=True) == {0: 0}
    assert match_boxes([face], [Box(0, 0, 100, 51)], 0.5) == {0: 0}


def test_nms_keeps_the_best_of_overlapping_boxes():
    kept = non_max_suppression(
        [Detection(Box(0, 0, 10, 10), 0.6), Detection(Box(1, 1, 10, 10), 0.9), Detection(Box(50, 50, 10, 10), 0.7)], 0.4
    )
    assert kept == [Detection(Box(1, 1, 10, 10), 0.9), Detection(Box(50, 50, 10, 10), 0.7)]
    assert non_max_suppression([], 0.4) == []


def test_weighted_box_fusion_averages_boxes_and_scores_over_sources():
    seen_twice = [Detection(Box(0, 0, 10, 10), 0.8), Detection(Box(2, 0, 10, 10), 0.4)]  # IoU 80 / 120
    seen_once = Detection(Box(50, 50, 10, 10), 0.6)
    fused = weighted_box_fusion([[seen_twice[0], seen_once], [seen_twice[1]]])
    # Corners weighted by score: x = (0 * 0.8 + 2 * 0.4) / 1.2 = 0.67; score the mean over both sources.
    assert [d.box for d in fused] == [Box(1, 0, 10, 10), Box(50, 50, 10, 10)]
    assert [d.score for d in fused] == pytest.approx([0.6, 0.3])
    assert weighted_box_fusion([[seen_once], []], weights=[3.0, 1.0])[0].score == pytest.approx(0.45)
    # landmarks: the score-weighted mean of the members that have them
    points = [Landmarks.from_values(range(10)), Landmarks.from_values(range(3, 13))]
    with_points = [
        [Detection(Box(0, 0, 10, 10), 0.8, points[0])],
        [Detection(Box(2, 0, 10, 10), 0.4, points[1])],
        [Detection(Box(1, 0, 10, 10), 0.9)],
    ]
    fused = weighted_box_fusion(with_points)
    assert len(fused) == 1 and fused[0].landmarks.as_array().ravel() == pytest.approx([v + 1 for v in range(10)])
    assert weighted_box_fusion([with_points[2]])[0].landmarks is None
    with pytest.raises(ValueError):
        weighted_box_fusion([[seen_once]], weights=[1.0, 1.0])
