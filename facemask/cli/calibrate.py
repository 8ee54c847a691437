"""calibrate_threshold.py: choose the unmasked-probability threshold of a model on annotated scenes."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

from facemask.cli.common import add_pipeline_arguments, pipeline_config, run
from facemask.errors import FacemaskError
from facemask.evaluation import TARGET_FNR, TARGET_TNR, choose_threshold, evaluate, load_scenes
from facemask.metadata import metadata_path, update_metadata
from facemask.pipeline import MaskPipeline
from facemask.resources import require_extra


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Choose the threshold on the probability of not compliant (1 - p(with_mask): the unmasked "
        "probability of a two-class model) above which a face is flagged, on annotated scenes (images/ "
        "and annotations.csv; faces labelled without_mask or mask_worn_incorrectly must be flagged, "
        "with_mask ones not), with the whole pipeline: the middle of the "
        f"range of thresholds that meet TNR >= {TARGET_TNR} and FNR <= {TARGET_FNR} (if none does, the "
        "one that misses them least), cross-validated over groups of whole images."
    )
    parser.add_argument("--scenes", "-s", type=Path, required=True, help="folder with images/ and annotations.csv")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (default: 5)")
    parser.add_argument("--seed", type=int, default=0, help="how images are shuffled into folds (default: 0)")
    parser.add_argument(
        "--write",
        action="store_true",
        help="store the threshold in the model's .json, where every tool reads it (calibrate each "
        "model you use: the .keras model and its TFLite export each carry their own)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_pipeline_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    require_extra("evaluate", "calibrate_threshold.py")
    if args.folds < 2:
        raise FacemaskError(f"--folds must be at least 2, got {args.folds}")
    scenes = load_scenes(args.scenes)
    config = pipeline_config(args)
    pipeline = MaskPipeline.load(config)
    meta = metadata_path(config.model_path)
    if args.write and not meta.is_file():
        raise FacemaskError(f"--write needs the model's metadata file, which is missing: {meta}")
    try:
        choice = choose_threshold(evaluate(pipeline, scenes, progress=not args.quiet), args.folds, args.seed)
    except FacemaskError as problem:  # the scenes cannot decide a threshold: name them
        raise FacemaskError(f"{problem}: {args.scenes}") from None
    print(f"threshold {choice.threshold:.2f}: TNR {choice.tnr:.3f}, FNR {choice.fnr:.3f} on {args.scenes}")
    print(
        f"cross-validated ({choice.folds} folds of whole images, each threshold chosen on the other folds: "
        f"{', '.join(f'{t:.2f}' for t in choice.fold_thresholds)}): TNR {choice.cross_validated_tnr:.3f}, "
        f"FNR {choice.cross_validated_fnr:.3f}"
    )
    if args.write:
        update_metadata(
            config.model_path,
            unmasked_threshold=choice.threshold,
            unmasked_threshold_choice={
                "scenes": str(args.scenes),
                "detector": config.detector,
                "confidence": config.detection_confidence,
                "crop": asdict(config.crop),
                "targets": {"tnr": TARGET_TNR, "fnr": TARGET_FNR},
                **asdict(choice),
            },
        )
        print(f"stored in {meta}")
    return 0


def entry_point() -> None:
    sys.exit(run(main))
