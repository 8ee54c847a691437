"""The monitor's event store on a real SQLite file: events with snapshots, counts per track, retention by age and
size, a process killed while writing; and the config file's checks."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import cv2
import pytest

from facemask.errors import FacemaskError
from facemask.geometry import Box
from facemask.imageio import read_image
from facemask.monitor.config import (
    CameraConfig,
    MqttConfig,
    NotifyConfig,
    ServeConfig,
    StoreConfig,
    camera_from_argument,
    finish_config,
    load_config,
    redact_source,
)
from facemask.monitor.store import EventStore
from facemask.settings import CropSettings, PipelineConfig

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "two_people.jpg"


@pytest.fixture(scope="module")
def snapshots() -> dict[str, bytes]:
    """Real JPEG snapshots: a face from the example photo and the whole photo."""
    image = read_image(EXAMPLE)
    face = image[106:302, 663:814]
    return {"face": cv2.imencode(".jpg", face)[1].tobytes(), "frame": cv2.imencode(".jpg", image)[1].tobytes()}


def add(store: EventStore, snapshots, when: float, camera: str = "door", label: str = "without_mask") -> int:
    return store.add_event(camera, when, 1, label, 0.97, Box(663, 106, 151, 196), 0, snapshots)


def test_events_and_counts_survive_reopening(tmp_path, snapshots):
    store = EventStore(tmp_path)
    now = time.time()
    first = add(store, snapshots, now - 7200)
    second = add(store, snapshots, now, label="mask_worn_incorrectly")
    store.count_person("door", now, "with_mask")
    store.count_person("hall", now, "with_mask")
    store.close()
    assert sqlite3.connect(tmp_path / "events.sqlite3").execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store = EventStore(tmp_path)
    assert [event.id for event in store.events()] == [second, first]
    assert [event.id for event in store.events(label="mask_worn_incorrectly")] == [second]
    assert [event.id for event in store.events(since=now - 60)] == [second]
    assert [event.id for event in store.events(before_id=second)] == [first]
    assert store.snapshot_path(first, "face").read_bytes() == snapshots["face"]
    hours = store.counts(3600, camera="door")
    assert [row.counts for row in hours] == [{"without_mask": 1}, {"mask_worn_incorrectly": 1, "with_mask": 1}]
    assert hours[1].compliance == 0.5
    total = {row.camera: row.counts for row in store.counts(0, since=now - 86400)}
    assert total == {"door": {"without_mask": 1, "mask_worn_incorrectly": 1, "with_mask": 1}, "hall": {"with_mask": 1}}
    starts = {row.camera: row.start for row in store.counts(0)}
    assert starts == {"door": (now - 7200) // 60 * 60, "hall": now // 60 * 60}, "the range starts at its first minute"
    store.close()


def test_snapshots_are_pruned_by_age_and_by_size_events_kept(tmp_path, snapshots):
    each = len(snapshots["face"]) + len(snapshots["frame"])
    store = EventStore(tmp_path, StoreConfig(snapshot_days=1, snapshot_megabytes=3.5 * each / 1e6, event_days=10))
    now = time.time()
    old = add(store, snapshots, now - 2 * 86400)
    ancient = add(store, snapshots, now - 20 * 86400)
    store.prune(now)
    assert store.event(old) is not None and not store.event(old).face_snapshot
    assert not store.snapshot_path(old, "face").exists() and not store.snapshot_path(old, "frame").exists()
    assert store.event(ancient) is None, "events older than event_days are removed"
    recent = [add(store, snapshots, now + n) for n in range(5)]  # more than 3.5 events' worth of snapshots
    kept = [store.event(number).face_snapshot for number in recent]
    assert kept[-1] and not kept[0], "the oldest snapshots go first"
    files = sum(path.stat().st_size for path in (tmp_path / "snapshots").glob("*.jpg"))
    assert files == store.snapshot_bytes <= 3.5 * each
    assert all(store.event(number) is not None for number in recent)
    store.close()


WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from facemask.geometry import Box
    from facemask.monitor.store import EventStore
    store = EventStore(sys.argv[1])
    face = Path(sys.argv[2]).read_bytes()
    print("ready", flush=True)
    while True:
        store.add_event("door", time.time(), 1, "without_mask", 0.9, Box(1, 2, 3, 4), 0,
                        {"face": face, "frame": face * 20})
        store.count_person("door", time.time(), "with_mask")
""")


