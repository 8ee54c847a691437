"""A compliance monitor for a whole site: many cameras through the live loop of facemask.video, a SQLite event
store with snapshots, a web dashboard and a JSON API (`facemask-serve`). One module per concern; the web app
(FastAPI, the `serve` extra) is in facemask.monitor.api and is imported only by the server."""

from facemask.monitor.cameras import CameraStatus, CameraWorker, ReplaySource
from facemask.monitor.config import (CameraConfig, ServeConfig, StoreConfig, WebhookConfig, camera_from_argument,
                                     finish_config, is_loopback, load_config, redact_source)
from facemask.monitor.site import PhotoAnswer, Site, UploadRejected
from facemask.monitor.store import CountRow, EventStore, StoredEvent
from facemask.monitor.webhook import Webhook

__all__ = ["CameraConfig", "CameraStatus", "CameraWorker", "CountRow", "EventStore", "PhotoAnswer", "ReplaySource",
           "ServeConfig", "Site", "StoreConfig", "StoredEvent", "UploadRejected", "Webhook", "WebhookConfig",
           "camera_from_argument", "finish_config", "is_loopback", "load_config", "redact_source"]
