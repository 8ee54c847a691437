#!/usr/bin/env python3
"""Does adding synthesized masked faces help on real photos? Classify the ground-truth faces of an annotated scene
set with each model given and print accuracy, per-class recall and ROC AUC side by side (the first model is the
baseline).

    python benchmarks/synthesis_effect.py --scenes ../shared/data/scenes-dev models/mask_detector.keras /tmp/x.keras

Faces go through the project's pipeline (MaskPipeline.classify) at their annotated boxes, so the numbers measure
the classifier alone, not the face detector. A 3-class model's `mask_worn_incorrectly` counts as a mask on scene
sets that only label with_mask / without_mask.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from scipy.stats import binomtest
from sklearn.metrics import confusion_matrix, roc_auc_score

from facemask.classification import MaskClassifier
from facemask.errors import FacemaskError, run_cli as run
from facemask.geometry import Box, Detection
from facemask.imageio import read_image
from facemask.pipeline import MaskPipeline


def read_annotations(scenes: Path) -> dict[str, list[tuple[Box, str]]]:
    """The labelled face boxes of each image of a scene set (annotations.csv: image,x,y,w,h,label)."""
    table = scenes / "annotations.csv"
    if not table.is_file():
        raise FacemaskError(f"no annotations.csv in scene folder: {scenes}")
    faces: dict[str, list[tuple[Box, str]]] = defaultdict(list)
    with table.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            faces[row["image"]].append((Box(int(row["x"]), int(row["y"]), int(row["w"]), int(row["h"])), row["label"]))
    return faces


def evaluate(model: Path, scenes: Path, annotations: dict[str, list[tuple[Box, str]]]) -> dict:
    pipeline = MaskPipeline(detector=None, classifier=MaskClassifier(model))  # the model alone
    truth, predicted, mask_probability = [], [], []
    for name, faces in sorted(annotations.items()):
        image = read_image(scenes / "images" / name)
        results = pipeline.classify(image, [Detection(box, 1.0) for box, _ in faces])
        for (_, label), result in zip(faces, results):
            truth.append(label)
            predicted.append(result.label)
            mask_probability.append(1.0 - result.probabilities.get("without_mask", 0.0))
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    as_mask = np.where(predicted == "mask_worn_incorrectly", "with_mask", predicted)
    recall = {label: float((as_mask[truth == label] == label).mean()) for label in sorted(set(truth))}
    return {
        "faces": len(truth),
        "accuracy": float((as_mask == truth).mean()),
        "recall": recall,
        "balanced_accuracy": float(np.mean(list(recall.values()))),
        "auc": float(roc_auc_score(truth == "with_mask", mask_probability)),
        "predicted_incorrect": int((predicted == "mask_worn_incorrectly").sum()),
        "correct": as_mask == truth,
        "confusion": confusion_matrix(truth, as_mask, labels=["with_mask", "without_mask"]).tolist(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scenes",
        type=Path,
        default=Path(__file__).resolve().parents[2] / "shared" / "data" / "scenes-dev",
        help="annotated scene set (images/ + annotations.csv)",
    )
    parser.add_argument("models", type=Path, nargs="+", help="classifiers to compare; the first is the baseline")
    args = parser.parse_args(argv)
    annotations = read_annotations(args.scenes)
    results = {model: evaluate(model, args.scenes, annotations) for model in args.models}
    baseline = results[args.models[0]]
    print(f"{'model':60s} faces  accuracy  bal.acc  recall(mask)  recall(no mask)  AUC     as-incorrect")
    for model, result in results.items():
        print(
            f"{model!s:60s} {result['faces']:5d}  {result['accuracy']:.4f}    {result['balanced_accuracy']:.4f}  "
            f"{result['recall'].get('with_mask', float('nan')):.4f}        "
            f"{result['recall'].get('without_mask', float('nan')):.4f}           {result['auc']:.4f}  "
            f"{result['predicted_incorrect']}"
        )
    for model, result in list(results.items())[1:]:
        # McNemar's exact test on the faces exactly one of the two models gets right
        only_baseline = int((baseline["correct"] & ~result["correct"]).sum())
        only_model = int((result["correct"] & ~baseline["correct"]).sum())
        p_value = (
            binomtest(min(only_baseline, only_model), only_baseline + only_model).pvalue
            if only_baseline + only_model
            else 1.0
        )
        print(
            f"{model}: errors {1 - result['accuracy']:.4f} vs baseline {1 - baseline['accuracy']:.4f} "
            f"(ratio {(1 - result['accuracy']) / max(1 - baseline['accuracy'], 1e-9):.2f}); faces only it gets "
            f"right {only_model}, only the baseline {only_baseline} (McNemar exact p = {p_value:.3f}); "
            f"confusion [[mask->mask, mask->none], [none->mask, none->none]] {result['confusion']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
