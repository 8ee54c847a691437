#!/usr/bin/env python3
"""Several trainings of the classifier, each alone and their probabilities averaged, measured with the whole
pipeline on one or more annotated scene sets (docs/archive/evaluation-history.md, "Where issue 12 stands").

    python benchmarks/model_mean.py --models facemask/models/mask_detector_float32.tflite \
        work/mask_detector_seed2_float32.tflite work/mask_detector_seed3_float32.tflite \
        --scenes ../shared/data/scenes-dev ../shared/data/scenes-crowd-dev [--thresholds 0.3 0.5 0.6]

The default detector runs once per scene; the same detections are then classified by each model at its stored
threshold, and by the mean of all the models' probabilities (one classification per face and model): at the
threshold the calibration rule (`calibrate_threshold.py`) chooses for the mean on the first scene set, and at each
of `--thresholds`. Printed per set and classifier: TNR / FNR
over all faces and over faces of at least 20 px, the found mask_worn_incorrectly faces of at least 20 px labelled so
and not labelled with_mask, the ROC AUC of the annotated boxes and of the whole pipeline, the false detections
flagged, and FNR >= 20 px as a ratio to the first model's (the baseline, same process).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facemask.classification import MaskClassifier
from facemask.defaults import DETECTOR
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
from facemask.metadata import INCORRECT, check_threshold
from facemask.pipeline import MaskPipeline

from crop_study import Replay


class MeanClassifier(MaskClassifier):
    """The mean of several classifiers' probabilities, decided by MaskClassifier's rule at `threshold`."""

    def __init__(self, members: list[MaskClassifier], threshold: float | None) -> None:
        first = members[0]
        if any(member.class_names != first.class_names or member.input_size != first.input_size for member in members):
            raise FacemaskError("the models to average must have the same classes and input size")
        self.path, self.members = first.path, members
        self.input_size, self.class_names, self.unmasked_threshold = first.input_size, first.class_names, threshold

    def probabilities(self, crops) -> np.ndarray:
        return np.mean([member.probabilities(crops) for member in self.members], axis=0)


def measure(pipeline: MaskPipeline, scenes, images) -> dict:
    """The figures of one classifier on one scene set."""
    evaluation = SceneEvaluation()
    for scene, image in zip(scenes, images):
        evaluate_scene(pipeline, scene, image, evaluation)
    summary = summarize(evaluation)
    everyone, large = summary["compliance"]["all faces"], summary["compliance"][f">= {MIN_FACE} px"]
    incorrect = large["per_class"][INCORRECT]
    found = incorrect["found"]
    return {
        "tnr": everyone["tnr"],
        "fnr": everyone["fnr"],
        "tnr20": large["tnr"],
        "fnr20": large["fnr"],
        "labelled": f"{round(incorrect['recall_found'] * found)} / {found}" if found else "n/a",
        "not_masked": f"{round(incorrect['found_not_called_with_mask'] * found)} / {found}" if found else "n/a",
        "false_flagged": "{called_unmasked} / {count}".format(**summary["false_detections"]),
        "auc": {name: None if roc is None else roc["auc"] for name, roc in summary["roc"].items()},
    }


def text(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, nargs="+", required=True, help="two or more classifiers")
    parser.add_argument(
        "--scenes",
        type=Path,
        nargs="+",
        required=True,
        help="scene sets; the mean's threshold is calibrated on the first",
    )
    parser.add_argument("--thresholds", type=float, nargs="*", default=[0.3, 0.5, 0.6])
    args = parser.parse_args(argv)
    if len(args.models) < 2:
        raise FacemaskError("--models needs two or more classifiers to average")
    thresholds = sorted({check_threshold(value, "--thresholds") for value in args.thresholds})
    members = [MaskClassifier(path) for path in args.models]
    detector = create_detector(DETECTOR)
    sets = []
    for folder in args.scenes:
        scenes = load_scenes(folder)
        images = [read_image(scene.path) for scene in scenes]
        sets.append((folder, scenes, images, [detector.detect(image) for image in images]))

    folder, scenes, images, found = sets[0]
    calibration = SceneEvaluation()
    probe = MaskPipeline(Replay(found), MeanClassifier(members, 0.01))
    for scene, image in zip(scenes, images):
        evaluate_scene(probe, scene, image, calibration)
    choice = choose_threshold(calibration)
    classifiers = [(f"{member.path.name} ({member.unmasked_threshold:g}, stored)", member) for member in members]
    classifiers.append(
        (
            f"mean of {len(members)} ({choice.threshold:g}, calibrated on {folder.name})",
            MeanClassifier(members, choice.threshold),
        )
    )
    classifiers += [(f"mean of {len(members)} ({value:g})", MeanClassifier(members, value)) for value in thresholds]

    print(
        f"Detector {DETECTOR} at its default confidence; the mean's "
        f"calibration on {folder.name}: threshold {choice.threshold:g}, TNR {choice.tnr:.3f}, FNR {choice.fnr:.3f} "
        f"(cross-validated {choice.cross_validated_tnr:.3f} / {choice.cross_validated_fnr:.3f}).\n"
    )
    print(
        "| scenes | classifier (threshold) | TNR | FNR | TNR >= 20 px | FNR >= 20 px | worn incorrectly >= 20 px "
        "labelled so | ... not with_mask | ROC AUC, boxes / pipeline | false detections flagged | "
        "FNR >= 20 px / first model |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for folder, scenes, images, found in sets:
        baseline = None
        for name, classifier in classifiers:
            pipeline = MaskPipeline(Replay(found), classifier)
            figures = measure(pipeline, scenes, images)
            baseline = baseline or figures
            ratio = figures["fnr20"] / baseline["fnr20"] if figures["fnr20"] is not None and baseline["fnr20"] else None
            auc = figures["auc"]
            cells = [
                folder.name,
                name,
                text(figures["tnr"]),
                text(figures["fnr"]),
                text(figures["tnr20"]),
                text(figures["fnr20"]),
                figures["labelled"],
                figures["not_masked"],
                f"{text(auc['classifier_on_annotated_boxes'])} / {text(auc['pipeline'])}",
                figures["false_flagged"],
                text(ratio),
            ]
            print("| " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
