"""Picking annotated scenes in tests by what their annotations say (read with facemask.evaluation.load_scenes)."""

from __future__ import annotations

import csv
from pathlib import Path

from facemask.evaluation import load_scenes
from facemask.geometry import Box


def annotated_faces(scenes_dir: Path) -> dict[str, list[tuple[Box, str]]]:
    """Each annotated scene image's faces: (box, label)."""
    return {scene.name: [(face.box, face.label) for face in scene.faces]
            for scene in load_scenes(scenes_dir) if scene.faces}


def single_face_scenes(scenes_dir: Path, label: str, min_size: int = 80, count: int = 3) -> list[tuple[Path, Box]]:
    """Up to `count` scenes holding exactly one annotated face, of `label`, at least `min_size` px wide."""
    chosen = []
    for name, faces in sorted(annotated_faces(scenes_dir).items()):
        if len(faces) == 1 and faces[0][1] == label and faces[0][0].w >= min_size:
            chosen.append((scenes_dir / "images" / name, faces[0][0]))
    return chosen[:count]


def make_scene_set(source: Path, root: Path, photos: int, labels: tuple[str, ...] | None = None) -> Path:
    """A small scene set at `root` (images linked, annotations copied) from the first `photos` annotated photos of
    `source`, taken in turn among photos holding each of `labels` (default: every label there) so each is present."""
    faces = annotated_faces(source)
    labels = labels or tuple(sorted({label for found in faces.values() for _, label in found}))
    chosen: list[str] = []
    pools = [[name for name in sorted(faces) if any(label == wanted for _, label in faces[name])] for wanted in labels]
    while len(chosen) < photos and any(pools):
        for pool in pools:
            while pool and pool[0] in chosen:
                pool.pop(0)
            if pool and len(chosen) < photos:
                chosen.append(pool.pop(0))
    (root / "images").mkdir(parents=True)
    with open(root / "annotations.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "x", "y", "w", "h", "label"])
        for name in chosen:
            (root / "images" / name).symlink_to(source / "images" / name)
            writer.writerows([name, box.x, box.y, box.w, box.h, label] for box, label in faces[name])
    return root
