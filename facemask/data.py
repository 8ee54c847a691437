"""Folder datasets: one sub-folder of images per class (from one or several roots), read once into memory, grouped
by near-duplicate and split for training so that no group straddles the split."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from imutils import paths

from facemask.errors import FacemaskError
from facemask.imageio import read_image

SOURCES_MANIFEST = "sources.csv"  # written by augment_masks.py: which real photo each synthesized image was made from
HASH_METHOD = "dhash64"  # 64-bit difference hash of the decoded image
NEAR_DUPLICATE_BITS = 5  # two images whose hashes differ in at most this many bits are near-copies
SPLIT_FOLDS = 20  # the held-back part is made of whole folds of 1/20 (or fewer, coarser folds on tiny datasets)


@dataclass
class Dataset:
    """Images (RGB, uint8, square) with integer labels indexing `class_names`, each image's difference hash and,
    for a synthesized image, the real photo it was made from."""

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    paths: list[Path]
    hashes: np.ndarray | None = None  # uint64, one per image
    sources: list[Path | None] | None = None

    def counts(self) -> dict[str, int]:
        """Number of images of each class."""
        return {name: int((self.labels == i).sum()) for i, name in enumerate(self.class_names)}

    def subset(self, rows: np.ndarray) -> Dataset:
        """The images at `rows`, with their hashes and sources."""
        return Dataset(
            self.images[rows],
            self.labels[rows],
            self.class_names,
            [self.paths[i] for i in rows],
            None if self.hashes is None else self.hashes[rows],
            None if self.sources is None else [self.sources[i] for i in rows],
        )


@dataclass(frozen=True)
class Grouping:
    """Near-duplicate groups of a dataset: `groups[i]` is image i's group; what the model metadata records."""

    groups: np.ndarray
    method: str
    max_distance: int
    synthesized_linked: int  # synthesized images tied to the group of the photo they were made from

    @property
    def number_of_groups(self) -> int:
        return int(len(np.unique(self.groups)))

    @property
    def in_multi_image_groups(self) -> int:
        """Images that share their group with at least one other image."""
        _, inverse, sizes = np.unique(self.groups, return_inverse=True, return_counts=True)
        return int((sizes[inverse] > 1).sum())

    def summary(self) -> dict:
        return {
            "method": self.method,
            "max_distance_bits": self.max_distance,
            "groups": self.number_of_groups,
            "images": int(len(self.groups)),
            "images_in_multi_image_groups": self.in_multi_image_groups,
            "synthesized_linked_to_source": self.synthesized_linked,
        }


@dataclass(frozen=True)
class Unreadable:
    """A file of the dataset that could not be used, and why."""

    path: Path
    reason: str


def dataset_roots(roots: str | Path | Sequence[str | Path]) -> list[Path]:
    """One dataset folder or several, as a list of paths."""
    return [Path(roots)] if isinstance(roots, (str, Path)) else [Path(root) for root in roots]


def _class_folders(root: Path) -> list[Path]:
    if not root.is_dir():
        raise FacemaskError(f"dataset folder not found: {root}")
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def find_class_folders(roots: str | Path | Sequence[str | Path]) -> dict[str, list[Path]]:
    """The image files of each class, class names sorted: the class folders of every root, merged by name (so
    generated `mask_worn_incorrectly/` faces in one root join the real faces of another).

    Raises FacemaskError unless there are at least two classes in all and every class folder has images.
    """
    roots = dataset_roots(roots)
    if not roots:
        raise FacemaskError("no dataset folder given")
    classes: dict[str, list[Path]] = {}
    for root in roots:
        folders = _class_folders(root)
        if not folders:
            raise FacemaskError(f"dataset folder has no class folders (e.g. with_mask, without_mask): {root}")
        for folder in folders:
            files = sorted(Path(p) for p in paths.list_images(str(folder)))
            if not files:
                raise FacemaskError(f"class folder has no images: {folder}")
            classes.setdefault(folder.name, []).extend(files)
    if len(classes) < 2:
        found = ", ".join(classes) or "none"
        where = roots[0] if len(roots) == 1 else ", ".join(map(str, roots))
        raise FacemaskError(
            f"dataset needs at least two class folders (e.g. with_mask, without_mask), found {found}: {where}"
        )
    return dict(sorted(classes.items()))


