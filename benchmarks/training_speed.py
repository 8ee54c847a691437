#!/usr/bin/env python3
"""The training recipe against the one it replaced, on the same faces and split, in one run.

    python benchmarks/training_speed.py --dataset ../shared/data/faces --scenes ../shared/data/scenes-train \
        [--fraction 0.25] [--epochs 15] [--baseline-epochs 20]

The recipe (facemask.training.train): the frozen layers of MobileNetV2 see `--variants` augmented versions of each
training face once, and the fine-tuned layers and the head then train on those cached features. The baseline is
the recipe before it: every epoch passes every training face, augmented anew, through the whole network (the
frozen layers included). Both start from the same ImageNet weights, train on the same faces (scene faces cut once
with the box jitter for the baseline) and are measured on the same held-back faces. `--fraction` keeps that share
of the photos and images of each source (whole groups), so the comparison fits in a session; printed: each stage's
seconds, the total, and the held-back accuracy of each recipe, and the ratio of the totals.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facemask.errors import FacemaskError, run_cli
from facemask.runtime import import_tensorflow
from facemask.training import (
    TrainingConfig,
    TrainingData,
    augmentation,
    build_model,
    degrade_resolution,
    load_training_data,
    train_on,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def keep_fraction(data: TrainingData, fraction: float, seed: int) -> TrainingData:
    """`data` with about `fraction` of its training images and scene photos (whole groups), held-back part whole."""
    rng = np.random.default_rng(seed)
    folder_train, scene_train = data.folder_train, data.scene_train
    if folder_train is not None:
        rows = np.sort(rng.permutation(len(folder_train.labels))[: max(2, int(len(folder_train.labels) * fraction))])
        folder_train = folder_train.subset(rows)
    if scene_train is not None:
        groups = np.unique(scene_train.groups)
        kept = rng.permutation(groups)[: max(1, int(len(groups) * fraction))]
        scene_train = scene_train.subset(np.flatnonzero(np.isin(scene_train.groups, kept)))
    return replace(data, folder_train=folder_train, scene_train=scene_train)


def baseline(data: TrainingData, config: TrainingConfig, epochs: int) -> tuple[dict[str, float], float]:
    """The recipe before caching: the whole network trained for `epochs`, each epoch augmenting every face anew."""
    tf = import_tensorflow()
    import keras

    stages = {}
    clock = time.time()
    images = data.images(False, config, np.random.default_rng(config.seed + 1000))
    labels = data.labels(False)
    held_images, held_labels = data.images(True, config, None), data.labels(True)
    classes = len(data.class_names)
    stages["crops"] = time.time() - clock
    clock = time.time()
    keras.utils.set_random_seed(config.seed)
    model = build_model(classes, config)
    steps = int(np.ceil(len(labels) / config.batch_size))
    model.compile(
        optimizer=keras.optimizers.Adam(
            keras.optimizers.schedules.InverseTimeDecay(
                config.learning_rate, decay_steps=steps * epochs, decay_rate=1.0
            )
        ),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    augment = augmentation(config.seed)
    low, high = config.low_resolution_sizes

    def prepare(batch, label):
        batch = augment(tf.cast(batch, tf.float32), training=True)
        chosen = tf.random.uniform([tf.shape(batch)[0]]) < config.low_resolution_fraction
        size = tf.random.uniform([], low, high + 1, dtype=tf.int32)
        return degrade_resolution(batch, chosen, size), tf.one_hot(label, classes)

    training = (
        tf.data.Dataset.from_tensor_slices((images, labels))
        .shuffle(len(labels), seed=config.seed)
        .batch(config.batch_size)
        .map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    model.fit(training, epochs=epochs, verbose=0)
    stages["fit"] = time.time() - clock
    clock = time.time()
    predicted = model.predict(held_images.astype(np.float32), batch_size=64, verbose=0).argmax(axis=1)
    stages["held_back"] = time.time() - clock
    return stages, float((predicted == held_labels).mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, nargs="*", default=[SHARED / "faces"])
    parser.add_argument("--scenes", type=Path, nargs="*", default=[SHARED / "scenes-train"])
    parser.add_argument("--fraction", type=float, default=1.0, help="share of the training faces used (0-1]")
    defaults = TrainingConfig()
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--variants", type=int, default=defaults.variants)
    parser.add_argument("--baseline-epochs", type=int, default=20, help="the replaced recipe's epochs (default 20)")
    args = parser.parse_args(argv)
    if not 0.0 < args.fraction <= 1.0:
        raise FacemaskError(f"--fraction must be above 0 and at most 1, got {args.fraction}")
    config = replace(defaults, epochs=args.epochs, variants=args.variants)
    clock = time.time()
    data = keep_fraction(load_training_data(args.dataset, args.scenes, config), args.fraction, config.seed)
    loading = time.time() - clock
    print(f"faces: train {len(data.labels(False))}, held back {len(data.labels(True))}; loading {loading:.0f} s")

    with tempfile.TemporaryDirectory() as folder:
        result = train_on(data, Path(folder) / "model.keras", Path(folder) / "model.png", config, verbose=0)
    recipe_total = sum(seconds for name, seconds in result.stages.items() if name != "load")
    print(
        "recipe:   "
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in result.stages.items() if name != "load")
        + f"; total {recipe_total:.0f} s; "
        f"held-back accuracy {result.metrics['accuracy']:.4f}"
    )
    stages, accuracy = baseline(data, config, args.baseline_epochs)
    baseline_total = sum(stages.values())
    print(
        "baseline: "
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in stages.items())
        + f"; total {baseline_total:.0f} s; held-back accuracy {accuracy:.4f}"
    )
    print(f"recipe / baseline time: {recipe_total / baseline_total:.2f}")
    return 0


if __name__ == "__main__":
    run_cli(main)