def test_a_killed_writer_loses_at_most_the_event_it_was_writing(tmp_path, repository):
    face = tmp_path / "face.jpg"
    face.write_bytes(EXAMPLE.read_bytes())
    data = tmp_path / "data"
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data), str(face)],
        stdout=subprocess.PIPE,
        cwd=repository,
        env={**os.environ, "PYTHONPATH": str(repository)},
    )
    assert process.stdout.readline().strip() == b"ready"
    time.sleep(1.5)
    process.send_signal(signal.SIGKILL)
    process.wait()
    store = EventStore(data)
    events = store.events(limit=100000)
    assert len(events) > 3, "the writer had time to store events"
    assert sqlite3.connect(data / "events.sqlite3").execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    for event in events:  # every committed event has both its snapshots, whole
        assert store.snapshot_path(event.id, "face").read_bytes() == face.read_bytes()
        assert store.snapshot_path(event.id, "frame").stat().st_size == 20 * face.stat().st_size
    on_disk = {int(path.name.split("-")[0]) for path in (data / "snapshots").glob("*.jpg")}
    assert on_disk == {event.id for event in events}, "snapshots of an uncommitted event are removed"
    assert not list((data / "snapshots").glob(".*")), "no temporary files left"
    store.close()


def test_config_file(tmp_path):
    config = tmp_path / "site.toml"
    config.write_text("""
[server]
host = "0.0.0.0"
port = 9000
data = "store"
[store]
snapshot_days = 7
[pipeline]
model = "models/site.tflite"
detector = "centerface"
confidence = 0.4
unmasked_threshold = 0.3
crop_margin = 0.1
[[camera]]
name = "front"
source = "rtsp://user:pw@10.0.0.5:554/stream1?auth=secret"
detection_size = 448
unmasked_threshold = 0.6
[[camera]]
source = 0
""")
    loaded = load_config(config)
    assert loaded.port == 9000 and loaded.data == tmp_path / "store" and loaded.store.snapshot_days == 7
    # [pipeline]: the photo endpoint's pipeline, every option; paths relative to the file
    photo = loaded.pipeline
    assert (photo.model, photo.detector, photo.confidence) == (tmp_path / "models/site.tflite", "centerface", 0.4)
    assert (photo.unmasked_threshold, photo.crop, photo.detection_size) == (0.3, CropSettings(0.1), 0)
    # cameras: the live-video detector, the site's classifier settings, their own table over both
    front, second = (camera.pipeline for camera in loaded.cameras)
    assert [(c.name, c.kind) for c in loaded.cameras] == [("front", "stream"), ("camera2", "camera")]
    assert (front.detector, front.detection_size, front.unmasked_threshold) == ("yunet", 448, 0.6)
    assert (second.detector, second.detection_size, second.unmasked_threshold) == ("yunet", 320, 0.3)
    assert second.model == photo.model and second.crop == photo.crop and second.threads == 1
    assert loaded.with_model(Path("other.tflite")).cameras[0].pipeline.model == Path("other.tflite")
    assert loaded.cameras[0].shown_source == "rtsp://10.0.0.5:554/stream1"
    with pytest.raises(FacemaskError, match="needs an access token"):
        finish_config(loaded, environment={})
    assert finish_config(loaded, environment={"FACEMASK_TOKEN": "long-enough-token"}).token == "long-enough-token"
    config.write_text("[server]\nport = 'eighty'\n")
    with pytest.raises(FacemaskError, match=r"server\.port must be int"):
        load_config(config)
    for table, message in (
        ("[pipeline]\nconfidence = 1.5\n", r"pipeline\.confidence must be between 0 and 1, got 1\.5"),
        ("[pipeline]\ndetector = 'haar'\n", r"pipeline\.detector must be one of yunet\+centerface, .*'haar'"),
        ("[[camera]]\nsource = 0\ndetection_size = 8\n", r"camera 1\.detection_size must be 0 .* or at least 32"),
        ("[[camera]]\nsource = 0\ncrop_margin = 3\n", r"camera 1\.crop_margin must be between -0\.4 and 1"),
        ("[pipeline]\nunmasked_threshold = 1\n", r"pipeline\.unmasked_threshold must be between 0 and 1"),
    ):
        config.write_text(table)
        with pytest.raises(FacemaskError, match=message):
            load_config(config)
    config.write_text("[[camera]]\nsource = 'a.mp4'\nspeed = 2\n")
    with pytest.raises(FacemaskError, match=r"unknown setting in \[camera 1\]: speed"):
        load_config(config)
    config.write_text("[server\n")
    with pytest.raises(FacemaskError, match="not valid TOML"):
        load_config(config)
    twins = ServeConfig(cameras=(CameraConfig("a", "x.mp4"), CameraConfig("a", "y.mp4")))
    with pytest.raises(FacemaskError, match="two cameras"):
        finish_config(twins, environment={})


