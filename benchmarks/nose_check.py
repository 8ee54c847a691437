#!/usr/bin/env python3
"""The nose check (facemask.pipeline.NoseCheck) measured: the whole pipeline without it, with it cut by the
detector's landmarks at several sets of cuts, and with it cut at a fixed part of the box (what a detector without
landmarks gets), at several thresholds, on one or more annotated scene sets.

    python benchmarks/nose_check.py --scenes ../shared/data/scenes-dev ../shared/data/scenes-crowd-dev \
        [--thresholds 0.5 0.6 0.8] [--cuts 0,0.25,0.5 0] [--fractions 0.6]

The default detector runs once per scene; the same detections are then classified by the shipped model, and the
nose check's parts by its own shipped model, with each setting and the chin check off, so only the nose check
changes (a fixed part of the box: the same detections with their landmarks removed). Printed per set and setting:
TNR and FNR over all faces and over faces of at least 20 px, the found mask_worn_incorrectly faces of at least
20 px labelled so and not labelled with_mask, the false detections flagged, and TNR >= 20 px as a ratio to the run
without the check (the baseline, same process). The default setting is in bold. Used by benchmarks/regenerate.py
for docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crop_study import Replay  # noqa: E402

from facemask.classification import MaskClassifier  # noqa: E402
from facemask.defaults import DETECTOR, default_model  # noqa: E402
from facemask.detection import create_detector  # noqa: E402
from facemask.errors import run_cli  # noqa: E402
from facemask.evaluation import MIN_FACE, SceneEvaluation, evaluate_scene, load_scenes, summarize  # noqa: E402
from facemask.imageio import read_image  # noqa: E402
from facemask.metadata import INCORRECT, UNMASKED  # noqa: E402
from facemask.pipeline import MaskPipeline, NoseCheck  # noqa: E402


def measure(pipeline: MaskPipeline, scenes, images) -> dict:
    """The figures of one setting on one scene set."""
    evaluation = SceneEvaluation()
    for scene, image in zip(scenes, images):
        evaluate_scene(pipeline, scene, image, evaluation)
    summary = summarize(evaluation)
    everyone, large = summary["compliance"]["all faces"], summary["compliance"][f">= {MIN_FACE} px"]
    incorrect = large["per_class"][INCORRECT]
    found = incorrect["found"]
    confusion = large["confusion"]
    unmasked = confusion["matrix"][confusion["labels"].index(UNMASKED)]
    return {"tnr": everyone["tnr"], "fnr": everyone["fnr"], "tnr20": large["tnr"], "fnr20": large["fnr"],
            "labelled": f"{round(incorrect['recall_found'] * found)} / {found}" if found else "n/a",
            "not_masked": f"{round(incorrect['found_not_called_with_mask'] * found)} / {found}" if found else "n/a",
            "unmasked_incorrect": f"{unmasked[confusion['predicted'].index(INCORRECT)]} / "
                                  f"{sum(unmasked[:len(confusion['labels'])])}",
            "false_flagged": "{called_unmasked} / {count}".format(**summary["false_detections"]),
            "auc": {name: None if roc is None else roc["auc"] for name, roc in summary["roc"].items()}}


def text(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def cut_values(text: str) -> tuple[float, ...]:
    """"0,0.25,0.5" as (0.0, 0.25, 0.5)."""
    try:
        return tuple(float(value) for value in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"cuts are numbers separated by commas, got {text!r}") from None


def describe(setting: NoseCheck | None, landmarks: bool) -> str:
    if setting is None:
        return "off"
    if landmarks:
        return f"landmarks, cuts {', '.join(f'{cut:g}' for cut in setting.cuts)}; {setting.threshold:g}"
    return f"top {setting.fraction:g} of the box; {setting.threshold:g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=Path, nargs="+", required=True)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.5, NoseCheck().threshold, 0.8])
    parser.add_argument("--cuts", type=cut_values, nargs="+", default=[NoseCheck().cuts, (0.0,)],
                        help="sets of cuts to try with the landmarks, each as comma-separated values")
    parser.add_argument("--fractions", type=float, nargs="+", default=[NoseCheck().fraction],
                        help="the top fractions of the box to try without landmarks")
    args = parser.parse_args(argv)
    classifier, nose_model = MaskClassifier(default_model()), NoseCheck().load_model()
    detector = create_detector(DETECTOR)
    thresholds = sorted(set(args.thresholds))
    settings = [(None, True)]
    settings += [(NoseCheck(cuts, threshold), True) for cuts in dict.fromkeys(args.cuts) for threshold in thresholds]
    settings += [(NoseCheck(fraction=fraction, threshold=threshold), False)
                 for fraction in sorted(set(args.fractions)) for threshold in thresholds]
    default = NoseCheck()
    print(f"Detector {DETECTOR} at its default confidence, shipped model `{default_model().name}` at its threshold "
          f"{classifier.unmasked_threshold}, the nose check's model `{nose_model.path.name}`; the nose check at its "
          f"default: {describe(default, True)} (boxes without landmarks: {describe(default, False)}).\n")
    print("| scenes | nose check: part of the face; threshold | TNR | FNR | TNR >= 20 px | FNR >= 20 px | worn "
          "incorrectly >= 20 px labelled so | ... not with_mask | false detections flagged | TNR >= 20 px / without |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for folder in args.scenes:
        scenes = load_scenes(folder)
        images = [read_image(scene.path) for scene in scenes]
        found = [detector.detect(image) for image in images]
        bare = [[replace(detection, landmarks=None) for detection in faces] for faces in found]
        baseline = None
        for setting, landmarks in settings:
            replay = Replay(found if landmarks else bare)
            pipeline = MaskPipeline(replay, classifier, nose_check=setting, nose_classifier=nose_model,
                                    chin_check=None)
            figures = measure(pipeline, scenes, images)
            baseline = baseline or figures
            ratio = figures["tnr20"] / baseline["tnr20"] if figures["tnr20"] and baseline["tnr20"] else None
            cells = [folder.name, describe(setting, landmarks), text(figures["tnr"]), text(figures["fnr"]),
                     text(figures["tnr20"]), text(figures["fnr20"]), figures["labelled"], figures["not_masked"],
                     figures["false_flagged"], text(ratio)]
            if setting == default and landmarks:
                cells = [f"**{cell}**" for cell in cells]
            print("| " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
