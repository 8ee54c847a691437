"""Picking annotated scenes in tests by what their annotations say (read with facemask.evaluation.load_scenes)."""

from __future__ import annotations

from pathlib import Path

from facemask.detection import Box
from facemask.evaluation import load_scenes


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
