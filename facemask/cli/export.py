"""export_tflite.py: convert the mask classifier to TFLite and measure each export on annotated scenes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from facemask.classification import MaskClassifier
from facemask.cli.common import run
from facemask.defaults import default_keras_model
from facemask.errors import FacemaskError
from facemask.export import QUANTIZATIONS, classifier_accuracy, export_path, export_tflite, scene_crops
from facemask.imageio import check_writable
from facemask.metadata import metadata_path
from facemask.resources import require_extra


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Export the mask classifier to TFLite: float32 and int8 "
        "dynamic-range models, each with its class-names JSON beside it."
    )
    parser.add_argument(
        "--model",
        "-m",
        type=Path,
        default=None,
        help="the .keras classifier to export (default: the shipped facemask/models/mask_detector.keras)",
    )
    parser.add_argument(
        "--quantization",
        "-q",
        nargs="+",
        choices=QUANTIZATIONS,
        default=list(QUANTIZATIONS),
        help="which exports to write (default: all): MODEL_float32.tflite, MODEL_int8.tflite",
    )
    parser.add_argument(
        "--output-dir", "-o", type=Path, default=None, help="folder for the exports (default: the model's folder)"
    )
    parser.add_argument(
        "--scenes",
        type=Path,
        default=None,
        help="annotated scenes (images/ + annotations.csv): report the accuracy of the model and "
        "of each export on their ground-truth face boxes",
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing exports")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    require_extra("train", "export_tflite.py")
    args.model = args.model or default_keras_model()
    if args.model.suffix != ".keras":
        raise FacemaskError(f"only a .keras model can be exported: {args.model}")
    if not args.model.is_file():
        raise FacemaskError(f"model file not found: {args.model}")
    if args.output_dir is not None and not args.output_dir.is_dir():
        problem = "is a file, not a folder" if args.output_dir.exists() else "does not exist"
        raise FacemaskError(f"output folder {problem}: {args.output_dir}")
    targets = {kind: export_path(args.model, kind, args.output_dir) for kind in dict.fromkeys(args.quantization)}
    for target in targets.values():
        check_writable(target, args.force)
        check_writable(metadata_path(target), args.force)
    scenes = None
    if args.scenes is not None:
        from facemask.evaluation import load_scenes

        scenes = load_scenes(args.scenes)
    exports = export_tflite(args.model, targets)
    for export in exports:
        print(f"{export.quantization}: {export.path} ({export.size_bytes / 1e6:.1f} MB), classes in {export.metadata}")
    if scenes is not None:
        source = MaskClassifier(args.model)
        crops, labels = scene_crops(scenes, source.input_size)
        print(f"accuracy on the {len(labels)} annotated faces of {args.scenes}:")
        for model in [args.model] + [export.path for export in exports]:
            result = classifier_accuracy(source if model == args.model else MaskClassifier(model), crops, labels)
            print(f"  {model}: {result.accuracy:.4f} ({result.correct}/{result.total})")
    return 0


def entry_point() -> None:
    sys.exit(run(main))
