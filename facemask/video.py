"""Live monitoring: frames from a camera, a file or a stream through the mask pipeline, with face tracking,
debounced events, recording, an on-screen overlay and alerts."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol, TextIO

import cv2
import numpy as np
from imutils.video import FileVideoStream

from facemask.metadata import MASKED
from facemask.detection import Box, Detection
from facemask.drawing import FONT, annotate, draw_caption
from facemask.errors import FacemaskError
from facemask.outputs import publish, recover, temporary_path
from facemask.pipeline import FaceResult, MaskPipeline

STREAM_TIMEOUT_MS = 5000
RECORDING_CODECS = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "MJPG", ".mov": "mp4v"}
DEFAULT_RECORDING_FPS = 25.0


# ---------------------------------------------------------------------------------------------------- sources


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
            return cv2.VideoCapture(source, cv2.CAP_ANY, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS,
                                                          cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_TIMEOUT_MS])
        return cv2.VideoCapture(source)


def retry_delays(max_retries: int, first: float = 1.0, longest: float = 30.0) -> Iterator[float]:
    """Back-off before each reconnection attempt: 1, 2, 4, ... seconds, at most `longest`, `max_retries` times."""
    for attempt in range(max_retries):
        yield min(longest, first * 2 ** attempt)


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
        self.info = SourceInfo(path, int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                               int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)), float(capture.get(cv2.CAP_PROP_FPS)))

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

    def __init__(self, source: int | str, max_retries: int = 5,
                 on_retry: Callable[[str], None] = lambda message: None) -> None:
        self.source = source
        self.max_retries = max_retries
        self.on_retry = on_retry
        self._stopped = False
        self.capture = self._connect(initial=True)
        self.info = SourceInfo(str(source), int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                               int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                               float(self.capture.get(cv2.CAP_PROP_FPS)))
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
                raise FacemaskError(self._failure)
            return None

    def close(self) -> None:
        self._stopped = True
        if self._thread.is_alive():
            self._thread.join(timeout=STREAM_TIMEOUT_MS / 1000 + 1)
        self.capture.release()


def open_source(text: str, max_retries: int = 5,
                on_retry: Callable[[str], None] = lambda message: None) -> FileSource | LiveSource:
    """A FileSource or LiveSource for a `--source` value (camera index, video file or stream URL), opened but
    not yet started."""
    source = parse_source(text)
    if isinstance(source, str) and not is_stream(source):
        return FileSource(source)
    return LiveSource(source, max_retries, on_retry)


# ---------------------------------------------------------------------------------------------------- tracking


@dataclass
class Track:
    """One face followed across frames: its latest box, its latest classification and its history."""

    id: int
    detection: Detection
    face: FaceResult | None = None
    since_classified: int = 0
    missed: int = 0
    reported: bool = False

    @property
    def current(self) -> FaceResult:
        """The latest classification at this frame's box."""
        return replace(self.face, box=self.detection.box, score=self.detection.score)


class FaceTracker:
    """Follows faces from frame to frame by box overlap (greedy, highest IoU first).

    A track survives `patience` frames without a matching detection. `classify_every` says how many frames a
    tracked face keeps its classification before it is classified again (1: every frame).
    """

    def __init__(self, iou_threshold: float = 0.3, patience: int = 10, classify_every: int = 1) -> None:
        self.iou_threshold = iou_threshold
        self.patience = patience
        self.classify_every = classify_every
        self.tracks: list[Track] = []
        self._next_id = 1

    def update(self, detections: list[Detection]) -> list[Track]:
        """Match this frame's detections to the tracks; returns the tracks seen in this frame."""
        pairs = sorted(((track.detection.box.iou(d.box), t, i) for t, track in enumerate(self.tracks)
                        for i, d in enumerate(detections)), reverse=True)
        matched_tracks: set[int] = set()
        matched_detections: set[int] = set()
        for overlap, t, i in pairs:
            if overlap < self.iou_threshold:
                break
            if t in matched_tracks or i in matched_detections:
                continue
            matched_tracks.add(t)
            matched_detections.add(i)
            track = self.tracks[t]
            track.detection, track.missed = detections[i], 0
            track.since_classified += 1
        for t, track in enumerate(self.tracks):
            if t not in matched_tracks:
                track.missed += 1
                track.since_classified += 1
        self.tracks = [track for track in self.tracks if track.missed <= self.patience]
        for i, detection in enumerate(detections):
            if i not in matched_detections:
                self.tracks.append(Track(self._next_id, detection))
                self._next_id += 1
        return [track for track in self.tracks if track.missed == 0]

    def due(self, visible: list[Track]) -> list[Track]:
        """The visible tracks to classify in this frame: new ones and those classified `classify_every` ago."""
        return [track for track in visible if track.face is None or track.since_classified >= self.classify_every]


