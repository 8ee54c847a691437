"""Training faces from annotated scene sets: every annotated face kept with the photo around it, so that training
can cut it again and again as the pipeline cuts a detection, with a detector's error on the box."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facemask.classification import crop_face
from facemask.data import NEAR_DUPLICATE_BITS, Unreadable, difference_hash, near_duplicate_pairs
from facemask.errors import FacemaskError
from facemask.evaluation.scenes import load_scenes
from facemask.geometry import Box
from facemask.imageio import read_image

PATCH_PAD = 0.75  # the photo kept around a face, as a fraction of the face's size on every side
PATCH_FACE_SIDE = 160  # a larger face is kept shrunk to this many pixels on its longer side (crops are 224 px)
MIN_FACE_SIDE = 6  # faces smaller than this on their shorter side are left out: there is nothing to learn there


@dataclass(frozen=True)
class BoxJitter:
    """How far a training crop's box strays from the annotated box, like a face detector's box does.

    Each crop draws a random shift of its centre of up to `shift` of the box's size and a random scale factor
    within 1 +- `spread` for its width and its height. The default detector's boxes of the annotated faces of
    scenes-dev sit on the annotated boxes on average, with a spread of about 5 % of the size in position and 10 % in
    size (docs/evaluation.md): uniform draws of these widths have about that spread.
    """

    shift: float = 0.08
    spread: float = 0.15

    def __post_init__(self) -> None:
        if not (0.0 <= self.shift <= 0.5 and 0.0 <= self.spread <= 0.5):
            raise FacemaskError(f"box jitter shift and spread must be from 0 to 0.5, got {self.shift}, {self.spread}")

    def apply(self, box: np.ndarray, rng: np.random.Generator | None) -> Box:
        """The box (x, y, w, h floats) as a Box; with `rng`, jittered."""
        x, y, w, h = (float(v) for v in box)
        cx, cy = x + w / 2.0, y + h / 2.0
        if rng is not None:
            cx += rng.uniform(-self.shift, self.shift) * w
            cy += rng.uniform(-self.shift, self.shift) * h
            w *= 1.0 + rng.uniform(-self.spread, self.spread)
            h *= 1.0 + rng.uniform(-self.spread, self.spread)
        w, h = max(1.0, w), max(1.0, h)
        return Box(int(round(cx - w / 2.0)), int(round(cy - h / 2.0)), max(1, int(round(w))), max(1, int(round(h))))


@dataclass(frozen=True)
class SceneFaces:
    """The annotated faces of one or more scene sets.

    `patches[i]` is the part of its photo around face i (BGR; shrunk where the face is large), `boxes[i]` the face's
    annotated box inside that patch (x, y, w, h), `labels[i]` its index in `class_names`, `groups[i]` the group of
    its photo (one group per photo and its near-copies: faces of one photo never straddle a split), `sizes[i]` its
    shorter side in the photo.
    """

    patches: tuple[np.ndarray, ...]
    boxes: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    groups: np.ndarray
    sizes: np.ndarray
    photos: tuple[Path, ...]
    roots: tuple[Path, ...]

    def __len__(self) -> int:
        return len(self.labels)

    def counts(self) -> dict[str, int]:
        """Faces of each class."""
        return {name: int((self.labels == i).sum()) for i, name in enumerate(self.class_names)}

    def subset(self, rows: np.ndarray) -> SceneFaces:
        """The faces at `rows`."""
        return SceneFaces(
            tuple(self.patches[i] for i in rows),
            self.boxes[rows],
            self.labels[rows],
            self.class_names,
            self.groups[rows],
            self.sizes[rows],
            self.photos,
            self.roots,
        )

    def with_classes(self, class_names: Sequence[str]) -> SceneFaces:
        """The same faces with labels indexing `class_names` (which must hold every class here)."""
        missing = [name for name in self.class_names if name not in class_names]
        if missing:
            raise FacemaskError(f"the scene faces' classes {', '.join(missing)} are not among {', '.join(class_names)}")
        remap = np.asarray([list(class_names).index(name) for name in self.class_names], np.int64)
        return SceneFaces(
            self.patches,
            self.boxes,
            remap[self.labels],
            tuple(class_names),
            self.groups,
            self.sizes,
            self.photos,
            self.roots,
        )

    def crops(
        self, size: int, margin: float, square: bool, jitter: BoxJitter, rng: np.random.Generator | None
    ) -> np.ndarray:
        """Every face cut as `size` x `size` RGB the way the pipeline cuts a detection (`crop_face` with `margin`
        and `square`) from its box as the detector would give it (`jitter`; random only with `rng`)."""
        out = np.empty((len(self), size, size, 3), np.uint8)
        for i, (patch, box) in enumerate(zip(self.patches, self.boxes)):
            out[i] = crop_face(patch, jitter.apply(box, rng), size, margin, square)
        return out


def _patch(image: np.ndarray, box: Box) -> tuple[np.ndarray, np.ndarray]:
    """The part of `image` around `box` (PATCH_PAD on every side, clipped to the image), shrunk so the face is at
    most PATCH_FACE_SIDE px, and the box's place in it."""
    height, width = image.shape[:2]
    pad_x, pad_y = box.w * PATCH_PAD, box.h * PATCH_PAD
    # Even corners: crop_face rounds half-pixels to even, so the patch cuts exactly where the photo would.
    x1, y1 = max(0, int(box.x - pad_x)) & ~1, max(0, int(box.y - pad_y)) & ~1
    x2, y2 = min(width, int(np.ceil(box.x + box.w + pad_x))), min(height, int(np.ceil(box.y + box.h + pad_y)))
    patch = image[y1:y2, x1:x2]
    local = np.array([box.x - x1, box.y - y1, box.w, box.h], np.float32)
    factor = PATCH_FACE_SIDE / max(box.w, box.h)
    if factor < 1.0:
        patch = cv2.resize(
            patch,
            (max(1, round(patch.shape[1] * factor)), max(1, round(patch.shape[0] * factor))),
            interpolation=cv2.INTER_AREA,
        )
        local *= factor
    return np.ascontiguousarray(patch), local


