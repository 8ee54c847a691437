"""Drawing the mask templates by code (surgical, N95, KN95 and cloth masks) on the shared canvas; only
scripts/make_mask_templates.py uses this, synthesis reads the finished files (facemask.templates.files)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from facemask.templates.files import MaskTemplate
from facemask.templates.geometry import CANVAS_SIZE, JAW_SAMPLES, canonical_anchors, outline_names

SUPERSAMPLE = 3  # draw at 3x and shrink, for smooth edges and lines


def _outline_polygon(inset: float = 0.0) -> np.ndarray:
    """The mask outline on the canvas, shrunk by `inset` pixels towards its centre."""
    anchors = canonical_anchors()
    points = np.asarray([anchors[name] for name in outline_names()], dtype=np.float64)
    # a smooth closed curve through the outline anchors (Catmull-Rom), so edges are not faceted
    count = len(points)
    curve = []
    for i in range(count):
        p0, p1, p2, p3 = points[i - 1], points[i], points[(i + 1) % count], points[(i + 2) % count]
        for t in np.linspace(0.0, 1.0, 8, endpoint=False):
            curve.append(
                0.5
                * (
                    2 * p1
                    + (p2 - p0) * t
                    + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t * t
                    + (3 * p1 - p0 - 3 * p2 + p3) * t**3
                )
            )
    points = np.asarray(curve)
    if inset:
        centre = points.mean(axis=0)
        direction = points - centre
        points = points - inset * direction / np.linalg.norm(direction, axis=1, keepdims=True)
    return points


@dataclass(frozen=True)
class Canvas:
    """A supersampled drawing surface: BGR colour, alpha, and the outline as drawn."""

    colour: np.ndarray
    alpha: np.ndarray
    outline: np.ndarray

    @classmethod
    def blank(cls, shape_outline: np.ndarray) -> Canvas:
        width, height = CANVAS_SIZE
        colour = np.zeros((height * SUPERSAMPLE, width * SUPERSAMPLE, 3), np.float32)
        alpha = np.zeros((height * SUPERSAMPLE, width * SUPERSAMPLE), np.uint8)
        outline = np.round(shape_outline * SUPERSAMPLE).astype(np.int32)
        cv2.fillPoly(alpha, [outline], 255, lineType=cv2.LINE_AA)
        return cls(colour, alpha, outline)

    def px(self, points) -> np.ndarray:
        """Canvas pixel coordinates as supersampled integer points for cv2 drawing."""
        return np.round(np.asarray(points, dtype=np.float64) * SUPERSAMPLE).astype(np.int32)

    def finish(self) -> np.ndarray:
        """The template picture as OpenCV BGRA, shrunk to the canvas size."""
        bgra = np.dstack([np.clip(self.colour, 0, 255).astype(np.uint8), self.alpha])
        return cv2.resize(bgra, CANVAS_SIZE, interpolation=cv2.INTER_AREA)


def _fabric(canvas: Canvas, base_bgr, rng: np.random.Generator, grain: float) -> None:
    """Fill with a colour, fine woven noise and a gentle top-lit gradient."""
    height, width = canvas.alpha.shape
    canvas.colour[:] = np.asarray(base_bgr, np.float32)
    noise: np.ndarray = rng.normal(0.0, grain, (height // 2 + 1, width // 2 + 1)).astype(np.float32)
    noise = cv2.resize(noise, (width, height), interpolation=cv2.INTER_LINEAR)
    gradient = np.linspace(1.04, 0.93, height, dtype=np.float32)[:, None]
    canvas.colour[...] *= gradient[..., None]
    canvas.colour[...] += noise[..., None]


def _pleats(canvas: Canvas, count: int, depth: float) -> None:
    """Horizontal folds across the mask: a shadow under each fold and a highlight above it."""
    anchors = canonical_anchors()
    top = anchors["jaw_0"][1] + 12
    bottom = anchors["inner_lower"][1] + 25
    height, width = canvas.alpha.shape
    shade: np.ndarray = np.zeros((height, width), np.float32)
    for y in np.linspace(top, bottom, count):
        y_px = int(round(y * SUPERSAMPLE))
        cv2.line(shade, (0, y_px), (width, y_px + 6 * SUPERSAMPLE), -depth, 4 * SUPERSAMPLE)
        cv2.line(shade, (0, y_px - 5 * SUPERSAMPLE), (width, y_px + SUPERSAMPLE), depth * 0.5, 3 * SUPERSAMPLE)
    shade = cv2.GaussianBlur(shade, (0, 0), 2.0 * SUPERSAMPLE)
    canvas.colour[...] += shade[..., None]


def _binding(canvas: Canvas, bgr, thickness: float) -> None:
    """A stitched border band along the outline."""
    cv2.polylines(
        canvas.colour,
        [canvas.outline],
        True,
        tuple(float(c) for c in bgr),
        int(thickness * SUPERSAMPLE * 2),
        cv2.LINE_AA,
    )


def _nose_wire(canvas: Canvas, bgr) -> None:
    anchors = canonical_anchors()
    left, bridge, right = anchors["top_left_mid"], anchors["bridge"], anchors["top_right_mid"]
    points = canvas.px(
        [
            (left[0] * 0.7 + bridge[0] * 0.3, left[1] * 0.7 + bridge[1] * 0.3 + 7),
            (bridge[0], bridge[1] + 7),
            (right[0] * 0.7 + bridge[0] * 0.3, right[1] * 0.7 + bridge[1] * 0.3 + 7),
        ]
    )
    cv2.polylines(canvas.colour, [points], False, tuple(float(c) for c in bgr), 3 * SUPERSAMPLE, cv2.LINE_AA)


def _centre_seam(canvas: Canvas, depth: float) -> None:
    """The vertical fold of a KN95 / cloth mask: shadow one side, light the other."""
    anchors = canonical_anchors()
    bridge, chin = anchors["bridge"], anchors[f"jaw_{JAW_SAMPLES // 2}"]
    height, width = canvas.alpha.shape
    xs = np.arange(width, dtype=np.float32)[None, :] / SUPERSAMPLE - bridge[0]
    side = np.tanh(xs / 40.0) * depth * 0.5
    canvas.colour[...] += np.repeat(side, height, axis=0)[..., None]
    cv2.line(canvas.colour, tuple(canvas.px(bridge)), tuple(canvas.px(chin)), (0, 0, 0), SUPERSAMPLE, cv2.LINE_AA)
    ridge = np.zeros((height, width), np.float32)
    cv2.line(ridge, tuple(canvas.px(bridge)), tuple(canvas.px(chin)), -depth, 2 * SUPERSAMPLE, cv2.LINE_AA)
    canvas.colour[...] += cv2.GaussianBlur(ridge, (0, 0), 3.0 * SUPERSAMPLE)[..., None]


def _cup_shading(canvas: Canvas, strength: float) -> None:
    """Darken towards the edges, as a mask curving round the face catches less light."""
    inside = (canvas.alpha > 127).astype(np.uint8)
    distance = cv2.distanceTransform(inside, cv2.DIST_L2, 5)
    reach = distance.max() * 0.6 + 1e-6
    canvas.colour[...] *= (1.0 - strength * (1.0 - np.clip(distance / reach, 0, 1)) ** 2)[..., None]


def _welds(canvas: Canvas, bgr) -> None:
    """The dotted heat-welded seam of a respirator, just inside its edge."""
    inner = np.round(_outline_polygon(inset=9.0) * SUPERSAMPLE).astype(np.int32)
    for point in inner[::3]:
        cv2.circle(
            canvas.colour,
            tuple(int(v) for v in point),
            int(1.6 * SUPERSAMPLE),
            tuple(float(c) for c in bgr),
            -1,
            cv2.LINE_AA,
        )


def _valve(canvas: Canvas, bgr) -> None:
    anchors = canonical_anchors()
    centre = canvas.px((anchors["inner_lower"][0] + 70, anchors["inner_lower"][1] - 15))
    radius = 30 * SUPERSAMPLE
    cv2.circle(canvas.colour, tuple(centre), radius, tuple(float(c) for c in bgr), -1, cv2.LINE_AA)
    cv2.circle(canvas.colour, tuple(centre), radius, (60, 60, 60), SUPERSAMPLE * 2, cv2.LINE_AA)
    for k in range(-2, 3):
        y = int(centre[1] + k * 9 * SUPERSAMPLE)
        cv2.line(
            canvas.colour,
            (int(centre[0] - 18 * SUPERSAMPLE), y),
            (int(centre[0] + 18 * SUPERSAMPLE), y),
            tuple(float(c) * 0.6 for c in bgr),
            SUPERSAMPLE * 2,
            cv2.LINE_AA,
        )


def _stripes(canvas: Canvas, bgr, spacing: float, angle_degrees: float) -> None:
    height, width = canvas.alpha.shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32) / SUPERSAMPLE
    angle = np.deg2rad(angle_degrees)
    phase = (xs * np.cos(angle) + ys * np.sin(angle)) / spacing
    band = (np.sin(2 * np.pi * phase) > 0.3).astype(np.float32)
    band = cv2.GaussianBlur(band, (0, 0), SUPERSAMPLE * 0.8)[..., None]
    canvas.colour[:] = canvas.colour * (1 - band) + np.asarray(bgr, np.float32) * band * (canvas.colour / 200 + 0.1)


def _plaid(canvas: Canvas, bgr, spacing: float) -> None:
    height, width = canvas.alpha.shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32) / SUPERSAMPLE
    lines = (
        (np.sin(2 * np.pi * xs / spacing) > 0.6).astype(np.float32)
        + (np.sin(2 * np.pi * ys / spacing) > 0.6).astype(np.float32)
    ) * 0.5
    lines = cv2.GaussianBlur(lines, (0, 0), SUPERSAMPLE * 0.8)[..., None]
    canvas.colour[:] = canvas.colour * (1 - lines) + np.asarray(bgr, np.float32) * lines


def _dots(canvas: Canvas, bgr, rng: np.random.Generator, spacing: float, radius: float) -> None:
    height, width = canvas.alpha.shape
    for row, y in enumerate(np.arange(0, height / SUPERSAMPLE, spacing)):
        for x in np.arange((row % 2) * spacing / 2, width / SUPERSAMPLE, spacing):
            jitter = rng.normal(0, spacing * 0.06, 2)
            cv2.circle(
                canvas.colour,
                tuple(canvas.px((x + jitter[0], y + jitter[1]))),
                int(radius * SUPERSAMPLE),
                tuple(float(c) for c in bgr),
                -1,
                cv2.LINE_AA,
            )


def _flowers(canvas: Canvas, palette, rng: np.random.Generator, count: int) -> None:
    width, height = CANVAS_SIZE
    for _ in range(count):
        centre = rng.uniform((0, 0), (width, height))
        size = rng.uniform(9, 18)
        colour = palette[int(rng.integers(len(palette)))]
        for petal in range(5):
            angle = 2 * np.pi * petal / 5 + rng.uniform(0, 1)
            offset = centre + 0.8 * size * np.array([np.cos(angle), np.sin(angle)])
            cv2.circle(
                canvas.colour,
                tuple(canvas.px(offset)),
                int(size * 0.6 * SUPERSAMPLE),
                tuple(float(c) for c in colour),
                -1,
                cv2.LINE_AA,
            )
        cv2.circle(
            canvas.colour, tuple(canvas.px(centre)), int(size * 0.35 * SUPERSAMPLE), (40, 200, 240), -1, cv2.LINE_AA
        )


def _camouflage(canvas: Canvas, palette, rng: np.random.Generator) -> None:
    height, width = canvas.alpha.shape
    for colour in palette:
        field: np.ndarray = rng.normal(0, 1, (height // 40 + 2, width // 40 + 2)).astype(np.float32)
        field = cv2.resize(field, (width, height), interpolation=cv2.INTER_CUBIC)
        blob = cv2.GaussianBlur((field > 0.7).astype(np.float32), (0, 0), SUPERSAMPLE)[..., None]
        canvas.colour[:] = canvas.colour * (1 - blob) + np.asarray(colour, np.float32) * blob


@dataclass(frozen=True)
class TemplateDesign:
    """How to draw one template: its name, kind and a drawing function of (canvas, rng)."""

    name: str
    kind: str
    draw: Callable[[Canvas, np.random.Generator], None]
    inset: float = 0.0


def _surgical(base, pleat_count: int = 3, pleat_depth: float = 18.0, binding=None):
    def draw(canvas: Canvas, rng: np.random.Generator) -> None:
        _fabric(canvas, base, rng, grain=3.0)
        _pleats(canvas, pleat_count, pleat_depth)
        _binding(canvas, binding or tuple(c * 0.93 for c in base), 5.0)
        _nose_wire(canvas, tuple(min(255.0, c * 1.08) for c in base))
        _cup_shading(canvas, 0.18)

    return draw


def _respirator(base, valve=None, seam: bool = True):
    def draw(canvas: Canvas, rng: np.random.Generator) -> None:
        _fabric(canvas, base, rng, grain=4.0)
        if seam:
            _centre_seam(canvas, 26.0)
        _welds(canvas, tuple(c * 0.85 for c in base))
        if valve is not None:
            _valve(canvas, valve)
        _cup_shading(canvas, 0.28)

    return draw


def _cloth(base, pattern=None):
    def draw(canvas: Canvas, rng: np.random.Generator) -> None:
        _fabric(canvas, base, rng, grain=7.0)
        if pattern is not None:
            pattern(canvas, rng)
        _centre_seam(canvas, 16.0)
        _binding(canvas, tuple(c * 0.8 for c in base), 3.0)
        _cup_shading(canvas, 0.3)

    return draw


def template_designs() -> list[TemplateDesign]:
    """The project's mask templates (colours are BGR)."""
    return [
        TemplateDesign("surgical_blue", "surgical", _surgical((222, 190, 120))),
        TemplateDesign("surgical_white", "surgical", _surgical((238, 240, 240), binding=(225, 228, 228))),
        TemplateDesign("surgical_black", "surgical", _surgical((48, 46, 45), pleat_depth=10.0)),
        TemplateDesign(
            "surgical_pleated_green", "surgical", _surgical((190, 205, 150), pleat_count=5, pleat_depth=26.0)
        ),
        TemplateDesign("surgical_pink", "surgical", _surgical((200, 180, 240))),
        TemplateDesign("n95_white", "n95", _respirator((232, 236, 238), seam=False), inset=4.0),
        TemplateDesign("n95_valve", "n95", _respirator((230, 232, 235), valve=(150, 150, 150), seam=False), inset=4.0),
        TemplateDesign("kn95_white", "kn95", _respirator((240, 242, 243))),
        TemplateDesign("kn95_black", "kn95", _respirator((40, 40, 42))),
        TemplateDesign("cloth_black", "cloth", _cloth((35, 35, 35))),
        TemplateDesign("cloth_navy", "cloth", _cloth((90, 50, 30))),
        TemplateDesign("cloth_grey", "cloth", _cloth((150, 150, 148))),
        TemplateDesign("cloth_red_plaid", "cloth", _cloth((40, 40, 170), lambda c, r: _plaid(c, (30, 30, 60), 28))),
        TemplateDesign(
            "cloth_blue_stripes", "cloth", _cloth((200, 160, 90), lambda c, r: _stripes(c, (250, 250, 250), 22, 90))
        ),
        TemplateDesign(
            "cloth_polka_dots", "cloth", _cloth((60, 40, 130), lambda c, r: _dots(c, (235, 235, 235), r, 30, 5))
        ),
        TemplateDesign(
            "cloth_floral",
            "cloth",
            _cloth((210, 230, 240), lambda c, r: _flowers(c, [(90, 80, 220), (180, 120, 230), (200, 150, 80)], r, 40)),
        ),
        TemplateDesign(
            "cloth_camouflage",
            "cloth",
            _cloth((70, 110, 100), lambda c, r: _camouflage(c, [(50, 80, 90), (40, 60, 50), (110, 150, 160)], r)),
        ),
    ]


def draw_template(design: TemplateDesign, seed: int = 0) -> MaskTemplate:
    """Draw `design` on the canvas (deterministic for a seed)."""
    canvas = Canvas.blank(_outline_polygon(inset=design.inset))
    design.draw(canvas, np.random.default_rng(seed))
    return MaskTemplate(design.name, design.kind, canvas.finish(), canonical_anchors())
