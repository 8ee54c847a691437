"""Export the mask classifier to TFLite (float32, or int8 dynamic-range) and check each export's accuracy."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facemask.classification import MaskClassifier, crop_face, import_tensorflow, metadata_path
from facemask.errors import FacemaskError
from facemask.evaluation import Scene
from facemask.imageio import publish, read_image, write_json_atomic
from facemask.pipeline import CropSettings

QUANTIZATIONS = ("float32", "int8")


@dataclass(frozen=True)
class Export:
    """One written TFLite model and its class-names sidecar."""

    quantization: str
    path: Path
    metadata: Path
    size_bytes: int


@dataclass(frozen=True)
class Accuracy:
    """How often a classifier names the annotated label of the ground-truth face boxes of a scene set."""

    model: Path
    correct: int
    total: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


def export_path(model_path: str | Path, quantization: str, folder: str | Path | None = None) -> Path:
    """Where an export goes: `mask_detector.keras` -> `mask_detector_float32.tflite` (its sidecar
    `mask_detector_float32.json` then cannot clash with the source model's `mask_detector.json`)."""
    model_path = Path(model_path)
    return Path(folder if folder is not None else model_path.parent) / f"{model_path.stem}_{quantization}.tflite"


def _load_keras_model(model_path: Path):
    tf = import_tensorflow()
    import keras

    if not model_path.is_file():
        raise FacemaskError(f"model file not found: {model_path}")
    if model_path.suffix != ".keras":
        raise FacemaskError(f"only a .keras model can be exported: {model_path}")
    try:
        return tf, keras.models.load_model(model_path, compile=False)
    except Exception as error:  # Keras raises many types for a bad file
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise FacemaskError(f"cannot load model {model_path}: {reason[:200]}") from None


def export_tflite(model_path: str | Path, targets: dict[str, Path]) -> list[Export]:
    """Convert the `.keras` classifier at `model_path` to each `{quantization: path}` in `targets`.

    Each model is converted into a temporary file beside its target and moved into place, then its sidecar
    JSON (the source model's metadata plus the export settings) is written beside it.
    """
    model_path = Path(model_path)
    unknown = sorted(set(targets) - set(QUANTIZATIONS))
    if unknown:
        raise FacemaskError(f"unknown quantization {', '.join(unknown)}: choose from {', '.join(QUANTIZATIONS)}")
    tf, model = _load_keras_model(model_path)
    source_meta = metadata_path(model_path)
    metadata = json.loads(source_meta.read_text(encoding="utf-8")) if source_meta.is_file() else {}
    exports = []
    for quantization, target in targets.items():
        optimizations = [tf.lite.Optimize.DEFAULT] if quantization == "int8" else []
        descriptor, temporary = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tflite", dir=target.parent)
        os.close(descriptor)
        try:
            model.export(temporary, format="litert", verbose=False, optimizations=optimizations)
            publish(temporary, target)
        finally:
            Path(temporary).unlink(missing_ok=True)
        sidecar = metadata_path(target)
        write_json_atomic(sidecar, {**metadata, "export": {"format": "tflite", "quantization": quantization,
                                                          "source": model_path.name}})
        exports.append(Export(quantization, target, sidecar, target.stat().st_size))
    return exports


def scene_crops(scenes: list[Scene], size: int,
                crop: CropSettings = CropSettings()) -> tuple[list[np.ndarray], list[str]]:
    """The classifier's input for every annotated face of `scenes` and its label."""
    crops, labels = [], []
    for scene in scenes:
        image = read_image(scene.path)
        for face in scene.faces:
            crops.append(crop_face(image, face.box, size, crop.margin, crop.square))
            labels.append(face.label)
    return crops, labels


def classifier_accuracy(classifier: MaskClassifier, crops: list[np.ndarray], labels: list[str],
                        batch_size: int = 16) -> Accuracy:
    """The share of `crops` the classifier gives their `labels`, one face per annotated box."""
    predicted = []
    for start in range(0, len(crops), batch_size):
        predicted += [p.label for p in classifier.predict(crops[start:start + batch_size])]
    return Accuracy(classifier.path, sum(p == t for p, t in zip(predicted, labels)), len(labels))
