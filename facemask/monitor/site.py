"""A whole site: the cameras (one worker each, its own pipeline), the event store, the webhook, and the photo
pipeline behind the upload endpoint. Loaded once (bad settings fail here, before anything is served), started
and stopped by the web app's lifespan."""

from __future__ import annotations

import io
import logging
import queue
import threading
from dataclasses import dataclass

from facemask import defaults
from facemask.classification import MaskClassifier
from facemask.detection import create_detector
from facemask.drawing import annotate
from facemask.errors import FacemaskError
from facemask.imageio import decode_image
from facemask.monitor.cameras import CameraWorker, encode_jpeg
from facemask.monitor.config import CameraConfig, ServeConfig
from facemask.monitor.store import EventStore
from facemask.monitor.webhook import Webhook
from facemask.pipeline import ChinCheck, ImageResult, MaskPipeline, NoseCheck

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


def camera_pipeline(config: ServeConfig, camera: CameraConfig) -> MaskPipeline:
    """A camera's own live-video pipeline (the video tool's defaults), its classifier on one thread: the cameras
    already run side by side, one thread each, so more threads per classifier would only compete."""
    model = defaults.default_model() if config.model is None else config.model
    nose, chin = NoseCheck(), ChinCheck()
    return MaskPipeline(create_detector(defaults.VIDEO_DETECTOR, frame_side=camera.detection_size),
                        MaskClassifier(model, config.unmasked_threshold, threads=1),
                        nose_check=nose, nose_classifier=nose.load_model(threads=1),
                        chin_check=chin, chin_classifier=chin.load_model(threads=1))


class Site:
    """Everything `facemask-serve` runs. Construction loads the pipelines and opens the store."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.stop_event = threading.Event()
        self.store = EventStore(config.data, config.store)
        self.webhook = Webhook(config.webhook, self.stop_event) if config.webhook.url else None
        options = {"unmasked_threshold": config.unmasked_threshold}
        # Photos: `photo_workers` pipelines (each used by one request at a time; more requests wait their turn).
        self._photo_pipelines: queue.Queue[MaskPipeline] = queue.Queue()
        for _ in range(config.photo_workers):
            self._photo_pipelines.put(MaskPipeline.load(config.model, **options))
        self.workers = {camera.name: CameraWorker(
            camera, camera_pipeline(config, camera), self.store, self.stop_event,
            on_event=self.webhook.send if self.webhook else lambda payload: None) for camera in config.cameras}
        self.started = False

    def start(self) -> None:
        if self.webhook is not None:
            self.webhook.start()
        for worker in self.workers.values():
            worker.start()
        self.started = True
        LOG.info("monitoring %d camera(s): %s", len(self.workers),
                 ", ".join(f"{w.config.name} ({w.config.shown_source})" for w in self.workers.values()))

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
