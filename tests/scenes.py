"""Picking annotated scenes in tests by what their annotations say (read with facemask.evaluation.load_scenes), and
the faces of the example photos shipped in examples/, boxed by hand."""

from __future__ import annotations

import csv
from pathlib import Path

from facemask.evaluation import load_scenes
from facemask.geometry import Box
from facemask.metadata import MASKED, UNMASKED

# The faces of examples/ (scripts/make_examples.py), boxed by hand from the forehead to below the chin as the scene
# sets annotate them: Eileen Collins' portrait, Grace Hopper's, and both side by side (Hopper scaled by 512 / 600,
# the astronaut wearing a synthesized mask).
EXAMPLE_FACES: dict[str, list[tuple[Box, str]]] = {
    "astronaut.jpg": [(Box(180, 60, 90, 120), UNMASKED)],
    "grace_hopper.jpg": [(Box(170, 135, 180, 200), UNMASKED)],
    "two_people.jpg": [(Box(180, 60, 90, 120), MASKED), (Box(657, 115, 154, 171), UNMASKED)],
}


def annotated_faces(scenes_dir: Path) -> dict[str, list[tuple[Box, str]]]:
    """Each annotated scene image's faces: (box, label)."""
    return {
        scene.name: [(face.box, face.label) for face in scene.faces] for scene in load_scenes(scenes_dir) if scene.faces
    }


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


def example_scene_set(examples: Path, root: Path) -> Path:
    """The photos of `examples` (the repository's examples/) as a scene set at `root`: images linked, their faces
    (EXAMPLE_FACES) written as annotations.csv."""
    (root / "images").mkdir(parents=True)
    with open(root / "annotations.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "x", "y", "w", "h", "label"])
        for name, faces in EXAMPLE_FACES.items():
            (root / "images" / name).symlink_to(examples / name)
            writer.writerows([name, box.x, box.y, box.w, box.h, label] for box, label in faces)
    return root
