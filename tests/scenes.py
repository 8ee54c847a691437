"""Reading the annotated scenes in tests, to pick photos by what their annotations say."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from facemask.detection import Box


def annotated_faces(scenes_dir: Path) -> dict[str, list[tuple[Box, str]]]:
    """Each scene image's annotated faces: (box, label)."""
    faces: dict[str, list[tuple[Box, str]]] = defaultdict(list)
    with open(scenes_dir / "annotations.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            box = Box(int(row["x"]), int(row["y"]), int(row["w"]), int(row["h"]))
            faces[row["image"]].append((box, row["label"]))
    return dict(faces)


def single_face_scenes(scenes_dir: Path, label: str, min_size: int = 80, count: int = 3) -> list[tuple[Path, Box]]:
    """Up to `count` scenes holding exactly one annotated face, of `label`, at least `min_size` px wide."""
    chosen = []
    for name, faces in sorted(annotated_faces(scenes_dir).items()):
        if len(faces) == 1 and faces[0][1] == label and faces[0][0].w >= min_size:
            chosen.append((scenes_dir / "images" / name, faces[0][0]))
    return chosen[:count]
