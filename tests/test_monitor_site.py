"""facemask-serve's site features through a real server on a loopback port and a real MQTT broker (Debian's
mosquitto, started here on a free loopback port with a password): a video of pairs of people (an unmasked one on
the left, a masked one on the right) seen by two cameras, one counting the whole frame and one a zone on the right
half. Checked: Home Assistant discovery and state messages, one notification (MQTT and webhook) for two flagged
people inside the cooldown, faces outside the zone neither reported nor counted, unflagged faces blurred in the
frame snapshot, the MQTT password nowhere in answers or the log, erasing a camera's data."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from facemask.evaluation import load_scenes
from facemask.geometry import Box
from facemask.imageio import letterbox, read_image

pytest.importorskip("fastapi", reason="facemask-serve needs the 'serve' extra")
mqtt = pytest.importorskip("paho.mqtt.client", reason="the MQTT test needs paho-mqtt (the 'serve' extra)")

from test_monitor import Server, free_port, wait_for  # noqa: E402 (after the skips)

SIZE = (640, 480)
FPS = 10.0
SCENE_FRAMES = 40  # four seconds per pair: a person is called from several looks
GAP_FRAMES = 30
MQTT_USER = "facemask"
MQTT_PASSWORD = "mqtt-Pa55word-xyz"
PREFIX = "site7/facemask"
DISCOVERY = "homeassistant"
ZONE = [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]  # the right half
HA_ID = re.compile(r"^[A-Za-z0-9_-]+$")


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next((path for path in ("/usr/sbin/mosquitto",) if Path(path).is_file()), None)


def tile(scene, size=(320, 480)) -> tuple[np.ndarray, Box]:
    """Half a frame: the scene cut around its one face (the face about a third of the width) and letterboxed."""
    image = read_image(scene.path)
    face = scene.faces[0].box
    side = int(max(face.w, face.h) * 2.6)
    left, top = max(0, face.x + face.w // 2 - side // 2), max(0, face.y + face.h // 2 - int(side * 0.6))
    crop = image[top : top + int(side * 1.4), left : left + side]
    half, scale, pad_x, pad_y = letterbox(crop, size, fill=128)
    return half, Box(
        round((face.x - left) * scale) + pad_x,
        round((face.y - top) * scale) + pad_y,
        round(face.w * scale),
        round(face.h * scale),
    )


def pair_video(path: Path, scenes_dir: Path) -> list[dict]:
    """Two pairs, each shown four seconds with three grey seconds after: an unmasked person on the left half and a
    masked one on the right. Returns each pair's frame and the two faces' boxes."""
    single = {}
    for scene in sorted(load_scenes(scenes_dir), key=lambda scene: scene.name):
        if len(scene.faces) == 1 and scene.faces[0].box.w >= 60:
            single.setdefault(scene.faces[0].label, []).append(scene)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
    pairs = []
    for unmasked, masked in zip(single["without_mask"][:2], single["with_mask"][:2]):
        frame = np.full((SIZE[1], SIZE[0], 3), 128, np.uint8)
        frame[:, :320], left_box = tile(unmasked)
        frame[:, 320:], right_box = tile(masked)
        pairs.append(
            {
                "frame": frame,
                "unmasked": left_box,
                "masked": Box(right_box.x + 320, right_box.y, right_box.w, right_box.h),
            }
        )
        for _ in range(SCENE_FRAMES):
            writer.write(frame)
        for _ in range(GAP_FRAMES):
            writer.write(np.full((SIZE[1], SIZE[0], 3), 128, np.uint8))
    writer.release()
    return pairs


class Receiver(http.server.BaseHTTPRequestHandler):
    received: list[dict]

    def do_POST(self):
        self.received.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0)))))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Listener:
    """A real MQTT subscriber on every topic, keeping what it receives in order."""

    def __init__(
        self, port: int, client_id: str = "test-listener", ca_file: Path | None = None, check_hostname: bool = True
    ) -> None:
        """Over TLS where `ca_file` is given (the broker's certificate checked against it, and its host name unless
        `check_hostname` is false)."""
        self.port = port
        self.messages: list[tuple[str, str, bool]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.username_pw_set(MQTT_USER, MQTT_PASSWORD)
        if ca_file is not None:
            self.client.tls_set(ca_certs=str(ca_file))
            self.client.tls_insecure_set(not check_hostname)
        self.client.on_connect = lambda client, *args: client.subscribe("#", qos=1)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client, userdata, message) -> None:
        with self.lock:
            self.messages.append((message.topic, message.payload.decode("utf-8"), bool(message.retain)))

    def on(self, topic: str) -> list[str]:
        with self.lock:
            return [payload for name, payload, _ in self.messages if name == topic]

    def matching(self, pattern: str) -> dict[str, str]:
        with self.lock:
            return {name: payload for name, payload, _ in self.messages if re.match(pattern, name)}

    def close(self) -> None:
        self.client.disconnect()  # first: the network thread then ends at once, not after its 1 s wait
        self.client.loop_stop()


@contextlib.contextmanager
def mosquitto(folder: Path, tls: tuple[Path, Path] | None = None) -> Iterator[int]:
    """mosquitto on a free loopback port, anonymous clients refused, its log in `folder`/broker.log; with `tls`
    (certificate, key files) its one listener speaks TLS only. Yields the port; skips where the binary is missing."""
    binary = mosquitto_binary()
    if binary is None:
        pytest.skip("mosquitto not installed (apt-get install mosquitto; .ci/run installs it)")
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(folder / "passwords"), MQTT_USER, MQTT_PASSWORD],
        check=True,
        capture_output=True,
    )
    (folder / "passwords").chmod(0o600)
    port = free_port()
    # `user`: mosquitto started as root would switch to its own user, which cannot read the test's folder
    (folder / "mosquitto.conf").write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous false\n"
        f"user {pwd.getpwuid(os.getuid()).pw_name}\n"
        f"password_file {folder / 'passwords'}\npersistence false\n"
        "log_dest stderr\n" + (f"certfile {tls[0]}\nkeyfile {tls[1]}\n" if tls else "")
    )
    process = subprocess.Popen(
        [binary, "-c", str(folder / "mosquitto.conf")],
        stdout=subprocess.DEVNULL,
        stderr=(folder / "broker.log").open("wb"),
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, (folder / "broker.log").read_text()
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    """mosquitto on a free loopback port, anonymous clients refused (skips where the binary is missing)."""
    with mosquitto(tmp_path_factory.mktemp("broker")) as port:
        yield port


@pytest.fixture(scope="module")
def mqtt_site(scenes_dir: Path, repository: Path, broker: int, tmp_path_factory):
    """The server with cameras `pair` (the whole frame) and `zoned` (the right half) on the same video, MQTT to
    the broker, a webhook receiver, an hour's cooldown; and a listener subscribed to everything."""
    folder = tmp_path_factory.mktemp("site")
    pairs = pair_video(folder / "pairs.avi", scenes_dir)
    Receiver.received = []
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    listener = Listener(broker)
    port = free_port()
    config = folder / "site.toml"
    config.write_text(f"""
[server]
port = {port}
data = "data"

[webhook]
url = "http://127.0.0.1:{receiver.server_address[1]}/hook"

[notify]
cooldown = 3600
min_flagged = 1

[mqtt]
host = "127.0.0.1"
port = {broker}
user = "{MQTT_USER}"
topic_prefix = "{PREFIX}"
state_every = 1

[[camera]]
name = "pair"
source = "{folder / "pairs.avi"}"

[[camera]]
name = "zoned"
source = "{folder / "pairs.avi"}"
zones = {json.dumps([ZONE])}
""")
    server = Server(config, port, folder / "server.log")
    server.start(repository, {"FACEMASK_MQTT_PASSWORD": MQTT_PASSWORD})
    wait_for(
        lambda: all(camera["status"] == "ended" for camera in server.get_json("/api/v1/cameras")["cameras"]),
        180,
        "both cameras to play the video to its end",
    )
    yield server, pairs, listener
    listener.close()
    if server.process.poll() is None:
        server.stop()
    receiver.shutdown()