def test_sources_shown_without_credentials():
    assert redact_source("rtsp://admin:hunter2@[fe80::1]:8554/live?token=abc#x") == "rtsp://[fe80::1]:8554/live"
    assert redact_source("http://cam.local/video.mjpg") == "http://cam.local/video.mjpg"
    assert redact_source("clips/door.mp4") == "clips/door.mp4"
    site = PipelineConfig()
    assert camera_from_argument("door=rtsp://u:p@h/s?a=b", 1, site) == CameraConfig("door", "rtsp://u:p@h/s?a=b")
    assert camera_from_argument("rtsp://h/s?a=b", 2, site) == CameraConfig("camera2", "rtsp://h/s?a=b")


def test_site_settings_zones_notify_mqtt_privacy_and_hosts(tmp_path):
    config = tmp_path / "site.toml"
    config.write_text("""
[server]
allowed_hosts = ["facemask.example.org", "*.example.org"]
[notify]
cooldown = 30
min_flagged = 2
[mqtt]
host = "broker.lan"
user = "facemask"
topic_prefix = "site/facemask"
[privacy]
blur_unflagged = false
[[camera]]
name = "door"
source = "door.mp4"
zones = [[[0, 0], [0.5, 0], [0.5, 1]], [[0.5, 0.5], [1, 0.5], [1, 1], [0.5, 1]]]
""")
    loaded = load_config(config)
    assert loaded.cameras[0].zones == (
        ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0)),
        ((0.5, 0.5), (1.0, 0.5), (1.0, 1.0), (0.5, 1.0)),
    )
    assert (loaded.notify.cooldown, loaded.notify.min_flagged, loaded.notify.window) == (30.0, 2, 60.0)
    assert not loaded.privacy.blur_unflagged and ServeConfig().privacy.blur_unflagged, "privacy on by default"
    assert "facemask.example.org" in loaded.answered_hosts and "127.0.0.1" in loaded.answered_hosts
    secret = "broker-Secret-123"
    finished = finish_config(loaded, environment={"FACEMASK_MQTT_PASSWORD": secret})
    assert finished.mqtt.password == secret and secret not in repr(finished), "the password is never shown"
    assert finish_config(loaded, environment={}).mqtt.password is None
    for table, problem in (
        ('[[camera]]\nsource = "a.mp4"\nzones = [[[0, 0], [1.5, 0], [1, 1]]]\n', "zone 1 has a point"),
        ('[[camera]]\nsource = "a.mp4"\nzones = [[[0, 0], [1, 1]]]\n', "at least 3"),
        ('[mqtt]\nhost = "b"\npassword = "x"\n', "not read from the file"),
        ('[mqtt]\nhost = "b"\nport = "x"\n', "mqtt.port must be int"),
        ("[notify]\nquiet = 1\n", "unknown setting in .notify.: quiet"),
    ):
        config.write_text(table)
        with pytest.raises(FacemaskError, match=problem) as raised:
            load_config(config)
        assert "\n" not in str(raised.value)
    cameras = (CameraConfig("a", "x.mp4"),)
    for settings, problem in (
        ({"allowed_hosts": ("http://x.org",)}, "not a host name"),
        ({"notify": NotifyConfig(min_flagged=0)}, "min_flagged"),
        ({"mqtt": MqttConfig(host="b", topic_prefix="a/#")}, "topic_prefix"),
        ({"mqtt": MqttConfig(host="mqtt://b")}, "no scheme"),
        ({"mqtt": MqttConfig(host="b", ca_file=config)}, r"ca_file is for TLS connections: set mqtt\.tls = true"),
    ):
        with pytest.raises(FacemaskError, match=problem):
            finish_config(ServeConfig(cameras=cameras, **settings), environment={})


