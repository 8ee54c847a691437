#!/usr/bin/env python3
"""The alarm and the three-class labels of a model at several decision thresholds, on one or more annotated scene
sets, from one run of the whole pipeline per set (default detector and crop).

    python benchmarks/threshold_sweep.py --model mask_detector_3class_float32.tflite \
        --scenes ../shared/data/scenes-dev ../shared/data/scenes-crowd-dev --thresholds 0.2 0.3 0.4 0.5

The pipeline runs once at the lowest threshold, which gives every found face the likelier of the not-compliant
classes; at a threshold t a face is then called with_mask when its probability of not compliant (1 - p(with_mask))
is under t, else keeps that label: exactly MaskClassifier's rule at t. The stored threshold's row is the baseline
the others are compared with (ratio columns). For each set and threshold it prints TNR / FNR (all faces, and
faces of at least 20 px), and for the found mask_worn_incorrectly faces of at least 20 px the share labelled so
and the share not labelled with_mask.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facemask.errors import FacemaskError, run_cli
from facemask.evaluation import MIN_FACE, compliance, evaluate, large_enough, load_scenes
from facemask.metadata import INCORRECT, MASKED, check_threshold, read_metadata
from facemask.pipeline import MaskPipeline

FLOOR = 0.01  # the lowest threshold the grid allows


def at_threshold(faces, threshold: float):
    """The outcomes as MaskClassifier would give them at `threshold` (faces evaluated at FLOOR)."""
    return [
        replace(face, predicted=MASKED if face.unmasked_probability < threshold else face.predicted)
        if face.found
        else face
        for face in faces
    ]


def row(faces, threshold: float) -> dict:
    decided = at_threshold(faces, threshold)
    everyone = compliance(decided)
    large = compliance(face for face in decided if large_enough(face.box))
    incorrect = large["per_class"][INCORRECT]
    return {
        "tnr": everyone["tnr"],
        "fnr": everyone["fnr"],
        "tnr20": large["tnr"],
        "fnr20": large["fnr"],
        "incorrect_labelled": incorrect["recall_found"],
        "incorrect_not_masked": incorrect["found_not_called_with_mask"],
        "incorrect_found": incorrect["found"],
    }


def text(value) -> str:
    return "   n/a" if value is None else f"{value:6.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--scenes", type=Path, nargs="+", required=True)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
    args = parser.parse_args(argv)
    thresholds = sorted({check_threshold(t, "--thresholds") for t in args.thresholds})
    # a missing or broken model fails here
    pipeline = MaskPipeline.load(model=args.model, unmasked_threshold=FLOOR)
    metadata = read_metadata(args.model)
    stored = metadata.unmasked_threshold if metadata else None
    if stored is not None and stored not in thresholds:
        thresholds = sorted([*thresholds, stored])
    if stored is None:
        raise FacemaskError(f"the model has no stored threshold to compare with: {args.model}")
    for scenes in args.scenes:
        faces = evaluate(pipeline, load_scenes(scenes), progress=False).faces
        baseline = row(faces, stored)
        print(f"{scenes} ({len(faces)} faces), model {args.model}, stored threshold {stored:g}")
        print(
            f"{'threshold':>9} {'TNR':>6} {'FNR':>6} {'TNR20':>6} {'FNR20':>6} {'inc20':>6} {'notm20':>6}"
            f"   TNR20 / stored"
        )
        for threshold in thresholds:
            values = row(faces, threshold)
            ratio = values["tnr20"] / baseline["tnr20"] if values["tnr20"] and baseline["tnr20"] else None
            mark = " *" if threshold == stored else ""
            print(
                f"{threshold:>9g} {text(values['tnr'])} {text(values['fnr'])} {text(values['tnr20'])} "
                f"{text(values['fnr20'])} {text(values['incorrect_labelled'])} {text(values['incorrect_not_masked'])}"
                f"   {text(ratio)}{mark}"
            )
        print(
            f"(inc20, notm20: of the {baseline['incorrect_found']} found mask_worn_incorrectly faces >= "
            f"{MIN_FACE} px, the share labelled so / not labelled with_mask)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
