"""Training the mask classifier: MobileNetV2 (ImageNet) with a small softmax head, on a folder dataset."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from facemask.data import (
    Dataset,
    Unreadable,
    dataset_roots,
    group_near_duplicates,
    load_dataset,
    split_dataset,
    split_groups,
)
from facemask.errors import FacemaskError
from facemask.metadata import ModelMetadata, add_model
from facemask.outputs import OutputSet
from facemask.runtime import import_tensorflow
from facemask.scene_faces import BoxJitter, SceneFaces, load_scene_faces

IMAGENET_SIZES = (96, 128, 160, 192, 224)


@dataclass(frozen=True)
class TrainingConfig:
    """Every setting of a training run (the defaults are the recipe)."""

    epochs: int = 15
    batch_size: int = 32
    learning_rate: float = 1e-4
    validation_fraction: float = 0.15
    seed: int = 42
    image_size: int = 224
    fine_tune_layers: int = 47  # MobileNetV2's last five blocks (12-16) and final conv adapt to small, blurred faces
    variants: int = 4  # augmented versions of each training face, passed once through the frozen layers
    low_resolution_fraction: float = 0.5
    low_resolution_sizes: tuple[int, int] = (12, 64)
    jitter: BoxJitter = BoxJitter()  # scene faces: how far a crop's box strays from the annotated box

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.variants < 1:
            raise FacemaskError("epochs, batch size and variants must be at least 1")
        if self.image_size < 32 or self.fine_tune_layers < 0:
            raise FacemaskError("the image size must be at least 32 and the fine-tuned layers 0 or more")
        if not 0.0 <= self.low_resolution_fraction <= 1.0:
            raise FacemaskError(
                f"the low-resolution fraction must be between 0 and 1, got {self.low_resolution_fraction}"
            )


@dataclass
class TrainingResult:
    """What a run produced: per-epoch history, held-back metrics, the report text and each stage's seconds."""

    history: dict[str, list[float]]
    metrics: dict
    report: str
    stages: dict[str, float]


def imagenet_weights_file(size: int) -> Path:
    """Where Keras looks for the ImageNet MobileNetV2 weights for `size` px inputs before it downloads them."""
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    nearest = size if size in IMAGENET_SIZES else 224
    return home / "models" / f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{nearest}_no_top.h5"


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
    except Exception as error:  # noqa: BLE001 (no network and no cached weights: any type)
        target = imagenet_weights_file(size)
        raise FacemaskError(
            f"cannot get the ImageNet MobileNetV2 weights ({type(error).__name__}): connect to the "
            f"internet once, or copy {target.name} to {target}"
        ) from None
    base.trainable = config.fine_tune_layers > 0
    if config.fine_tune_layers > 0:
        for layer in base.layers[: -config.fine_tune_layers]:
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


