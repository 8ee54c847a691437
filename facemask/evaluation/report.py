"""What an evaluation shows a person: the printed table, the ROC and recall plots, contact sheets."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facemask.evaluation.run import SceneEvaluation
from facemask.evaluation.scenes import Scene
from facemask.geometry import Box
from facemask.imageio import read_image
from facemask.outputs import OutputSet, write_bytes_atomic

PLOT_NAMES = ("roc.png", "recall_by_size.png", "missed_faces.png", "false_detections.png")


def _fraction(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def format_table(summary: dict) -> str:
    """The summary as the plain-text table the evaluate command prints."""
    recall = summary["detector_recall"]
    counts = ", ".join(f"{label} {count}" for label, count in summary["faces_per_label"].items())
    lines = [
        f"{summary['images']} images, {summary['faces']} faces ({counts})",
        "",
        f"{'detector recall (IoU > 0.5)':<34}{'found':>7}{'faces':>7}{'recall':>8}",
    ]

    def recall_row(name: str, row: dict) -> str:
        return f"  {name:<32}{row['found']:>7}{row['faces']:>7}{_fraction(row['recall']):>8}"

    lines.append(recall_row("all faces", recall["overall"]))
    lines += [recall_row(label, row) for label, row in recall["per_label"].items()]
    lines += [recall_row(f"width {band}", row) for band, row in recall["per_size"].items()]
    lines += ["", f"{'label':<24}{'faces':>7}{'right':>7}{'wrong':>7}{'missed':>8}  found faces called"]
    for label, row in summary["per_label"].items():
        called = ", ".join(f"{name} {count}" for name, count in sorted(row["found_called"].items()))
        lines.append(
            f"  {label:<22}{row['faces']:>7}{row['found_right']:>7}{row['found_wrong']:>7}"
            f"{row['not_found']:>8}  {called or '-'}"
        )
    accuracy, false = summary["classifier_accuracy"], summary["false_detections"]
    roc = summary["roc"]
    for faces, block in summary["compliance"].items():
        lines += _compliance_lines(faces, block)
    lines += [
        "",
        f"TNR (not compliant found and flagged)     {_fraction(summary['tnr'])}",
        f"FNR (masked flagged)                      {_fraction(summary['fnr'])}",
        f"classifier accuracy, found faces          {_fraction(accuracy['found_faces'])}"
        f" ({accuracy['found_faces_count']} faces)",
        f"classifier accuracy, annotated boxes      {_fraction(accuracy['annotated_boxes'])}"
        f" ({accuracy['annotated_boxes_count']} faces)",
        f"ROC AUC classifier / pipeline             "
        f"{_fraction((roc['classifier_on_annotated_boxes'] or {}).get('auc'))}"
        f" / {_fraction((roc['pipeline'] or {}).get('auc'))}",
        f"false detections                          {false['count']} ({_fraction(false['per_image'])} per image),"
        f" {false['called_unmasked']} flagged",
        f"seconds per image                         {_fraction(summary['seconds_per_image'])}",
    ]
    return "\n".join(lines)


def _compliance_lines(faces: str, block: dict) -> list[str]:
    """The alarm (flagged = without_mask or mask_worn_incorrectly), per-class recall and the confusion matrix."""
    short = {
        "with_mask": "with",
        "without_mask": "without",
        "mask_worn_incorrectly": "incorrect",
        "not found": "missed",
    }
    per_label = ", ".join(f"{label} {_fraction(value)}" for label, value in block["tnr_per_label"].items())
    lines = [
        "",
        f"{faces}: {block['faces']} faces; TNR {_fraction(block['tnr'])} ({per_label}), "
        f"FNR {_fraction(block['fnr'])}; of found faces TNR {_fraction(block['tnr_found'])}, "
        f"FNR {_fraction(block['fnr_found'])}",
        f"  {'annotated / called':<24}"
        + "".join(f"{short[name]:>10}" for name in block["confusion"]["predicted"])
        + f"{'recall':>8}{'of found':>10}{'not with':>10}",
    ]
    for label, row in zip(block["confusion"]["labels"], block["confusion"]["matrix"]):
        recall = block["per_class"][label]
        lines.append(
            f"  {label:<24}"
            + "".join(f"{count:>10}" for count in row)
            + f"{_fraction(recall['recall']):>8}{_fraction(recall['recall_found']):>10}"
            + f"{_fraction(recall['found_not_called_with_mask']):>10}"
        )
    return lines


def _png(figure) -> bytes:
    from io import BytesIO

    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=figure.dpi)
    return buffer.getvalue()


def plot_roc(summary: dict, path: Path) -> None:
    """ROC of the classifier on the annotated boxes and of the whole pipeline, not compliant (without a mask or
    wearing it incorrectly) as positive."""
    write_bytes_atomic(path, _png(roc_figure(summary)))


def plot_recall_by_size(summary: dict, path: Path) -> None:
    """Detector recall per face-width band, with the face count of each band."""
    write_bytes_atomic(path, _png(recall_figure(summary)))


def roc_figure(summary: dict):
    """The ROC plot (see plot_roc)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5, 5), dpi=80)
    axes = figure.subplots()
    curves = 0
    for key, name in (
        ("classifier_on_annotated_boxes", "classifier on annotated boxes"),
        ("pipeline", "whole pipeline (missed faces = masked)"),
    ):
        curve = summary["roc"][key]
        if curve:
            axes.plot(curve["fpr"], curve["tpr"], label=f"{name}, AUC {curve['auc']:.3f}")
            curves += 1
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey")
    axes.set(
        xlabel="false alarm rate (masked faces flagged)",
        ylabel="faces not compliant flagged (TNR)",
        title="ROC, not compliant = positive",
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    if curves:
        axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    return figure


def recall_figure(summary: dict):
    """The recall-by-size plot (see plot_recall_by_size)."""
    from matplotlib.figure import Figure

    bands = summary["detector_recall"]["per_size"]
    figure = Figure(figsize=(5, 3.5), dpi=80)
    axes = figure.subplots()
    names = list(bands)
    values = [bands[name]["recall"] or 0.0 for name in names]
    bars = axes.bar(names, values, color="tab:blue")
    for bar, name in zip(bars, names):
        axes.annotate(
            f"{bands[name]['found']}/{bands[name]['faces']}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    axes.set(
        xlabel="annotated face width", ylabel="detector recall (IoU > 0.5)", ylim=(0, 1.1), title="Recall by face size"
    )
    figure.tight_layout()
    return figure


def _context_crop(image: np.ndarray, box: Box, size: int) -> np.ndarray:
    """`box` with as much context again around it, the box drawn in, as a `size` square RGB tile."""
    side = max(box.w, box.h) * 2
    cx, cy = box.x + box.w // 2, box.y + box.h // 2
    x1, y1 = cx - side // 2, cy - side // 2
    pad = side
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(128, 128, 128))
    tile = padded[y1 + pad : y1 + pad + side, x1 + pad : x1 + pad + side].copy()
    cv2.rectangle(tile, (box.x - x1, box.y - y1), (box.right - x1, box.bottom - y1), (0, 255, 255), max(1, side // 60))
    tile = cv2.resize(tile, (size, size), interpolation=cv2.INTER_AREA if side > size else cv2.INTER_LINEAR)
    return cv2.cvtColor(tile, cv2.COLOR_BGR2RGB)


def contact_sheet_figure(
    items: list[tuple[Path, Box, str]], title: str, limit: int = 64, columns: int = 8, tile: int = 110
):
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
    return figure


def write_plots(evaluation: SceneEvaluation, summary: dict, scenes: list[Scene], folder: Path) -> list[Path]:
    """ROC, recall by size and the two contact sheets, written into `folder`; their paths."""
    paths = {scene.name: scene.path for scene in scenes}
    targets = [folder / name for name in PLOT_NAMES]
    figures = [
        roc_figure(summary),
        recall_figure(summary),
        contact_sheet_figure(
            [
                (paths[face.image], face.box, f"{face.image}\n{face.label} {face.box.w}px")
                for face in evaluation.faces
                if not face.found
            ],
            "Missed faces",
        ),
        contact_sheet_figure(
            [
                (paths[d.image], d.box, f"{d.image} {d.score:.2f}\nbest IoU {d.best_iou:.2f}")
                for d in evaluation.false_detections
            ],
            "False detections",
        ),
    ]
    with OutputSet() as outputs:  # the four plots of one evaluation are published together
        for target, figure in zip(targets, figures):
            outputs.add_bytes(target, _png(figure))
        outputs.publish()
    return targets
