"""Folder datasets: class discovery, the errors a bad dataset gives, decoding once and splitting."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from facemask.data import (
    NEAR_DUPLICATE_BITS,
    Dataset,
    difference_hash,
    find_class_folders,
    group_near_duplicates,
    load_dataset,
    near_duplicate_pairs,
    sources_manifest,
    split_dataset,
    split_groups,
)
from facemask.errors import FacemaskError
from facemask.imageio import read_image


def make_dataset(faces_dir, root, per_class):
    """A small copy of the real training faces: `per_class` images of each class."""
    for name in ("with_mask", "without_mask"):
        (root / name).mkdir(parents=True)
        for path in sorted((faces_dir / name).glob("*.jpg"))[:per_class]:
            shutil.copy(path, root / name / path.name)
    return root


def test_one_class_is_refused(faces_dir, tmp_path):
    make_dataset(faces_dir, tmp_path, 3)
    shutil.rmtree(tmp_path / "without_mask")
    with pytest.raises(FacemaskError, match="at least two class folders"):
        find_class_folders(tmp_path)


def test_empty_class_is_refused(faces_dir, tmp_path):
    make_dataset(faces_dir, tmp_path, 3)
    for path in (tmp_path / "without_mask").iterdir():
        path.unlink()
    with pytest.raises(FacemaskError, match="no images") as raised:
        find_class_folders(tmp_path)
    assert "without_mask" in str(raised.value)


def test_missing_dataset_folder(tmp_path):
    with pytest.raises(FacemaskError, match="not found"):
        find_class_folders(tmp_path / "nothing")


def test_loading_decodes_real_faces_and_skips_broken_files(faces_dir, tmp_path):
    make_dataset(faces_dir, tmp_path, 6)
    (tmp_path / "with_mask" / "broken.jpg").write_bytes(b"not a jpeg")
    skipped = []
    dataset = load_dataset(tmp_path, 96, skipped.append)
    assert [item.path.name for item in skipped] == ["broken.jpg"]
    assert dataset.images.shape == (12, 96, 96, 3) and dataset.images.dtype == np.uint8
    assert dataset.class_names == ("with_mask", "without_mask")
    assert dataset.counts() == {"with_mask": 6, "without_mask": 6}


def test_split_is_stratified_and_disjoint(faces_dir, tmp_path):
    make_dataset(faces_dir, tmp_path, 10)
    dataset = load_dataset(tmp_path, 32)
    train, held = split_dataset(dataset, 0.2, seed=1)
    assert held.counts() == {"with_mask": 2, "without_mask": 2}
    assert train.counts() == {"with_mask": 8, "without_mask": 8}
    assert not set(train.paths) & set(held.paths)
    with pytest.raises(FacemaskError, match="validation fraction"):
        split_dataset(dataset, 1.5, seed=1)


# Near-duplicate groups and the grouped split ---------------------------------------------------------------------


def gradient(width: int = 90, height: int = 80, rising: bool = True) -> np.ndarray:
    row = np.linspace(0, 255, width) if rising else np.linspace(255, 0, width)
    return np.tile(row, (height, 1)).astype(np.uint8)


def test_difference_hash_bits_follow_brightness():
    # every cell is brighter than its left neighbour on a rising ramp, none on a falling one
    assert difference_hash(gradient(rising=True)) == np.uint64(2**64 - 1)
    assert difference_hash(gradient(rising=False)) == np.uint64(0)
    assert difference_hash(cv2.cvtColor(gradient(), cv2.COLOR_GRAY2BGR)) == difference_hash(gradient())


def test_a_rescaled_recompressed_face_is_a_near_copy_and_another_face_is_not(faces_dir):
    first, second = sorted((faces_dir / "without_mask").glob("*.jpg"))[:2]
    face = read_image(first)
    _ok, encoded = cv2.imencode(
        ".jpg", cv2.resize(face, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA), [cv2.IMWRITE_JPEG_QUALITY, 60]
    )
    copy = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    hashes = np.array(
        [difference_hash(face), difference_hash(copy), difference_hash(read_image(second))], dtype=np.uint64
    )
    pairs = near_duplicate_pairs(hashes, NEAR_DUPLICATE_BITS)
    assert pairs.tolist() == [[0, 1]]


def test_pairs_within_the_distance_chain_into_one_group():
    # 0 and 31 differ in 5 bits, 31 and 63 in 1, 0 and 63 in 6; the last is 26 or more bits from all of them
    hashes = np.array([0, 0b11111, 0b111111, 0xFFFFFFFF00000000], dtype=np.uint64)
    assert near_duplicate_pairs(hashes, 5).tolist() == [[0, 1], [1, 2]]
    assert near_duplicate_pairs(hashes, 4).tolist() == [[1, 2]]
    dataset = synthetic_dataset(hashes, [0, 0, 1, 1])
    grouping = group_near_duplicates(dataset, 5)
    assert grouping.groups[0] == grouping.groups[1] == grouping.groups[2] != grouping.groups[3]
    assert grouping.number_of_groups == 2 and grouping.in_multi_image_groups == 3


def synthetic_dataset(hashes, labels, sources=None, names=("with_mask", "without_mask")) -> Dataset:
    count = len(labels)
    return Dataset(
        np.zeros((count, 4, 4, 3), np.uint8),
        np.asarray(labels),
        tuple(names),
        [Path(f"/nowhere/{i}.jpg") for i in range(count)],
        np.asarray(hashes, dtype=np.uint64),
        sources if sources is not None else [None] * count,
    )


def spread_hashes(count: int, seed: int = 0) -> np.ndarray:
    """`count` random 64-bit hashes, no two within 5 bits of each other (checked)."""
    hashes = np.random.default_rng(seed).integers(0, 2**63, count, dtype=np.int64).astype(np.uint64)
    assert len(near_duplicate_pairs(hashes)) == 0
    return hashes


def test_synthesized_images_join_the_group_of_their_source(faces_dir, tmp_path):
    outside_photo = sorted((faces_dir / "without_mask").glob("*.jpg"))[0]
    hashes = spread_hashes(7)
    hashes[5] = difference_hash(read_image(outside_photo))  # image 5 is a copy of a photo outside the dataset
    gone = tmp_path / "gone.jpg"
    sources = [None, None, Path("/nowhere/0.jpg"), gone, gone, None, outside_photo]
    dataset = synthetic_dataset(hashes, [0, 1, 2, 2, 2, 1, 2], sources, ("a", "b", "c"))
    grouping = group_near_duplicates(dataset)
    groups = grouping.groups
    assert groups[2] == groups[0]  # made from a photo in the dataset
    assert groups[3] == groups[4]  # made from a photo that is gone: kept together
    assert groups[6] == groups[5]  # made from an outside photo that image 5 is a copy of
    assert len({groups[0], groups[1], groups[3], groups[5]}) == 4
    assert grouping.synthesized_linked == 4 and grouping.number_of_groups == 4


def test_grouped_split_keeps_groups_apart_and_is_stratified():
    rng = np.random.default_rng(3)
    sizes = rng.integers(1, 4, 120)  # 120 groups of 1-3 near-copies
    base = spread_hashes(len(sizes), seed=4)
    hashes = np.concatenate([[h ^ np.uint64(1 << k) for k in range(size)] for h, size in zip(base, sizes)])
    labels = np.concatenate([[i % 2] * size for i, size in enumerate(sizes)])
    dataset = synthetic_dataset(hashes, labels)
    grouping = group_near_duplicates(dataset)
    assert grouping.number_of_groups == len(sizes)
    train, held = split_dataset(dataset, 0.2, seed=7, grouping=grouping)
    group_of = dict(zip(dataset.paths, grouping.groups))
    assert not {group_of[p] for p in train.paths} & {group_of[p] for p in held.paths}
    assert len(train.paths) + len(held.paths) == len(dataset.paths)
    for name, count in dataset.counts().items():
        assert abs(held.counts()[name] / count - 0.2) < 0.05
    again, _ = split_dataset(dataset, 0.2, seed=7, grouping=grouping)
    other, _ = split_dataset(dataset, 0.2, seed=8, grouping=grouping)
    assert again.paths == train.paths and other.paths != train.paths
    _, quarter = split_dataset(dataset, 0.3, seed=7, grouping=grouping)
    assert abs(len(quarter.paths) / len(dataset.paths) - 0.3) < 0.05


def test_a_tiny_set_splits_whatever_the_fraction():
    """Eight faces a class: the folds never outnumber a class's faces (scikit-learn refuses that)."""
    labels = np.repeat([0, 1, 2], 8)
    groups = np.arange(len(labels))
    for fraction in (0.1, 0.15, 0.2, 0.3):
        train, held = split_groups(labels, groups, fraction, seed=1)
        assert len(held) and len(train) + len(held) == len(labels)
        assert set(labels[held]) == {0, 1, 2}