def augmentation(seed: int):
    """The recipe's augmentation: rotation 20 deg, zoom 0.15, shifts 0.2, shear 0.15, horizontal flips."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            layers.RandomRotation(20.0 / 360.0, fill_mode="nearest", seed=seed),
            layers.RandomZoom(0.15, fill_mode="nearest", seed=seed),
            layers.RandomTranslation(0.2, 0.2, fill_mode="nearest", seed=seed),
            layers.RandomShear(x_factor=0.15, y_factor=0.15, fill_mode="nearest", seed=seed),
            layers.RandomFlip("horizontal", seed=seed),
        ],
        name="augmentation",
    )


def degrade_resolution(images, chosen, size):
    """The batch with the images where `chosen` (one bool each) shrunk to `size` pixels and enlarged back, blurred
    as a face that small is blurred: many faces in real scenes are 12-64 px."""
    import tensorflow as tf

    small = tf.image.resize(images, tf.stack([size, size]), antialias=True)
    restored = tf.image.resize(small, tf.shape(images)[1:3], method="bilinear")
    return tf.where(tf.reshape(chosen, [-1, 1, 1, 1]), restored, images)


def _base(model):
    """The MobileNetV2 inside a model of `build_model`."""
    import keras

    return next(layer for layer in model.layers if isinstance(layer, keras.Model))


def split_model(model, fine_tune_layers: int):
    """`model` (from `build_model`) as two models sharing its layers: the frozen part (pixels to the features
    where fine-tuning begins) and the trained part (those features to the class probabilities). Training the
    second trains `model`."""
    import keras

    base = _base(model)
    if fine_tune_layers >= len(base.layers):
        raise FacemaskError(f"MobileNetV2 has {len(base.layers)} layers: cannot fine-tune {fine_tune_layers}")
    cut = base.layers[-fine_tune_layers - 1]
    pixels = keras.Input(model.input.shape[1:], name="rgb_pixels")
    frozen = keras.Model(base.input, cut.output, name="frozen_part")
    trunk = keras.Model(pixels, frozen(model.get_layer("scale_to_unit_range")(pixels)), name="trunk")
    features = keras.Input(cut.output.shape[1:], name="features")
    try:
        x = keras.Model(cut.output, base.output, name="fine_tuned_part")(features) if fine_tune_layers else features
    except ValueError as error:  # the cut falls inside a residual block
        raise FacemaskError(
            f"fine-tuning the last {fine_tune_layers} layers cuts MobileNetV2 inside a residual "
            f"block; choose another number ({error})"
        ) from None
    for layer in model.layers[model.layers.index(base) + 1 :]:
        x = layer(x)
    return trunk, keras.Model(features, x, name="head")


def frozen_features(
    trunk, images: np.ndarray, config: TrainingConfig, seed: int | None, batch_size: int = 64
) -> np.ndarray:
    """The frozen part's output (float16) for each RGB image; with `seed`, of an augmented version of it (the
    recipe's augmentation and low-resolution blur), else of the image as it is."""
    import tensorflow as tf

    augment = None if seed is None else augmentation(seed)
    rng = np.random.default_rng(seed)

    @tf.function(reduce_retracing=True)
    def forward(batch, chosen, size):
        batch = tf.cast(batch, tf.float32)
        if augment is not None:
            batch = degrade_resolution(augment(batch, training=True), chosen, size)
        return trunk(batch, training=False)

    out = None
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        chosen = rng.random(len(batch)) < config.low_resolution_fraction
        size = np.int32(rng.integers(config.low_resolution_sizes[0], config.low_resolution_sizes[1] + 1))
        part = forward(tf.constant(batch), tf.constant(chosen), tf.constant(size)).numpy().astype(np.float16)
        if out is None:
            out = np.empty((len(images), *part.shape[1:]), np.float16)
        out[start : start + len(part)] = part
    assert out is not None, "no images"
    return out


def _feature_batches(
    features: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    batch_size: int,
    seed: int,
):
    """Keras batches over cached features (variants x faces x ...): every epoch each face once, in a new order,
    as one of its variants drawn at random."""
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.targets = np.eye(num_classes, dtype=np.float32)[labels]
            self.on_epoch_end()

        def __len__(self) -> int:
            return int(np.ceil(len(labels) / batch_size))

        def __getitem__(self, index: int):
            rows = self.order[index * batch_size : (index + 1) * batch_size]
            return features[self.variant[rows], rows].astype(np.float32), self.targets[rows]

        def on_epoch_end(self) -> None:
            self.order = self.rng.permutation(len(labels))
            self.variant = self.rng.integers(0, len(features), len(labels))

    return Batches()


def held_back_metrics(
    probabilities: np.ndarray, labels: np.ndarray, class_names: Sequence[str], sources: np.ndarray | None = None
) -> tuple[dict, str]:
    """Accuracy, per-class report (dict and text) and confusion matrix of the held-back `probabilities`; with
    `sources` (a name per face), the accuracy of each source too."""
    from sklearn.metrics import classification_report, confusion_matrix

    predicted = probabilities.argmax(axis=1)
    names = list(class_names)
    indices = list(range(len(names)))
    report_text = classification_report(
        labels, predicted, labels=indices, target_names=names, digits=4, zero_division=0
    )
    report = classification_report(
        labels, predicted, labels=indices, target_names=names, output_dict=True, zero_division=0
    )
    metrics = {
        "accuracy": float((predicted == labels).mean()),
        "report": report,
        "confusion_matrix": confusion_matrix(labels, predicted, labels=indices).tolist(),
    }
    if sources is not None:
        metrics["accuracy_by_source"] = {
            str(name): float((predicted == labels)[sources == name].mean()) for name in np.unique(sources)
        }
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


