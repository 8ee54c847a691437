"""Training the mask classifier: MobileNetV2 (ImageNet) with a small softmax head, on a folder dataset."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from facemask.data import Dataset, Unreadable, dataset_roots, group_near_duplicates, load_dataset, split_dataset
from facemask.errors import FacemaskError
from facemask.metadata import ModelMetadata, add_model
from facemask.outputs import OutputSet
from facemask.runtime import import_tensorflow

IMAGENET_SIZES = (96, 128, 160, 192, 224)


@dataclass(frozen=True)
class TrainingConfig:
    """Every setting of a training run (the defaults are the recipe)."""

    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 1e-4
    validation_fraction: float = 0.2
    seed: int = 42
    image_size: int = 224
    fine_tune_layers: int = 30  # the top three blocks adapt to small, blurred faces (docs/evaluation.md)
    low_resolution_fraction: float = 0.5
    low_resolution_sizes: tuple[int, int] = (12, 64)
    photometric: float = 0.0  # brightness and contrast jitter, as a fraction (docs/evaluation.md)
    class_weight: str = "none"  # "balanced": each class weighs the same in the loss, however many faces it has


@dataclass
class TrainingResult:
    """What a run produced: per-epoch history, held-back metrics and the report text."""

    history: dict[str, list[float]]
    metrics: dict
    report: str


def imagenet_weights_file(size: int) -> Path:
    """Where Keras looks for the ImageNet MobileNetV2 weights for `size` px inputs before it downloads them."""
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    nearest = size if size in IMAGENET_SIZES else 224
    return home / "models" / f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{nearest}_no_top.h5"


CLASS_WEIGHTS = ("none", "balanced")


def class_weights(labels: np.ndarray, num_classes: int, mode: str) -> dict[int, float] | None:
    """Loss weight per class index for `mode`: None for "none"; for "balanced", n_samples / (n_classes * n_class)
    as scikit-learn computes it, so a class with half the faces of another counts twice per face."""
    if mode not in CLASS_WEIGHTS:
        raise FacemaskError(f"class weight must be one of {', '.join(CLASS_WEIGHTS)}, got {mode!r}")
    if mode == "none":
        return None
    from sklearn.utils.class_weight import compute_class_weight

    present = np.unique(labels)
    if len(present) < num_classes:
        raise FacemaskError("balanced class weights need faces of every class in the training split")
    weights = compute_class_weight("balanced", classes=np.arange(num_classes), y=labels)
    return {index: float(weight) for index, weight in enumerate(weights)}


def build_model(num_classes: int, config: TrainingConfig):
    """MobileNetV2 base (ImageNet, frozen except its last `fine_tune_layers`) with the recipe's head.

    The model takes RGB pixels 0-255 and scales them to [-1, 1] itself, so every user of it feeds raw crops.
    """
    import_tensorflow()
    import keras
    from keras import layers

    size = config.image_size
    try:
        base = keras.applications.MobileNetV2(weights="imagenet", include_top=False, input_shape=(size, size, 3))
    except Exception as error:  # no network and no cached weights
        target = imagenet_weights_file(size)
        raise FacemaskError(f"cannot get the ImageNet MobileNetV2 weights ({type(error).__name__}): connect to the "
                            f"internet once, or copy {target.name} to {target}") from None
    base.trainable = config.fine_tune_layers > 0
    if config.fine_tune_layers > 0:
        for layer in base.layers[:-config.fine_tune_layers]:
            layer.trainable = False
        for layer in base.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.trainable = False
    inputs = keras.Input((size, size, 3), name="rgb_pixels")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale_to_unit_range")(inputs)
    x = base(x, training=False)
    pool = max(1, size // 32)
    x = layers.AveragePooling2D(pool_size=(pool, pool))(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="mask_classifier")


def augmentation(seed: int, photometric: float = 0.0):
    """The recipe's augmentation: rotation 20 deg, zoom 0.15, shifts 0.2, shear 0.15, horizontal flips, and with
    `photometric` > 0 brightness shifted by up to that fraction of the 0-255 range and contrast scaled by up to
    that fraction, as in dim or hazy scenes."""
    import keras
    from keras import layers

    steps = [
        layers.RandomRotation(20.0 / 360.0, fill_mode="nearest", seed=seed),
        layers.RandomZoom(0.15, fill_mode="nearest", seed=seed),
        layers.RandomTranslation(0.2, 0.2, fill_mode="nearest", seed=seed),
        layers.RandomShear(x_factor=0.15, y_factor=0.15, fill_mode="nearest", seed=seed),
        layers.RandomFlip("horizontal", seed=seed),
    ]
    if photometric > 0:
        steps += [layers.RandomBrightness(photometric, value_range=(0, 255), seed=seed),
                  layers.RandomContrast(photometric, value_range=(0, 255), seed=seed)]
    return keras.Sequential(steps, name="augmentation")


def degrade_resolution(images, fraction: float, sizes: tuple[int, int], seed: int):
    """Shrink a random `fraction` of a batch to between `sizes` pixels and enlarge it back, blurring it as a face
    that small is blurred: the training faces are close-ups, while faces in real scenes are often 12-64 px."""
    import tensorflow as tf

    size = tf.random.uniform([], sizes[0], sizes[1] + 1, dtype=tf.int32, seed=seed)
    small = tf.image.resize(images, tf.stack([size, size]), antialias=True)
    restored = tf.image.resize(small, tf.shape(images)[1:3], method="bilinear")
    chosen = tf.random.uniform(tf.stack([tf.shape(images)[0], 1, 1, 1]), seed=seed + 1) < fraction
    return tf.where(chosen, restored, images)


def make_datasets(train: Dataset, held: Dataset, config: TrainingConfig):
    """tf.data pipelines over the decoded images: shuffled and augmented for training, plain for evaluation."""
    import tensorflow as tf

    num_classes = len(train.class_names)
    augment = augmentation(config.seed, config.photometric)

    def one_hot(images, labels):
        return tf.cast(images, tf.float32), tf.one_hot(labels, num_classes)

    training = (tf.data.Dataset.from_tensor_slices((train.images, train.labels))
                .shuffle(len(train.labels), seed=config.seed, reshuffle_each_iteration=True)
                .batch(config.batch_size)
                .map(one_hot, num_parallel_calls=tf.data.AUTOTUNE)
                .map(lambda x, y: (augment(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
                .map(lambda x, y: (degrade_resolution(x, config.low_resolution_fraction, config.low_resolution_sizes,
                                                      config.seed), y), num_parallel_calls=tf.data.AUTOTUNE)
                .prefetch(tf.data.AUTOTUNE))
    evaluation = (tf.data.Dataset.from_tensor_slices((held.images, held.labels))
                  .batch(config.batch_size)
                  .map(one_hot, num_parallel_calls=tf.data.AUTOTUNE)
                  .cache()
                  .prefetch(tf.data.AUTOTUNE))
    return training, evaluation


def held_back_metrics(model, held: Dataset, batch_size: int) -> tuple[dict, str]:
    """Accuracy, per-class report (dict and text) and confusion matrix of `model` on the held-back split."""
    from sklearn.metrics import classification_report, confusion_matrix

    probabilities = model.predict(held.images.astype(np.float32), batch_size=batch_size, verbose=0)
    predicted = probabilities.argmax(axis=1)
    names = list(held.class_names)
    labels = list(range(len(names)))
    report_text = classification_report(held.labels, predicted, labels=labels, target_names=names, digits=4,
                                        zero_division=0)
    report = classification_report(held.labels, predicted, labels=labels, target_names=names, output_dict=True,
                                   zero_division=0)
    metrics = {"accuracy": float((predicted == held.labels).mean()), "report": report,
               "confusion_matrix": confusion_matrix(held.labels, predicted, labels=labels).tolist()}
    return metrics, report_text


def save_plot(history: dict[str, list[float]], path: str | Path) -> None:
    """Training and held-back loss and accuracy per epoch, as an image at `path` (a temporary file of an
    OutputSet: the caller publishes it with the model)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    path = Path(path)
    epochs = np.arange(1, len(history["loss"]) + 1)
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(11, 4.2))
    loss_axis.plot(epochs, history["loss"], label="train")
    loss_axis.plot(epochs, history["val_loss"], label="held-back")
    loss_axis.set(title="Loss", xlabel="epoch", ylabel="categorical cross-entropy")
    accuracy_axis.plot(epochs, history["accuracy"], label="train")
    accuracy_axis.plot(epochs, history["val_accuracy"], label="held-back")
    accuracy_axis.set(title="Accuracy", xlabel="epoch", ylabel="accuracy")
    for axis in (loss_axis, accuracy_axis):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    try:
        figure.savefig(path, dpi=110, format=(path.suffix.lstrip(".") or "png").lower())
    finally:
        plt.close(figure)


