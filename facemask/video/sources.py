"""Where frames come from: a camera, a video file or a network stream, read on a thread; streams that drop are
reopened with back-off."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from imutils.video import FileVideoStream

from facemask.errors import FacemaskError

STREAM_TIMEOUT_MS = 5000


class SourceLost(FacemaskError):
    """A stream or camera that dropped and could not be reopened: the end of its video, reported as an error."""


def parse_source(text: str) -> int | str:
    """A `--source` value as OpenCV takes it: digits are a camera index, anything else a file path or URL."""
    text = text.strip()
    return int(text) if text.isdigit() else text


def is_stream(source: int | str) -> bool:
    """Whether the source is a network stream (rtsp://, http://, ...) rather than a camera or a file."""
    return isinstance(source, str) and "://" in source


@contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Keep OpenCV's and FFmpeg's own messages about sources off the terminal (the caller reports failures;
    set OPENCV_FFMPEG_LOGLEVEL=16 to see FFmpeg's reasons)."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


def _open_capture(source: int | str) -> cv2.VideoCapture:
    """cv2.VideoCapture on a camera or stream, quietly; streams time out after STREAM_TIMEOUT_MS."""
    with _quiet_opencv():
        if is_stream(source):
            return cv2.VideoCapture(
                source,
                cv2.CAP_ANY,
                [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_TIMEOUT_MS],
            )
        return cv2.VideoCapture(source)


def retry_delays(max_retries: int, first: float = 1.0, longest: float = 30.0) -> Iterator[float]:
    """Back-off before each reconnection attempt: 1, 2, 4, ... seconds, at most `longest`, `max_retries` times."""
    for attempt in range(max_retries):
        yield min(longest, first * 2**attempt)


class FrameSource(Protocol):
    """Anything the monitor reads frames from (started)."""

    def read(self) -> np.ndarray | None:
        """The next 8-bit BGR frame, or None when there are no more."""

    def close(self) -> None:
        """Stop reading and release the source."""


@dataclass
class SourceInfo:
    """What a source says about itself: its name, frame size and rate (0 when it does not know)."""

    name: str
    width: int
    height: int
    fps: float


class FileSource:
    """A video file decoded ahead on a thread (imutils FileVideoStream); every frame in order, then the end."""

    def __init__(self, path: str, queue_size: int = 32) -> None:
        if not Path(path).is_file():
            raise FacemaskError(f"video file not found: {path}")
        with _quiet_opencv():
            self._stream = FileVideoStream(path, queue_size=queue_size)
        capture = self._stream.stream
        if not capture.isOpened():
            raise FacemaskError(f"cannot open video file (not a video OpenCV can decode?): {path}")
        self.info = SourceInfo(
            path,
            int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            float(capture.get(cv2.CAP_PROP_FPS)),
        )

    def start(self) -> FileSource:
        """Start decoding on the reader thread."""
        self._stream.start()
        return self

    def read(self) -> np.ndarray | None:
        """The next frame, or None at the end of the file."""
        return self._stream.read()

    def close(self) -> None:
        if self._stream.thread.is_alive():
            self._stream.stop()
        self._stream.stream.release()


class LiveSource:
    """A camera or network stream read on a thread that keeps only the newest frame, so a slow consumer
    skips stale frames instead of falling behind. A stream that drops is reopened with back-off."""

    def __init__(
        self, source: int | str, max_retries: int = 5, on_retry: Callable[[str], None] = lambda message: None
    ) -> None:
        self.source = source
        self.max_retries = max_retries
        self.on_retry = on_retry
        self._stopped = False
        self.capture = self._connect(initial=True)
        self.info = SourceInfo(
            str(source),
            int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            float(self.capture.get(cv2.CAP_PROP_FPS)),
        )
        self._frame: np.ndarray | None = None
        self._fresh = False
        self._failure: str | None = None
        self._condition = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="frame-reader", daemon=True)

    def start(self) -> LiveSource:
        """Start reading on the reader thread (opening already happened, so a bad source fails early)."""
        self._thread.start()
        return self

    def _describe(self) -> str:
        return f"camera {self.source}" if isinstance(self.source, int) else f"stream {self.source}"

    def _connect(self, initial: bool) -> cv2.VideoCapture:
        """An opened capture; streams (and cameras that dropped) are retried with back-off."""
        capture = _open_capture(self.source)
        if capture.isOpened():
            return capture
        if initial and not is_stream(self.source):
            raise FacemaskError(f"cannot open camera {self.source} (no such device, or it is in use)")
        for delay in retry_delays(self.max_retries):
            if self._stopped:
                break
            self.on_retry(f"{self._describe()} unavailable, retrying in {delay:g} s")
            time.sleep(delay)
            capture = _open_capture(self.source)
            if capture.isOpened():
                return capture
        retries = f" after {self.max_retries} retries" if self.max_retries else ""
        raise FacemaskError(f"cannot open {self._describe()}{retries}")

    def _run(self) -> None:
        while not self._stopped:
            ok, frame = self.capture.read()
            if ok:
                with self._condition:
                    self._frame, self._fresh = frame, True
                    self._condition.notify()
                continue
            self.capture.release()
            if self._stopped:
                break
            try:
                self.capture = self._connect(initial=False)
            except FacemaskError as problem:
                with self._condition:
                    self._failure = f"{self._describe()} dropped: {problem}"
                    self._condition.notify()
                return

    def read(self) -> np.ndarray | None:
        """The newest frame not returned before (waits for it); raises FacemaskError if the source is gone."""
        with self._condition:
            while not self._fresh and self._failure is None and not self._stopped:
                self._condition.wait(timeout=0.5)
            if self._fresh:
                self._fresh = False
                return self._frame
            if self._failure is not None:
                raise SourceLost(self._failure)
            return None

    def close(self) -> None:
        self._stopped = True
        if self._thread.is_alive():
            self._thread.join(timeout=STREAM_TIMEOUT_MS / 1000 + 1)
        self.capture.release()


def open_source(
    text: str, max_retries: int = 5, on_retry: Callable[[str], None] = lambda message: None
) -> FileSource | LiveSource:
    """A FileSource or LiveSource for a `--source` value (camera index, video file or stream URL), opened but
    not yet started."""
    source = parse_source(text)
    if isinstance(source, str) and not is_stream(source):
        return FileSource(source)
    return LiveSource(source, max_retries, on_retry)