@dataclass(frozen=True)
class TrainingData:
    """The faces of a training run, split: folder images (near-duplicate groups) and scene faces (whole photos),
    `validation_fraction` of each held back; `record` describes both for the model's metadata."""

    class_names: tuple[str, ...]
    folder_train: Dataset | None
    folder_held: Dataset | None
    scene_train: SceneFaces | None
    scene_held: SceneFaces | None
    record: dict

    def images(self, held: bool, config: TrainingConfig, rng: np.random.Generator | None) -> np.ndarray:
        """The training (or held-back) faces as RGB crops: folder images as they are, scene faces cut as the
        pipeline cuts a detection (its first view, CropSettings) from their box, jittered with `rng`."""
        from facemask.settings import CropSettings

        crop = CropSettings()
        folders, scenes = (self.folder_held, self.scene_held) if held else (self.folder_train, self.scene_train)
        pieces = [] if folders is None else [folders.images]
        if scenes is not None:
            pieces.append(scenes.crops(config.image_size, crop.margin, crop.square, config.jitter, rng))
        return np.concatenate(pieces)

    def labels(self, held: bool) -> np.ndarray:
        """The class index of each face of `images(held)`, in the same order."""
        folders, scenes = (self.folder_held, self.scene_held) if held else (self.folder_train, self.scene_train)
        return np.concatenate([part.labels for part in (folders, scenes) if part is not None])

    def sources(self, held: bool) -> np.ndarray:
        """ "folders" or "scenes" for each face of `images(held)`."""
        folders, scenes = (self.folder_held, self.scene_held) if held else (self.folder_train, self.scene_train)
        return np.asarray(
            [
                name
                for name, part in (("folders", folders), ("scenes", scenes))
                if part is not None
                for _ in range(len(part.labels))
            ]
        )


def load_training_data(
    roots: str | Path | Sequence[str | Path],
    scenes: Sequence[str | Path],
    config: TrainingConfig,
    on_unreadable: Callable[[Unreadable], None] = lambda item: None,
) -> TrainingData:
    """Read the class folders under `roots` (merged by class name; may be empty when `scenes` is not) and the
    annotated faces of the scene sets in `scenes`, with one set of class names for both, and split them."""
    roots = dataset_roots(roots)
    if not roots and not scenes:
        raise FacemaskError("nothing to train on: give a dataset folder or a scene set")
    folders = load_dataset(roots, config.image_size, on_unreadable) if roots else None
    scene_faces = load_scene_faces(scenes, on_unreadable) if scenes else None
    class_names = tuple(
        sorted(set(folders.class_names if folders else ()) | set(scene_faces.class_names if scene_faces else ()))
    )
    if len(class_names) < 2:
        raise FacemaskError(f"training needs at least two classes, found {', '.join(class_names)}")
    record: dict[str, dict] = {}
    folder_train = folder_held = scene_train = scene_held = None
    if folders is not None:
        folders = Dataset(
            folders.images,
            np.asarray([class_names.index(folders.class_names[i]) for i in folders.labels], np.int64),
            class_names,
            folders.paths,
            folders.hashes,
            folders.sources,
        )
        grouping = group_near_duplicates(folders)
        try:
            folder_train, folder_held = split_dataset(folders, config.validation_fraction, config.seed, grouping)
        except FacemaskError as problem:
            raise FacemaskError(f"{problem}: {', '.join(map(str, roots))}") from None
        record["folders"] = {
            "roots": [str(root) for root in roots],
            "counts": folders.counts(),
            "train": folder_train.counts(),
            "held_back": folder_held.counts(),
            "grouping": grouping.summary(),
        }
    if scene_faces is not None:
        scene_faces = scene_faces.with_classes(class_names)
        try:
            train_rows, held_rows = split_groups(
                scene_faces.labels, scene_faces.groups, config.validation_fraction, config.seed
            )
        except FacemaskError as problem:
            raise FacemaskError(f"{problem}: {', '.join(map(str, scenes))}") from None
        scene_train, scene_held = scene_faces.subset(train_rows), scene_faces.subset(held_rows)
        record["scenes"] = {
            "roots": [str(folder) for folder in scene_faces.roots],
            "counts": scene_faces.counts(),
            "train": scene_train.counts(),
            "held_back": scene_held.counts(),
            "photos": len(scene_faces.photos),
            "photo_groups": int(len(np.unique(scene_faces.groups))),
            "held_back_photo_groups": int(len(np.unique(scene_held.groups))),
            "faces_under_20_px": int((scene_faces.sizes < 20).sum()),
        }
    return TrainingData(class_names, folder_train, folder_held, scene_train, scene_held, record)


