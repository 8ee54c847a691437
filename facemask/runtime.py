"""The classifier's runtimes: LiteRT runs `.tflite` models; TensorFlow/Keras, imported only here and only when a
`.keras` model is loaded (training, export, or a user's choice), runs `.keras` models.

Both are wrapped as a callable from a float32 batch of RGB crops (0-255) to class probabilities.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facemask.errors import FacemaskError
from facemask.resources import require


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


def import_tensorflow(purpose: str = "a .keras model"):
    """Import TensorFlow with its C++ start-up chatter kept off the terminal; returns the module. Without the
    `train` extra, a one-line error that says what to install."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with quiet_native_stderr():
        tensorflow = require("tensorflow", purpose, "train")
        tensorflow.config.list_physical_devices()  # device probing logs too
    return tensorflow


def load_keras_model(path: str | Path, purpose: str = "a .keras model"):
    """The Keras model at `path` (inference only, not compiled); a one-line error for a missing or bad file."""
    path = Path(path)
    import_tensorflow(purpose)
    import keras

    if not path.is_file():
        raise FacemaskError(f"model file not found: {path}")
    if path.suffix != ".keras":
        raise FacemaskError(f"not a .keras model: {path}")
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as error:  # noqa: BLE001 (Keras raises many types for a bad file)
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise FacemaskError(f"cannot load model {path}: {reason[:200]}") from None


@dataclass(frozen=True)
class Runner:
    """A loaded classifier: `run(batch)` maps an (n, size, size, 3) float32 batch to (n, outputs) probabilities."""

    run: Callable[[np.ndarray], np.ndarray]
    input_size: int
    outputs: int


def keras_runner(path: Path) -> Runner:
    """A `.keras` classifier as a Runner (a traced tf.function: no per-call `predict` overhead)."""
    tf = import_tensorflow()
    model = load_keras_model(path)
    shape = model.input_shape
    if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 3 or len(model.output_shape) != 2:
        raise FacemaskError(f"not an image classifier (input {shape}, output {model.output_shape}): {path}")
    size = int(shape[1])
    call = tf.function(
        lambda x: model(x, training=False),
        reduce_retracing=True,
        input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)],
    )
    return Runner(lambda batch: call(batch).numpy(), size, int(model.output_shape[-1]))


class _TFLiteInterpreter:
    """A TFLite model on the LiteRT interpreter, its tensors re-allocated only when the batch shape changes."""

    def __init__(self, path: Path, threads: int | None) -> None:
        try:
            from ai_edge_litert import interpreter
        except ImportError:
            raise FacemaskError("TFLite models need the 'ai-edge-litert' package: pip install ai-edge-litert") from None
        try:
            self.interpreter = interpreter.Interpreter(model_path=str(path), num_threads=threads or os.cpu_count())
        except (ValueError, RuntimeError) as error:
            raise FacemaskError(f"cannot load TFLite model {path}: {str(error).splitlines()[0][:200]}") from None
        details = self.interpreter.get_input_details()[0]
        self.input_index = details["index"]
        self.input_shape = tuple(int(n) for n in details["shape"])
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


def tflite_runner(path: Path, threads: int | None = None) -> Runner:
    """A `.tflite` classifier as a Runner, on `threads` CPU threads (default: every core)."""
    interpreter = _TFLiteInterpreter(path, threads)
    return Runner(interpreter, interpreter.input_shape[1], interpreter.outputs)


def load_runner(path: Path, threads: int | None = None) -> Runner:
    """The runner for a model file, by its extension (.tflite: LiteRT; anything else: Keras)."""
    if path.suffix == ".tflite":
        return tflite_runner(path, threads)
    return keras_runner(path)
