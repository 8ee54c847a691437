#!/usr/bin/env python3
"""How optimistic was the held-back accuracy of a model trained on the old random split? Re-create that split
(stratified `train_test_split`, the fraction and seed stored in the model's metadata), group the faces by
near-duplicate (facemask.data.group_near_duplicates: 64-bit difference hash, <= 5 bits) and print the model's
accuracy on all held-back faces (the recorded figure, re-measured here as the baseline) and on the held-back faces
whose near-duplicate group has no member in the training part (the honest figure).

    python benchmarks/held_back_groups.py --dataset ../shared/data/faces --model facemask/models/mask_detector.keras

Only meaningful for a model trained with the random split (the shipped model before issue 10): a model trained on
the grouped split has no near-copies across it by construction.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from sklearn.model_selection import train_test_split

from facemask.classification import MaskClassifier
from facemask.data import group_near_duplicates, load_dataset
from facemask.defaults import default_keras_model
from facemask.errors import FacemaskError, run_cli
from facemask.metadata import read_metadata


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/faces")
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="a model trained on the random split (default: the shipped .keras model)",
    )
    args = parser.parse_args(argv)
    args.model = args.model or default_keras_model()
    metadata = read_metadata(args.model)
    record = metadata.record if metadata else {}
    settings = record.get("settings", {})
    fraction, seed = settings.get("validation_fraction", 0.2), settings.get("seed", 42)
    classifier = MaskClassifier(args.model)
    dataset = load_dataset(args.dataset, classifier.input_size)
    if dataset.class_names != tuple(classifier.class_names):
        raise FacemaskError(
            f"the model's classes {classifier.class_names} are not the dataset's {dataset.class_names}: {args.dataset}"
        )
    train, held = train_test_split(
        np.arange(len(dataset.labels)), test_size=fraction, stratify=dataset.labels, random_state=seed
    )
    recorded = record.get("dataset", {}).get("held_back")
    measured = dataset.subset(held).counts()
    if recorded and recorded != measured:
        raise FacemaskError(f"this is not the model's split: held-back counts {measured}, recorded {recorded}")
    grouping = group_near_duplicates(dataset)
    clean = held[~np.isin(grouping.groups[held], grouping.groups[train])]
    # the most probable class, as the recorded held-back accuracy was measured (no decision threshold)
    predicted = [
        int(np.argmax([p.probabilities[name] for name in dataset.class_names]))
        for i in range(0, len(held), 64)
        for p in classifier.predict(dataset.images[held[i : i + 64]])
    ]
    correct = np.asarray(predicted) == dataset.labels[held]
    kept = np.isin(held, clean)
    print(
        f"dataset {args.dataset}: {len(dataset.labels)} faces, {grouping.number_of_groups} near-duplicate groups, "
        f"{grouping.in_multi_image_groups} faces in groups of 2 or more"
    )
    print(
        f"model {args.model}: random split, fraction {fraction}, seed {seed}: {len(train)} train, {len(held)} held "
        f"back; {len(held) - len(clean)} held-back faces have a near-copy in the training part"
    )
    print(
        f"held-back accuracy, all {len(held)} faces (baseline, recorded "
        f"{record.get('held_back', {}).get('accuracy', float('nan')):.4f}): {correct.mean():.4f}"
    )
    for index, name in enumerate(dataset.class_names):
        rows = kept & (dataset.labels[held] == index)
        print(f"  {name}: {int(rows.sum())} faces without a near-copy in training, recall {correct[rows].mean():.4f}")
    honest = correct[kept].mean()
    print(
        f"held-back accuracy, {int(kept.sum())} faces without a near-copy in training: {honest:.4f} "
        f"(errors {int((~correct[kept]).sum())}; ratio to the baseline {honest / correct.mean():.4f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