def train(
    roots: str | Path | Sequence[str | Path],
    model_path: str | Path,
    plot_path: str | Path,
    config: TrainingConfig,
    scenes: Sequence[str | Path] = (),
    on_unreadable: Callable[[Unreadable], None] = lambda item: None,
    verbose: int = 1,
) -> TrainingResult:
    """Train on the class folders under `roots` and the annotated faces of the scene sets in `scenes`
    (`load_training_data`); write the model, its metadata JSON and the plot.

    The frozen layers see `variants` augmented versions of each training face once; the fine-tuned layers and the
    head then train on those features for `epochs`, each face once per epoch as one of its versions.
    """
    started = time.time()
    data = load_training_data(roots, scenes, config, on_unreadable)  # a bad dataset fails before TF starts
    return train_on(data, model_path, plot_path, config, verbose, {"load": time.time() - started})


def train_on(
    data: TrainingData,
    model_path: str | Path,
    plot_path: str | Path,
    config: TrainingConfig,
    verbose: int = 1,
    stages: dict[str, float] | None = None,
) -> TrainingResult:
    """`train` on faces already read and split; `stages`: seconds already spent (recorded with the others)."""
    from facemask.settings import CropSettings

    stages = dict(stages or {})
    started = time.time() - sum(stages.values())
    class_names = data.class_names
    labels, held_labels = data.labels(held=False), data.labels(held=True)

    import_tensorflow()
    import keras

    clock = time.time()
    keras.utils.set_random_seed(config.seed)
    model = build_model(len(class_names), config)
    trunk, head = split_model(model, config.fine_tune_layers)
    features = None
    for variant in range(config.variants):
        images = data.images(False, config, np.random.default_rng(config.seed + 1000 * (variant + 1)))
        cached = frozen_features(trunk, images, config, seed=config.seed + variant)
        if features is None:
            features = np.empty((config.variants, *cached.shape), np.float16)
        features[variant] = cached
    assert features is not None, "no variants"
    held_features = frozen_features(trunk, data.images(True, config, None), config, seed=None).astype(np.float32)
    stages["frozen_features"] = time.time() - clock

    clock = time.time()
    batches = _feature_batches(features, labels, len(class_names), config.batch_size, config.seed)
    schedule = keras.optimizers.schedules.InverseTimeDecay(
        config.learning_rate, decay_steps=len(batches) * config.epochs, decay_rate=1.0
    )
    head.compile(
        optimizer=keras.optimizers.Adam(learning_rate=schedule), loss="categorical_crossentropy", metrics=["accuracy"]
    )
    held_targets = np.eye(len(class_names), dtype=np.float32)[held_labels]
    fitted = head.fit(batches, validation_data=(held_features, held_targets), epochs=config.epochs, verbose=verbose)
    history = {key: [float(v) for v in values] for key, values in fitted.history.items()}
    stages["fit"] = time.time() - clock

    clock = time.time()
    probabilities = head.predict(held_features, batch_size=256, verbose=0)
    metrics, report = held_back_metrics(probabilities, held_labels, class_names, data.sources(held=True))
    stages["held_back"] = time.time() - clock
    stages = {name: round(seconds, 1) for name, seconds in stages.items()}

    metadata = ModelMetadata(
        class_names,
        config.image_size,
        record={
            "input": {
                "size": config.image_size,
                "channels": "RGB",
                "range": "0-255 (the model scales to [-1, 1])",
                "crop": asdict(CropSettings()),
            },
            "settings": asdict(config),
            "dataset": data.record,
            "held_back": metrics,
            "history": history,
            "stages_seconds": stages,
            "seconds": round(time.time() - started, 1),
            "versions": {"keras": keras.__version__, "python": platform.python_version()},
        },
    )
    with OutputSet() as outputs:  # the model, its metadata and its plot are published together
        add_model(outputs, model_path, lambda temporary: save_for_inference(model, temporary), metadata)
        outputs.write(plot_path, lambda temporary: save_plot(history, temporary), keep_suffix=True)
        outputs.publish()
    return TrainingResult(history, metrics, report, stages)