def save_for_inference(model, path: str | Path) -> None:
    """Save `model` for inference, without the optimizer's state (which more than doubles the file once base
    layers are fine-tuned)."""
    import keras

    inference = keras.models.clone_model(model)
    inference.set_weights(model.get_weights())
    inference.save(path)


def train(roots: str | Path | Sequence[str | Path], model_path: str | Path, plot_path: str | Path,
          config: TrainingConfig, on_unreadable: Callable[[Unreadable], None] = lambda item: None,
          verbose: int = 1) -> TrainingResult:
    """Train on the class folders under `roots` (merged by class name), held-back split by near-duplicate
    group; write the model, its metadata JSON and the plot."""
    started = time.time()
    roots = dataset_roots(roots)
    dataset = load_dataset(roots, config.image_size, on_unreadable)  # a bad dataset fails before TF starts
    grouping = group_near_duplicates(dataset)
    try:
        train_split, held = split_dataset(dataset, config.validation_fraction, config.seed, grouping)
    except FacemaskError as problem:
        raise FacemaskError(f"{problem}: {', '.join(map(str, roots))}") from None
    weights = class_weights(train_split.labels, len(dataset.class_names), config.class_weight)
    import_tensorflow()
    import keras

    keras.utils.set_random_seed(config.seed)
    model = build_model(len(dataset.class_names), config)
    steps_per_epoch = int(np.ceil(len(train_split.labels) / config.batch_size))
    schedule = keras.optimizers.schedules.InverseTimeDecay(
        config.learning_rate, decay_steps=steps_per_epoch * config.epochs, decay_rate=1.0)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    training, evaluation = make_datasets(train_split, held, config)
    fitted = model.fit(training, validation_data=evaluation, epochs=config.epochs, class_weight=weights,
                       verbose=verbose)
    history = {key: [float(v) for v in values] for key, values in fitted.history.items()}
    metrics, report = held_back_metrics(model, held, config.batch_size)

    metadata = ModelMetadata(tuple(dataset.class_names), config.image_size, record={
        "input": {"size": config.image_size, "channels": "RGB", "range": "0-255 (the model scales to [-1, 1])"},
        "settings": asdict(config),
        "dataset": {"roots": [str(root) for root in roots], "counts": dataset.counts(), "train": train_split.counts(),
                    "held_back": held.counts(), "grouping": grouping.summary()},
        "class_weights": None if weights is None else {dataset.class_names[i]: round(w, 4) for i, w in weights.items()},
        "held_back": metrics,
        "history": history,
        "seconds": round(time.time() - started, 1),
        "versions": {"keras": keras.__version__, "python": platform.python_version()},
    })
    with OutputSet() as outputs:  # the model, its metadata and its plot are published together
        add_model(outputs, model_path, lambda temporary: save_for_inference(model, temporary), metadata)
        outputs.write(plot_path, lambda temporary: save_plot(history, temporary), keep_suffix=True)
        outputs.publish()
    return TrainingResult(history, metrics, report)