# ---------------------------------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class Event:
    """An unmasked face appearing: one per tracked face, however long it stays."""

    time: str
    frame: int
    track: int
    label: str
    box: Box
    probability: float

    def to_json(self) -> dict:
        return {"time": self.time, "frame": self.frame, "track": self.track, "label": self.label,
                "box": self.box.as_list(), "probability": round(self.probability, 4)}


class EventLog:
    """Appends events to a JSON-lines file, one line each, flushed at once so `tail -f` sees them."""

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        if path.is_dir():
            raise FacemaskError(f"events file is a folder: {path}")
        if not (path.parent if str(path.parent) else Path(".")).is_dir():
            raise FacemaskError(f"events folder does not exist: {path.parent}")
        self.path = path
        self._handle: TextIO = path.open("a", encoding="utf-8")

    def write(self, event: Event) -> None:
        self._handle.write(json.dumps(event.to_json()) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


class Recorder:
    """Writes annotated frames to a video file (sized by the first frame) through a temporary file that
    replaces the target on close, so the target is never a half-written video.

    With `fps` None (live sources, where frames are skipped when the pipeline is slower than the camera) the
    first `probe_frames` frames are held back to measure the rate frames actually come at, so the recording
    plays at the speed of life.
    """

    def __init__(self, path: str | Path, fps: float | None, probe_frames: int = 25) -> None:
        self.path = Path(path)
        self.codec = RECORDING_CODECS.get(self.path.suffix.lower())
        if self.codec is None:
            raise FacemaskError(f"recording needs one of the extensions {', '.join(RECORDING_CODECS)}: {self.path}")
        self.fps = fps if fps is None or 0 < fps <= 240 else DEFAULT_RECORDING_FPS
        self.probe_frames = probe_frames
        self.frames = 0
        self.size: tuple[int, int] | None = None
        self._held: list[tuple[float, np.ndarray]] = []
        self._writer: cv2.VideoWriter | None = None
        self._temporary: Path | None = None

    def _open(self, fps: float) -> None:
        recover(self.path.parent)
        self._temporary = temporary_path(self.path, keep_suffix=True)
        self._writer = cv2.VideoWriter(str(self._temporary), cv2.VideoWriter_fourcc(*self.codec), fps, self.size)
        if not self._writer.isOpened():
            self._temporary.unlink(missing_ok=True)
            raise FacemaskError(f"cannot record video with codec {self.codec}: {self.path}")

    def _release_held(self) -> None:
        """Open the writer at the measured rate and write the frames held back."""
        (first, _), (last, _) = self._held[0], self._held[-1]
        measured = (len(self._held) - 1) / (last - first) if last > first else DEFAULT_RECORDING_FPS
        self._open(min(240.0, max(1.0, measured)))
        for _, frame in self._held:
            self._writer.write(frame)
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
        publish(self._temporary, self.path)


# ---------------------------------------------------------------------------------------------------- alerts


def sound_command() -> list[str] | None:
    """A command that plays a short alert sound here, or None (the terminal bell is then used)."""
    if sys.platform == "darwin" and shutil.which("afplay"):
        return ["afplay", "/System/Library/Sounds/Ping.aiff"]
    if sys.platform.startswith("linux"):
        for player, sound in (("paplay", "/usr/share/sounds/freedesktop/stereo/bell.oga"),
                              ("aplay", "/usr/share/sounds/alsa/Front_Center.wav")):
            if shutil.which(player) and Path(sound).is_file():
                return [player, sound]
    return None


def play_alert_sound() -> None:
    """A short alert sound without blocking: the system sound on Windows, a player on macOS/Linux, or the
    terminal bell; nothing at all (and no error) where none of these exists."""
    if sys.platform == "win32":
        import winsound

        winsound.MessageBeep(winsound.MB_ICONEXCLAMATION)
        return
    command = sound_command()
    if command is not None:
        try:
            subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
            return
        except OSError:
            pass
    if sys.stderr.isatty():
        sys.stderr.write("\a")
        sys.stderr.flush()


def parse_command(text: str) -> list[str]:
    """`--alert-command` split as a shell would split it; an error if the program is not found."""
    try:
        argv = shlex.split(text, posix=sys.platform != "win32")
    except ValueError as problem:
        raise FacemaskError(f"cannot parse --alert-command ({problem}): {text}") from None
    if not argv or shutil.which(argv[0]) is None:
        raise FacemaskError(f"--alert-command program not found: {argv[0] if argv else text!r}")
    return argv


@dataclass
class Alerts:
    """What happens on an event: a banner on the frames while an unmasked face is seen, a sound, a command
    (which gets the event as JSON in the FACEMASK_EVENT environment variable)."""

    banner: bool = False
    sound: bool = False
    command: list[str] | None = None
    _running: list[subprocess.Popen] = field(default_factory=list)

    def fire(self, event: Event) -> None:
        if self.sound:
            play_alert_sound()
        if self.command:
            self._running = [process for process in self._running if process.poll() is None]
            environment = {**os.environ, "FACEMASK_EVENT": json.dumps(event.to_json())}
            self._running.append(subprocess.Popen(self.command, stdin=subprocess.DEVNULL, env=environment))

    def close(self, timeout: float = 10.0) -> None:
        """Wait (up to `timeout` seconds each) for alert commands still running."""
        for process in self._running:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self._running = []


# ---------------------------------------------------------------------------------------------------- overlay


def draw_overlay(frame: np.ndarray, faces: list[FaceResult], fps: float, alert: bool) -> np.ndarray:
    """The frame with every face boxed and labelled, the frame rate and masked/unmasked counts at the top,
    and a red banner at the bottom while an unmasked face is in view (when `alert`)."""
    annotated = annotate(frame, faces)
    masked = sum(face.label == MASKED for face in faces)
    unmasked = len(faces) - masked
    scale = float(np.clip(min(frame.shape[:2]) / 800.0, 0.45, 2.0))
    thickness = max(1, int(round(scale * 2)))
    draw_caption(annotated, f"{fps:4.1f} FPS  masked {masked}  unmasked {unmasked}", 0, 0, (40, 40, 40), scale,
                 thickness, above=False)
    if alert and unmasked:
        text = "NO MASK DETECTED"
        (text_w, _), _ = cv2.getTextSize(text, FONT, scale * 1.6, thickness + 1)
        draw_caption(annotated, text, (frame.shape[1] - text_w) // 2, frame.shape[0], (0, 0, 255), scale * 1.6,
                     thickness + 1, above=True)
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
            self._interval = interval if self._interval is None else (
                self.smoothing * self._interval + (1 - self.smoothing) * interval)
        self._last = now
        return 1.0 / self._interval if self._interval else 0.0


# ---------------------------------------------------------------------------------------------------- the loop


@dataclass
class MonitorSettings:
    """How the monitor runs: classification cadence, tracking, outputs and what it shows."""

    classify_every: int = 1
    track_patience: int = 10
    track_iou: float = 0.3
    display: bool = False
    window: str = "facemask"
    alerts: Alerts = field(default_factory=Alerts)


@dataclass
class MonitorSummary:
    """What a run saw: frames processed, seconds, events, and why it stopped."""

    frames: int = 0
    seconds: float = 0.0
    events: int = 0
    faces: int = 0
    stopped_by: str = "end of video"

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def monitor(pipeline: MaskPipeline, source: FrameSource, settings: MonitorSettings,
            recorder: Recorder | None = None, events: EventLog | None = None,
            on_event: Callable[[Event], None] = lambda event: None) -> MonitorSummary:
    """Run every frame of `source` through the pipeline until the source ends, `q` is pressed in the window,
    or Ctrl-C; returns the summary. Faces are tracked so a tracked face is classified only every
    `settings.classify_every` frames and an unmasked face makes one event, not one per frame."""
    tracker = FaceTracker(settings.track_iou, settings.track_patience, settings.classify_every)
    rate = RateMeter()
    summary = MonitorSummary()
    start = time.perf_counter()
    try:
        while True:
            frame = source.read()
            if frame is None:
                break
            index = summary.frames
            visible = tracker.update(pipeline.detector.detect(frame))
            due = tracker.due(visible)
            for track, face in zip(due, pipeline.classify(frame, [track.detection for track in due])):
                track.face, track.since_classified = face, 0
            faces = [track.current for track in visible]
            summary.faces += len(faces)
            for track in visible:
                if track.face.label != MASKED and not track.reported:
                    track.reported = True
                    event = Event(now_iso(), index, track.id, track.face.label, track.detection.box,
                                  track.face.probability)
                    summary.events += 1
                    if events is not None:
                        events.write(event)
                    settings.alerts.fire(event)
                    on_event(event)
            annotated = draw_overlay(frame, faces, rate.tick(), settings.alerts.banner)
            if recorder is not None:
                recorder.write(annotated)
            summary.frames += 1
            if settings.display:
                cv2.imshow(settings.window, annotated)
                if cv2.waitKey(1) & 0xFF == ord("q"):
                    summary.stopped_by = "q pressed"
                    break
                if cv2.getWindowProperty(settings.window, cv2.WND_PROP_VISIBLE) < 1:
                    summary.stopped_by = "window closed"
                    break
    except KeyboardInterrupt:
        summary.stopped_by = "interrupted"
    finally:
        summary.seconds = time.perf_counter() - start
        if settings.display:
            cv2.destroyAllWindows()
    return summary
