"""Measure the pipeline on annotated real scenes: detector recall, classification, false detections, speed."""

from __future__ import annotations

import csv
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from facemask.metadata import MASKED, UNMASKED
from facemask.detection import Box, Detection
from facemask.errors import FacemaskError
from facemask.imageio import list_images, read_image
from facemask.outputs import write_bytes_atomic

ANNOTATION_FIELDS = ("image", "x", "y", "w", "h", "label")
MATCH_IOU = 0.5
SIZE_BANDS = ((0, 20), (20, 50), (50, 100), (100, None))  # annotated face width in pixels
PLOT_NAMES = ("roc.png", "recall_by_size.png", "missed_faces.png", "false_detections.png")


@dataclass(frozen=True)
class AnnotatedFace:
    """One face drawn in the annotations: its box and its label."""

    box: Box
    label: str


@dataclass(frozen=True)
class Scene:
    """One annotated photo: its name in the annotations, its path and every face in it."""

    name: str
    path: Path
    faces: tuple[AnnotatedFace, ...]


def _parse_row(row: dict[str, str], line: int, csv_path: Path) -> tuple[str, AnnotatedFace]:
    try:
        x, y, w, h = (int(round(float(row[key]))) for key in ("x", "y", "w", "h"))
    except (TypeError, ValueError):
        raise FacemaskError(f"bad box on line {line} of {csv_path}: expected numbers for x,y,w,h") from None
    name, label = (row["image"] or "").strip(), (row["label"] or "").strip()
    if not name or not label:
        raise FacemaskError(f"empty image name or label on line {line} of {csv_path}")
    if w <= 0 or h <= 0:
        raise FacemaskError(f"box with no area on line {line} of {csv_path}")
    return name, AnnotatedFace(Box(x, y, w, h), label)


def load_scenes(folder: str | Path) -> list[Scene]:
    """The scenes of a folder holding `images/` and `annotations.csv` (`image,x,y,w,h,label`).

    Images in `images/` without a row are scenes with no faces; a row naming a missing image is an error.
    """
    folder = Path(folder)
    images_dir, csv_path = folder / "images", folder / "annotations.csv"
    if not folder.is_dir():
        raise FacemaskError(f"scenes folder not found: {folder}")
    if not images_dir.is_dir():
        raise FacemaskError(f"scenes folder has no images/ folder: {images_dir}")
    if not csv_path.is_file():
        raise FacemaskError(f"scenes folder has no annotations.csv: {csv_path}")
    faces: dict[str, list[AnnotatedFace]] = {}
    try:
        with csv_path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [name for name in ANNOTATION_FIELDS if name not in (reader.fieldnames or [])]
            if missing:
                raise FacemaskError(f"annotations need the columns {','.join(ANNOTATION_FIELDS)} "
                                    f"(missing {','.join(missing)}): {csv_path}")
            for line, row in enumerate(reader, start=2):
                name, face = _parse_row(row, line, csv_path)
                faces.setdefault(name, []).append(face)
    except (UnicodeDecodeError, csv.Error) as problem:
        raise FacemaskError(f"cannot read annotations {csv_path}: {problem}") from None
    for name in faces:
        if not (images_dir / name).is_file():
            raise FacemaskError(f"annotated image not found: {images_dir / name}")
    names = sorted({str(path.relative_to(images_dir)) for path in list_images(images_dir)} | set(faces),
                   key=lambda name: (len(name), name))
    return [Scene(name, images_dir / name, tuple(faces.get(name, ()))) for name in names]


def match_boxes(truth: list[Box], predicted: list[Box], threshold: float = MATCH_IOU) -> dict[int, int]:
    """Greedy matching, best overlap first: {truth index: predicted index} for pairs with IoU > `threshold`.

    Each annotated face takes at most one predicted box and each predicted box at most one face.
    """
    pairs = sorted(((t.iou(p), i, j) for i, t in enumerate(truth) for j, p in enumerate(predicted)),
                   key=lambda pair: pair[0], reverse=True)
    matched: dict[int, int] = {}
    used: set[int] = set()
    for overlap, i, j in pairs:
        if overlap <= threshold:
            break
        if i not in matched and j not in used:
            matched[i] = j
            used.add(j)
    return matched


