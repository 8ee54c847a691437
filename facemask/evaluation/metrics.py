"""The metrics of an evaluation: detector recall by label and size, TNR/FNR, per-class recall and the confusion
matrix (all faces and faces of at least MIN_FACE px), accuracy, ROC, false detections."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np

from facemask.evaluation.run import FaceOutcome, SceneEvaluation
from facemask.metadata import INCORRECT, MASKED, UNMASKED, is_flagged

SIZE_BANDS = ((0, 20), (20, 50), (50, 100), (100, None))  # annotated face width in pixels
MIN_FACE = 20  # the faces an alarm is judged on: at least this many pixels on the shorter side of the box
CLASSES = (MASKED, UNMASKED, INCORRECT)  # the rows and columns of the confusion matrix, in this order
NOT_COMPLIANT = tuple(label for label in CLASSES if is_flagged(label))  # the labels a mask alarm must flag
MISSED = "not found"


def large_enough(box) -> bool:
    """Whether an annotated face counts among the faces an alarm is judged on: at least MIN_FACE px on the shorter
    side of its box."""
    return min(box.w, box.h) >= MIN_FACE


def compliance(faces: Iterable[FaceOutcome]) -> dict:
    """The two-class alarm and the three-class labels on these faces.

    TNR: faces not compliant (labelled without_mask or mask_worn_incorrectly) found and called either of those /
    all such faces; FNR: with_mask faces called either of those / all with_mask faces (`*_found`: over the found
    faces only); `tnr_per_label`: the TNR of each not-compliant label alone. Per class: recall over all its faces
    and over the found ones, and the share of its found faces not called with_mask. The confusion matrix counts
    annotated label (rows) against the label the pipeline gave a found face (columns), then the faces not found.
    """
    faces = [face for face in faces if face.label in CLASSES]
    masked = [face for face in faces if not is_flagged(face.label)]
    not_compliant = [face for face in faces if is_flagged(face.label)]
    per_class = {}
    for label in CLASSES:
        group = [face for face in faces if face.label == label]
        found = [face for face in group if face.found]
        right = sum(face.predicted == label for face in found)
        per_class[label] = {
            "faces": len(group),
            "found": len(found),
            "recall": _ratio(right, len(group)),
            "recall_found": _ratio(right, len(found)),
            "found_not_called_with_mask": _ratio(sum(is_flagged(face.predicted) for face in found), len(found)),
        }
    matrix = [
        [sum(face.label == row and face.predicted == column for face in faces) for column in CLASSES]
        + [sum(face.label == row and not face.found for face in faces)]
        for row in CLASSES
    ]
    return {
        "faces": len(faces),
        "tnr": _ratio(sum(is_flagged(face.predicted) for face in not_compliant), len(not_compliant)),
        "fnr": _ratio(sum(is_flagged(face.predicted) for face in masked), len(masked)),
        # the same two rates over the faces the detector found: the classifier's share of the alarm
        "tnr_found": _ratio(
            sum(is_flagged(face.predicted) for face in not_compliant), sum(face.found for face in not_compliant)
        ),
        "fnr_found": _ratio(sum(is_flagged(face.predicted) for face in masked), sum(face.found for face in masked)),
        "tnr_per_label": {
            label: _ratio(
                sum(is_flagged(face.predicted) for face in faces if face.label == label),
                sum(face.label == label for face in faces),
            )
            for label in NOT_COMPLIANT
        },
        "per_class": per_class,
        "confusion": {"labels": list(CLASSES), "predicted": [*CLASSES, MISSED], "matrix": matrix},
    }


def size_band(width: int) -> str:
    """The face-size band of a face `width` pixels wide, e.g. '20-50 px'."""
    for low, high in SIZE_BANDS:
        if high is None:
            return f">= {low} px"
        if width < high:
            return f"< {high} px" if low == 0 else f"{low}-{high} px"
    raise AssertionError("SIZE_BANDS ends with an open band")


def _ratio(numerator: int, denominator: int) -> float | None:
    """The exact rate (rounded only where it is printed: rounding here too made 96/101 print as 0.951)."""
    return numerator / denominator if denominator else None


def _recall(faces: Iterable[FaceOutcome]) -> dict:
    faces = list(faces)
    found = sum(face.found for face in faces)
    return {"faces": len(faces), "found": found, "recall": _ratio(found, len(faces))}


def _roc(labels: list[bool], scores: list[float]) -> dict | None:
    """ROC curve points and area, or None when one of the two classes is absent."""
    from sklearn.metrics import roc_auc_score, roc_curve

    if len(set(labels)) < 2:
        return None
    false_positive, true_positive, _ = roc_curve(labels, scores)
    return {
        "auc": float(roc_auc_score(labels, scores)),
        "fpr": [round(float(v), 4) for v in false_positive],
        "tpr": [round(float(v), 4) for v in true_positive],
    }


def summarize(evaluation: SceneEvaluation) -> dict:
    """Every metric of the evaluation, as a JSON-ready dict.

    TNR: faces not compliant (without a mask, or wearing it incorrectly) found and called either / all such
    faces. FNR: masked faces called either / all masked faces (`compliance`, for all faces and for faces of at
    least MIN_FACE px). ROC curves take "not compliant" as the positive class and score a face by the
    probability of every class but with_mask (a two-class model's unmasked probability); for the whole
    pipeline a face not found counts as called masked (probability 0). Classifier accuracy counts with_mask /
    without_mask faces only; labels outside the three classes are reported on their own.
    """
    faces = evaluation.faces
    labels = sorted({face.label for face in faces}, key=lambda name: (name not in (MASKED, UNMASKED), name))
    binary = [face for face in faces if face.label in (MASKED, UNMASKED)]
    found_binary = [face for face in binary if face.found]
    scored = [face for face in faces if face.label in CLASSES]
    everyone = compliance(faces)
    large = compliance(face for face in faces if large_enough(face.box))
    per_label = {}
    for label in labels:
        group = [face for face in faces if face.label == label]
        per_label[label] = {
            "faces": len(group),
            "found_right": sum(face.predicted == label for face in group),
            "found_wrong": sum(face.found and face.predicted != label for face in group),
            "not_found": sum(not face.found for face in group),
            "found_called": dict(Counter(face.predicted for face in group if face.found)),
        }
    false_detections = evaluation.false_detections
    truth = [is_flagged(face.label) for face in scored]
    return {
        "images": evaluation.images,
        "faces": len(faces),
        "faces_per_label": {label: per_label[label]["faces"] for label in labels},
        "detector_recall": {
            "overall": _recall(faces),
            "per_label": {label: _recall(face for face in faces if face.label == label) for label in labels},
            "per_size": {
                size_band(low): _recall(face for face in faces if size_band(face.box.w) == size_band(low))
                for low, _ in SIZE_BANDS
            },
        },
        "per_label": per_label,
        "tnr": everyone["tnr"],
        "fnr": everyone["fnr"],
        "compliance": {"all faces": everyone, f">= {MIN_FACE} px": large},
        "classifier_accuracy": {
            "found_faces": _ratio(sum(face.predicted == face.label for face in found_binary), len(found_binary)),
            "found_faces_count": len(found_binary),
            "annotated_boxes": _ratio(sum(face.direct_label == face.label for face in binary), len(binary)),
            "annotated_boxes_count": len(binary),
        },
        "false_detections": {
            "count": len(false_detections),
            "per_image": _ratio(len(false_detections), evaluation.images),
            "called_unmasked": sum(is_flagged(d.label) for d in false_detections),
        },
        "seconds_per_image": round(float(np.mean(evaluation.seconds)), 4) if evaluation.seconds else None,
        "roc": {
            "classifier_on_annotated_boxes": _roc(truth, [face.direct_unmasked_probability for face in scored]),
            "pipeline": _roc(truth, [face.unmasked_probability or 0.0 for face in scored]),
        },
    }
