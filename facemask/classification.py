"""The mask classifier: face crops in, class probabilities out, from a `.keras` model (or `.tflite`)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facemask.detection import Box
from facemask.errors import FacemaskError

DEFAULT_CLASS_NAMES = ("with_mask", "without_mask")
MASKED, UNMASKED = DEFAULT_CLASS_NAMES


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the block: TensorFlow's and LiteRT's native logging writes
    there before any setting can stop it (Python errors still surface normally)."""
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def import_tensorflow():
    """Import TensorFlow with its C++ start-up chatter kept off the terminal; returns the module."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with quiet_native_stderr():
        import tensorflow

        tensorflow.config.list_physical_devices()  # device probing logs too
    return tensorflow


def metadata_path(model_path: str | Path) -> Path:
    """The JSON written beside a model by training: `mask_detector.keras` -> `mask_detector.json`."""
    return Path(model_path).with_suffix(".json")


def read_metadata(model_path: str | Path) -> dict:
    """The model's metadata JSON as a dict ({} when there is none)."""
    meta = metadata_path(model_path)
    if not meta.is_file():
        return {}
    try:
        metadata = json.loads(meta.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise FacemaskError(f"model metadata is not valid JSON: {meta}") from None
    if not isinstance(metadata, dict):
        raise FacemaskError(f"model metadata is not a JSON object: {meta}")
    return metadata


def read_class_names(model_path: str | Path, outputs: int) -> tuple[str, ...]:
    """Class names from the model's metadata JSON, or the two default classes for a 2-output model."""
    meta, metadata = metadata_path(model_path), read_metadata(model_path)
    if metadata:
        names = metadata.get("class_names")
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise FacemaskError(f"model metadata has no valid 'class_names' list: {meta}")
        names = tuple(names)
    elif outputs == len(DEFAULT_CLASS_NAMES):
        names = DEFAULT_CLASS_NAMES
    else:
        raise FacemaskError(f"model has {outputs} outputs and no metadata naming its classes: {meta}")
    if len(names) != outputs:
        raise FacemaskError(f"model metadata names {len(names)} classes but the model has {outputs} outputs: {meta}")
    return names


def crop_face(image: np.ndarray, box: Box, size: int, margin: float = 0.0, square: bool = False) -> np.ndarray:
    """The face in `box` as a `size` x `size` RGB crop.

    `margin` widens the box by that fraction of its size on every side; `square` grows the shorter side to
    the longer one first. Parts outside the image are filled by replicating the border.
    """
    cx, cy = box.x + box.w / 2.0, box.y + box.h / 2.0
    w, h = float(box.w), float(box.h)
    if square:
        w = h = max(w, h)
    w, h = w * (1.0 + 2.0 * margin), h * (1.0 + 2.0 * margin)
    x1, y1 = int(round(cx - w / 2.0)), int(round(cy - h / 2.0))
    x2, y2 = max(x1 + 1, int(round(cx + w / 2.0))), max(y1 + 1, int(round(cy + h / 2.0)))
    height, width = image.shape[:2]
    pad = max(0, -x1, -y1, x2 - width, y2 - height)
    if pad:
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    crop = image[y1 + pad:y2 + pad, x1 + pad:x2 + pad]
    crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if crop.shape[0] > size else cv2.INTER_LINEAR)
    return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)


@dataclass(frozen=True)
class Prediction:
    """The classifier's verdict on one face: the winning class and every class's probability."""

    label: str
    probability: float
    probabilities: dict[str, float]


def read_unmasked_threshold(model_path: str | Path) -> float | None:
    """The decision threshold stored in the model's metadata (`unmasked_threshold`), or None."""
    value = read_metadata(model_path).get("unmasked_threshold")
    if value is None:
        return None
    if not isinstance(value, (int, float)) or not 0.0 < value < 1.0:
        raise FacemaskError(f"model metadata has an invalid 'unmasked_threshold' ({value!r}): "
                            f"{metadata_path(model_path)}")
    return float(value)


