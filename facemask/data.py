"""Folder datasets: one sub-folder of images per class, read once into memory and split for training."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from imutils import paths

from facemask.errors import FacemaskError
from facemask.imageio import read_image


@dataclass
class Dataset:
    """Images (RGB, uint8, square) with integer labels indexing `class_names`."""

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    paths: list[Path]

    def counts(self) -> dict[str, int]:
        """Number of images of each class."""
        return {name: int((self.labels == i).sum()) for i, name in enumerate(self.class_names)}


@dataclass(frozen=True)
class Unreadable:
    """A file of the dataset that could not be used, and why."""

    path: Path
    reason: str


def find_class_folders(root: str | Path) -> dict[str, list[Path]]:
    """The image files of each class folder under `root`, class names sorted.

    Raises FacemaskError unless there are at least two classes and every class has images.
    """
    root = Path(root)
    if not root.is_dir():
        raise FacemaskError(f"dataset folder not found: {root}")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(folders) < 2:
        found = ", ".join(p.name for p in folders) or "none"
        raise FacemaskError(f"dataset needs at least two class folders (e.g. with_mask, without_mask), found {found}: {root}")
    classes = {folder.name: sorted(Path(p) for p in paths.list_images(str(folder))) for folder in folders}
    for name, files in classes.items():
        if not files:
            raise FacemaskError(f"class folder has no images: {root / name}")
    return classes


def load_dataset(root: str | Path, size: int,
                 on_unreadable: Callable[[Unreadable], None] = lambda item: None) -> Dataset:
    """Decode every image of the dataset once, as `size` x `size` RGB; unreadable files are reported and skipped."""
    classes = find_class_folders(root)
    images, labels, kept = [], [], []
    for index, (name, files) in enumerate(classes.items()):
        usable = 0
        for path in files:
            try:
                image = read_image(path)
            except FacemaskError as error:
                on_unreadable(Unreadable(path, str(error)))
                continue
            interpolation = cv2.INTER_AREA if min(image.shape[:2]) > size else cv2.INTER_LINEAR
            images.append(cv2.cvtColor(cv2.resize(image, (size, size), interpolation=interpolation), cv2.COLOR_BGR2RGB))
            labels.append(index)
            kept.append(path)
            usable += 1
        if usable == 0:
            raise FacemaskError(f"class folder has no readable images: {Path(root) / name}")
    return Dataset(np.stack(images), np.asarray(labels, dtype=np.int64), tuple(classes), kept)


def split_dataset(dataset: Dataset, validation_fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """A stratified (train, held-back) split."""
    from sklearn.model_selection import train_test_split

    if not 0.0 < validation_fraction < 1.0:
        raise FacemaskError(f"validation fraction must be between 0 and 1, got {validation_fraction}")
    smallest = min(dataset.counts().values())
    if smallest < 2 or round(smallest * validation_fraction) < 1:
        raise FacemaskError(f"too few images to hold back {validation_fraction:.0%} of every class "
                            f"(smallest class has {smallest})")
    indices = np.arange(len(dataset.labels))
    train, held = train_test_split(indices, test_size=validation_fraction, stratify=dataset.labels, random_state=seed)

    def subset(rows: np.ndarray) -> Dataset:
        return Dataset(dataset.images[rows], dataset.labels[rows], dataset.class_names,
                       [dataset.paths[i] for i in rows])

    return subset(train), subset(held)
