#!/usr/bin/env python3
"""Classifiers side by side on the same detections of annotated scene sets.

    python benchmarks/classifier_compare.py --models facemask/models/mask_detector_float32.tflite new.tflite \
        --scenes ../shared/data/scenes-dev ../shared/data/scenes-crowd-dev

The default detector runs once per scene (its detections are kept in --cache, keyed by the scene set); every model
then classifies the same detections, at its stored threshold and at the threshold `calibrate_threshold.py`'s rule
chooses on the first scene set. Printed per set, model and threshold: the share of
not-compliant faces flagged (TNR) and of masked faces flagged (FNR) over all faces and over faces of at least
20 px, the worn-incorrectly faces of at least 20 px flagged and labelled so, the ROC AUC of the pipeline, and
FNR >= 20 px against the first row's (the baseline, same process).
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facemask.classification import MaskClassifier
from facemask.defaults import DETECTOR, default_model
from facemask.detection import create_detector
from facemask.errors import FacemaskError, run_cli
from facemask.evaluation import (
    MIN_FACE,
    SceneEvaluation,
    choose_threshold,
    evaluate_scene,
    load_scenes,
    summarize,
)
from facemask.imageio import read_image
from facemask.metadata import INCORRECT
from facemask.pipeline import MaskPipeline
from facemask.settings import CropSettings

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


class Replay:
    """A detector that hands back the detections found earlier for each image, by call order."""

    def __init__(self, detections: list) -> None:
        self.detections = detections
        self.calls = 0

    def detect(self, image) -> list:
        found = self.detections[self.calls % len(self.detections)]
        self.calls += 1
        return found


def cached_detections(folder: Path, cache: Path) -> tuple[list, list, list]:
    """The scenes of `folder`, their images and the default detector's detections (read from `cache` if there)."""
    scenes = load_scenes(folder)
    images = [read_image(scene.path) for scene in scenes]
    key = hashlib.sha256(f"{folder.resolve()}|{DETECTOR}|{len(scenes)}".encode()).hexdigest()[:16]
    path = cache / f"detections-{key}.pkl"
    if path.is_file():
        return scenes, images, pickle.loads(path.read_bytes())
    detector = create_detector(DETECTOR)
    detections = [detector.detect(image) for image in images]
    cache.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(detections))
    return scenes, images, detections


def measure(classifier: MaskClassifier, scenes, images, detections) -> SceneEvaluation:
    crop = CropSettings()
    pipeline = MaskPipeline(Replay(detections), classifier, crop)
    evaluation = SceneEvaluation()
    for scene, image in zip(scenes, images):
        evaluate_scene(pipeline, scene, image, evaluation)
    return evaluation


def figures(evaluation: SceneEvaluation) -> dict:
    summary = summarize(evaluation)
    everyone, large = summary["compliance"]["all faces"], summary["compliance"][f">= {MIN_FACE} px"]
    incorrect = large["per_class"][INCORRECT]
    return {
        "tnr": everyone["tnr"],
        "fnr": everyone["fnr"],
        "tnr20": large["tnr"],
        "fnr20": large["fnr"],
        "wrong_flagged": large["tnr_per_label"][INCORRECT],
        "wrong_labelled": incorrect["recall"],
        "auc": (summary["roc"].get("pipeline") or {}).get("auc"),
    }


def text(value) -> str:
    return "  -  " if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, nargs="+", default=[default_model()])
    parser.add_argument(
        "--scenes",
        type=Path,
        nargs="+",
        default=[SHARED / "scenes-dev", SHARED / "scenes-crowd-dev"],
        help="scene sets; the calibrated threshold is chosen on the first",
    )
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "facemask-detections")
    args = parser.parse_args(argv)
    for model in args.models:
        if not model.is_file():
            raise FacemaskError(f"model not found: {model}")
    sets = [(folder, *cached_detections(folder, args.cache)) for folder in args.scenes]
    rows = []
    for model in args.models:
        stored = MaskClassifier(model)
        first = measure(stored, *sets[0][1:])
        calibrated = choose_threshold(first).threshold
        for threshold, label in ((stored.unmasked_threshold, "stored"), (calibrated, "calibrated")):
            classifier = MaskClassifier(model, threshold)
            for folder, scenes, images, detections in sets:
                evaluation = measure(classifier, scenes, images, detections)
                rows.append(
                    {
                        "set": folder.name,
                        "model": model.name,
                        "threshold": f"{label} {threshold:.2f}" if threshold is not None else label,
                        **figures(evaluation),
                    }
                )
    baseline = {row["set"]: row["fnr20"] for row in rows[::-1]}
    header = (
        f"{'set':<18} {'model':<36} {'threshold':>16} {'TNR':>6} {'FNR':>6} "
        f"{'TNR20':>6} {'FNR20':>6} {'wrongF':>6} {'wrongL':>6} {'AUC':>6} {'FNR20/base':>10}"
    )
    print(header)
    for row in rows:
        base = baseline[row["set"]]
        ratio = "  -  " if not base or row["fnr20"] is None else f"{row['fnr20'] / base:.2f}"
        print(
            f"{row['set']:<18} {row['model'][:36]:<36} {row['threshold']:>16} "
            f"{text(row['tnr']):>6} {text(row['fnr']):>6} {text(row['tnr20']):>6} {text(row['fnr20']):>6} "
            f"{text(row['wrong_flagged']):>6} {text(row['wrong_labelled']):>6} {text(row['auc']):>6} {ratio:>10}"
        )
    return 0


if __name__ == "__main__":
    run_cli(main)