class MaskClassifier:
    """A trained mask classifier, loaded once and called directly (no per-call `predict` overhead).

    Inputs are RGB crops with values 0-255; the model scales them itself. A face is called unmasked when its
    unmasked probability reaches `unmasked_threshold` (default: the threshold stored with the model, else the
    most probable class wins); below it, the most probable of the other classes.
    """

    def __init__(self, model_path: str | Path, unmasked_threshold: float | None = None) -> None:
        self.path = Path(model_path)
        if not self.path.is_file():
            raise FacemaskError(f"model file not found: {self.path}")
        if self.path.suffix == ".tflite":
            self._run, self.input_size, outputs = _load_tflite(self.path)
        else:
            self._run, self.input_size, outputs = _load_keras(self.path)
        self.class_names = read_class_names(self.path, outputs)
        if unmasked_threshold is None:
            unmasked_threshold = read_unmasked_threshold(self.path)
        self.unmasked_threshold = unmasked_threshold if UNMASKED in self.class_names else None

    def decide(self, probabilities: np.ndarray) -> int:
        """The index of the class a face with these `probabilities` is called."""
        best = int(np.argmax(probabilities))
        if self.unmasked_threshold is None:
            return best
        unmasked = self.class_names.index(UNMASKED)
        if probabilities[unmasked] >= self.unmasked_threshold:
            return unmasked
        if best != unmasked:
            return best
        return int(np.argmax(np.where(np.arange(len(probabilities)) == unmasked, -1.0, probabilities)))

    def predict(self, crops: list[np.ndarray] | np.ndarray) -> list[Prediction]:
        """One Prediction per RGB crop (each `input_size` square)."""
        if len(crops) == 0:
            return []
        batch = np.asarray(crops, dtype=np.float32)
        probabilities = self._run(batch)
        predictions = []
        for row in probabilities:
            best = self.decide(row)
            predictions.append(Prediction(self.class_names[best], float(row[best]),
                                          {name: float(p) for name, p in zip(self.class_names, row)}))
        return predictions


def _load_keras(path: Path):
    tf = import_tensorflow()
    import keras

    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for a bad file
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise FacemaskError(f"cannot load model {path}: {reason[:200]}") from None
    shape = model.input_shape
    if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 3 or len(model.output_shape) != 2:
        raise FacemaskError(f"not an image classifier (input {shape}, output {model.output_shape}): {path}")
    size = int(shape[1])
    call = tf.function(lambda x: model(x, training=False), reduce_retracing=True,
                       input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)])
    return (lambda batch: call(batch).numpy()), size, int(model.output_shape[-1])


class _TFLiteRunner:
    """A TFLite model on the LiteRT interpreter, its tensors re-allocated only when the batch shape changes."""

    def __init__(self, path: Path) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise FacemaskError("TFLite models need the 'ai-edge-litert' package: pip install ai-edge-litert") from None
        try:
            self.interpreter = Interpreter(model_path=str(path), num_threads=os.cpu_count())
        except (ValueError, RuntimeError) as error:
            raise FacemaskError(f"cannot load TFLite model {path}: {str(error).splitlines()[0][:200]}") from None
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        self.input_shape = tuple(int(n) for n in self.interpreter.get_input_details()[0]["shape"])
        self.output_index = self.interpreter.get_output_details()[0]["index"]
        self.outputs = int(self.interpreter.get_output_details()[0]["shape"][-1])
        if len(self.input_shape) != 4 or self.input_shape[1] != self.input_shape[2] or self.input_shape[3] != 3:
            raise FacemaskError(f"not an image classifier (input {list(self.input_shape)}): {path}")
        with quiet_native_stderr():  # the first allocation announces the XNNPACK delegate
            self.interpreter.allocate_tensors()
        self.allocated = self.input_shape

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        if batch.shape != self.allocated:
            self.interpreter.resize_tensor_input(self.input_index, batch.shape)
            self.interpreter.allocate_tensors()
            self.allocated = batch.shape
        self.interpreter.set_tensor(self.input_index, batch)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output_index).copy()


def _load_tflite(path: Path):
    runner = _TFLiteRunner(path)
    return runner, runner.input_shape[1], runner.outputs