def test_a_flagged_person_is_one_mqtt_event_and_the_second_inside_the_cooldown_none(mqtt_site):
    server, pairs, listener = mqtt_site
    events = server.get_json("/api/v1/events?camera=pair&limit=500")["events"]
    assert len(events) >= len(pairs), "each pair's unmasked person is an event"
    assert {event["label"] for event in events} == {"without_mask"}
    # the state message published after the last event (its counts include it) comes after any event message
    state = wait_for(
        lambda: [
            json.loads(payload)
            for payload in listener.on(f"{PREFIX}/pair/state")
            if json.loads(payload)["flagged_today"] >= len(events)
        ],
        60,
        "the final state",
    )[-1]
    notified = [json.loads(payload) for payload in listener.on(f"{PREFIX}/pair/event")]
    assert len(notified) == 1, "one notification inside the cooldown"
    assert notified[0]["id"] == events[-1]["id"] and notified[0]["label"] == "without_mask"
    assert notified[0]["flagged_recent"] == 1 and notified[0]["held_back"] == 0
    assert [event["id"] for event in Receiver.received] == [notified[0]["id"]], "the webhook: the same one"
    assert state["masked_today"] >= len(pairs) and state["people_today"] == state["masked_today"] + len(events)
    assert state["compliance_today"] == round(100 * state["masked_today"] / state["people_today"], 1)
    assert listener.on(f"{PREFIX}/status")[-1] == "online"
    assert listener.on(f"{PREFIX}/zoned/event") == []


