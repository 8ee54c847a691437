"""Detect faces, crop them and classify each: the one pipeline behind images, video and evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facemask import defaults
from facemask.classification import MaskClassifier, Prediction, crop_face
from facemask.detection import Box, Detection, FaceDetector, create_detector


@dataclass(frozen=True)
class CropSettings:
    """How a detector box becomes the classifier's input: margin (fraction per side, negative narrows) and squaring.

    The default, the detector box narrowed by 5 % per side and not squared, sits in the middle of the crops that
    ranked faces best on real scenes (docs/evaluation.md): the training faces are close-ups the face fills.
    """

    margin: float = -0.05
    square: bool = False


@dataclass(frozen=True)
class FaceResult:
    """One face in an image: where it is, how sure the detector is, and what the classifier says."""

    box: Box
    score: float
    label: str
    probability: float
    probabilities: dict[str, float]

    def to_json(self) -> dict:
        """The face as the `--json` results give it."""
        return {"box": self.box.as_list(), "score": round(self.score, 4), "label": self.label,
                "probabilities": {name: round(p, 4) for name, p in self.probabilities.items()}}


@dataclass
class ImageResult:
    """Every face found in one image."""

    image: str
    width: int
    height: int
    faces: list[FaceResult] = field(default_factory=list)

    def to_json(self) -> dict:
        """The image as one object of the `--json` results array."""
        return {"image": self.image, "width": self.width, "height": self.height,
                "faces": [face.to_json() for face in self.faces]}


class MaskPipeline:
    """A face detector and a mask classifier, each loaded once, run together on images or frames."""

    def __init__(self, detector: FaceDetector, classifier: MaskClassifier, crop: CropSettings = CropSettings()):
        self.detector = detector
        self.classifier = classifier
        self.crop = crop

    @classmethod
    def load(cls, model_path: str | Path | None = None, detector: str = defaults.DETECTOR,
             confidence: float | None = None, face_folder: str | Path | None = None,
             crop: CropSettings = CropSettings(), frame_side: int = 0,
             unmasked_threshold: float | None = None, threads: int | None = None) -> MaskPipeline:
        """Load the named detector (at its default confidence unless given; `frame_side`: its live-video setting,
        see create_detector) and the classifier at `model_path` (default: the shipped TFLite model; see
        MaskClassifier for `unmasked_threshold`; `threads`: the classifier's CPU threads, default every core)."""
        model = defaults.default_model() if model_path is None else model_path
        return cls(create_detector(detector, confidence, face_folder, frame_side),
                   MaskClassifier(model, unmasked_threshold, threads), crop)

    @classmethod
    def load_for_video(cls, model_path: str | Path | None = None,
                       detection_size: int = defaults.VIDEO_DETECTION_SIZE, **options) -> MaskPipeline:
        """The live-video pipeline: the video default detector as one pass at `detection_size` pixels."""
        options.setdefault("detector", defaults.VIDEO_DETECTOR)
        return cls.load(model_path, frame_side=detection_size, **options)

    def crops(self, image: np.ndarray, boxes: list[Box]) -> list[np.ndarray]:
        """The classifier's input for each box."""
        size = self.classifier.input_size
        return [crop_face(image, box, size, self.crop.margin, self.crop.square) for box in boxes]

    def classify(self, image: np.ndarray, detections: list[Detection]) -> list[FaceResult]:
        """Classify the faces at `detections` in `image`."""
        predictions: list[Prediction] = self.classifier.predict(self.crops(image, [d.box for d in detections]))
        return [FaceResult(d.box, d.score, p.label, p.probability, p.probabilities)
                for d, p in zip(detections, predictions)]

    def process(self, image: np.ndarray) -> list[FaceResult]:
        """Find every face in an 8-bit BGR image and classify it."""
        return self.classify(image, self.detector.detect(image))

    def process_image(self, image: np.ndarray, name: str) -> ImageResult:
        """`process`, wrapped as the result for the image called `name`."""
        height, width = image.shape[:2]
        return ImageResult(name, width, height, self.process(image))
