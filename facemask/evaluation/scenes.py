"""Annotated scene sets: a folder with `images/` and `annotations.csv` (`image,x,y,w,h,label`)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from facemask.errors import FacemaskError
from facemask.geometry import Box
from facemask.imageio import list_images
from facemask.outputs import os_error

ANNOTATION_FIELDS = ("image", "x", "y", "w", "h", "label")


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
    except (TypeError, ValueError, OverflowError):
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
                raise FacemaskError(
                    f"annotations need the columns {','.join(ANNOTATION_FIELDS)} "
                    f"(missing {','.join(missing)}): {csv_path}"
                )
            for line, row in enumerate(reader, start=2):
                name, face = _parse_row(row, line, csv_path)
                faces.setdefault(name, []).append(face)
    except (UnicodeDecodeError, csv.Error) as problem:
        raise FacemaskError(f"cannot read annotations ({problem}): {csv_path}") from None
    except OSError as problem:
        raise os_error(problem, csv_path, "cannot read annotations") from None
    for name in faces:
        if not (images_dir / name).is_file():
            raise FacemaskError(f"annotated image not found: {images_dir / name}")
    names = sorted(
        {str(path.relative_to(images_dir)) for path in list_images(images_dir)} | set(faces),
        key=lambda name: (len(name), name),
    )
    return [Scene(name, images_dir / name, tuple(faces.get(name, ()))) for name in names]
