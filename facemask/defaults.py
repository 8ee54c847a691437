"""The defaults every tool, benchmark and Python user starts from; the command-line tools only expose them."""

from __future__ import annotations

from pathlib import Path

from facemask.resources import shipped

# Face detection: YuNet over a two-level pyramid fused with CenterFace finds the most faces, masked and small
# ones included, at few false detections on real scenes (docs/evaluation.md); live video runs one YuNet pass on the
# frame scaled to VIDEO_DETECTION_SIZE pixels (faces from about 20 px in 640x480 video, at a fifteenth of the
# pyramid's cost: docs/video.md).
DETECTOR = "yunet+centerface"
VIDEO_DETECTOR = "yunet"
VIDEO_DETECTION_SIZE = 320
# Live video classifies a tracked face every other frame until its call is settled (the looks a decision needs:
# facemask.video.tracking, facemask.video.decision), then again every CLASSIFY_EVERY frames.
CLASSIFY_EVERY = 5

# The shipped classifier: the float32 TFLite export runs every inference tool (no TensorFlow); the .keras model
# it is exported from is for training, fine-tuning and export.
MODEL_NAME = "mask_detector_float32.tflite"
KERAS_MODEL_NAME = "mask_detector.keras"


def default_model() -> Path:
    """The shipped classifier every inference tool uses by default (TFLite, float32)."""
    return shipped("models", MODEL_NAME)


def default_keras_model() -> Path:
    """The shipped `.keras` classifier that the TFLite default is exported from."""
    return shipped("models", KERAS_MODEL_NAME)


def default_templates() -> Path:
    """The folder of shipped mask templates (drawn by scripts/make_mask_templates.py)."""
    return shipped("mask-templates")