def size_band(width: int) -> str:
    """The face-size band of a face `width` pixels wide, e.g. '20-50 px'."""
    for low, high in SIZE_BANDS:
        if high is None:
            return f">= {low} px"
        if width < high:
            return f"< {high} px" if low == 0 else f"{low}-{high} px"
    raise AssertionError("SIZE_BANDS ends with an open band")


@dataclass(frozen=True)
class FaceOutcome:
    """What happened to one annotated face: found or not, and what the classifier said about it.

    `predicted` / `unmasked_probability` come from the pipeline's matched detection (None when not found);
    `direct_label` / `direct_unmasked_probability` from the classifier run on the annotated box itself.
    """

    image: str
    box: Box
    label: str
    predicted: str | None
    unmasked_probability: float | None
    direct_label: str
    direct_unmasked_probability: float

    @property
    def found(self) -> bool:
        return self.predicted is not None


@dataclass(frozen=True)
class FalseDetection:
    """A predicted box that matched no annotated face, with its best overlap with any of them."""

    image: str
    box: Box
    score: float
    label: str
    best_iou: float


@dataclass
class SceneEvaluation:
    """The raw outcome of running the pipeline over a scene set."""

    images: int = 0
    faces: list[FaceOutcome] = field(default_factory=list)
    false_detections: list[FalseDetection] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def evaluate_scene(pipeline, scene: Scene, image: np.ndarray, evaluation: SceneEvaluation) -> None:
    """Run `pipeline` on one scene and add its faces, false detections and time to `evaluation`."""
    start = time.perf_counter()
    results = pipeline.process(image)
    evaluation.seconds.append(time.perf_counter() - start)
    evaluation.images += 1
    truth = [face.box for face in scene.faces]
    matched = match_boxes(truth, [result.box for result in results])
    direct = pipeline.classify(image, [Detection(box, 1.0) for box in truth])
    for index, (face, on_box) in enumerate(zip(scene.faces, direct)):
        result = results[matched[index]] if index in matched else None
        evaluation.faces.append(FaceOutcome(
            scene.name, face.box, face.label,
            result.label if result else None,
            result.probabilities.get(UNMASKED, 0.0) if result else None,
            on_box.label, on_box.probabilities.get(UNMASKED, 0.0)))
    used = set(matched.values())
    for number, result in enumerate(results):
        if number not in used:
            best = max((result.box.iou(box) for box in truth), default=0.0)
            evaluation.false_detections.append(
                FalseDetection(scene.name, result.box, result.score, result.label, best))


def evaluate(pipeline, scenes: list[Scene], progress: bool = True) -> SceneEvaluation:
    """Run `pipeline` (a MaskPipeline) over every scene, with a progress bar; one untimed warm-up call first."""
    from tqdm import tqdm

    evaluation = SceneEvaluation()
    if scenes:  # the first call builds the networks' kernels: keep it out of the timing
        pipeline.process(read_image(scenes[0].path))
    for scene in tqdm(scenes, desc="scenes", unit="image", disable=not progress, leave=False):
        evaluate_scene(pipeline, scene, read_image(scene.path), evaluation)
    return evaluation


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _recall(faces: Iterable[FaceOutcome]) -> dict:
    faces = list(faces)
    found = sum(face.found for face in faces)
    return {"faces": len(faces), "found": found, "recall": _ratio(found, len(faces))}


def _roc(labels: list[bool], scores: list[float]) -> dict | None:
    """ROC curve points and area, or None when one of the two classes is absent."""
    from sklearn.metrics import roc_auc_score, roc_curve

    if len(set(labels)) < 2:
        return None
    false_positive, true_positive, _ = roc_curve(labels, scores)
    return {"auc": round(float(roc_auc_score(labels, scores)), 4),
            "fpr": [round(float(v), 4) for v in false_positive], "tpr": [round(float(v), 4) for v in true_positive]}


