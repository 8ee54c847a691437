"""One worker thread per camera: the camera's source through its own pipeline with the live loop of
facemask.video (tracking, debounced events, reconnection), events and counts into the store, the newest annotated
frame and the camera's status for the dashboard. A camera that fails is retried and shown offline; it never
stops the others. Zones (faces elsewhere are dropped before classification) and privacy (faces not flagged are
blurred in every picture shown or kept) are applied here, around the live loop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from facemask.errors import FacemaskError
from facemask.geometry import Box, Detection
from facemask.metadata import MASKED, is_flagged
from facemask.monitor.config import CameraConfig, Polygon, PrivacyConfig, scrub
from facemask.monitor.store import EventStore, iso
from facemask.pipeline import MaskPipeline
from facemask.video import FileSource, FrameReport, MonitorSettings, Track, monitor, open_source, retry_delays
from facemask.video.overlay import draw_overlay
from facemask.video.sources import SourceInfo, _quiet_opencv

LOG = logging.getLogger("facemask.monitor")
OFFLINE_AFTER_SECONDS = 5.0  # a camera whose newest frame is older than this is shown offline
FACE_MARGIN = 0.25  # the face snapshot: the box widened by this fraction of its size on every side
JPEG_QUALITY = 85
BLUR_MARGIN = 0.15  # a blurred face: its box widened by this fraction of its size on every side
ZONE_COLOUR = (255, 200, 0)  # BGR: the zones' outline on the live view and frame snapshots


class ZoneDetector:
    """A face detector that keeps only the faces whose box centre lies inside one of `zones` (polygons in
    fractions of the frame), so faces elsewhere are never classified, counted or reported; the boxes it dropped
    in its last frame are in `outside` (blurred for privacy)."""

    def __init__(self, detector, zones: tuple[Polygon, ...]) -> None:
        self.detector = detector
        self.zones = zones
        self.outside: list[Box] = []
        self._polygons: tuple[tuple[int, int], list[np.ndarray]] | None = None

    def polygons(self, width: int, height: int) -> list[np.ndarray]:
        """The zones in pixels of a `width` x `height` frame (cached for the frame size)."""
        if self._polygons is None or self._polygons[0] != (width, height):
            self._polygons = (
                (width, height),
                [np.array([[x * width, y * height] for x, y in zone], np.float32) for zone in self.zones],
            )
        return self._polygons[1]

    def detect(self, image: np.ndarray) -> list[Detection]:
        height, width = image.shape[:2]
        polygons = self.polygons(width, height)
        inside, outside = [], []
        for detection in self.detector.detect(image):
            box = detection.box
            centre = (box.x + box.w / 2, box.y + box.h / 2)
            if any(cv2.pointPolygonTest(polygon, centre, False) >= 0 for polygon in polygons):
                inside.append(detection)
            else:
                outside.append(box)
        self.outside = outside
        return inside

    def __getattr__(self, name):  # everything else is the wrapped detector's
        return getattr(self.detector, name)


def blur_faces(image: np.ndarray, boxes: list[Box], margin: float = BLUR_MARGIN) -> np.ndarray:
    """`image` (changed in place, and returned) with each box, widened by `margin`, blurred past recognition:
    shrunk to a few pixels across, then smoothed back to its size."""
    height, width = image.shape[:2]
    for box in boxes:
        pad_x, pad_y = int(box.w * margin), int(box.h * margin)
        left, top = max(0, box.x - pad_x), max(0, box.y - pad_y)
        right, bottom = min(width, box.x + box.w + pad_x), min(height, box.y + box.h + pad_y)
        if right - left < 2 or bottom - top < 2:
            continue
        region = image[top:bottom, left:right]
        small = cv2.resize(
            region, (max(1, (right - left) // 16), max(1, (bottom - top) // 16)), interpolation=cv2.INTER_AREA
        )
        smooth = cv2.resize(small, (right - left, bottom - top), interpolation=cv2.INTER_LINEAR)
        region[:] = cv2.GaussianBlur(smooth, (0, 0), max(1.0, (right - left) / 24))
    return image


def draw_zones(image: np.ndarray, zones: tuple[Polygon, ...]) -> np.ndarray:
    """`image` (changed in place, and returned) with the zones outlined."""
    height, width = image.shape[:2]
    thickness = max(1, round(min(height, width) / 240))
    for zone in zones:
        points = np.array([[round(x * (width - 1)), round(y * (height - 1))] for x, y in zone], np.int32)
        cv2.polylines(image, [points], True, ZONE_COLOUR, thickness, cv2.LINE_AA)
    return image


class TimedSource:
    """A started frame source that notes when its newest frame was read (for the event latency)."""

    def __init__(self, source) -> None:
        self.source = source
        self.read_at = time.monotonic()

    def read(self):
        frame = self.source.read()
        self.read_at = time.monotonic()
        return frame

    def close(self) -> None:
        self.source.close()


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
        self.info = SourceInfo(
            path,
            int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            self.fps,
        )
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
    zones: tuple[Polygon, ...] = ()

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "source": self.source,
            "status": self.state,
            "online": self.state == "online",
            "fps": round(self.fps, 1),
            "frames": self.frames,
            "faces_in_view": self.faces,
            "events": self.events,
            "last_frame": None if self.last_frame is None else iso(self.last_frame),
            "message": self.message,
            "width": self.width,
            "height": self.height,
            "zones": [[list(point) for point in zone] for zone in self.zones],
        }


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

    def __init__(
        self,
        config: CameraConfig,
        pipeline: MaskPipeline,
        store: EventStore,
        stop: threading.Event,
        on_event: Callable[[dict], None] = lambda payload: None,
        privacy: PrivacyConfig = PrivacyConfig(),
        metrics=None,
    ) -> None:
        """`pipeline`: its detector is wrapped in a ZoneDetector when the camera has zones. `metrics`: a
        SiteMetrics whose counters this camera moves (None: none)."""
        self.config = config
        if config.zones and not isinstance(pipeline.detector, ZoneDetector):
            pipeline.detector = ZoneDetector(pipeline.detector, config.zones)
        self.pipeline = pipeline
        self.store = store
        self.stop = stop
        self.on_event = on_event
        self.privacy = privacy
        self.metrics = metrics
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
        self._timed: TimedSource | None = None
        self.thread = threading.Thread(target=self._run, name=f"camera-{config.name}", daemon=True)

    # -- what others read -------------------------------------------------------------------------------------
    def status(self) -> CameraStatus:
        with self._lock:
            state = self._state
            if state == "online" and (
                self._last_frame is None or time.time() - self._last_frame > OFFLINE_AFTER_SECONDS
            ):
                state = "offline"
            return CameraStatus(
                self.config.name,
                self.config.kind,
                self.config.shown_source,
                state,
                self._fps if state == "online" else 0.0,
                self._frames,
                self._faces,
                self._events,
                self._last_frame,
                self._message,
                *self._size,
                self.config.zones,
            )

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
        delays = retry_delays(10**9, first=1.0, longest=30.0)
        settings = MonitorSettings(classify_every=self.config.classify_every)
        while not self.stop.is_set():
            problem = None
            frames = self._frames
            try:
                source = self._source = self._open()
                with self._lock:
                    self._size = (source.info.width, source.info.height)
                self._timed = TimedSource(source.start())
                summary = monitor(self.pipeline, self._timed, settings, on_frame=self._on_frame, stop=self.stop)
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
                delays = retry_delays(10**9, first=1.0, longest=30.0)
            if self.stop.is_set():
                break
            delay = next(delays)
            self._set("offline", f"{self._scrub(problem or 'no more frames')}; retrying in {delay:g} s")
            self.stop.wait(delay)
        self._set("stopped")

    def _pictures(self, report: FrameReport) -> tuple[np.ndarray, np.ndarray]:
        """The frame as faces may be shown (faces not flagged blurred, with privacy on) and the annotated frame
        the live view and frame snapshots show (that, with boxes, labels and the zones)."""
        detector = self.pipeline.detector
        hidden = []
        if self.privacy.blur_unflagged:
            hidden = [face.box for face in report.faces if not face.flagged]
            hidden += detector.outside if isinstance(detector, ZoneDetector) else []
        if not hidden:
            shown, annotated = report.frame, report.annotated
        else:
            shown = blur_faces(report.frame.copy(), hidden)
            annotated = draw_overlay(shown, report.faces, report.fps, False)
        if self.config.zones:
            annotated = draw_zones(annotated.copy() if annotated is report.annotated else annotated, self.config.zones)
        return shown, annotated

    def _on_frame(self, report: FrameReport) -> None:
        now = time.time()
        shown, annotated = self._pictures(report)
        for event in report.events:
            self._store_event(report, event, now, shown, annotated)
        self._count_tracks(report.ended)
        self._open_tracks = list(report.tracker.tracks)
        if self.metrics is not None:
            self.metrics.frames.labels(self.config.name).inc()
        with self._lock:
            if self._state != "online":
                self._state, self._message = "online", None
            self._fps = report.fps
            self._frames += 1
            self._faces = len(report.faces)
            self._last_frame = now
            self._annotated, self._annotated_index = annotated, self._frames

    def _count_tracks(self, tracks: list[Track]) -> None:
        """Count the tracks that ended never flagged as the masked people they were, by the decision on their
        looks (flagged ones were counted with their event)."""
        for track in tracks:
            if track.decision is not None and not track.reported and not is_flagged(track.decision.label):
                try:
                    self.store.count_person(self.config.name, time.time(), MASKED)
                except Exception:
                    LOG.exception("camera %s: cannot count a person", self.config.name)
                    continue
                if self.metrics is not None:
                    self.metrics.people.labels(self.config.name, MASKED).inc()

    def _store_event(self, report: FrameReport, event, now: float, shown: np.ndarray, annotated: np.ndarray) -> None:
        """Store a flagged face's event with its snapshots: the face (only flagged faces have one) and the
        annotated frame, both from the frame as privacy lets it be shown."""
        snapshots = {"face": encode_jpeg(face_snapshot(shown, event.box)), "frame": encode_jpeg(annotated)}
        try:
            event_id = self.store.add_event(
                self.config.name, now, event.track, event.label, event.probability, event.box, event.frame, snapshots
            )
        except Exception:
            LOG.exception("camera %s: cannot store an event", self.config.name)
            return
        with self._lock:
            self._events += 1
        if self.metrics is not None:
            self.metrics.events.labels(self.config.name, event.label).inc()
            self.metrics.people.labels(self.config.name, event.label).inc()
            assert self._timed is not None  # events come while the source is being read
            self.metrics.event_latency.labels(self.config.name).observe(time.monotonic() - self._timed.read_at)
        stored = self.store.event(event_id)
        if stored is not None:
            self.on_event(stored.to_json())
