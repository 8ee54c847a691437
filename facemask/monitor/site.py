"""A whole site: the cameras (one worker each, its own pipeline), the event store, notifications (webhook and
MQTT, throttled), the metrics, and the photo pipeline behind the upload endpoint. Loaded once (bad settings fail
here, before anything is served), started and stopped by the web app's lifespan."""

from __future__ import annotations

import io
import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from facemask.drawing import annotate
from facemask.errors import FacemaskError
from facemask.imageio import decode_image
from facemask.monitor.cameras import CameraWorker, encode_jpeg
from facemask.monitor.config import ServeConfig
from facemask.monitor.metrics import SiteMetrics
from facemask.monitor.notify import Throttle
from facemask.monitor.store import DayRow, EventStore
from facemask.monitor.webhook import Webhook
from facemask.pipeline import ImageResult, MaskPipeline

LOG = logging.getLogger("facemask.monitor")


class UploadRejected(Exception):
    """An uploaded photo the server will not process: `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def image_pixels(data: bytes) -> int | None:
    """The pixel count an encoded image declares in its header, read without decoding it (Pillow), or None if
    Pillow does not know the format."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Image.DecompressionBombError:
        return 1 << 62
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None
    return width * height


@dataclass
class PhotoAnswer:
    """The result for an uploaded photo, and the photo annotated (JPEG) when it was asked for."""

    result: ImageResult
    annotated: bytes | None


class Site:
    """Everything `facemask-serve` runs. Construction loads the pipelines and opens the store."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.stop_event = threading.Event()
        self.store = EventStore(config.data, config.store)
        self.webhook = Webhook(config.webhook, self.stop_event) if config.webhook.url else None
        self.throttle = Throttle(config.notify)
        self.metrics = SiteMetrics(
            lambda: [worker.status() for worker in self.workers.values()],
            lambda: {"snapshots": self.store.snapshot_bytes, "database": self.store.database_bytes},
        )
        self.mqtt = None
        if config.mqtt.host is not None:
            from facemask.monitor.mqtt import MqttPublisher

            self.mqtt = MqttPublisher(
                config.mqtt, [camera.name for camera in config.cameras], self.camera_state, package_version()
            )
        # Photos: `photo_workers` pipelines (each used by one request at a time; more requests wait their turn).
        self._photo_pipelines: queue.Queue[MaskPipeline] = queue.Queue()
        for _ in range(config.photo_workers):
            self._photo_pipelines.put(MaskPipeline.load(config.pipeline))
        self.workers = {
            camera.name: CameraWorker(
                camera,
                MaskPipeline.load(camera.pipeline),
                self.store,
                self.stop_event,
                on_event=self.notify,
                privacy=config.privacy,
                metrics=self.metrics,
            )
            for camera in config.cameras
        }
        self.started = False

    def start(self) -> None:
        if self.webhook is not None:
            self.webhook.start()
        if self.mqtt is not None:
            self.mqtt.start()
        for worker in self.workers.values():
            worker.start()
        self.started = True
        LOG.info(
            "monitoring %d camera(s): %s",
            len(self.workers),
            ", ".join(f"{w.config.name} ({w.config.shown_source})" for w in self.workers.values()),
        )

    def stop(self) -> None:
        """Stop every camera (each finishes the frame and event it is on), the webhook, then close the store."""
        self.stop_event.set()
        for worker in self.workers.values():
            worker.close_source()
        for worker in self.workers.values():
            if worker.thread.is_alive():
                worker.thread.join(timeout=10)
        if self.webhook is not None:
            self.webhook.join()
        if self.mqtt is not None:
            self.mqtt.stop()
        self.store.close()

    def analyse_photo(self, data: bytes, name: str, annotated: bool) -> PhotoAnswer:
        """Run an uploaded photo through the photo pipeline (as `detect_mask_image.py` does); UploadRejected for
        an upload that is too large, too many pixels, or not an image."""
        if len(data) > self.config.max_upload_bytes:
            raise UploadRejected(413, f"upload is larger than {self.config.max_upload_bytes} bytes")
        if not data:
            raise UploadRejected(400, "empty upload: send the image file as the request body")
        pixels = image_pixels(data)
        if pixels is None:
            raise UploadRejected(415, "not an image in a supported format (JPEG, PNG, WebP, BMP, TIFF, GIF)")
        if pixels > self.config.max_upload_pixels:
            raise UploadRejected(413, f"image has more than {self.config.max_upload_pixels} pixels")
        try:
            image = decode_image(data, name)
        except FacemaskError as problem:
            raise UploadRejected(415, str(problem)) from None
        if image.shape[0] * image.shape[1] > self.config.max_upload_pixels:
            raise UploadRejected(413, f"image has more than {self.config.max_upload_pixels} pixels")
        pipeline = self._photo_pipelines.get()
        try:
            result = pipeline.process_image(image, name)
        finally:
            self._photo_pipelines.put(pipeline)
        picture = encode_jpeg(annotate(image, result.faces), 90) if annotated else None
        return PhotoAnswer(result, picture)

    def camera_names(self) -> list[str]:
        return list(self.workers)

    def notify(self, payload: dict) -> None:
        """A stored event (its JSON), sent on to the webhook and MQTT unless the throttle holds it back."""
        camera = payload["camera"]
        extra = self.throttle.admit(camera, time.time())
        self.metrics.notifications.labels(camera, "held_back" if extra is None else "sent").inc()
        if extra is None:
            if self.mqtt is not None:
                self.mqtt.state_changed(camera)
            return
        payload = {**payload, **extra}
        if self.webhook is not None:
            self.webhook.send(payload)
        if self.mqtt is not None:
            self.mqtt.event(payload)

    def today(self, camera: str | None = None) -> list[DayRow]:
        """Today's summary per camera, today being the server's local day."""
        midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
        return self.store.daily(local_offset(), camera, since=midnight.timestamp())

    def camera_state(self, camera: str) -> dict:
        """What MQTT publishes as a camera's state: online, processed FPS and today's counts."""
        status = self.workers[camera].status()
        rows = self.today(camera)
        people = sum(row.people for row in rows)
        masked = sum(row.masked for row in rows)
        return {
            "online": status.state == "online",
            "fps": round(status.fps, 1),
            "people_today": people,
            "masked_today": masked,
            "flagged_today": people - masked,
            "compliance_today": round(100 * masked / people, 1) if people else None,
            "status": status.state,
        }


def local_offset() -> int:
    """The server's local time zone now, in seconds east of UTC."""
    offset = datetime.now().astimezone().utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def package_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("facemask")
    except metadata.PackageNotFoundError:
        return "unknown"