def summarize(evaluation: SceneEvaluation) -> dict:
    """Every metric of the evaluation, as a JSON-ready dict.

    TNR: unmasked faces found and called unmasked / all unmasked faces. FNR: masked faces called unmasked /
    all masked faces. ROC curves take "unmasked" as the positive class; for the whole pipeline a face not
    found counts as called masked (probability 0). Labels other than with_mask / without_mask are reported
    on their own and left out of TNR, FNR, accuracy and ROC.
    """
    faces = evaluation.faces
    labels = sorted({face.label for face in faces}, key=lambda name: (name not in (MASKED, UNMASKED), name))
    binary = [face for face in faces if face.label in (MASKED, UNMASKED)]
    found_binary = [face for face in binary if face.found]
    masked = [face for face in faces if face.label == MASKED]
    unmasked = [face for face in faces if face.label == UNMASKED]
    per_label = {}
    for label in labels:
        group = [face for face in faces if face.label == label]
        per_label[label] = {
            "faces": len(group),
            "found_right": sum(face.predicted == label for face in group),
            "found_wrong": sum(face.found and face.predicted != label for face in group),
            "not_found": sum(not face.found for face in group),
            "found_called": dict(Counter(face.predicted for face in group if face.found)),
        }
    false_detections = evaluation.false_detections
    truth = [face.label == UNMASKED for face in binary]
    return {
        "images": evaluation.images,
        "faces": len(faces),
        "faces_per_label": {label: per_label[label]["faces"] for label in labels},
        "detector_recall": {
            "overall": _recall(faces),
            "per_label": {label: _recall(face for face in faces if face.label == label) for label in labels},
            "per_size": {size_band(low): _recall(face for face in faces if size_band(face.box.w) == size_band(low))
                         for low, _ in SIZE_BANDS},
        },
        "per_label": per_label,
        "tnr": _ratio(sum(face.predicted == UNMASKED for face in unmasked), len(unmasked)),
        "fnr": _ratio(sum(face.predicted == UNMASKED for face in masked), len(masked)),
        "classifier_accuracy": {
            "found_faces": _ratio(sum(face.predicted == face.label for face in found_binary), len(found_binary)),
            "found_faces_count": len(found_binary),
            "annotated_boxes": _ratio(sum(face.direct_label == face.label for face in binary), len(binary)),
            "annotated_boxes_count": len(binary),
        },
        "false_detections": {
            "count": len(false_detections),
            "per_image": _ratio(len(false_detections), evaluation.images),
            "called_unmasked": sum(d.label == UNMASKED for d in false_detections),
        },
        "seconds_per_image": round(float(np.mean(evaluation.seconds)), 4) if evaluation.seconds else None,
        "roc": {
            "classifier_on_annotated_boxes": _roc(truth, [face.direct_unmasked_probability for face in binary]),
            "pipeline": _roc(truth, [face.unmasked_probability or 0.0 for face in binary]),
        },
    }


TARGET_TNR, TARGET_FNR = 0.92, 0.03  # what a mask alarm must reach (issue 3)
THRESHOLD_GRID = tuple(round(0.01 * step, 2) for step in range(1, 100))


@dataclass(frozen=True)
class ThresholdChoice:
    """A decision threshold on the unmasked probability, chosen on scenes, with its rates there and the rates
    of the same choice made on the other folds and applied to each held-out fold (images never split)."""

    threshold: float
    tnr: float
    fnr: float
    folds: int
    cross_validated_tnr: float
    cross_validated_fnr: float
    fold_thresholds: tuple[float, ...]


