"""A compliance monitor for a whole site: many cameras through the live loop of facemask.video, a SQLite event
store with snapshots, a web dashboard, a JSON and CSV API, Prometheus metrics and MQTT (`facemask-serve`). One
module per concern; the web app (FastAPI), the metrics (prometheus-client) and MQTT (paho-mqtt), all from the
`serve` extra, are in facemask.monitor.api, .metrics and .mqtt, imported only by the server."""

from facemask.monitor.cameras import CameraStatus, CameraWorker, ReplaySource
from facemask.monitor.config import (
    CameraConfig,
    MqttConfig,
    NotifyConfig,
    PrivacyConfig,
    ServeConfig,
    StoreConfig,
    WebhookConfig,
    camera_from_argument,
    finish_config,
    is_loopback,
    load_config,
    redact_source,
)
from facemask.monitor.notify import Throttle
from facemask.monitor.site import PhotoAnswer, Site, UploadRejected
from facemask.monitor.store import CountRow, DayRow, EventStore, StoredEvent
from facemask.monitor.webhook import Webhook

__all__ = [
    "CameraConfig",
    "CameraStatus",
    "CameraWorker",
    "CountRow",
    "DayRow",
    "EventStore",
    "MqttConfig",
    "NotifyConfig",
    "PhotoAnswer",
    "PrivacyConfig",
    "ReplaySource",
    "ServeConfig",
    "Site",
    "StoreConfig",
    "StoredEvent",
    "Throttle",
    "UploadRejected",
    "Webhook",
    "WebhookConfig",
    "camera_from_argument",
    "finish_config",
    "is_loopback",
    "load_config",
    "redact_source",
]
