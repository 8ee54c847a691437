"""Recording the annotated video, never leaving a half-written file at the target."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from facemask.errors import FacemaskError
from facemask.outputs import os_error, publish, recover, temporary_path

RECORDING_CODECS = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "MJPG", ".mov": "mp4v"}
DEFAULT_RECORDING_FPS = 25.0


class Recorder:
    """Writes annotated frames to a video file (sized by the first frame) through a temporary file that
    replaces the target on `close` (a clean stop), so the target is never a half-written video; after a crash
    `discard` drops the temporary file and the target keeps what it held.

    With `fps` None (live sources, where frames are skipped when the pipeline is slower than the camera) the
    first `probe_frames` frames are held back to measure the rate frames actually come at, so the recording
    plays at the speed of life.
    """

    def __init__(self, path: str | Path, fps: float | None, probe_frames: int = 25) -> None:
        self.path = Path(path)
        codec = RECORDING_CODECS.get(self.path.suffix.lower())
        if codec is None:
            raise FacemaskError(f"recording needs one of the extensions {', '.join(RECORDING_CODECS)}: {self.path}")
        self.codec = codec
        self.fps = fps if fps is None or 0 < fps <= 240 else DEFAULT_RECORDING_FPS
        self.probe_frames = probe_frames
        self.frames = 0
        self.size: tuple[int, int] | None = None
        self._held: list[tuple[float, np.ndarray]] = []
        self._writer: cv2.VideoWriter | None = None
        self._temporary: Path | None = None

    def _open(self, fps: float) -> cv2.VideoWriter:
        assert self.size is not None, "opened before the first frame"
        recover(self.path.parent)
        temporary = self._temporary = temporary_path(self.path, keep_suffix=True)
        try:
            temporary.touch()  # the folder takes files: OpenCV would only say it cannot open a writer
        except OSError as error:
            self._temporary = None
            raise os_error(error, self.path) from None
        writer = self._writer = cv2.VideoWriter(str(temporary), cv2.VideoWriter.fourcc(*self.codec), fps, self.size)
        if not writer.isOpened():
            temporary.unlink(missing_ok=True)
            raise FacemaskError(f"cannot record video with codec {self.codec}: {self.path}")
        return writer

    def _release_held(self) -> None:
        """Open the writer at the measured rate and write the frames held back."""
        (first, _), (last, _) = self._held[0], self._held[-1]
        measured = (len(self._held) - 1) / (last - first) if last > first else DEFAULT_RECORDING_FPS
        writer = self._open(min(240.0, max(1.0, measured)))
        for _, frame in self._held:
            writer.write(frame)
        self._held = []

    def write(self, frame: np.ndarray) -> None:
        if self.size is None:
            self.size = (frame.shape[1], frame.shape[0])
        elif (frame.shape[1], frame.shape[0]) != self.size:  # a stream that came back at another size
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        self.frames += 1
        if self._writer is None and self.fps is not None:
            self._open(self.fps)
        if self._writer is not None:
            self._writer.write(frame)
            return
        self._held.append((time.perf_counter(), frame))
        if len(self._held) >= self.probe_frames:
            self._release_held()

    def close(self) -> None:
        """Finish the file and move it into place (nothing is written when no frame came)."""
        if self._held:
            self._release_held()
        if self._writer is None:
            return
        self._writer.release()
        self._writer = None
        assert self._temporary is not None, "a writer without its file"
        publish(self._temporary, self.path)
        self._temporary = None

    def discard(self) -> None:
        """Drop what was recorded (after a crash): the target keeps what it held. Nothing to do after `close`."""
        self._held = []
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._temporary is not None:
            self._temporary.unlink(missing_ok=True)
            self._temporary = None