def difference_hash(image: np.ndarray) -> np.uint64:
    """The 64-bit difference hash of a BGR or gray image, shrunk to 9x8 cells: for each of the 8 rows, whether each
    of its last 8 cells is brighter than the cell to its left. Near-copies (rescaled, recompressed, slightly
    edited) differ in few bits."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    small = cv2.resize(gray, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, 1:] > small[:, :-1]).ravel()
    return np.uint64(int(np.packbits(bits).view(">u8")[0]))


def read_sources_manifest(path: str | Path) -> dict[Path, Path]:
    """A `sources.csv` (columns image, source): each synthesized image (relative to the manifest's folder),
    resolved, mapped to the real photo it was made from."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise FacemaskError(f"cannot read the sources manifest ({error}): {path}") from None
    if rows and not {"image", "source"} <= set(rows[0]):
        raise FacemaskError(f"sources manifest needs the columns image,source: {path}")
    return {(path.parent / row["image"]).resolve(): Path(row["source"]) for row in rows}


def sources_manifest(folder: str | Path, sources: dict[Path, Path]) -> bytes:
    """The `sources.csv` for `folder`: the rows of the one already there, if any, updated with `sources` (each
    image path relative to `folder` -> the photo it was made from, stored resolved)."""
    folder = Path(folder)
    manifest = folder / SOURCES_MANIFEST
    rows = {}
    if manifest.is_file():
        rows = {
            image.relative_to(folder.resolve()).as_posix(): source
            for image, source in read_sources_manifest(manifest).items()
        }
    for image, source in sources.items():
        rows[Path(image).as_posix()] = Path(source).resolve()
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["image", "source"])
    writer.writerows((image, str(source)) for image, source in sorted(rows.items()))
    return text.getvalue().encode("utf-8")


def find_sources(roots: Sequence[Path]) -> dict[Path, Path]:
    """The sources manifests of every root (in the root or in one of its class folders), merged."""
    sources: dict[Path, Path] = {}
    for root in roots:
        for manifest in [root / SOURCES_MANIFEST] + [folder / SOURCES_MANIFEST for folder in _class_folders(root)]:
            if manifest.is_file():
                sources.update(read_sources_manifest(manifest))
    return sources


def load_dataset(
    roots: str | Path | Sequence[str | Path], size: int, on_unreadable: Callable[[Unreadable], None] = lambda item: None
) -> Dataset:
    """Decode every image of the dataset once, as `size` x `size` RGB, with its difference hash (and its source
    photo where a sources manifest names one); unreadable files are reported and skipped."""
    roots = dataset_roots(roots)
    classes = find_class_folders(roots)
    manifest = find_sources(roots)
    images, labels, kept, hashes, sources = [], [], [], [], []
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
            hashes.append(difference_hash(image))
            sources.append(manifest.get(path.resolve()) if manifest else None)
            usable += 1
        if usable == 0:
            folders = ", ".join(str(root / name) for root in roots if (root / name).is_dir())
            raise FacemaskError(f"class folder has no readable images: {folders}")
    return Dataset(
        np.stack(images),
        np.asarray(labels, dtype=np.int64),
        tuple(classes),
        kept,
        np.asarray(hashes, dtype=np.uint64),
        sources,
    )


def near_duplicate_pairs(hashes: np.ndarray, max_distance: int = NEAR_DUPLICATE_BITS, chunk: int = 1024) -> np.ndarray:
    """Every pair (i, j), i < j, of hashes that differ in at most `max_distance` bits, as an (n, 2) array."""
    hashes = np.asarray(hashes, dtype=np.uint64)
    found = []
    for start in range(0, len(hashes), chunk):
        block = hashes[start : start + chunk]
        distance = np.bitwise_count(block[:, None] ^ hashes[None, :])
        rows, columns = np.nonzero(distance <= max_distance)
        rows = rows + start
        keep = columns > rows
        found.append(np.stack([rows[keep], columns[keep]], axis=1))
    return np.concatenate(found) if found else np.zeros((0, 2), np.int64)


