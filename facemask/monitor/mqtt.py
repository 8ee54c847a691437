"""Publishing to an MQTT broker (paho-mqtt) with Home Assistant MQTT discovery: each camera a device with sensors
(people today, masked, flagged, compliance rate, FPS) and a binary sensor (online); retained per-camera state,
events as they are notified, and the server's availability (retained, with a last will).

A camera only ever puts a message in a bounded queue (never waits); a thread of this module publishes them, and
paho's own network thread connects and reconnects with back-off (1 s doubling to 60 s)."""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import re
import sys
import threading
import time
from collections.abc import Callable

from facemask.monitor.config import MqttConfig

LOG = logging.getLogger("facemask.monitor")
RECONNECT_DELAYS = (1, 60)  # paho's back-off between reconnection attempts: from 1 s, doubling, at most 60 s
QOS = 1

# The sensors of each camera: key in the state message, name, unit, device class, state class.
SENSORS = (
    ("people_today", "People today", "people", None, "total_increasing"),
    ("masked_today", "Masked today", "people", None, "total_increasing"),
    ("flagged_today", "Flagged today", "people", None, "total_increasing"),
    ("compliance_today", "Compliance rate today", "%", None, "measurement"),
    ("fps", "Processed FPS", "fps", None, "measurement"),
)