@pytest.mark.slow  # reads all 3,960 training faces (7-20 s)
def test_no_near_duplicate_group_straddles_the_split_of_the_real_faces(faces_dir):
    dataset = load_dataset(faces_dir, 32)
    grouping = group_near_duplicates(dataset)
    assert grouping.in_multi_image_groups > 0  # the real faces do hold near-copies
    train, held = split_dataset(dataset, 0.2, seed=42, grouping=grouping)
    group_of = dict(zip(dataset.paths, grouping.groups))
    assert not {group_of[p] for p in train.paths} & {group_of[p] for p in held.paths}
    for name, count in dataset.counts().items():
        assert abs(held.counts()[name] / count - 0.2) < 0.02


def test_class_folders_of_several_roots_merge_by_name(faces_dir, tmp_path):
    real = make_dataset(faces_dir, tmp_path / "real", 3)
    extra = tmp_path / "generated" / "mask_worn_incorrectly"
    extra.mkdir(parents=True)
    for path in sorted((faces_dir / "with_mask").glob("*.jpg"))[5:7]:
        shutil.copy(path, extra / path.name)
    more = tmp_path / "more" / "with_mask"
    more.mkdir(parents=True)
    shutil.copy(sorted((faces_dir / "with_mask").glob("*.jpg"))[9], more / "extra.jpg")
    classes = find_class_folders([real, tmp_path / "generated", tmp_path / "more"])
    assert list(classes) == ["mask_worn_incorrectly", "with_mask", "without_mask"]
    assert [len(files) for files in classes.values()] == [2, 4, 3]
    with pytest.raises(FacemaskError, match="at least two class folders"):
        find_class_folders([tmp_path / "generated"])
    with pytest.raises(FacemaskError, match="not found"):
        find_class_folders([real, tmp_path / "missing"])


def test_sources_manifest_links_loaded_images_to_their_photos(faces_dir, tmp_path):
    real = make_dataset(faces_dir, tmp_path / "real", 4)
    generated = tmp_path / "generated" / "mask_worn_incorrectly"
    generated.mkdir(parents=True)
    photo = sorted((real / "without_mask").iterdir())[1]
    face = read_image(photo)
    face[face.shape[0] // 2 :] = (40, 90, 160)  # a crude "mask" over the lower half: the hash changes
    cv2.imwrite(str(generated / "made, from photo.jpg"), face)
    (generated / "sources.csv").write_bytes(sources_manifest(generated, {Path("made, from photo.jpg"): photo}))
    dataset = load_dataset([real, tmp_path / "generated"], 32)
    made = [p.name for p in dataset.paths].index("made, from photo.jpg")
    assert dataset.sources[made] == photo.resolve()
    grouping = group_near_duplicates(dataset)
    assert grouping.groups[made] == grouping.groups[dataset.paths.index(photo)]
    assert grouping.summary()["synthesized_linked_to_source"] == 1
