#!/usr/bin/env python3
"""The whole pipeline on its defaults over one or more annotated scene sets, as one Markdown table.

    python benchmarks/pipeline_table.py --scenes ../shared/data/scenes-dev ../shared/data/scenes-crowd-dev

For each scene set this runs what `evaluate_pipeline.py --scenes DIR` runs (`MaskPipeline.load()`: the library's
defaults, as every tool's: detector, shipped model, its stored threshold, crop), and what
`calibrate_threshold.py --scenes DIR` would choose there (without writing it). Columns: the tutorial's figures
as quoted in issue 3 (scenes-dev), one column per scene set, and the targets. Used by benchmarks/regenerate.py
for README and docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from facemask.defaults import DETECTOR
from facemask.errors import run_cli
from facemask.evaluation import (
    NOT_COMPLIANT,
    TARGET_FNR,
    TARGET_TNR,
    choose_threshold,
    evaluate,
    load_scenes,
    summarize,
)
from facemask.metadata import INCORRECT, MASKED, UNMASKED
from facemask.pipeline import MaskPipeline

# The tutorial (res10 SSD at 300x300, a PyImageSearch-trained classifier) on scenes-dev, as quoted in issue 3.
TUTORIAL = {"recall": "0.54", "tnr": "0.36", "fnr": "0.05"}


def fraction(value: float | None, numerator: int | None = None, denominator: int | None = None) -> str:
    """A rate to three places, with its counts when given (then computed from them, not from a rounded rate)."""
    if denominator:
        return f"{numerator / denominator:.3f} ({numerator} / {denominator})"
    return "n/a" if value is None else f"{value:.3f}"


def measure(scenes_dir: Path) -> dict:
    """Evaluation summary and threshold choice of the default pipeline on one scene set."""
    pipeline = MaskPipeline.load()
    evaluation = evaluate(pipeline, load_scenes(scenes_dir), progress=False)
    summary = summarize(evaluation)
    summary["choice"] = choose_threshold(evaluation)
    summary["threshold"] = pipeline.classifier.unmasked_threshold
    summary["setting"] = (
        f"{DETECTOR} at confidence {pipeline.detector.confidence}, crop margin "
        f"{pipeline.crop.margin}{' square' if pipeline.crop.square else ''}"
    )
    return summary


def flagged_count(row: dict) -> int:
    """How many of a label's faces were found and flagged (called without_mask or mask_worn_incorrectly)."""
    return sum(row.get("found_called", {}).get(label, 0) for label in NOT_COMPLIANT)


def column(summary: dict) -> dict[str, str]:
    recall = summary["detector_recall"]
    overall = recall["overall"]
    per_label = summary["per_label"]
    unmasked, masked = per_label.get(UNMASKED, {}), per_label.get(MASKED, {})
    labels = ", ".join(f"{count} {label}" for label, count in summary["faces_per_label"].items())
    accuracy, false, roc = summary["classifier_accuracy"], summary["false_detections"], summary["roc"]
    choice = summary["choice"]
    return {
        "images, annotated faces": f"{summary['images']}, {summary['faces']} ({labels})",
        "detector recall (IoU > 0.5)": "**" + fraction(overall["recall"], overall["found"], overall["faces"]) + "**",
        f"recall, masked / unmasked / {INCORRECT}": " / ".join(
            fraction(recall["per_label"][label]["recall"]) if label in recall["per_label"] else "-"
            for label in (MASKED, UNMASKED, INCORRECT)
        ),
        "recall by width " + " / ".join(recall["per_size"]): " / ".join(
            fraction(row["recall"]) for row in recall["per_size"].values()
        ),
        "unmasked people flagged (TNR)": "**" + fraction(None, flagged_count(unmasked), unmasked.get("faces")) + "**",
        "masked people flagged by mistake (FNR)": "**"
        + fraction(summary["fnr"], flagged_count(masked), masked.get("faces"))
        + "**",
        "classifier accuracy, found faces / annotated boxes": (
            f"{fraction(accuracy['found_faces'])} / {fraction(accuracy['annotated_boxes'])}"
        ),
        "ROC AUC, classifier on boxes / whole pipeline": (
            f"{fraction((roc['classifier_on_annotated_boxes'] or {}).get('auc'))} / "
            f"{fraction((roc['pipeline'] or {}).get('auc'))}"
        ),
        "false detections (boxes matching no annotated face), per photo": (
            f"{false['count']} ({false['per_image']:.3f}), {false['called_unmasked']} flagged"
        ),
        "seconds per photo (detection + classification)": f"{summary['seconds_per_image']:.2f}",
        f"threshold the calibration rule chooses on this set (stored: {summary['threshold']})": (
            f"{choice.threshold:.2f}: TNR {choice.tnr:.3f}, FNR {choice.fnr:.3f}; cross-validated "
            f"{choice.cross_validated_tnr:.3f} / {choice.cross_validated_fnr:.3f}"
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=Path, nargs="+", required=True, help="annotated scene folders")
    args = parser.parse_args(argv)
    summaries = [measure(folder) for folder in args.scenes]
    columns = [column(summary) for summary in summaries]
    rows = list(dict.fromkeys(row for col in columns for row in col))
    targets = {
        "detector recall (IoU > 0.5)": ">= 0.95",
        "unmasked people flagged (TNR)": f">= {TARGET_TNR}",
        "masked people flagged by mistake (FNR)": f"<= {TARGET_FNR}",
    }
    tutorial = {
        "detector recall (IoU > 0.5)": TUTORIAL["recall"],
        "unmasked people flagged (TNR)": TUTORIAL["tnr"],
        "masked people flagged by mistake (FNR)": TUTORIAL["fnr"],
    }
    print(
        f"Defaults: {summaries[0]['setting']}, shipped classifier at its stored threshold "
        f"{summaries[0]['threshold']}; a face is found at IoU > 0.5. The tutorial column is issue 3's figures "
        "on scenes-dev.\n"
    )
    print("| | tutorial (scenes-dev) | " + " | ".join(f"`{folder.name}`" for folder in args.scenes) + " | target |")
    print("| --- | ---: | " + " | ".join("---:" for _ in args.scenes) + " | ---: |")
    for row in rows:
        print(
            f"| {row} | {tutorial.get(row, '-')} | "
            + " | ".join(col.get(row, "-") for col in columns)
            + f" | {targets.get(row, '')} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
