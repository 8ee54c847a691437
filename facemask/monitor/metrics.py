"""Prometheus metrics of a site (prometheus-client, the `serve` extra), in a registry of the site's own (never the
process-wide default one), served by the web app at /metrics behind the token like every other path."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# Event latency (the frame read to the event committed with its snapshots) and photo requests, in seconds.
LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0)
PHOTO_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)


class _LiveState(Collector):
    """What is read at each scrape: every camera's processed FPS and whether it is online, the store's size."""

    def __init__(self, statuses: Callable[[], Iterable], store_sizes: Callable[[], dict[str, int]]) -> None:
        self.statuses = statuses
        self.store_sizes = store_sizes

    def collect(self):
        fps = GaugeMetricFamily("facemask_camera_fps", "Frames processed per second, recent average", labels=["camera"])
        online = GaugeMetricFamily(
            "facemask_camera_online", "1 while the camera delivers frames, else 0", labels=["camera"]
        )
        for status in self.statuses():
            is_online = status.state == "online"
            fps.add_metric([status.name], status.fps if is_online else 0.0)
            online.add_metric([status.name], 1.0 if is_online else 0.0)
        size = GaugeMetricFamily("facemask_store_bytes", "Bytes the event store takes on disk", labels=["part"])
        for part, value in self.store_sizes().items():
            size.add_metric([part], float(value))
        return [fps, online, size]


class SiteMetrics:
    """The site's metrics: counters the cameras and the web app move, and the live state read at each scrape."""

    def __init__(self, statuses: Callable[[], Iterable], store_sizes: Callable[[], dict[str, int]]) -> None:
        self.registry = CollectorRegistry()
        self.frames = Counter(
            "facemask_frames_processed", "Frames run through the pipeline", ["camera"], registry=self.registry
        )
        self.people = Counter(
            "facemask_people_seen",
            "People counted (once per tracked face), by label",
            ["camera", "label"],
            registry=self.registry,
        )
        self.events = Counter(
            "facemask_events", "Events stored (flagged faces), by label", ["camera", "label"], registry=self.registry
        )
        self.event_latency = Histogram(
            "facemask_event_latency_seconds",
            "From reading the frame to the event committed with its snapshots",
            ["camera"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.notifications = Counter(
            "facemask_notifications",
            "Events sent on (webhook, MQTT) or held back by the cooldown and minimum",
            ["camera", "outcome"],
            registry=self.registry,
        )
        self.photo_requests = Counter(
            "facemask_photo_requests", "Photo uploads answered, by HTTP status", ["status"], registry=self.registry
        )
        self.photo_seconds = Histogram(
            "facemask_photo_request_seconds",
            "Time to answer a photo upload",
            buckets=PHOTO_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_LiveState(statuses, store_sizes))

    def exposition(self) -> tuple[bytes, str]:
        """The metrics in Prometheus's text format, and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST
