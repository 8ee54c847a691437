"""Export the mask classifier to TFLite (float32, or int8 dynamic-range) and check each export's accuracy."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from facemask.classification import MaskClassifier, crop_face
from facemask.errors import FacemaskError
from facemask.evaluation import Scene
from facemask.imageio import read_image
from facemask.metadata import ModelMetadata, add_model, class_names_for, file_sha256, metadata_path, read_metadata
from facemask.outputs import OutputSet
from facemask.runtime import import_tensorflow, load_keras_model
from facemask.settings import CropSettings

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


def export_tflite(model_path: str | Path, targets: dict[str, Path]) -> list[Export]:
    """Convert the `.keras` classifier at `model_path` to each `{quantization: path}` in `targets`.

    Each export is published together with its metadata (the source model's, plus the export settings and the
    export's own hash), so a crash never leaves a new model beside old metadata.
    """
    model_path = Path(model_path)
    unknown = sorted(set(targets) - set(QUANTIZATIONS))
    if unknown:
        raise FacemaskError(f"unknown quantization {', '.join(unknown)}: choose from {', '.join(QUANTIZATIONS)}")
    recorded = read_metadata(model_path)  # bad metadata stops the export before TensorFlow starts
    tf = import_tensorflow("exporting a model")
    model = load_keras_model(model_path, "exporting a model")
    names = class_names_for(model_path, recorded, int(model.output_shape[-1]))
    source = recorded or ModelMetadata(names, int(model.input_shape[1]))
    exports = []
    for quantization, target in targets.items():
        optimizations = [tf.lite.Optimize.DEFAULT] if quantization == "int8" else []
        metadata = replace(source, model_sha256=None).with_record(
            export={
                "format": "tflite",
                "quantization": quantization,
                "source": model_path.name,
                "source_sha256": file_sha256(model_path),
            }
        )

        def write(temporary: Path, optimizations: list = optimizations) -> None:
            model.export(str(temporary), format="litert", verbose=False, optimizations=optimizations)

        with OutputSet() as outputs:
            add_model(outputs, target, write, metadata)
            outputs.publish()
        exports.append(Export(quantization, target, metadata_path(target), target.stat().st_size))
    return exports


def scene_crops(
    scenes: list[Scene], size: int, crop: CropSettings = CropSettings()
) -> tuple[list[np.ndarray], list[str]]:
    """The classifier's input for every annotated face of `scenes` and its label."""
    crops, labels = [], []
    for scene in scenes:
        image = read_image(scene.path)
        for face in scene.faces:
            crops.append(crop_face(image, face.box, size, crop.margin, crop.square))
            labels.append(face.label)
    return crops, labels


def classifier_accuracy(
    classifier: MaskClassifier, crops: list[np.ndarray], labels: list[str], batch_size: int = 16
) -> Accuracy:
    """The share of `crops` the classifier gives their `labels`, one face per annotated box."""
    predicted = []
    for start in range(0, len(crops), batch_size):
        predicted += [p.label for p in classifier.predict(crops[start : start + batch_size])]
    return Accuracy(classifier.path, sum(p == t for p, t in zip(predicted, labels)), len(labels))
