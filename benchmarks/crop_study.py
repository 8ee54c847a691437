#!/usr/bin/env python3
"""Which crop of a detected face should the classifier see? Margins and square crops, measured.

    python benchmarks/crop_study.py --scenes ../shared/data/scenes-dev [--model models/mask_detector.keras]

The default detector runs once per scene; then, for every crop setting, the whole evaluation (facemask.evaluation)
is repeated with the same detections, so only the crop changes: one row per margin, without and with squaring
(the default, CropSettings(), in bold). Printed per setting: classifier accuracy on the annotated boxes and on
the found faces, TNR, FNR and ROC AUC; seconds are those of the classification only.
Results are recorded in docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facemask.classification import MaskClassifier
from facemask.defaults import DETECTOR as DEFAULT_DETECTOR, default_model
from facemask.detection import create_detector
from facemask.errors import run_cli as run
from facemask.evaluation import SceneEvaluation, evaluate_scene, load_scenes, summarize
from facemask.geometry import Detection
from facemask.imageio import read_image
from facemask.pipeline import MaskPipeline
from facemask.settings import CropSettings


class Replay:
    """A detector that hands back detections found earlier, one list per call, in order."""

    def __init__(self, detections: list[list[Detection]]) -> None:
        self.detections = detections
        self.calls = 0

    def detect(self, image) -> list[Detection]:
        found = self.detections[self.calls % len(self.detections)]
        self.calls += 1
        return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenes", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "scenes-dev"
    )
    parser.add_argument("--model", type=Path, default=default_model())
    parser.add_argument("--detector", default=DEFAULT_DETECTOR)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table (benchmarks/regenerate.py)")
    parser.add_argument("--margins", type=float, nargs="+", default=[0.0, 0.1, 0.2, 0.3])
    args = parser.parse_args(argv)
    scenes = load_scenes(args.scenes)
    images = [read_image(scene.path) for scene in scenes]
    detector = create_detector(args.detector)
    replay = Replay([detector.detect(image) for image in images])
    classifier = MaskClassifier(args.model)
    if args.markdown:
        print(
            f"{len(images)} images, {sum(len(s.faces) for s in scenes)} faces from {args.scenes}; detector "
            f"{args.detector} ({sum(len(found) for found in replay.detections)} boxes), model `{args.model.name}` at "
            f"threshold {classifier.unmasked_threshold}.\n"
        )
        print(
            "| margin | square | accuracy, annotated boxes | accuracy, found faces | TNR | FNR | "
            "AUC, boxes | AUC, pipeline |\n| ---: | :---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        )
    else:
        print(
            f"{len(images)} images, {sum(len(s.faces) for s in scenes)} faces; detector {args.detector}, "
            f"model {args.model}"
        )
        print(
            f"{'margin':>7}{'square':>8}{'acc boxes':>10}{'acc found':>10}{'TNR':>7}{'FNR':>7}"
            f"{'AUC box':>8}{'AUC pipe':>9}{'s/image':>9}"
        )
    default = CropSettings()
    settings = [CropSettings(margin, square) for margin in args.margins for square in (False, True)]
    for crop in settings:
        pipeline = MaskPipeline(replay, classifier, crop)  # the crop alone
        evaluation = SceneEvaluation()
        start = time.perf_counter()
        for scene, image in zip(scenes, images):
            evaluate_scene(pipeline, scene, image, evaluation)
        seconds = (time.perf_counter() - start) / len(images)
        summary = summarize(evaluation)
        accuracy, roc = summary["classifier_accuracy"], summary["roc"]
        values = [
            accuracy["annotated_boxes"],
            accuracy["found_faces"],
            summary["tnr"],
            summary["fnr"],
            (roc["classifier_on_annotated_boxes"] or {}).get("auc"),
            (roc["pipeline"] or {}).get("auc"),
        ]
        if args.markdown:
            cells = [f"{crop.margin:.2f}", "yes" if crop.square else "no"] + [
                "n/a" if value is None else f"{value:.3f}" for value in values
            ]
            print("| " + " | ".join(f"**{cell}**" if crop == default else cell for cell in cells) + " |", flush=True)
            continue
        widths = [10, 10, 7, 7, 8, 9]
        print(
            f"{crop.margin:>7.2f}{crop.square!s:>8}"
            + "".join(
                f"{'n/a' if value is None else format(value, '.3f'):>{width}}" for value, width in zip(values, widths)
            )
            + f"{seconds:>9.3f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
