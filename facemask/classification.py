"""The mask classifier: face crops in, class probabilities and a decision out, from a `.tflite` model (LiteRT,
the default) or a `.keras` model (TensorFlow)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facemask.errors import FacemaskError
from facemask.geometry import Box
from facemask.metadata import MASKED, UNMASKED, check_threshold, class_names_for, read_metadata
from facemask.outputs import recover
from facemask.runtime import load_runner


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
    crop = image[y1 + pad : y2 + pad, x1 + pad : x2 + pad]
    crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if crop.shape[0] > size else cv2.INTER_LINEAR)
    return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)


def not_compliant_probability(probabilities: Mapping[str, float]) -> float:
    """The score the decision threshold applies to: the probability that a face is not compliant, 1 - p(with_mask),
    i.e. p(without_mask) for a two-class model and p(without_mask) + p(mask_worn_incorrectly) for a three-class
    one (p(without_mask) for a model without a with_mask class)."""
    if MASKED in probabilities:
        return max(0.0, 1.0 - probabilities[MASKED])
    return probabilities.get(UNMASKED, 0.0)


@dataclass(frozen=True)
class Prediction:
    """The classifier's verdict on one face: the winning class and every class's probability."""

    label: str
    probability: float
    probabilities: dict[str, float]


class MaskClassifier:
    """A trained mask classifier, loaded once and called directly (no per-call `predict` overhead).

    Inputs are RGB crops with values 0-255; the model scales them itself. The decision: a face is called not
    compliant when the probability of every class but `with_mask` (without a mask; worn incorrectly, for a
    three-class model) reaches `unmasked_threshold`, and then gets the likelier of those classes; below it, it
    is called `with_mask`. The default threshold is the one stored with the model; where there is none, the most
    probable class wins.
    """

    def __init__(
        self, model_path: str | Path, unmasked_threshold: float | None = None, threads: int | None = None
    ) -> None:
        self.path = Path(model_path)
        if not self.path.is_file():
            raise FacemaskError(f"model file not found: {self.path}")
        recover(self.path.parent)  # finish a model update that a crash interrupted, where we may write
        metadata = read_metadata(self.path)
        runner = load_runner(self.path, threads)
        self._run, self.input_size = runner.run, runner.input_size
        self.class_names = class_names_for(self.path, metadata, runner.outputs)
        if unmasked_threshold is not None:
            unmasked_threshold = check_threshold(unmasked_threshold)
        elif metadata is not None:
            unmasked_threshold = metadata.unmasked_threshold
        self.unmasked_threshold = unmasked_threshold if MASKED in self.class_names else None

    def decide(self, probabilities: np.ndarray) -> int:
        """The index of the class a face with these `probabilities` is called."""
        if self.unmasked_threshold is None:
            return int(np.argmax(probabilities))
        masked = self.class_names.index(MASKED)
        if not_compliant_probability(dict(zip(self.class_names, probabilities))) < self.unmasked_threshold:
            return masked
        return int(np.argmax(np.where(np.arange(len(probabilities)) == masked, -1.0, probabilities)))

    def predict(self, crops: list[np.ndarray] | np.ndarray) -> list[Prediction]:
        """One Prediction per RGB crop (each `input_size` square)."""
        return self.predictions(self.probabilities(crops))

    def probabilities(self, crops: list[np.ndarray] | np.ndarray) -> np.ndarray:
        """The class probabilities of each RGB crop, one row per crop (columns in `class_names` order)."""
        if len(crops) == 0:
            return np.zeros((0, len(self.class_names)), np.float32)
        return self._run(np.asarray(crops, dtype=np.float32))

    def predictions(self, probabilities: np.ndarray) -> list[Prediction]:
        """The decision on each row of class `probabilities` (from `probabilities`, or an average of them)."""
        predictions = []
        for row in probabilities:
            best = self.decide(row)
            predictions.append(
                Prediction(
                    self.class_names[best], float(row[best]), {name: float(p) for name, p in zip(self.class_names, row)}
                )
            )
        return predictions
