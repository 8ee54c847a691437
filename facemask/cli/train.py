"""train_mask_detector.py: train the mask classifier on a folder dataset."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from facemask.cli.common import run, warn
from facemask.errors import FacemaskError
from facemask.imageio import check_writable
from facemask.resources import require_extra
from facemask.training import TrainingConfig


def build_parser() -> argparse.ArgumentParser:
    defaults = TrainingConfig()
    parser = argparse.ArgumentParser(
        description="Train the mask classifier (MobileNetV2 + softmax head) on "
        "DATASET/<class>/ image folders and annotated scene sets."
    )
    parser.add_argument(
        "--dataset",
        "-d",
        type=Path,
        nargs="+",
        action="extend",
        default=None,
        help="folder(s) with one sub-folder of images per class; the class folders of several "
        "folders are merged by name; repeatable (default: dataset/, unless --scenes is given)",
    )
    parser.add_argument(
        "--scenes",
        type=Path,
        action="append",
        default=[],
        help="an annotated scene set (images/ and annotations.csv with image,x,y,w,h,label); every "
        "face becomes a training crop cut as the pipeline cuts a detection, from a box jittered "
        "like a detector's; repeatable",
    )
    parser.add_argument(
        "--model",
        "-m",
        type=Path,
        default=Path("mask_detector.keras"),
        help="output model, .keras (default: mask_detector.keras; the shipped model is "
        "facemask/models/mask_detector.keras)",
    )
    parser.add_argument(
        "--plot", "-p", type=Path, default=None, help="output loss/accuracy plot (default: MODEL with .png)"
    )
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=defaults.learning_rate,
        help="initial Adam learning rate, halved by the last epoch (inverse-time decay)",
    )
    parser.add_argument(
        "--validation-fraction",
        type=float,
        default=defaults.validation_fraction,
        help="fraction held back for the report: stratified by class, near-copies of a photo "
        "(and masks synthesized on it) kept on one side",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--image-size", type=int, default=defaults.image_size)
    parser.add_argument(
        "--fine-tune-layers",
        type=int,
        default=defaults.fine_tune_layers,
        help="also train the last N layers of MobileNetV2, batch normalisation kept frozen "
        f"(default: {defaults.fine_tune_layers}; 0 trains the head only)",
    )
    parser.add_argument(
        "--variants",
        type=int,
        default=defaults.variants,
        help="augmented versions of each training face passed once through the frozen layers; "
        f"each epoch shows every face as one of them (default: {defaults.variants})",
    )
    parser.add_argument(
        "--low-resolution",
        type=float,
        default=defaults.low_resolution_fraction,
        help="fraction of training faces shrunk to 12-64 px and enlarged back, like the small faces "
        f"of real scenes (default: {defaults.low_resolution_fraction}; 0 turns it off)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing model, plot and metadata")
    parser.add_argument("--quiet", "-q", action="store_true", help="no per-epoch progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    require_extra("train", "train_mask_detector.py")
    from facemask.training import train

    if args.model.suffix != ".keras":
        raise FacemaskError(f"model output must end in .keras: {args.model}")
    if args.epochs < 1 or args.batch_size < 1 or args.image_size < 32 or args.fine_tune_layers < 0 or args.variants < 1:
        raise FacemaskError(
            "--epochs, --batch-size and --variants must be at least 1, --image-size at least 32 and "
            "--fine-tune-layers 0 or more"
        )
    if not 0.0 <= args.low_resolution <= 1.0:
        raise FacemaskError(f"--low-resolution must be between 0 and 1, got {args.low_resolution}")
    plot = args.plot or args.model.with_suffix(".png")
    for output in (args.model, plot, args.model.with_suffix(".json")):
        check_writable(output, args.force)
    datasets = args.dataset if args.dataset is not None else ([] if args.scenes else [Path("dataset")])
    config = TrainingConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        validation_fraction=args.validation_fraction,
        seed=args.seed,
        image_size=args.image_size,
        fine_tune_layers=args.fine_tune_layers,
        variants=args.variants,
        low_resolution_fraction=args.low_resolution,
    )
    result = train(
        datasets,
        args.model,
        plot,
        config,
        scenes=args.scenes,
        on_unreadable=lambda item: warn(f"skipped {item.reason}"),
        verbose=0 if args.quiet else 1,
    )
    print(result.report)
    print("stages (s): " + ", ".join(f"{name} {seconds:g}" for name, seconds in result.stages.items()))
    print(
        f"held-back accuracy {result.metrics['accuracy']:.4f}; model {args.model}, plot {plot}, "
        f"metadata {args.model.with_suffix('.json')}"
    )
    return 0


def entry_point() -> None:
    sys.exit(run(main))