def group_near_duplicates(dataset: Dataset, max_distance: int = NEAR_DUPLICATE_BITS) -> Grouping:
    """Near-duplicate groups: connected components of the images whose difference hashes differ in at most
    `max_distance` bits, where a synthesized image is also joined to the photo it was made from (to the photo
    itself when it is in the dataset, else to the photo's hash, read from disk, or at least to the other
    images made from it)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    hashes = dataset.hashes
    if hashes is None:
        raise FacemaskError("the dataset has no image hashes to group by (load it with load_dataset)")
    count = len(hashes)
    nodes = list(hashes)
    by_path = {path.resolve(): i for i, path in enumerate(dataset.paths)}
    outside: dict[Path, int] = {}
    links = []
    for i, source in enumerate(dataset.sources or []):
        if source is None:
            continue
        source = Path(source).resolve()
        target = by_path.get(source)
        if target is None:
            if source not in outside:
                outside[source] = len(nodes)
                try:
                    nodes.append(difference_hash(read_image(source)))
                except FacemaskError:  # the source is gone: its synthesized images still form one group
                    nodes.append(None)
            target = outside[source]
        links.append((i, target))
    hashed = np.array([node is not None for node in nodes])
    values = np.array([0 if node is None else node for node in nodes], dtype=np.uint64)
    index = np.flatnonzero(hashed)
    pairs = index[near_duplicate_pairs(values[hashed], max_distance)]
    edges = np.concatenate([pairs.reshape(-1, 2), np.asarray(links, dtype=np.int64).reshape(-1, 2)])
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(len(nodes), len(nodes)))
    _, components = connected_components(graph, directed=False)
    return Grouping(components[:count].astype(np.int64), HASH_METHOD, max_distance, len(links))


def _fold_count(validation_fraction: float, groups: int) -> tuple[int, int]:
    """(folds, held-back folds): the fewest folds, up to SPLIT_FOLDS and the number of groups, whose whole folds
    come nearest to `validation_fraction`."""
    best: tuple[float, int, int] | None = None
    for folds in range(2, max(2, min(SPLIT_FOLDS, groups)) + 1):
        held = min(folds - 1, max(1, round(validation_fraction * folds)))
        gap = abs(held / folds - validation_fraction)
        if best is None or gap < best[0] - 1e-9:
            best = (gap, folds, held)
    assert best is not None  # the range has at least one fold count
    return best[1], best[2]


def split_groups(
    labels: np.ndarray, groups: np.ndarray, validation_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, held-back rows): whole groups held back, stratified by class (scikit-learn's
    StratifiedGroupKFold; the held-back part is the first whole folds that make up `validation_fraction`)."""
    from sklearn.model_selection import StratifiedGroupKFold

    if not 0.0 < validation_fraction < 1.0:
        raise FacemaskError(f"validation fraction must be between 0 and 1, got {validation_fraction}")
    smallest = np.bincount(labels)[np.unique(labels)].min()
    if smallest < 2 or round(smallest * validation_fraction) < 1:
        raise FacemaskError(
            f"too few images to hold back {validation_fraction:.0%} of every class (smallest class has {smallest})"
        )
    if len(groups) != len(labels):
        raise FacemaskError(f"the grouping has {len(groups)} entries for {len(labels)} images")
    number = len(np.unique(groups))
    if number < 2:
        raise FacemaskError("every image is a near-copy of the others: no split can keep the held-back part apart")
    # StratifiedGroupKFold needs at least as many faces of every class as folds
    folds, held_folds = _fold_count(validation_fraction, min(number, int(smallest)))
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    held = np.sort(
        np.concatenate([test for _, (_, test) in zip(range(held_folds), splitter.split(labels, labels, groups))])
    )
    return np.setdiff1d(np.arange(len(labels)), held), held


def split_dataset(
    dataset: Dataset, validation_fraction: float, seed: int, grouping: Grouping | None = None
) -> tuple[Dataset, Dataset]:
    """A (train, held-back) split that keeps every near-duplicate group on one side, stratified by class
    (`split_groups`). `grouping` defaults to `group_near_duplicates(dataset)`."""
    if not 0.0 < validation_fraction < 1.0:
        raise FacemaskError(f"validation fraction must be between 0 and 1, got {validation_fraction}")
    grouping = grouping or group_near_duplicates(dataset)
    train, held = split_groups(dataset.labels, grouping.groups, validation_fraction, seed)
    return dataset.subset(train), dataset.subset(held)
