"""Detect faces, crop them and classify each: the one pipeline behind images, video and evaluation."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeAlias

import numpy as np

from facemask.classification import MaskClassifier, Prediction, crop_face
from facemask.detection import FaceDetector, create_detector
from facemask.drawing import annotate
from facemask.errors import FacemaskError
from facemask.geometry import Box, Detection
from facemask.imageio import as_bgr8, read_image, write_image_atomic
from facemask.inputs import resolve_batch_inputs
from facemask.metadata import INCORRECT, MASKED, UNMASKED, is_flagged
from facemask.settings import CropSettings, PipelineConfig

# What MaskPipeline.predict reads: an image file, a folder, a glob pattern or a decoded array, or a list of them.
ImageSource: TypeAlias = "str | os.PathLike[str] | np.ndarray"
Source: TypeAlias = "ImageSource | Sequence[ImageSource]"
# The labels every result counts (ImageResult.counts), in the order they are listed.
LABELS = (MASKED, UNMASKED, INCORRECT)


@dataclass(frozen=True)
class FaceResult:
    """One face in an image: where it is, how sure the detector is, and what the classifier says."""

    box: Box
    score: float
    label: str
    probability: float
    probabilities: dict[str, float]

    @property
    def flagged(self) -> bool:
        """Whether the face is flagged: any label but with_mask (no mask, or a mask worn incorrectly;
        facemask.metadata.is_flagged, the one rule every tool, event and measurement follows)."""
        return is_flagged(self.label)

    def to_json(self) -> dict:
        """The face as the `--json` results give it."""
        return {
            "box": self.box.as_list(),
            "score": round(self.score, 4),
            "label": self.label,
            "probabilities": {name: round(p, 4) for name, p in self.probabilities.items()},
        }


@dataclass(frozen=True)
class ImageResult:
    """Every face found in one image (`image`: its path or name; `width`, `height` in pixels) and, from
    `MaskPipeline.predict`, the decoded picture itself (`pixels`, 8-bit BGR), which `plot` and `save` draw on."""

    image: str
    width: int
    height: int
    faces: list[FaceResult] = field(default_factory=list)
    pixels: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def counts(self) -> dict[str, int]:
        """The number of faces per label: with_mask, without_mask and mask_worn_incorrectly (0 where none), then
        any other label the model gives."""
        counts = dict.fromkeys(LABELS, 0)
        for face in self.faces:
            counts[face.label] = counts.get(face.label, 0) + 1
        return counts

    def plot(self, image: np.ndarray | None = None) -> np.ndarray:
        """A new BGR image: the picture with a coloured box and a caption for every face (facemask.drawing).
        `image`: the picture to draw on, for a result that keeps none (`process_image`'s); it must have the
        result's size."""
        picture = self.pixels if image is None else as_bgr8(image, self.image)
        if picture is None:
            raise FacemaskError(
                f"no picture kept with this result (pass it: plot(image), save(path, image)): {self.image}"
            )
        if picture.shape[:2] != (self.height, self.width):
            raise FacemaskError(
                f"picture of {picture.shape[1]}x{picture.shape[0]} given for a result of "
                f"{self.width}x{self.height}: {self.image}"
            )
        return annotate(picture, self.faces)

    def save(self, path: str | os.PathLike[str], image: np.ndarray | None = None) -> Path:
        """Write the annotated picture (`plot`) to `path` atomically, in the format its extension names (PNG
        without one), replacing any file there; returns the path. A folder that does not exist, or an extension
        OpenCV cannot write, raises FacemaskError naming the path."""
        target = Path(path)
        write_image_atomic(target, self.plot(image))
        return target

    def to_json(self) -> dict:
        """The image as one object of the `--json` results array."""
        return {
            "image": self.image,
            "width": self.width,
            "height": self.height,
            "faces": [face.to_json() for face in self.faces],
        }


class MaskPipeline:
    """A face detector and a mask classifier, each loaded once, run together on images or frames."""

    def __init__(self, detector: FaceDetector, classifier: MaskClassifier, crop: CropSettings = CropSettings()):
        self.detector = detector
        self.classifier = classifier
        self.crop = crop

    @classmethod
    def load(cls, config: PipelineConfig | None = None, /, **changes) -> MaskPipeline:
        """Load the pipeline `config` describes (default: PipelineConfig(), the photo tool's defaults), any of its
        fields changed by keyword: `MaskPipeline.load(model="my.tflite", unmasked_threshold=0.4)`,
        `MaskPipeline.load(PipelineConfig.video())`. The detector and the classifier are loaded once, here; a
        missing or unreadable model raises FacemaskError naming it."""
        config = PipelineConfig() if config is None else config
        if changes:
            config = replace(config, **changes)
        return cls(
            create_detector(config.detector, config.confidence, config.face_folder, config.detection_size),
            MaskClassifier(config.model_path, config.unmasked_threshold, config.threads),
            config.crop,
        )

    def crops(self, image: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """The classifier's input for each box (CropSettings), one RGB crop per box."""
        size = self.classifier.input_size
        return np.asarray(
            [crop_face(image, box, size, self.crop.margin, self.crop.square) for box in boxes], np.float32
        )

    def probabilities(self, image: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """The classifier's class probabilities for each box."""
        if not boxes:
            return np.zeros((0, len(self.classifier.class_names)), np.float32)
        return self.classifier.probabilities(self.crops(image, boxes))

    def classify(self, image: np.ndarray, detections: list[Detection]) -> list[FaceResult]:
        """Classify the faces at `detections` in `image`."""
        boxes = [d.box for d in detections]
        predictions: list[Prediction] = self.classifier.predictions(self.probabilities(image, boxes))
        return [
            FaceResult(d.box, d.score, p.label, p.probability, p.probabilities) for d, p in zip(detections, predictions)
        ]

    def process(self, image: np.ndarray) -> list[FaceResult]:
        """Find every face in an 8-bit BGR image and classify it."""
        return self.classify(image, self.detector.detect(image))

    def process_image(self, image: np.ndarray, name: str) -> ImageResult:
        """`process`, wrapped as the result for the image called `name`."""
        height, width = image.shape[:2]
        return ImageResult(name, width, height, self.process(image))

    def predict(self, source: Source) -> Iterator[ImageResult]:
        """Find and classify the faces in every image of `source`, yielding one ImageResult per image, in order,
        each keeping its picture (`plot`, `save`).

        `source`: an image file, a folder (its images, recursively, sorted), a glob pattern (`photos/**/*.jpg`),
        a decoded image array (8-bit BGR as OpenCV reads it; gray, BGRA, 16-bit and float are converted), or a
        list or tuple of these. Sources are checked at once: a missing path, an empty folder, a pattern that
        matches nothing or an array that is not an image raises FacemaskError naming it before any image is
        read. Each image is read when its turn comes; an unreadable one raises FacemaskError naming its path.
        """
        items = _resolve_sources(source)
        return (self._predict_one(item, name) for item, name in items)

    def _predict_one(self, item: Path | np.ndarray, name: str) -> ImageResult:
        image = item if isinstance(item, np.ndarray) else read_image(item)
        height, width = image.shape[:2]
        return ImageResult(name, width, height, self.process(image), image)


def _resolve_sources(source: object) -> list[tuple[Path | np.ndarray, str]]:
    """The images of a `predict` source, each with the name its result carries (the path as given, or
    `<array>` / `<array N>` for the N-th item of a list)."""
    if isinstance(source, (list, tuple)):
        if not source:
            raise FacemaskError("no images to predict on: the list is empty")
        return [found for index, item in enumerate(source) for found in _resolve_one(item, f"<array {index}>")]
    return _resolve_one(source, "<array>")


def _resolve_one(item: object, array_name: str) -> list[tuple[Path | np.ndarray, str]]:
    if isinstance(item, np.ndarray):
        return [(as_bgr8(item, array_name), array_name)]
    if isinstance(item, (str, os.PathLike)):
        if not str(item) or not os.fspath(item):
            raise FacemaskError("empty image path: ''")
        return [(path, str(path)) for path in resolve_batch_inputs(Path(item)).paths]
    raise FacemaskError(
        f"expected an image path, folder, glob pattern or array, got {type(item).__name__}: {str(item)[:80]!r}"
    )