def best_threshold(unmasked: np.ndarray, scores: np.ndarray, target_tnr: float = TARGET_TNR,
                   target_fnr: float = TARGET_FNR) -> float:
    """The middle of the range of thresholds that meet both targets on these faces, as far from either edge of
    it as the faces allow. Where no threshold meets both, the one whose worse error, as a share of what its
    target allows, max((1 - TNR) / (1 - target_tnr), FNR / target_fnr), is smallest (the middle one of those
    tied)."""
    grid = np.asarray(THRESHOLD_GRID)
    flagged = scores[None, :] >= grid[:, None]
    miss = 1.0 - flagged[:, unmasked].mean(axis=1)
    false_alarm = flagged[:, ~unmasked].mean(axis=1)
    meets = (1.0 - miss >= target_tnr - 1e-9) & (false_alarm <= target_fnr + 1e-9)
    if meets.any():
        return float(grid[meets][meets.sum() // 2])
    worst = np.maximum(miss / (1.0 - target_tnr), false_alarm / target_fnr)
    tied = grid[worst <= worst.min() + 1e-9]
    return float(tied[len(tied) // 2])


def choose_threshold(evaluation: SceneEvaluation, folds: int = 5, seed: int = 0) -> ThresholdChoice:
    """Choose the unmasked-probability threshold on the scenes' masked and unmasked faces (a face the detector
    missed is never flagged), and cross-validate that choice over `folds` groups of whole images."""
    from sklearn.model_selection import GroupKFold

    faces = [face for face in evaluation.faces if face.label in (MASKED, UNMASKED)]
    unmasked = np.array([face.label == UNMASKED for face in faces])
    scores = np.array([face.unmasked_probability or 0.0 for face in faces])
    images = np.array([face.image for face in faces])
    if unmasked.all() or not unmasked.any():
        raise FacemaskError("choosing a threshold needs both masked and unmasked faces in the scenes")
    if len(set(images)) < folds:
        raise FacemaskError(f"cross-validation needs at least {folds} images with faces, got {len(set(images))}")

    def rates(flagged: np.ndarray) -> tuple[float, float]:
        return float(flagged[unmasked].mean()), float(flagged[~unmasked].mean())

    held_out = np.zeros(len(faces), dtype=bool)
    fold_thresholds = []
    for train, test in GroupKFold(folds, shuffle=True, random_state=seed).split(scores, unmasked, images):
        fold_thresholds.append(best_threshold(unmasked[train], scores[train]))
        held_out[test] = scores[test] >= fold_thresholds[-1]
    threshold = best_threshold(unmasked, scores)
    tnr, fnr = rates(scores >= threshold)
    cv_tnr, cv_fnr = rates(held_out)
    return ThresholdChoice(threshold, tnr, fnr, folds, cv_tnr, cv_fnr, tuple(fold_thresholds))


def _fraction(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def format_table(summary: dict) -> str:
    """The summary as the plain-text table the evaluate command prints."""
    recall = summary["detector_recall"]
    counts = ", ".join(f"{label} {count}" for label, count in summary["faces_per_label"].items())
    lines = [f"{summary['images']} images, {summary['faces']} faces ({counts})", "",
             f"{'detector recall (IoU > 0.5)':<34}{'found':>7}{'faces':>7}{'recall':>8}"]

    def recall_row(name: str, row: dict) -> str:
        return f"  {name:<32}{row['found']:>7}{row['faces']:>7}{_fraction(row['recall']):>8}"

    lines.append(recall_row("all faces", recall["overall"]))
    lines += [recall_row(label, row) for label, row in recall["per_label"].items()]
    lines += [recall_row(f"width {band}", row) for band, row in recall["per_size"].items()]
    lines += ["", f"{'label':<24}{'faces':>7}{'right':>7}{'wrong':>7}{'missed':>8}  found faces called"]
    for label, row in summary["per_label"].items():
        called = ", ".join(f"{name} {count}" for name, count in sorted(row["found_called"].items()))
        lines.append(f"  {label:<22}{row['faces']:>7}{row['found_right']:>7}{row['found_wrong']:>7}"
                     f"{row['not_found']:>8}  {called or '-'}")
    accuracy, false = summary["classifier_accuracy"], summary["false_detections"]
    roc = summary["roc"]
    lines += ["",
              f"TNR (unmasked found and called unmasked)  {_fraction(summary['tnr'])}",
              f"FNR (masked called unmasked)              {_fraction(summary['fnr'])}",
              f"classifier accuracy, found faces          {_fraction(accuracy['found_faces'])}"
              f" ({accuracy['found_faces_count']} faces)",
              f"classifier accuracy, annotated boxes      {_fraction(accuracy['annotated_boxes'])}"
              f" ({accuracy['annotated_boxes_count']} faces)",
              f"ROC AUC classifier / pipeline             "
              f"{_fraction((roc['classifier_on_annotated_boxes'] or {}).get('auc'))}"
              f" / {_fraction((roc['pipeline'] or {}).get('auc'))}",
              f"false detections                          {false['count']} ({_fraction(false['per_image'])} per image),"
              f" {false['called_unmasked']} called unmasked",
              f"seconds per image                         {_fraction(summary['seconds_per_image'])}"]
    return "\n".join(lines)


def _save(figure, path: Path) -> None:
    from io import BytesIO

    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=figure.dpi)
    write_bytes_atomic(path, buffer.getvalue())


def plot_roc(summary: dict, path: Path) -> None:
    """ROC of the classifier on the annotated boxes and of the whole pipeline, unmasked as positive."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5, 5), dpi=80)
    axes = figure.subplots()
    curves = 0
    for key, name in (("classifier_on_annotated_boxes", "classifier on annotated boxes"),
                      ("pipeline", "whole pipeline (missed faces = masked)")):
        curve = summary["roc"][key]
        if curve:
            axes.plot(curve["fpr"], curve["tpr"], label=f"{name}, AUC {curve['auc']:.3f}")
            curves += 1
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey")
    axes.set(xlabel="false alarm rate (masked called unmasked)", ylabel="unmasked faces flagged (TNR)",
             title="ROC, unmasked = positive", xlim=(0, 1), ylim=(0, 1.01))
    if curves:
        axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    _save(figure, path)


def plot_recall_by_size(summary: dict, path: Path) -> None:
    """Detector recall per face-width band, with the face count of each band."""
    from matplotlib.figure import Figure

    bands = summary["detector_recall"]["per_size"]
    figure = Figure(figsize=(5, 3.5), dpi=80)
    axes = figure.subplots()
    names = list(bands)
    values = [bands[name]["recall"] or 0.0 for name in names]
    bars = axes.bar(names, values, color="tab:blue")
    for bar, name in zip(bars, names):
        axes.annotate(f"{bands[name]['found']}/{bands[name]['faces']}", (bar.get_x() + bar.get_width() / 2,
                      bar.get_height()), ha="center", va="bottom", fontsize=8)
    axes.set(xlabel="annotated face width", ylabel="detector recall (IoU > 0.5)", ylim=(0, 1.1),
             title="Recall by face size")
    figure.tight_layout()
    _save(figure, path)


def _context_crop(image: np.ndarray, box: Box, size: int) -> np.ndarray:
    """`box` with as much context again around it, the box drawn in, as a `size` square RGB tile."""
    side = max(box.w, box.h) * 2
    cx, cy = box.x + box.w // 2, box.y + box.h // 2
    x1, y1 = cx - side // 2, cy - side // 2
    pad = side
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(128, 128, 128))
    tile = padded[y1 + pad:y1 + pad + side, x1 + pad:x1 + pad + side].copy()
    cv2.rectangle(tile, (box.x - x1, box.y - y1), (box.x - x1 + box.w, box.y - y1 + box.h), (0, 255, 255),
                  max(1, side // 60))
    tile = cv2.resize(tile, (size, size), interpolation=cv2.INTER_AREA if side > size else cv2.INTER_LINEAR)
    return cv2.cvtColor(tile, cv2.COLOR_BGR2RGB)


def plot_contact_sheet(items: list[tuple[Path, Box, str]], title: str, path: Path, limit: int = 64,
                       columns: int = 8, tile: int = 110) -> None:
    """A grid of (image, box, caption) tiles, each box drawn with its surroundings."""
    from matplotlib.figure import Figure

    shown = items[:limit]
    rows = max(1, -(-len(shown) // columns))
    figure = Figure(figsize=(columns * 1.0, rows * 1.15 + 0.4), dpi=tile)
    axes = figure.subplots(rows, columns, squeeze=False)
    images: dict[Path, np.ndarray] = {}
    for cell, axis in enumerate(axes.flat):
        axis.axis("off")
        if cell < len(shown):
            image_path, box, caption = shown[cell]
            if image_path not in images:
                images[image_path] = read_image(image_path)
            axis.imshow(_context_crop(images[image_path], box, tile))
            axis.set_title(caption, fontsize=6)
    more = f" (first {limit} of {len(items)})" if len(items) > limit else ""
    figure.suptitle(f"{title}: {len(items)}{more}" if items else f"{title}: none", fontsize=9)
    figure.tight_layout()
    _save(figure, path)


def write_plots(evaluation: SceneEvaluation, summary: dict, scenes: list[Scene], folder: Path) -> list[Path]:
    """ROC, recall by size and the two contact sheets, written into `folder`; their paths."""
    paths = {scene.name: scene.path for scene in scenes}
    roc, recall, missed, false = (folder / name for name in PLOT_NAMES)
    plot_roc(summary, roc)
    plot_recall_by_size(summary, recall)
    plot_contact_sheet([(paths[face.image], face.box, f"{face.image}\n{face.label} {face.box.w}px")
                        for face in evaluation.faces if not face.found], "Missed faces", missed)
    plot_contact_sheet([(paths[d.image], d.box, f"{d.image} {d.score:.2f}\nbest IoU {d.best_iou:.2f}")
                        for d in evaluation.false_detections], "False detections", false)
    return [roc, recall, missed, false]
