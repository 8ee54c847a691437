"""Detect faces, crop them and classify each: the one pipeline behind images, video and evaluation."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeAlias

import numpy as np

from facemask import defaults
from facemask.classification import MaskClassifier, Prediction, crop_face, not_compliant_probability
from facemask.detection import FaceDetector, create_detector
from facemask.drawing import annotate
from facemask.errors import FacemaskError
from facemask.geometry import Box, Detection, Landmarks
from facemask.imageio import as_bgr8, read_image, write_image_atomic
from facemask.metadata import INCORRECT, MASKED, UNMASKED, check_threshold, is_flagged

# What MaskPipeline.predict reads: an image file, a folder, a glob pattern or a decoded array, or a list of them.
ImageSource: TypeAlias = "str | os.PathLike[str] | np.ndarray"
Source: TypeAlias = "ImageSource | Sequence[ImageSource]"
# The labels every result counts (ImageResult.counts), in the order they are listed.
LABELS = (MASKED, UNMASKED, INCORRECT)


def check_margin(value: float, name: str) -> float:
    """Reject a crop margin (fraction of the box per side) outside -0.4 (narrowed to a fifth) to 1 (tripled)."""
    if not -0.4 <= value <= 1.0:
        raise FacemaskError(f"{name} must be between -0.4 and 1, got {value}")
    return value


@dataclass(frozen=True)
class CropSettings:
    """How a detector box becomes the classifier's input, and how many ways the classifier sees each face.

    The first view is the box widened by `margin` of its size per side (negative narrows it), grown to a square
    first if `square`. With `context`, a second view is the box grown to a square and widened by that fraction:
    the head, hair and collar around a small, blurred face. With `mirror`, the classifier also sees each view
    mirrored left to right. The face's class probabilities are the mean over the views (test-time augmentation).
    The defaults, the box narrowed by 5 % per side plus a square widened by 5 %, each also mirrored (four views),
    were chosen on real scenes (docs/evaluation.md): the narrowed box alone sits in the middle of the single
    crops that rank faces best, and the four views together flag more unmasked and fewer masked crowd faces.
    `single()` is the one view, four times less classifier time.
    """

    margin: float = -0.05
    square: bool = False
    context: float | None = 0.05
    mirror: bool = True

    def __post_init__(self) -> None:
        check_margin(self.margin, "the crop margin")
        if self.context is not None:
            check_margin(self.context, "the crop context")

    @classmethod
    def single(cls, margin: float = -0.05, square: bool = False) -> CropSettings:
        """One view per face: the box with `margin`, squared if `square`; no context crop, no mirror image."""
        return cls(margin, square, context=None, mirror=False)

    def crops(self) -> list[tuple[float, bool]]:
        """(margin, square) of each crop the classifier sees, before mirroring."""
        return [(self.margin, self.square)] + ([] if self.context is None else [(self.context, True)])

    @property
    def views(self) -> int:
        """How many times the classifier sees each face."""
        return len(self.crops()) * (2 if self.mirror else 1)


@dataclass(frozen=True)
class NoseCheck:
    """A second look at every face the classifier calls with_mask: is the nose covered?

    A model of its own (`model`; None: the one shipped with facemask, `defaults.default_nose_model()`) classifies
    the upper part of the face's box (widened by `margin` of its size per side, or narrowed where negative,
    whatever the pipeline's CropSettings): forehead, eyes and nose, with the mouth and chin cut off. It was trained
    on exactly such parts of the training faces (`prepare_nose_dataset.py`): masks worn correctly cover the nose
    (with_mask); unmasked faces and masks drawn below the nose or on the chin leave it bare (without_mask). Where
    the part looks bare with a probability of at least `threshold`, the mask is below the nose and the face is
    called mask_worn_incorrectly. Where the detector found the face's landmarks, the part
    ends at each of `cuts` in turn, given from the tip of the nose (0) to the mouth (1), and the barest of
    them counts: the line where a lowered mask begins differs from face to face. Boxes without landmarks are cut
    at `fraction` of their height. Any cut stays between MIN_PART and MAX_PART of the box, so a stray landmark
    cannot reduce the part to the forehead or stretch it past the chin. To spare the model, the middle cut is
    looked at first and the others only where it looks bare with a probability of at least `screen` (or
    `threshold`, if lower; 0: always).

    On by default (pass None to MaskPipeline to turn it off); it works with any classifier. The defaults were chosen
    on both annotated scene sets (docs/evaluation.md).
    """

    cuts: tuple[float, ...] = (0.0, 0.25, 0.5)
    threshold: float = 0.6
    fraction: float = 0.6
    screen: float = 0.2
    margin: float = -0.05
    model: Path | None = None

    MIN_PART = 0.3
    MAX_PART = 0.9

    def __post_init__(self) -> None:
        if not self.MIN_PART <= self.fraction <= self.MAX_PART:
            raise FacemaskError(f"the nose check's fraction of the face must be between {self.MIN_PART} and "
                                f"{self.MAX_PART}, got {self.fraction}")
        if not self.cuts or not all(-0.5 <= cut <= 1.0 for cut in self.cuts):
            raise FacemaskError(f"the nose check's cuts must be one or more values from -0.5 (above the nose) to 1 "
                                f"(the mouth), got {self.cuts}")
        check_threshold(self.threshold, "the nose check's threshold")
        check_margin(self.margin, "the nose check's margin")
        if not 0.0 <= self.screen < 1.0:
            raise FacemaskError(f"the nose check's screen must be from 0 to below 1, got {self.screen}")

    def load_model(self, threads: int | None = None) -> MaskClassifier:
        """The nose model, loaded: `model`, else the shipped one (`threads`: its CPU threads, default every core)."""
        return MaskClassifier(defaults.default_nose_model() if self.model is None else self.model, threads=threads)

    def upper_boxes(self, box: Box, landmarks: Landmarks | None = None) -> list[Box]:
        """The parts of `box` (widened by `margin`) that the check looks at: one per cut with `landmarks`, else
        the top `fraction`."""
        width, height = box.w * (1.0 + 2.0 * self.margin), box.h * (1.0 + 2.0 * self.margin)
        x, y = box.x + (box.w - width) / 2.0, box.y + (box.h - height) / 2.0
        if landmarks is None:
            parts = [self.fraction]
        else:
            nose, mouth = landmarks.nose[1], landmarks.mouth_y
            parts = [min(self.MAX_PART, max(self.MIN_PART, (nose + cut * (mouth - nose) - y) / height))
                     for cut in self.cuts]
        left, top, part_width = int(round(x)), int(round(y)), max(1, int(round(width)))
        return [Box(left, top, part_width, max(1, int(round(height * part)))) for part in parts]


@dataclass(frozen=True)
class ChinCheck:
    """A second look at every face the classifier calls without_mask: is a mask worn below the mouth?

    A mask pulled down onto the chin or the neck leaves the mouth and nose bare, so the classifier, which judges
    the whole face, calls the face without_mask; the mask is still there, worn incorrectly. A model of its own
    (`model`; None: the one shipped with facemask, `defaults.default_chin_model()`) classifies the lower part of
    the face: from the tip of the nose (its landmark; without landmarks, `fraction` of the box's height) down to
    `below` of the box's height under the box, where a mask on the chin or neck hangs. It was trained on exactly
    such parts of the training faces (`prepare_nose_dataset.py --check chin`): masked faces, worn correctly or
    drawn below the nose or on the chin, give a mask on the lower face (with_mask); unmasked faces none
    (without_mask). Where the part shows a mask with a probability of at least `threshold`, the face is called
    mask_worn_incorrectly. Both labels are not compliant, so the check changes which alarm is raised, never
    whether one is. Faces whose box is under `min_size` pixels on its shorter side are not looked at: there the lower
    face is a few pixels of blur, and the check would only relabel unmasked faces.

    On by default (pass None to MaskPipeline to turn it off); it works with any classifier. The defaults were chosen
    on both annotated scene sets (docs/evaluation.md).
    """

    threshold: float = 0.85
    below: float = 0.25
    fraction: float = 0.55
    min_size: int = 20
    model: Path | None = None

    MAX_BELOW = 1.0

    def __post_init__(self) -> None:
        check_threshold(self.threshold, "the chin check's threshold")
        if not 0.0 <= self.below <= self.MAX_BELOW:
            raise FacemaskError(f"the chin check's reach below the face must be from 0 to {self.MAX_BELOW} of its "
                                f"height, got {self.below}")
        if not NoseCheck.MIN_PART <= self.fraction <= NoseCheck.MAX_PART:
            raise FacemaskError(f"the chin check's fraction of the face must be between {NoseCheck.MIN_PART} and "
                                f"{NoseCheck.MAX_PART}, got {self.fraction}")
        if self.min_size < 0:
            raise FacemaskError(f"the chin check's smallest face must be 0 pixels or more, got {self.min_size}")

    def load_model(self, threads: int | None = None) -> MaskClassifier:
        """The chin model, loaded: `model`, else the shipped one (`threads`: its CPU threads, default every core)."""
        return MaskClassifier(defaults.default_chin_model() if self.model is None else self.model, threads=threads)

    def looks_at(self, box: Box) -> bool:
        """Whether a face in `box` is large enough for the check (`min_size`)."""
        return min(box.w, box.h) >= self.min_size

    def lower_box(self, box: Box, landmarks: Landmarks | None = None) -> Box:
        """The part of the image the check looks at for the face in `box`: the box's width, from the tip of the
        nose (kept between NoseCheck.MIN_PART and MAX_PART of the box) to `below` of its height under it."""
        share = self.fraction if landmarks is None else (landmarks.nose[1] - box.y) / box.h
        top = box.y + box.h * min(NoseCheck.MAX_PART, max(NoseCheck.MIN_PART, share))
        bottom = box.y + box.h * (1.0 + self.below)
        return Box(box.x, int(round(top)), box.w, max(1, int(round(bottom - top))))


@dataclass(frozen=True)
class FaceResult:
    """One face in an image: where it is, how sure the detector is, and what the classifier says.

    `nose_uncovered`: where the nose check looked at the face (called with_mask by the classifier), the
    probability that the part above the mouth is unmasked (the highest over the parts it looked at); a face it
    relabels has label mask_worn_incorrectly and that probability as `probability`, while `probabilities` stay
    the classifier's on the whole face. `mask_on_chin`: where the chin check looked at the face (called without_mask
    by the classifier, and large enough), the probability that a mask is worn on the lower face; a face it relabels
    has label mask_worn_incorrectly and that probability as `probability`.
    """

    box: Box
    score: float
    label: str
    probability: float
    probabilities: dict[str, float]
    nose_uncovered: float | None = None
    mask_on_chin: float | None = None

    @property
    def flagged(self) -> bool:
        """Whether the face is flagged: any label but with_mask (no mask, or a mask worn incorrectly;
        facemask.metadata.is_flagged, the one rule every tool, event and measurement follows)."""
        return is_flagged(self.label)

    def to_json(self) -> dict:
        """The face as the `--json` results give it."""
        face = {"box": self.box.as_list(), "score": round(self.score, 4), "label": self.label,
                "probabilities": {name: round(p, 4) for name, p in self.probabilities.items()}}
        if self.nose_uncovered is not None:
            face["nose_uncovered"] = round(self.nose_uncovered, 4)
        if self.mask_on_chin is not None:
            face["mask_on_chin"] = round(self.mask_on_chin, 4)
        return face


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
            raise FacemaskError(f"no picture kept with this result (pass it: plot(image), save(path, image)): "
                                f"{self.image}")
        if picture.shape[:2] != (self.height, self.width):
            raise FacemaskError(f"picture of {picture.shape[1]}x{picture.shape[0]} given for a result of "
                                f"{self.width}x{self.height}: {self.image}")
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
        return {"image": self.image, "width": self.width, "height": self.height,
                "faces": [face.to_json() for face in self.faces]}


class MaskPipeline:
    """A face detector and a mask classifier, each loaded once, run together on images or frames."""

    def __init__(self, detector: FaceDetector, classifier: MaskClassifier, crop: CropSettings = CropSettings(),
                 nose_check: NoseCheck | None = NoseCheck(), nose_classifier: MaskClassifier | None = None,
                 chin_check: ChinCheck | None = ChinCheck(), chin_classifier: MaskClassifier | None = None):
        """`nose_classifier`, `chin_classifier`: the checks' models, loaded; None loads the ones `nose_check` and
        `chin_check` name."""
        self.detector = detector
        self.classifier = classifier
        self.crop = crop
        self.nose_check = nose_check
        if nose_check is not None and nose_classifier is None:
            nose_classifier = nose_check.load_model()
        self.nose_classifier = nose_classifier
        self.chin_check = chin_check
        if chin_check is not None and chin_classifier is None:
            chin_classifier = chin_check.load_model()
        self.chin_classifier = chin_classifier

    @classmethod
    def load(cls, model_path: str | Path | None = None, detector: str = defaults.DETECTOR,
             confidence: float | None = None, face_folder: str | Path | None = None,
             crop: CropSettings = CropSettings(), frame_side: int = 0,
             unmasked_threshold: float | None = None, threads: int | None = None,
             nose_check: NoseCheck | None = NoseCheck(), chin_check: ChinCheck | None = ChinCheck()) -> MaskPipeline:
        """Load the named detector (at its default confidence unless given; `frame_side`: its live-video setting,
        see create_detector) and the classifier at `model_path` (default: the shipped TFLite model; see
        MaskClassifier for `unmasked_threshold`; `threads`: the classifier's CPU threads, default every core);
        `nose_check`: look again at faces called with_mask (NoseCheck; None: off); `chin_check`: at faces called
        without_mask (ChinCheck; None: off)."""
        model = defaults.default_model() if model_path is None else model_path
        nose = None if nose_check is None else nose_check.load_model(threads)
        chin = None if chin_check is None else chin_check.load_model(threads)
        return cls(create_detector(detector, confidence, face_folder, frame_side),
                   MaskClassifier(model, unmasked_threshold, threads), crop, nose_check, nose, chin_check, chin)

    @classmethod
    def load_for_video(cls, model_path: str | Path | None = None,
                       detection_size: int = defaults.VIDEO_DETECTION_SIZE, **options) -> MaskPipeline:
        """The live-video pipeline: the video default detector as one pass at `detection_size` pixels."""
        options.setdefault("detector", defaults.VIDEO_DETECTOR)
        return cls.load(model_path, frame_side=detection_size, **options)

    def crops(self, image: np.ndarray, boxes: list[Box]) -> Iterator[np.ndarray]:
        """The classifier's views of `boxes` (CropSettings), one batch at a time with one crop per box; the first
        is each box as cropped."""
        size = self.classifier.input_size
        for margin, square in self.crop.crops():
            batch = np.asarray([crop_face(image, box, size, margin, square) for box in boxes], np.float32)
            yield batch
            if self.crop.mirror:
                yield np.ascontiguousarray(batch[:, :, ::-1])

    def probabilities(self, image: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """The classifier's class probabilities for each box, the mean over its views."""
        if not boxes:
            return np.zeros((0, len(self.classifier.class_names)), np.float32)
        return np.mean([self.classifier.probabilities(view) for view in self.crops(image, boxes)], axis=0)

    def classify(self, image: np.ndarray, detections: list[Detection]) -> list[FaceResult]:
        """Classify the faces at `detections` in `image`."""
        boxes = [d.box for d in detections]
        predictions: list[Prediction] = self.classifier.predictions(self.probabilities(image, boxes))
        results = [FaceResult(d.box, d.score, p.label, p.probability, p.probabilities)
                   for d, p in zip(detections, predictions)]
        landmarks = [d.landmarks for d in detections]
        return self.check_chins(image, self.check_noses(image, results, landmarks), landmarks)

    def check_noses(self, image: np.ndarray, results: list[FaceResult],
                    landmarks: list[Landmarks | None] | None = None) -> list[FaceResult]:
        """`results` after the nose check (NoseCheck) of the faces called with_mask, using each face's landmarks
        where known (`landmarks`: one entry or None per result)."""
        check = self.nose_check
        masked = [index for index, result in enumerate(results) if result.label == MASKED]
        if check is None or not masked:
            return results
        landmarks = [None] * len(results) if landmarks is None else landmarks
        parts = [check.upper_boxes(results[index].box, landmarks[index]) for index in masked]
        uncovered = self._nose_bare(image, [face[len(face) // 2] for face in parts])
        screen = min(check.screen, check.threshold)
        others = [(face_index, part) for face_index, face in enumerate(parts) if uncovered[face_index] >= screen
                  for position, part in enumerate(face) if position != len(face) // 2]
        for (face_index, _), probability in zip(others, self._nose_bare(image, [part for _, part in others])):
            uncovered[face_index] = max(uncovered[face_index], probability)
        checked = list(results)
        for index, probability in zip(masked, uncovered):
            checked[index] = replace(results[index], nose_uncovered=probability)
            if probability >= check.threshold:
                checked[index] = replace(checked[index], label=INCORRECT, probability=probability)
        return checked

    def check_chins(self, image: np.ndarray, results: list[FaceResult],
                    landmarks: list[Landmarks | None] | None = None) -> list[FaceResult]:
        """`results` after the chin check (ChinCheck) of the faces called without_mask that are large enough for it,
        using each face's landmarks where known (`landmarks`: one entry or None per result)."""
        check = self.chin_check
        if check is None:
            return results
        unmasked = [index for index, result in enumerate(results)
                    if result.label == UNMASKED and check.looks_at(result.box)]
        if not unmasked:
            return results
        landmarks = [None] * len(results) if landmarks is None else landmarks
        parts = [check.lower_box(results[index].box, landmarks[index]) for index in unmasked]
        masked = 1.0 - np.asarray(self._not_compliant(self.chin_classifier, image, parts))
        checked = list(results)
        for index, probability in zip(unmasked, masked.tolist()):
            checked[index] = replace(results[index], mask_on_chin=probability)
            if probability >= check.threshold:
                checked[index] = replace(checked[index], label=INCORRECT, probability=probability)
        return checked

    def _nose_bare(self, image: np.ndarray, parts: list[Box]) -> list[float]:
        """The nose model's probability that the nose is bare, on each part of `image`."""
        return self._not_compliant(self.nose_classifier, image, parts)

    @staticmethod
    def _not_compliant(model: MaskClassifier, image: np.ndarray, parts: list[Box]) -> list[float]:
        """`model`'s probability of every class but with_mask on each part of `image`."""
        rows = model.probabilities([crop_face(image, part, model.input_size) for part in parts])
        return [float(not_compliant_probability(dict(zip(model.class_names, row)))) for row in rows]

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
    from facemask.batch.inputs import resolve_batch_inputs  # here: the batch package imports this module

    if isinstance(item, np.ndarray):
        return [(as_bgr8(item, array_name), array_name)]
    if isinstance(item, (str, os.PathLike)):
        if not str(item) or not os.fspath(item):
            raise FacemaskError("empty image path: ''")
        return [(path, str(path)) for path in resolve_batch_inputs(Path(item)).paths]
    raise FacemaskError(f"expected an image path, folder, glob pattern or array, got {type(item).__name__}: "
                        f"{str(item)[:80]!r}")
