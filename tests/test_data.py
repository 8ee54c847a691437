"""Folder datasets: class discovery, the errors a bad dataset gives, decoding once and splitting."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from facemask.data import find_class_folders, load_dataset, split_dataset
from facemask.errors import FacemaskError


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
