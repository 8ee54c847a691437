"""Mask templates: the geometry that anchors a template to a face and the template files synthesis reads
(`geometry`, `files`); the code that draws the shipped templates is in `facemask.templates.drawing`, used only by
scripts/make_mask_templates.py."""

from facemask.templates.files import MaskTemplate, load_template, load_templates, save_template
from facemask.templates.geometry import (
    CANVAS_ORIGIN,
    CANVAS_SCALE,
    CANVAS_SIZE,
    INCORRECT_PLACEMENTS,
    JAW_SAMPLES,
    MEAN_LANDMARKS,
    PLACEMENTS,
    Placement,
    anchor_names,
    canonical_anchors,
    canonical_landmarks,
    face_anchors,
    outline_names,
)

__all__ = [
    "CANVAS_ORIGIN",
    "CANVAS_SCALE",
    "CANVAS_SIZE",
    "INCORRECT_PLACEMENTS",
    "JAW_SAMPLES",
    "MEAN_LANDMARKS",
    "PLACEMENTS",
    "MaskTemplate",
    "Placement",
    "anchor_names",
    "canonical_anchors",
    "canonical_landmarks",
    "face_anchors",
    "load_template",
    "load_templates",
    "outline_names",
    "save_template",
]
