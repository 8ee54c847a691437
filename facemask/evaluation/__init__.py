"""Measuring the whole pipeline on annotated real scenes: detector recall, classification, false detections,
speed, and the decision threshold. One module per concern; the names below are the package's public interface."""

from facemask.evaluation.metrics import (
    MIN_FACE,
    NOT_COMPLIANT,
    SIZE_BANDS,
    compliance,
    large_enough,
    size_band,
    summarize,
)
from facemask.evaluation.report import PLOT_NAMES, format_table, plot_recall_by_size, plot_roc, write_plots
from facemask.evaluation.run import (
    MATCH_IOU,
    FaceOutcome,
    FalseDetection,
    SceneEvaluation,
    evaluate,
    evaluate_scene,
    not_compliant_probability,
)
from facemask.evaluation.scenes import ANNOTATION_FIELDS, AnnotatedFace, Scene, load_scenes
from facemask.evaluation.threshold import (
    TARGET_FNR,
    TARGET_TNR,
    THRESHOLD_GRID,
    ThresholdChoice,
    best_threshold,
    choose_threshold,
)

__all__ = [
    "ANNOTATION_FIELDS",
    "MATCH_IOU",
    "MIN_FACE",
    "NOT_COMPLIANT",
    "PLOT_NAMES",
    "SIZE_BANDS",
    "TARGET_FNR",
    "TARGET_TNR",
    "THRESHOLD_GRID",
    "AnnotatedFace",
    "FaceOutcome",
    "FalseDetection",
    "Scene",
    "SceneEvaluation",
    "ThresholdChoice",
    "best_threshold",
    "choose_threshold",
    "compliance",
    "evaluate",
    "evaluate_scene",
    "format_table",
    "large_enough",
    "load_scenes",
    "not_compliant_probability",
    "plot_recall_by_size",
    "plot_roc",
    "size_band",
    "summarize",
    "write_plots",
]
