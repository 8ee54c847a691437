"""The metrics of an evaluation: detector recall by label and size, TNR/FNR, accuracy, ROC, false detections."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np

from facemask.evaluation.run import FaceOutcome, SceneEvaluation
from facemask.metadata import MASKED, UNMASKED

SIZE_BANDS = ((0, 20), (20, 50), (50, 100), (100, None))  # annotated face width in pixels


def size_band(width: int) -> str:
    """The face-size band of a face `width` pixels wide, e.g. '20-50 px'."""
    for low, high in SIZE_BANDS:
        if high is None:
            return f">= {low} px"
        if width < high:
            return f"< {high} px" if low == 0 else f"{low}-{high} px"
    raise AssertionError("SIZE_BANDS ends with an open band")


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


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
    return {"auc": round(float(roc_auc_score(labels, scores)), 4),
            "fpr": [round(float(v), 4) for v in false_positive], "tpr": [round(float(v), 4) for v in true_positive]}


def summarize(evaluation: SceneEvaluation) -> dict:
    """Every metric of the evaluation, as a JSON-ready dict.

    TNR: unmasked faces found and called unmasked / all unmasked faces. FNR: masked faces called unmasked /
    all masked faces. ROC curves take "unmasked" as the positive class; for the whole pipeline a face not
    found counts as called masked (probability 0). Labels other than with_mask / without_mask are reported
    on their own and left out of TNR, FNR, accuracy and ROC.
    """
    faces = evaluation.faces
    labels = sorted({face.label for face in faces}, key=lambda name: (name not in (MASKED, UNMASKED), name))
    binary = [face for face in faces if face.label in (MASKED, UNMASKED)]
    found_binary = [face for face in binary if face.found]
    masked = [face for face in faces if face.label == MASKED]
    unmasked = [face for face in faces if face.label == UNMASKED]
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
    truth = [face.label == UNMASKED for face in binary]
    return {
        "images": evaluation.images,
        "faces": len(faces),
        "faces_per_label": {label: per_label[label]["faces"] for label in labels},
        "detector_recall": {
            "overall": _recall(faces),
            "per_label": {label: _recall(face for face in faces if face.label == label) for label in labels},
            "per_size": {size_band(low): _recall(face for face in faces if size_band(face.box.w) == size_band(low))
                         for low, _ in SIZE_BANDS},
        },
        "per_label": per_label,
        "tnr": _ratio(sum(face.predicted == UNMASKED for face in unmasked), len(unmasked)),
        "fnr": _ratio(sum(face.predicted == UNMASKED for face in masked), len(masked)),
        "classifier_accuracy": {
            "found_faces": _ratio(sum(face.predicted == face.label for face in found_binary), len(found_binary)),
            "found_faces_count": len(found_binary),
            "annotated_boxes": _ratio(sum(face.direct_label == face.label for face in binary), len(binary)),
            "annotated_boxes_count": len(binary),
        },
        "false_detections": {
            "count": len(false_detections),
            "per_image": _ratio(len(false_detections), evaluation.images),
            "called_unmasked": sum(d.label == UNMASKED for d in false_detections),
        },
        "seconds_per_image": round(float(np.mean(evaluation.seconds)), 4) if evaluation.seconds else None,
        "roc": {
            "classifier_on_annotated_boxes": _roc(truth, [face.direct_unmasked_probability for face in binary]),
            "pipeline": _roc(truth, [face.unmasked_probability or 0.0 for face in binary]),
        },
    }
