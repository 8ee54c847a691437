#!/usr/bin/env python3
"""The chin check (facemask.pipeline.ChinCheck) measured: the whole pipeline without it and with it at several
thresholds, on one or more annotated scene sets.

    python benchmarks/chin_check.py --scenes ../shared/data/scenes-dev ../shared/data/scenes-crowd-dev \
        [--thresholds 0.5 0.7 0.85 0.95]

The default detector runs once per scene; the same detections are then classified by the shipped model with the
default nose check, and the chin check's parts by its own shipped model at each threshold, so only the chin check
changes. The check turns faces called without_mask into mask_worn_incorrectly, both not compliant, so TNR and FNR
must not move (printed to show it). Printed per set and setting: TNR and FNR of faces of at least 20 px; the found
mask_worn_incorrectly faces of at least 20 px labelled so (the gain) and not labelled with_mask; the found unmasked
faces of at least 20 px labelled mask_worn_incorrectly (the cost: a bare face called a mask worn wrong); and the
share of worn-incorrectly faces labelled so as a ratio to the run without the check (the baseline, same process).
The default setting is in bold. Used by benchmarks/regenerate.py for docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crop_study import Replay  # noqa: E402
from nose_check import measure, text  # noqa: E402

from facemask.classification import MaskClassifier  # noqa: E402
from facemask.defaults import DETECTOR, default_model  # noqa: E402
from facemask.detection import create_detector  # noqa: E402
from facemask.errors import run_cli  # noqa: E402
from facemask.evaluation import load_scenes  # noqa: E402
from facemask.imageio import read_image  # noqa: E402
from facemask.pipeline import ChinCheck, MaskPipeline, NoseCheck  # noqa: E402


def share(fraction: str) -> float | None:
    """"3 / 22" as 3 / 22 (None for "n/a" or "0 / 0")."""
    if fraction == "n/a":
        return None
    count, total = (int(part) for part in fraction.split("/"))
    return count / total if total else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=Path, nargs="+", required=True)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.5, 0.7, ChinCheck().threshold, 0.95])
    args = parser.parse_args(argv)
    nose = NoseCheck()
    classifier, nose_model, chin_model = MaskClassifier(default_model()), nose.load_model(), ChinCheck().load_model()
    detector = create_detector(DETECTOR)
    settings = [None] + [ChinCheck(threshold=threshold) for threshold in sorted(set(args.thresholds))]
    default = ChinCheck()
    print(f"Detector {DETECTOR} at its default confidence, shipped model `{default_model().name}` at its threshold "
          f"{classifier.unmasked_threshold}, the nose check at its default, the chin check's model "
          f"`{chin_model.path.name}` (its default threshold {default.threshold}).\n")
    print("| scenes | chin check threshold | TNR >= 20 px | FNR >= 20 px | worn incorrectly >= 20 px labelled so | "
          "... not with_mask | unmasked >= 20 px labelled worn incorrectly | labelled so / without |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for folder in args.scenes:
        scenes = load_scenes(folder)
        images = [read_image(scene.path) for scene in scenes]
        replay = Replay([detector.detect(image) for image in images])
        baseline = None
        for setting in settings:
            pipeline = MaskPipeline(replay, classifier, nose_check=nose, nose_classifier=nose_model,
                                    chin_check=setting, chin_classifier=chin_model)
            figures = measure(pipeline, scenes, images)
            baseline = baseline or figures
            gain, before = share(figures["labelled"]), share(baseline["labelled"])
            ratio = gain / before if gain is not None and before else None
            cells = [folder.name, "off" if setting is None else f"{setting.threshold:g}", text(figures["tnr20"]),
                     text(figures["fnr20"]), figures["labelled"], figures["not_masked"],
                     figures["unmasked_incorrect"], text(ratio)]
            if setting == default:
                cells = [f"**{cell}**" for cell in cells]
            print("| " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
