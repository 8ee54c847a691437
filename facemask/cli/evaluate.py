"""evaluate_pipeline.py: run the pipeline on annotated scenes and report recall, TNR, FNR, false detections."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

from facemask.cli.common import add_pipeline_arguments, pipeline_config, run
from facemask.errors import FacemaskError
from facemask.evaluation import PLOT_NAMES, evaluate, format_table, load_scenes, summarize, write_plots
from facemask.imageio import check_writable, make_folder
from facemask.outputs import write_json_atomic
from facemask.pipeline import MaskPipeline
from facemask.resources import require_extra


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Measure the face detector and mask classifier on annotated real scenes: a folder with "
        "images/ and annotations.csv (image,x,y,w,h,label). A face counts as found when a detected "
        "box overlaps it with IoU > 0.5 (one box per face, best overlap first)."
    )
    parser.add_argument("--scenes", "-s", type=Path, required=True, help="folder with images/ and annotations.csv")
    parser.add_argument("--json", "-j", type=Path, default=None, help="write every metric as JSON here")
    parser.add_argument(
        "--plots",
        "-p",
        type=Path,
        default=None,
        help=f"folder for the plots ({', '.join(PLOT_NAMES)}); created if missing",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing JSON file and plots")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_pipeline_arguments(parser)
    return parser


def check_plot_folder(folder: Path, force: bool) -> None:
    """Create the plots folder if needed and refuse to overwrite plots without --force."""
    if folder.exists() and not folder.is_dir():
        raise FacemaskError(f"--plots must be a folder: {folder}")
    if not folder.parent.is_dir():
        problem = "is a file, not a folder" if folder.parent.exists() else "does not exist"
        raise FacemaskError(f"output folder {problem}: {folder.parent}")
    make_folder(folder)
    for name in PLOT_NAMES:
        check_writable(folder / name, force)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    require_extra("evaluate", "evaluate_pipeline.py")
    scenes = load_scenes(args.scenes)
    if args.json is not None:
        check_writable(args.json, args.force)
    if args.plots is not None:
        check_plot_folder(args.plots, args.force)
    config = pipeline_config(args)
    pipeline = MaskPipeline.load(config)
    evaluation = evaluate(pipeline, scenes, progress=not args.quiet)
    summary = summarize(evaluation)
    print(format_table(summary))
    if args.json is not None:
        write_json_atomic(
            args.json,
            {
                "scenes": str(args.scenes),
                "detector": config.detector,
                "model": str(config.model_path),
                "confidence": config.detection_confidence,
                "unmasked_threshold": pipeline.classifier.unmasked_threshold,
                "crop": asdict(config.crop),
                **summary,
            },
        )
    if args.plots is not None:
        for path in write_plots(evaluation, summary, scenes, args.plots):
            print(f"wrote {path}")
    return 0


def entry_point() -> None:
    sys.exit(run(main))
