"""Contact sheets of boxes as a PNG file of their own (benchmarks/detection_study.py's pages of missed faces and
unmatched boxes); the evaluation tool's two sheets come from facemask.evaluation.write_plots."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from facemask.evaluation.report import contact_sheet_figure
from facemask.geometry import Box
from facemask.outputs import write_bytes_atomic


def plot_contact_sheet(items: list[tuple[Path, Box, str]], title: str, path: Path, **layout) -> None:
    """Write to `path` (a PNG, atomically) a grid of (image, box, caption) tiles, each box drawn with its
    surroundings; `layout`: contact_sheet_figure's limit, columns and tile size."""
    figure = contact_sheet_figure(items, title, **layout)
    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=figure.dpi)
    write_bytes_atomic(path, buffer.getvalue())