def test_home_assistant_discovery_messages(mqtt_site):
    _server, _, listener = mqtt_site
    configs = listener.matching(rf"^{DISCOVERY}/")
    states = {camera: json.loads(listener.on(f"{PREFIX}/{camera}/state")[-1]) for camera in ("pair", "zoned")}
    devices = {}
    for topic, payload in configs.items():
        # <discovery_prefix>/<component>/<node_id>/<object_id>/config, ids of letters, digits, '_' and '-'
        parts = topic.split("/")
        assert len(parts) == 5 and parts[4] == "config" and parts[1] in ("sensor", "binary_sensor"), topic
        assert HA_ID.match(parts[2]) and HA_ID.match(parts[3]), topic
        config = json.loads(payload)
        assert {"name", "unique_id", "state_topic", "value_template", "device", "availability_topic"} <= set(config)
        assert config["availability_topic"] == f"{PREFIX}/status"
        camera = config["state_topic"].removeprefix(f"{PREFIX}/").removesuffix("/state")
        assert camera in states, config["state_topic"]
        key = re.fullmatch(r"\{\{ value_json\.(\w+) \}\}", config["value_template"])
        if parts[1] == "sensor":
            assert key and key.group(1) in states[camera], config["value_template"]
            assert "unit_of_measurement" in config and config["state_class"] in ("measurement", "total_increasing")
        else:
            assert config["device_class"] == "connectivity" and "value_json.online" in config["value_template"]
            assert (config["payload_on"], config["payload_off"]) == ("ON", "OFF")
        assert config["device"]["identifiers"] and config["device"]["name"]
        devices.setdefault(camera, set()).add(parts[1] + ":" + config["name"])
    assert set(devices) == {"pair", "zoned"}, "a device per camera"
    for camera, entities in devices.items():
        assert {
            "sensor:People today",
            "sensor:Masked today",
            "sensor:Flagged today",
            "sensor:Compliance rate today",
            "binary_sensor:Online",
        } <= entities, camera
    unique = [json.loads(payload)["unique_id"] for payload in configs.values()]
    assert len(unique) == len(set(unique))
    assert all(isinstance(states[camera]["online"], bool) and "fps" in states[camera] for camera in states)
    late = Listener(listener.port, "test-late-listener")  # a Home Assistant started after the server
    try:
        wanted = set(configs) | {f"{PREFIX}/pair/state", f"{PREFIX}/status"}

        def retained() -> set[str]:  # a live update may follow the retained copy: any retained copy counts
            with late.lock:
                return {topic for topic, _, kept in late.messages if kept}

        wait_for(lambda: wanted <= retained(), 30, "the retained configs, state and availability")
        assert wanted <= retained(), "discovery configs, state and availability are retained"
    finally:
        late.close()


