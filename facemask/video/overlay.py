"""What a live frame shows: boxes and labels, the frame rate and counts, the alert banner."""

from __future__ import annotations

import time

import cv2
import numpy as np

from facemask.drawing import FONT, annotate, draw_caption
from facemask.metadata import is_flagged
from facemask.pipeline import FaceResult


def draw_overlay(frame: np.ndarray, faces: list[FaceResult], fps: float, alert: bool) -> np.ndarray:
    """The frame with every face boxed and labelled, the frame rate and masked/unmasked counts at the top,
    and a red banner at the bottom while an unmasked face is in view (when `alert`). The live loop passes each
    tracked person labelled with the decision on their recent looks (Track.current), so what is drawn and
    counted is the person's call, not the latest single classification."""
    annotated = annotate(frame, faces)
    unmasked = sum(is_flagged(face.label) for face in faces)
    masked = len(faces) - unmasked
    scale = float(np.clip(min(frame.shape[:2]) / 800.0, 0.45, 2.0))
    thickness = max(1, int(round(scale * 2)))
    draw_caption(
        annotated,
        f"{fps:4.1f} FPS  masked {masked}  unmasked {unmasked}",
        0,
        0,
        (40, 40, 40),
        scale,
        thickness,
        above=False,
    )
    if alert and unmasked:
        text = "NO MASK DETECTED"
        (text_w, _), _ = cv2.getTextSize(text, FONT, scale * 1.6, thickness + 1)
        draw_caption(
            annotated,
            text,
            (frame.shape[1] - text_w) // 2,
            frame.shape[0],
            (0, 0, 255),
            scale * 1.6,
            thickness + 1,
            above=True,
        )
    return annotated


class RateMeter:
    """Frames per second over the recent frames (exponential moving average of frame intervals)."""

    def __init__(self, smoothing: float = 0.9) -> None:
        self.smoothing = smoothing
        self._last: float | None = None
        self._interval: float | None = None

    def tick(self) -> float:
        now = time.perf_counter()
        if self._last is not None:
            interval = now - self._last
            self._interval = (
                interval
                if self._interval is None
                else (self.smoothing * self._interval + (1 - self.smoothing) * interval)
            )
        self._last = now
        return 1.0 / self._interval if self._interval else 0.0