def test_daily_summary_and_erasing_a_camera_or_a_day(tmp_path, snapshots):
    store = EventStore(tmp_path)
    day = 86400 * 20000  # a UTC midnight
    door = add(store, snapshots, day + 3600)
    add(store, snapshots, day + 86400 + 3600)
    store.count_person("door", day + 7200, "with_mask")
    store.count_person("hall", day + 7200, "with_mask")
    rows = [row.to_json() for row in store.daily(0)]
    assert rows == [
        {"camera": "door", "day": "2024-10-04", "people": 2, "masked": 1, "flagged": 1, "compliance": 0.5},
        {"camera": "hall", "day": "2024-10-04", "people": 1, "masked": 1, "flagged": 0, "compliance": 1.0},
        {"camera": "door", "day": "2024-10-05", "people": 1, "masked": 0, "flagged": 1, "compliance": 0.0},
    ]
    assert [row.day for row in store.daily(-2 * 3600, camera="hall")] == ["2024-10-04"]
    assert [row.day for row in store.daily(-2 * 3600, camera="door")] == ["2024-10-03", "2024-10-04"]
    assert store.erase("door", day, day + 86400) == {"events": 1, "people": 2}
    assert store.event(door) is None and not store.snapshot_path(door, "face").exists()
    assert [(row.camera, row.day) for row in store.daily(0)] == [("hall", "2024-10-04"), ("door", "2024-10-05")]
    assert store.erase(since=day + 86400, until=day + 2 * 86400) == {"events": 1, "people": 1}
    assert store.erase("hall") == {"events": 0, "people": 1}
    assert store.daily(0) == [] and store.snapshot_bytes == 0 and store.events() == []
    store.close()


def test_the_erase_command(tmp_path, snapshots, repository):
    store = EventStore(tmp_path)
    now = time.time()
    kept, gone = add(store, snapshots, now, camera="hall"), add(store, snapshots, now, camera="door")
    store.close()
    result = subprocess.run(
        [sys.executable, str(repository / "serve_monitor.py"), "--data", str(tmp_path), "--erase-camera", "door"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "erased camera door: 1 events with their snapshots, 1 people counted"
    store = EventStore(tmp_path)
    assert [event.id for event in store.events()] == [kept] and not store.snapshot_path(gone, "face").exists()
    store.close()
    bad = subprocess.run(
        [sys.executable, str(repository / "serve_monitor.py"), "--data", str(tmp_path), "--erase-day", "yesterday"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --erase-day must be a date YYYY-MM-DD, got 'yesterday'"
