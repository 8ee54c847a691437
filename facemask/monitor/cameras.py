"""One worker thread per camera: the camera's source through its own pipeline with the live loop of
facemask.video (tracking, debounced events, reconnection), events and counts into the store, the newest annotated
frame and the camera's status for the dashboard. A camera that fails is retried and shown offline; it never
stops the others."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from facemask.detection import Box
from facemask.errors import FacemaskError
from facemask.metadata import MASKED
from facemask.monitor.config import CameraConfig, scrub
from facemask.monitor.store import EventStore, iso
from facemask.pipeline import MaskPipeline
from facemask.video import FileSource, FrameReport, MonitorSettings, Track, monitor, open_source, retry_delays
from facemask.video.sources import SourceInfo, _quiet_opencv

LOG = logging.getLogger("facemask.monitor")
OFFLINE_AFTER_SECONDS = 5.0  # a camera whose newest frame is older than this is shown offline
FACE_MARGIN = 0.25  # the face snapshot: the box widened by this fraction of its size on every side
JPEG_QUALITY = 85


class ReplaySource:
    """A video file played like a camera: frames come at the file's own rate (or `fps`) on a reader thread that
    keeps only the newest one, so a pipeline slower than the file skips frames as it would with a live camera;
    with `loop`, the file starts over at its end."""

    def __init__(self, path: str, loop: bool = False, fps: float | None = None) -> None:
        with _quiet_opencv():
            self.capture = cv2.VideoCapture(path)
        if not self.capture.isOpened():
            self.capture.release()
            raise FacemaskError(f"cannot open video file (missing, or not a video OpenCV can decode): {path}")
        rate = fps or self.capture.get(cv2.CAP_PROP_FPS)
        self.fps = rate if 0 < rate <= 240 else 25.0
        self.info = SourceInfo(path, int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                               int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT)), self.fps)
        self.loop = loop
        self.started: float | None = None  # time.time() of the first frame: frame n is due at started + n / fps
        self._frame: np.ndarray | None = None
        self._fresh = False
        self._ended = False
        self._stopped = False
        self._condition = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="replay-reader", daemon=True)

    def start(self) -> ReplaySource:
        self._thread.start()
        return self

    def _run(self) -> None:
        shown, since_rewind = 0, 0
        while not self._stopped:
            ok, frame = self.capture.read()
            if not ok:
                if self.loop and since_rewind:  # start over (a file that cannot even do that ends)
                    self.capture.release()
                    with _quiet_opencv():
                        self.capture = cv2.VideoCapture(self.info.name)
                    since_rewind = 0
                    continue
                break
            since_rewind += 1
            if self.started is None:
                self.started = time.time()
            delay = self.started + shown / self.fps - time.time()
            if delay > 0:
                time.sleep(delay)
            shown += 1
            with self._condition:
                self._frame, self._fresh = frame, True
                self._condition.notify()
        with self._condition:
            self._ended = True
            self._condition.notify()

    def read(self) -> np.ndarray | None:
        """The newest frame not returned before (waits for it); None at the end of the file."""
        with self._condition:
            while not self._fresh and not self._ended and not self._stopped:
                self._condition.wait(timeout=0.5)
            if self._fresh:
                self._fresh = False
                return self._frame
            return None

    def close(self) -> None:
        self._stopped = True
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.capture.release()


@dataclass(frozen=True)
class CameraStatus:
    """What the dashboard and the API show about a camera (never its credentials)."""

    name: str
    kind: str
    source: str
    state: str  # starting, online, offline, ended, stopped
    fps: float
    frames: int
    faces: int
    events: int
    last_frame: float | None
    message: str | None
    width: int
    height: int

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "source": self.source, "status": self.state,
                "online": self.state == "online", "fps": round(self.fps, 1), "frames": self.frames,
                "faces_in_view": self.faces, "events": self.events,
                "last_frame": None if self.last_frame is None else iso(self.last_frame), "message": self.message,
                "width": self.width, "height": self.height}


def face_snapshot(frame: np.ndarray, box: Box, margin: float = FACE_MARGIN) -> np.ndarray:
    """The face at `box` with some of its surroundings, clipped to the frame."""
    height, width = frame.shape[:2]
    pad_x, pad_y = int(box.w * margin), int(box.h * margin)
    left, top = max(0, box.x - pad_x), max(0, box.y - pad_y)
    right, bottom = min(width, box.x + box.w + pad_x), min(height, box.y + box.h + pad_y)
    return frame[top:bottom, left:right]


def encode_jpeg(image: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return encoded.tobytes() if ok else b""


class CameraWorker:
    """Runs one camera on its own thread until `stop`: opens the source (retrying with back-off while it is
    missing or drops), runs the live loop, stores events with snapshots and counts every tracked person once."""

    def __init__(self, config: CameraConfig, pipeline: MaskPipeline, store: EventStore, stop: threading.Event,
                 on_event: Callable[[dict], None] = lambda payload: None) -> None:
        self.config = config
        self.pipeline = pipeline
        self.store = store
        self.stop = stop
        self.on_event = on_event
        self._lock = threading.Lock()
        self._state = "starting"
        self._message: str | None = None
        self._fps = 0.0
        self._frames = 0
        self._faces = 0
        self._events = 0
        self._last_frame: float | None = None
        self._size = (0, 0)
        self._annotated: np.ndarray | None = None
        self._annotated_index = -1
        self._jpeg: tuple[int, bytes] | None = None
        self._source = None
        self._open_tracks: list[Track] = []
        self.thread = threading.Thread(target=self._run, name=f"camera-{config.name}", daemon=True)

    # -- what others read -------------------------------------------------------------------------------------
    def status(self) -> CameraStatus:
        with self._lock:
            state = self._state
            if state == "online" and (self._last_frame is None
                                      or time.time() - self._last_frame > OFFLINE_AFTER_SECONDS):
                state = "offline"
            return CameraStatus(self.config.name, self.config.kind, self.config.shown_source, state,
                                self._fps if state == "online" else 0.0, self._frames, self._faces, self._events,
                                self._last_frame, self._message, *self._size)

    def live_jpeg(self) -> bytes | None:
        """The newest annotated frame as JPEG (encoded at most once per frame), or None before the first."""
        with self._lock:
            frame, index, cached = self._annotated, self._annotated_index, self._jpeg
        if frame is None:
            return None
        if cached is not None and cached[0] == index:
            return cached[1]
        data = encode_jpeg(frame, 75)
        with self._lock:
            self._jpeg = (index, data)
        return data

    @property
    def source(self):
        """The source being read now (None while the camera is offline)."""
        return self._source

    # -- the thread -------------------------------------------------------------------------------------------
    def start(self) -> CameraWorker:
        self.thread.start()
        return self

    def close_source(self) -> None:
        """Unblock the loop's read (called after `stop` is set)."""
        source = self._source
        if source is not None:
            source.close()

    def _set(self, state: str, message: str | None = None) -> None:
        with self._lock:
            self._state, self._message = state, message
        if message:
            LOG.warning("camera %s: %s", self.config.name, message)

    def _scrub(self, message: str) -> str:
        return scrub(message, [self.config.source])

    def _open(self):
        config = self.config
        if config.kind == "file" and (config.realtime or config.loop):
            return ReplaySource(config.source, config.loop)
        if config.kind == "file":
            return FileSource(config.source)
        # No retries inside the source: the worker retries itself, with back-off it can interrupt at once on stop.
        return open_source(config.source, max_retries=0)

    def _run(self) -> None:
        """Open, watch, and on any failure show the camera offline and try again after 1, 2, 4, ... 30 s (reset
        once frames come again), until `stop`."""
        delays = retry_delays(10 ** 9, first=1.0, longest=30.0)
        settings = MonitorSettings(classify_every=self.config.classify_every)
        while not self.stop.is_set():
            problem = None
            frames = self._frames
            try:
                self._source = self._open()
                with self._lock:
                    self._size = (self._source.info.width, self._source.info.height)
                summary = monitor(self.pipeline, self._source.start(), settings, on_frame=self._on_frame,
                                  stop=self.stop)
                if summary.stopped_by == "end of video" and not self.stop.is_set() and self.config.kind == "file":
                    self._set("ended", "end of the video file")
                    return
            except FacemaskError as error:  # missing, or dropped: shown offline, opened again after a while
                problem = str(error)
            except Exception as error:  # an unexpected failure must not end the camera's retries
                LOG.exception("camera %s failed", self.config.name)
                problem = f"{type(error).__name__}: {error}"
            finally:
                if self._source is not None:
                    self._source.close()
                    self._source = None
                self._count_tracks(self._open_tracks)
                self._open_tracks = []
            if self._frames > frames:
                delays = retry_delays(10 ** 9, first=1.0, longest=30.0)
            if self.stop.is_set():
                break
            delay = next(delays)
            self._set("offline", f"{self._scrub(problem or 'no more frames')}; retrying in {delay:g} s")
            self.stop.wait(delay)
        self._set("stopped")

    def _on_frame(self, report: FrameReport) -> None:
        now = time.time()
        for event in report.events:
            self._store_event(report, event, now)
        self._count_tracks(report.ended)
        self._open_tracks = list(report.tracker.tracks)
        with self._lock:
            if self._state != "online":
                self._state, self._message = "online", None
            self._fps = report.fps
            self._frames += 1
            self._faces = len(report.faces)
            self._last_frame = now
            self._annotated, self._annotated_index = report.annotated, self._frames

    def _count_tracks(self, tracks: list[Track]) -> None:
        """Count the tracks that ended never flagged as the masked people they were (flagged ones were counted
        with their event)."""
        for track in tracks:
            if track.face is not None and not track.reported and track.face.label == MASKED:
                try:
                    self.store.count_person(self.config.name, time.time(), MASKED)
                except Exception:
                    LOG.exception("camera %s: cannot count a person", self.config.name)

    def _store_event(self, report: FrameReport, event, now: float) -> None:
        snapshots = {"face": encode_jpeg(face_snapshot(report.frame, event.box)),
                     "frame": encode_jpeg(report.annotated)}
        try:
            event_id = self.store.add_event(self.config.name, now, event.track, event.label, event.probability,
                                            event.box, event.frame, snapshots)
        except Exception:
            LOG.exception("camera %s: cannot store an event", self.config.name)
            return
        with self._lock:
            self._events += 1
        stored = self.store.event(event_id)
        if stored is not None:
            self.on_event(stored.to_json())