def load_scene_faces(
    folders: str | Path | Sequence[str | Path], on_unreadable: Callable[[Unreadable], None] = lambda item: None
) -> SceneFaces:
    """Read every annotated face of the scene sets in `folders` (each with `images/` and `annotations.csv`), class
    names sorted. Faces under MIN_FACE_SIDE px are left out; unreadable photos are reported and skipped."""
    folder_paths = [Path(folders)] if isinstance(folders, (str, Path)) else [Path(folder) for folder in folders]
    if not folder_paths:
        raise FacemaskError("no scene folder given")
    names = sorted({face.label for folder in folder_paths for scene in load_scenes(folder) for face in scene.faces})
    photos: list[Path] = []
    patches, boxes, labels, photo_of, sizes, hashes = [], [], [], [], [], []
    for folder in folder_paths:
        for scene in load_scenes(folder):
            faces = [face for face in scene.faces if min(face.box.w, face.box.h) >= MIN_FACE_SIDE]
            if not faces:
                continue
            try:
                image = read_image(scene.path)
            except FacemaskError as error:
                on_unreadable(Unreadable(scene.path, str(error)))
                continue
            photo = len(photos)
            photos.append(scene.path)
            hashes.append(difference_hash(image))
            for face in faces:
                patch, local = _patch(image, face.box)
                patches.append(patch)
                boxes.append(local)
                labels.append(names.index(face.label))
                photo_of.append(photo)
                sizes.append(min(face.box.w, face.box.h))
    if not labels:
        raise FacemaskError(f"no annotated faces of {MIN_FACE_SIDE} px or more in {', '.join(map(str, folder_paths))}")
    groups = _photo_groups(np.asarray(hashes, np.uint64))
    return SceneFaces(
        tuple(patches),
        np.asarray(boxes, np.float32),
        np.asarray(labels, np.int64),
        tuple(names),
        groups[np.asarray(photo_of)],
        np.asarray(sizes, np.int64),
        tuple(photos),
        tuple(folder_paths),
    )


def _photo_groups(hashes: np.ndarray) -> np.ndarray:
    """One group per photo, photos whose difference hashes are near-copies (NEAR_DUPLICATE_BITS) joined."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    pairs = near_duplicate_pairs(hashes, NEAR_DUPLICATE_BITS)
    count = len(hashes)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(count, count))
    return connected_components(graph, directed=False)[1].astype(np.int64)