def test_faces_outside_the_zone_are_neither_reported_nor_counted(mqtt_site):
    server, pairs, _ = mqtt_site
    assert server.get_json("/api/v1/events?camera=zoned")["events"] == []
    rows = server.get_json("/api/v1/counts?per=total&camera=zoned")["rows"]
    assert rows and rows[0]["counts"].get("with_mask", 0) >= len(pairs)
    assert set(rows[0]["counts"]) == {"with_mask"}, "the unmasked people on the left are outside the zone"
    camera = server.get_json("/api/v1/cameras/zoned")
    assert camera["zones"] == [ZONE]


def sharpness(image: np.ndarray, box: Box, inset: float = 0.2) -> float:
    """The variance of the Laplacian inside `box` shrunk by `inset` on every side (clear of drawn boxes)."""
    x, y = box.x + int(box.w * inset), box.y + int(box.h * inset)
    region = cv2.cvtColor(
        image[y : y + int(box.h * (1 - 2 * inset)), x : x + int(box.w * (1 - 2 * inset))], cv2.COLOR_BGR2GRAY
    )
    return float(cv2.Laplacian(region, cv2.CV_64F).var())


def test_the_frame_snapshot_blurs_the_face_that_is_not_flagged(mqtt_site):
    server, pairs, _ = mqtt_site
    for event in server.get_json("/api/v1/events?camera=pair&limit=500")["events"]:
        pair = max(pairs, key=lambda pair: Box(*event["box"]).iou(pair["unmasked"]))
        answer = server.request(event["snapshots"]["frame"])
        snapshot = cv2.imdecode(np.frombuffer(answer.body, np.uint8), cv2.IMREAD_COLOR)
        original = sharpness(pair["frame"], pair["masked"])
        assert sharpness(snapshot, pair["masked"]) < 0.1 * original, "the masked face is blurred"
        assert sharpness(snapshot, pair["unmasked"]) > 0.3 * sharpness(pair["frame"], pair["unmasked"]), (
            "the flagged face is not"
        )
        face = server.request(event["snapshots"]["face"])
        assert face.status == 200


def test_the_mqtt_password_is_never_shown(mqtt_site):
    server, *_ = mqtt_site
    for path in ("/api/v1/cameras", "/api/v1/health", "/api/v1/openapi.json", "/metrics", "/"):
        assert MQTT_PASSWORD not in server.request(path).body.decode("utf-8", "replace"), path
    assert MQTT_PASSWORD not in server.log.read_text(errors="replace")


def test_erasing_a_camera_removes_its_events_snapshots_and_counts(mqtt_site):
    server, *_ = mqtt_site
    events = server.get_json("/api/v1/events?camera=pair&limit=500")["events"]
    assert events
    assert server.request("/api/v1/data", method="DELETE").status == 422
    answer = server.request("/api/v1/data?camera=pair", method="DELETE")
    assert answer.status == 200 and answer.json()["removed"]["events"] == len(events)
    assert server.get_json("/api/v1/events?camera=pair")["events"] == []
    assert server.get_json("/api/v1/counts?per=total&camera=pair")["rows"] == []
    assert server.request(events[0]["snapshots"]["frame"]).status == 404
    assert server.get_json("/api/v1/counts?per=total&camera=zoned")["rows"], "other cameras keep theirs"
    snapshots = server.config.parent / "data" / "snapshots"
    assert not [
        path for path in snapshots.glob("*.jpg") if int(path.name.split("-")[0]) in {event["id"] for event in events}
    ]