def object_id(text: str) -> str:
    """`text` as Home Assistant's discovery topics take an id: letters, digits, '_' and '-' only."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


class MqttPublisher:
    """The site's MQTT client. `event` and `state_changed` never block; `start` connects in the background."""

    def __init__(
        self, config: MqttConfig, cameras: list[str], state_of: Callable[[str], dict], version: str = "unknown"
    ) -> None:
        import paho.mqtt.client as mqtt

        self.config = config
        self.cameras = cameras
        self.state_of = state_of
        self.version = version
        self.prefix = config.topic_prefix
        self.node = object_id(config.topic_prefix.replace("/", "_"))
        self.availability = f"{self.prefix}/status"
        self.published = 0
        self.dropped = 0
        self._queue: queue.Queue[tuple[str, str]] = queue.Queue(maxsize=config.queue)
        self._announce = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mqtt-publisher", daemon=True)
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=config.client_id, clean_session=True)
        if config.user is not None:
            client.username_pw_set(config.user, config.password)
        if config.tls:
            client.tls_set(ca_certs=str(config.ca_file) if config.ca_file else None)
        client.will_set(self.availability, "offline", qos=QOS, retain=True)
        client.reconnect_delay_set(*RECONNECT_DELAYS)
        client.max_queued_messages_set(config.queue)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        self.client = client
        self.connected = False
        self._failing = False  # a connection attempt failed (logged once) and none has succeeded since

    # -- topics -----------------------------------------------------------------------------------------------
    def state_topic(self, camera: str) -> str:
        return f"{self.prefix}/{camera}/state"

    def event_topic(self, camera: str) -> str:
        return f"{self.prefix}/{camera}/event"

    def discovery(self, camera: str) -> list[tuple[str, dict]]:
        """Home Assistant's discovery messages for `camera`: (topic, config payload)."""
        camera_id = object_id(camera)
        device = {
            "identifiers": [f"{self.node}_{camera_id}"],
            "name": f"facemask {camera}",
            "manufacturer": "facemask",
            "model": "facemask-serve camera",
            "sw_version": self.version,
        }
        common = {
            "state_topic": self.state_topic(camera),
            "availability_topic": self.availability,
            "payload_available": "online",
            "payload_not_available": "offline",
            "device": device,
            "origin": {"name": "facemask", "sw_version": self.version},
        }
        messages = []
        for key, name, unit, device_class, state_class in SENSORS:
            payload = {
                **common,
                "name": name,
                "unique_id": f"{self.node}_{camera_id}_{key}",
                "object_id": f"facemask_{camera_id}_{key}",
                "value_template": f"{{{{ value_json.{key} }}}}",
                "unit_of_measurement": unit,
                "state_class": state_class,
            }
            if device_class:
                payload["device_class"] = device_class
            messages.append((f"{self.config.discovery_prefix}/sensor/{self.node}/{camera_id}_{key}/config", payload))
        online = {
            **common,
            "name": "Online",
            "unique_id": f"{self.node}_{camera_id}_online",
            "object_id": f"facemask_{camera_id}_online",
            "device_class": "connectivity",
            "value_template": "{{ 'ON' if value_json.online else 'OFF' }}",
            "payload_on": "ON",
            "payload_off": "OFF",
        }
        messages.append((f"{self.config.discovery_prefix}/binary_sensor/{self.node}/{camera_id}_online/config", online))
        return messages

    # -- what the site calls ----------------------------------------------------------------------------------
    def start(self) -> MqttPublisher:
        assert self.config.host is not None, "MQTT is off without a host"
        self.client.connect_async(self.config.host, self.config.port, self.config.keepalive)
        self.client.loop_start()
        self._thread.start()
        return self

    def event(self, payload: dict) -> None:
        """Queue an event for `<prefix>/<camera>/event` (dropped, and logged, when the queue is full)."""
        self._put(("event", json.dumps(payload)), payload.get("camera"))
        self.state_changed(payload.get("camera"))

    def state_changed(self, camera: str | None) -> None:
        """Publish the camera's state soon (its counts changed)."""
        if camera is not None:
            self._put(("state", camera), camera)

    def stop(self) -> None:
        """Publish the server as offline, disconnect, stop the threads."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if self.connected:
            info = self.client.publish(self.availability, "offline", qos=QOS, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout=3)
        self.client.disconnect()
        self.client.loop_stop()

    # -- inside ---------------------------------------------------------------------------------------------
    def _put(self, item: tuple[str, str], camera: str | None) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            LOG.warning("mqtt %s: queue full, a message for camera %s dropped", self.config.host, camera)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            LOG.warning("mqtt %s:%d refused the connection: %s", self.config.host, self.config.port, reason_code)
            return
        self.connected = True
        self._failing = False
        LOG.info("mqtt: connected to %s:%d", self.config.host, self.config.port)
        self._announce.set()

    def _on_connect_fail(self, client, userdata) -> None:
        """An attempt that failed before the broker could answer (unreachable, a TLS certificate not trusted or not
        for this host): logged once until a connection succeeds; paho tries again with back-off."""
        if not self._failing:
            self._failing = True
            error = sys.exc_info()[1]  # paho calls this inside its `except OSError` around the attempt
            LOG.warning("mqtt %s:%d: cannot connect (%s), retrying", self.config.host, self.config.port, error)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self.connected and not self._stop.is_set():
            LOG.warning("mqtt %s:%d: disconnected (%s), reconnecting", self.config.host, self.config.port, reason_code)
        self.connected = False

    def _publish(self, topic: str, payload: str, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=QOS, retain=retain)
        if info.rc == 0:
            self.published += 1

    def _publish_state(self, camera: str) -> None:
        try:
            state = self.state_of(camera)
        except Exception:  # the store closed while stopping, or a bad row: the next round tries again
            LOG.exception("mqtt: cannot read the state of camera %s", camera)
            return
        self._publish(self.state_topic(camera), json.dumps(state), retain=True)

    def _announce_all(self) -> None:
        """After each (re)connection: discovery configs, availability, every camera's state, all retained."""
        for camera in self.cameras:
            for topic, payload in self.discovery(camera):
                self._publish(topic, json.dumps(payload), retain=True)
        self._publish(self.availability, "online", retain=True)
        for camera in self.cameras:
            self._publish_state(camera)

    def _run(self) -> None:
        next_states = time.monotonic() + self.config.state_every
        while not self._stop.is_set():
            if self._announce.is_set():
                self._announce.clear()
                self._announce_all()
                next_states = time.monotonic() + self.config.state_every
            try:
                kind, value = self._queue.get(timeout=max(0.05, min(0.5, next_states - time.monotonic())))
            except queue.Empty:
                kind, value = "", ""
            if kind == "event":
                self._publish(self.event_topic(json.loads(value)["camera"]), value)
            elif kind == "state":
                self._publish_state(value)
            if time.monotonic() >= next_states:
                for camera in self.cameras:
                    self._publish_state(camera)
                next_states = time.monotonic() + self.config.state_every
