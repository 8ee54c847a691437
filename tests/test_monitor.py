"""facemask-serve, the real server on a loopback port, checked through real HTTP: two cameras fed by videos made
from real dev-scene photos (one with unmasked people, one with masked people only, seen through a zone), a camera
whose file is missing and a stream with credentials that cannot be reached; a webhook receiver that fails once;
bad uploads; foreign Host headers and ids out of range; the CSV exports, the daily summary and the Prometheus
metrics; a restart on the same data folder with an access token."""

from __future__ import annotations

import base64
import csv
import functools
import http.server
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest

from facemask.evaluation import load_scenes
from facemask.geometry import Box
from facemask.imageio import letterbox, read_image

pytest.importorskip("fastapi", reason="facemask-serve needs the 'serve' extra")

SIZE = (640, 480)
FPS = 10.0
SCENE_FRAMES = 30  # three seconds per photo: enough looks for a call on each person
GAP_FRAMES = 30  # three seconds of grey between photos: longer than the tracker's patience at any frame rate here
SECRET = "s3cretPassw0rd"
TOKEN = "test-token-0123456789"
MAX_BYTES = 2_000_000
MAX_PIXELS = 20_000_000
HALL_ZONES = [[[0.05, 0.05], [0.95, 0.05], [0.95, 0.95], [0.05, 0.95]]]  # all but the edges: every face shown
HUGE_ID = "99999999999999999999999"  # beyond SQLite's integers


@dataclass(frozen=True)
class Shown:
    """A photo in a test video: its name, label and the annotated face box in video coordinates."""

    name: str
    label: str
    box: Box


def pick_scenes(scenes_dir: Path, label: str, count: int = 2) -> list:
    """Single-face scenes of `label` whose face is 60-160 px wide once in a 640x480 frame (a person a few metres
    from the camera), widest first."""
    candidates = []
    for scene in load_scenes(scenes_dir):
        if len(scene.faces) == 1 and scene.faces[0].label == label:
            height, width = read_image(scene.path).shape[:2]
            in_video = scene.faces[0].box.w * min(SIZE[0] / width, SIZE[1] / height)
            if 60 <= in_video <= 160:
                candidates.append((-round(in_video), scene.name, scene))
    chosen = [scene for *_, scene in sorted(candidates, key=lambda c: c[:2])[:count]]
    assert len(chosen) == count, f"not enough single-face {label} scenes in {scenes_dir}"
    return chosen


def make_video(path: Path, scenes: list) -> list[Shown]:
    """An MJPG video at 10 FPS: each photo for one second, grey gaps between them."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
    shown = []
    for scene in scenes:
        frame, scale, left, top = letterbox(read_image(scene.path), SIZE, fill=128)
        face = scene.faces[0].box
        shown.append(
            Shown(
                scene.name,
                scene.faces[0].label,
                Box(
                    round(face.x * scale) + left,
                    round(face.y * scale) + top,
                    round(face.w * scale),
                    round(face.h * scale),
                ),
            )
        )
        for _ in range(SCENE_FRAMES):
            writer.write(frame)
        for _ in range(GAP_FRAMES):
            writer.write(np.full((SIZE[1], SIZE[0], 3), 128, np.uint8))
    writer.release()
    return shown


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class VideoHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the test videos over HTTP: a stream that ends with each download, as a camera that drops, and that
    refuses the two requests after the first (503), as a camera that is away for a while."""

    downloads: list[str]

    def do_GET(self):
        self.downloads.append(self.path)
        if len(self.downloads) in (2, 3):
            self.send_error(503)
            return
        super().do_GET()

    def log_message(self, *args):
        pass


class Receiver(http.server.BaseHTTPRequestHandler):
    """A webhook receiver that answers its first POST with 500 (so the server must retry), then 200."""

    received: list[dict]
    attempts: list[int]

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.attempts.append(1)
        if len(self.attempts) == 1:
            self.send_response(500)
        else:
            self.received.append(json.loads(body))
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@dataclass
class Answer:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Server:
    """The real facemask-serve process on a loopback port."""

    config: Path
    port: int
    log: Path
    process: subprocess.Popen | None = None
    environment: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, repository: Path, environment: dict | None = None) -> None:
        env = {**os.environ, **(environment or {})}
        self.handle = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, str(repository / "serve_monitor.py"), "--config", str(self.config)],
            cwd=repository,
            stdout=self.handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"server exited: {self.log.read_text()[-2000:]}"
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.3)
        raise AssertionError(f"server did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self.handle.close()
        return code

    def request(
        self, path: str, data: bytes | None = None, headers: dict | None = None, method: str | None = None
    ) -> Answer:
        request = urllib.request.Request(self.url + path, data=data, headers=headers or {}, method=method)
        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(request, timeout=120) as response:
                return Answer(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
        except urllib.error.HTTPError as error:
            return Answer(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())

    def get_json(self, path: str, headers: dict | None = None):
        answer = self.request(path, headers=headers)
        assert answer.status == 200, (path, answer.status, answer.body[:300])
        return answer.json()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def wait_for(condition, timeout: float = 90.0, what: str = "condition", every: float = 0.5):
    """Poll `condition()` every `every` seconds until it returns something true; its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def site(scenes_dir: Path, repository: Path, tmp_path_factory):
    """The server with cameras door (unmasked people), hall (masked people only), ghost (a missing file) and
    lobby (an RTSP stream with credentials that nothing answers), and a webhook receiver."""
    folder = tmp_path_factory.mktemp("monitor")
    door = make_video(folder / "door.avi", pick_scenes(scenes_dir, "without_mask"))
    hall = make_video(folder / "hall.avi", pick_scenes(scenes_dir, "with_mask"))
    Receiver.received, Receiver.attempts = [], []
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    VideoHandler.downloads = []
    videos = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(VideoHandler, directory=str(folder)))
    threading.Thread(target=videos.serve_forever, daemon=True).start()
    port = free_port()
    config = folder / "site.toml"
    config.write_text(f"""
[server]
port = {port}
data = "data"
max_upload_bytes = {MAX_BYTES}
max_upload_pixels = {MAX_PIXELS}

[webhook]
url = "http://127.0.0.1:{receiver.server_address[1]}/hook"
timeout = 5

[[camera]]
name = "door"
source = "{folder / "door.avi"}"
loop = true

[[camera]]
name = "hall"
source = "{folder / "hall.avi"}"
loop = true
zones = {HALL_ZONES}

[[camera]]
name = "ghost"
source = "{folder / "missing.avi"}"

[[camera]]
name = "lobby"
source = "rtsp://admin:{SECRET}@127.0.0.1:{free_port()}/live?password={SECRET}"

[[camera]]
name = "gate"
source = "http://admin:{SECRET}@127.0.0.1:{videos.server_address[1]}/door.avi"
""")
    server = Server(config, port, folder / "server.log")
    server.start(repository)
    yield server, door, hall, folder
    if server.process.poll() is None:
        server.stop()
    receiver.shutdown()
    videos.shutdown()


def camera(server: Server, name: str) -> dict:
    return next(c for c in server.get_json("/api/v1/cameras")["cameras"] if c["name"] == name)


def one_loop_seen(server: Server, name: str, shown: list[Shown]) -> bool:
    """Whether the camera has processed its video once through (frames processed cover every photo)."""
    status = camera(server, name)
    return status["frames"] >= 2 and status["last_frame"] and counted(server, name) >= len(shown)


def counted(server: Server, name: str) -> int:
    rows = server.get_json(f"/api/v1/counts?per=total&camera={name}")["rows"]
    return sum(row["people"] for row in rows)


def test_events_for_the_camera_with_unmasked_people_and_none_for_the_masked_one(site):
    server, door, hall, _ = site
    wait_for(
        lambda: one_loop_seen(server, "door", door) and one_loop_seen(server, "hall", hall),
        150,
        "both cameras to show every photo once",
    )
    door_events = server.get_json("/api/v1/events?camera=door&limit=500")["events"]
    assert server.get_json("/api/v1/events?camera=hall")["events"] == []
    assert door_events, "no event for the camera showing unmasked people"
    assert {event["label"] for event in door_events} == {"without_mask"}
    for event in door_events:  # each event is one of the people shown, where they are in the frame
        assert max(Box(*event["box"]).iou(shown.box) for shown in door) > 0.5, event
        assert {"id", "camera", "time", "track", "probability", "snapshots"} <= set(event)
    labels = server.get_json("/api/v1/events?label=with_mask")["events"]
    assert labels == []


def test_counts_per_hour_count_people_once_per_track(site):
    server, _door, _hall, _ = site
    wait_for(lambda: server.get_json("/api/v1/events?camera=door")["events"], 60, "a door event")
    before = len(server.get_json("/api/v1/events?camera=door&limit=500")["events"])
    rows = server.get_json("/api/v1/counts?per=hour")["rows"]
    after = len(server.get_json("/api/v1/events?camera=door&limit=500")["events"])
    door_unmasked = sum(row["counts"].get("without_mask", 0) for row in rows if row["camera"] == "door")
    assert before <= door_unmasked <= after, "each unmasked person is counted once, with its event"
    hall_rows = [row for row in rows if row["camera"] == "hall"]
    assert hall_rows and all(set(row["counts"]) == {"with_mask"} and row["compliance"] == 1.0 for row in hall_rows)
    assert all(row["start"].endswith(":00:00.000+00:00") for row in rows), "hourly buckets"
    # people are counted per tracked face, not per frame: far fewer people than frames with a face
    hall_people = sum(row["people"] for row in hall_rows)
    assert hall_people < camera(server, "hall")["frames"] / 3


def test_snapshots_are_served_by_event_id(site):
    server, _door, *_ = site
    event = wait_for(lambda: server.get_json("/api/v1/events?camera=door")["events"], 60, "a door event")[0]
    frame = cv2.imdecode(np.frombuffer(server.request(event["snapshots"]["frame"]).body, np.uint8), cv2.IMREAD_COLOR)
    face_answer = server.request(event["snapshots"]["face"])
    assert face_answer.status == 200 and face_answer.headers["content-type"] == "image/jpeg"
    face = cv2.imdecode(np.frombuffer(face_answer.body, np.uint8), cv2.IMREAD_COLOR)
    assert frame.shape == (SIZE[1], SIZE[0], 3)
    _x, _y, w, h = event["box"]
    assert w <= face.shape[1] < SIZE[0] and h <= face.shape[0] < SIZE[1], "the face, with a margin"
    assert server.request(f"/api/v1/snapshots/{event['id']}/other.jpg").status == 404
    assert server.request("/api/v1/snapshots/999999/face.jpg").status == 404
    assert server.request("/api/v1/snapshots/..%2F..%2Fevents.sqlite3/face.jpg").status in (404, 422)
    live = server.request("/api/v1/cameras/door/live.jpg")
    assert live.status == 200 and cv2.imdecode(np.frombuffer(live.body, np.uint8), 1).shape == (480, 640, 3)


def test_events_are_filtered_and_paged(site):
    server, *_ = site
    wait_for(lambda: len(server.get_json("/api/v1/events?camera=door&limit=500")["events"]) >= 2, 90, "two door events")
    everything = server.get_json("/api/v1/events?limit=500")["events"]
    first = server.get_json("/api/v1/events?limit=1")
    second = server.get_json(f"/api/v1/events?limit=1&before={first['next_before']}")
    assert first["events"][0]["id"] > second["events"][0]["id"]
    newest = everything[0]
    since = server.get_json(f"/api/v1/events?since={newest['time'].replace('+00:00', 'Z')}&limit=500")["events"]
    assert newest["id"] in [event["id"] for event in since]
    assert all(event["time"] >= newest["time"] for event in since)
    until = server.get_json(f"/api/v1/events?until={newest['time'].replace('+', '%2B')}&limit=500")["events"]
    assert newest["id"] not in [event["id"] for event in until]
    assert server.request("/api/v1/events?since=yesterday").status == 422


def test_photo_endpoint_answers_what_the_image_script_writes(site, scenes_dir, run_script):
    server, *_ = site
    scenes = [
        scene
        for scene in load_scenes(scenes_dir)
        if {face.label for face in scene.faces} == {"with_mask", "without_mask"}
    ]
    photo = sorted(scenes, key=lambda scene: scene.name)[0].path
    script = run_script("detect_mask_image.py", "--image", photo, "--json", "-")
    assert script.returncode == 0, script.stderr
    expected = json.loads(script.stdout)[0]
    assert expected["faces"], "a photo with faces"
    answer = server.request(
        f"/api/v1/detect?name={urllib.request.quote(str(photo))}",
        data=photo.read_bytes(),
        headers={"Content-Type": "image/jpeg"},
    )
    assert answer.status == 200, answer.body
    assert answer.json() == expected
    annotated = server.request("/api/v1/detect?annotated=true", data=photo.read_bytes()).json()
    header, encoded = annotated["annotated_image"].split(",", 1)
    assert header == "data:image/jpeg;base64"
    picture = cv2.imdecode(np.frombuffer(base64.b64decode(encoded), np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape[:2] == (expected["height"], expected["width"])
    jpeg = server.request("/api/v1/detect?format=jpeg", data=photo.read_bytes())
    assert jpeg.status == 200 and jpeg.headers["content-type"] == "image/jpeg"


def test_bad_uploads_are_refused_and_the_server_keeps_serving(site, tmp_path):
    server, *_ = site
    not_image = server.request("/api/v1/detect", data=b"this is not an image" * 50)
    assert not_image.status == 415 and "not an image" in not_image.json()["detail"]
    assert server.request("/api/v1/detect", data=b"").status == 400
    too_big = server.request("/api/v1/detect", data=b"\xff\xd8\xff" + bytes(MAX_BYTES))
    assert too_big.status == 413 and "bytes" in too_big.json()["detail"]
    bomb = tmp_path / "bomb.png"  # 25 megapixels of one colour: a few kB of PNG
    cv2.imwrite(str(bomb), np.zeros((5000, 5000), np.uint8))
    assert bomb.stat().st_size < MAX_BYTES
    refused = server.request("/api/v1/detect", data=bomb.read_bytes())
    assert refused.status == 413 and "pixels" in refused.json()["detail"]
    truncated = server.request(
        "/api/v1/detect", data=(Path(__file__).parents[1] / "examples" / "two_people.jpg").read_bytes()[:5000]
    )
    assert truncated.status == 415
    assert server.get_json("/api/v1/health")["status"] == "ok"
    fine = server.request(
        "/api/v1/detect", data=(Path(__file__).parents[1] / "examples" / "two_people.jpg").read_bytes()
    )
    assert fine.status == 200 and len(fine.json()["faces"]) == 2


def test_a_foreign_host_is_refused(site):
    server, *_ = site
    for path in ("/api/v1/events", "/", "/api/v1/health", "/metrics", "/api/v1/snapshots/1/face.jpg"):
        for host in ("attacker.example", f"attacker.example:{server.port}", "127.0.0.1.attacker.example"):
            answer = server.request(path, headers={"Host": host})
            assert answer.status == 400 and b"snapshots" not in answer.body, (path, host, answer.status)
    for host in (f"localhost:{server.port}", f"127.0.0.1:{server.port}", "localhost", f"[::1]:{server.port}"):
        assert server.request("/api/v1/health", headers={"Host": host}).status == 200, host


def test_path_and_paging_parameters_out_of_range_are_404_or_422(site):
    server, *_ = site
    assert server.request(f"/api/v1/snapshots/{HUGE_ID}/face.jpg").status == 404
    assert server.request(f"/api/v1/snapshots/{HUGE_ID}/frame.jpg").status == 404
    assert server.request(f"/api/v1/events/{HUGE_ID}").status == 404
    assert server.request("/api/v1/snapshots/-1/face.jpg").status == 404
    assert server.request("/api/v1/events/0").status == 404
    assert server.request(f"/api/v1/cameras/{'x' * 5000}").status == 404
    assert server.request(f"/api/v1/cameras/{'x' * 300}/live.jpg").status == 404
    for path in (
        f"/api/v1/events?before={HUGE_ID}",
        f"/api/v1/events.csv?before={HUGE_ID}",
        "/api/v1/events?since=99999-01-01",
        "/api/v1/summary?days=100000",
        "/api/v1/counts.csv?per=week",
        "/api/v1/summary?utc_offset=100000",
        "/api/v1/data?day=2026-13-45",
    ):
        method = "DELETE" if path.startswith("/api/v1/data") else None
        assert server.request(path, method=method).status == 422, path
    assert server.get_json("/api/v1/health")["status"] == "ok"


def read_csv(answer: Answer) -> list[dict]:
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/csv"), answer.status
    return list(csv.DictReader(io.StringIO(answer.body.decode("utf-8"))))


def test_the_csv_exports_match_the_json(site):
    server, *_ = site
    newest = wait_for(lambda: server.get_json("/api/v1/events?camera=door")["events"], 60, "a door event")[0]
    query = f"camera=door&label=without_mask&before={newest['id'] + 1}&limit=500"  # a fixed set: ids below
    events = server.get_json(f"/api/v1/events?{query}")["events"]
    rows = read_csv(server.request(f"/api/v1/events.csv?{query}"))
    assert [int(row["id"]) for row in rows] == [event["id"] for event in events]
    for row, event in zip(rows, events):
        assert (row["camera"], row["time"], row["label"]) == (event["camera"], event["time"], event["label"])
        assert float(row["probability"]) == event["probability"] and int(row["track"]) == event["track"]
        assert [int(row[key]) for key in "xywh"] == event["box"]
        assert row["face_snapshot"] == event["snapshots"].get("face", "")
    for per in ("minute", "hour", "total"):

        def stable(per=per):  # the JSON read before and after the CSV the same: no count moved in between
            before = server.get_json(f"/api/v1/counts?per={per}")["rows"]
            table = read_csv(server.request(f"/api/v1/counts.csv?per={per}"))
            return before == server.get_json(f"/api/v1/counts?per={per}")["rows"] and (table, before)

        table, counts = wait_for(stable, 60, "counts read twice the same")
        assert counts and len(table) == len(counts), per
        for row, count in zip(table, counts):
            assert (row["camera"], row["start"], int(row["people"])) == (
                count["camera"],
                count["start"],
                count["people"],
            )
            assert {label: int(row[label]) for label in count["counts"]} == count["counts"]
            assert (
                sum(int(row[label]) for label in ("with_mask", "without_mask", "mask_worn_incorrectly"))
                == count["people"]
            )
            assert (float(row["compliance"]) if row["compliance"] else None) == count["compliance"]


def test_the_daily_summary_per_camera(site):
    server, _door, *_ = site
    wait_for(lambda: counted(server, "door") and counted(server, "hall"), 90, "people counted on both")

    def same():  # the summary in UTC days and the counts per (UTC) day, read while no count moved
        since = (time.time() // 86400 - 1) * 86400  # yesterday's start, UTC: the summary's first day
        rows = server.get_json(f"/api/v1/counts?per=day&since={since}")["rows"]
        days = server.get_json("/api/v1/summary?days=2&utc_offset=0")["days"]
        return rows == server.get_json(f"/api/v1/counts?per=day&since={since}")["rows"] and (days, rows)

    days, rows = wait_for(same, 60, "the counts read twice the same")
    by_day = {(row["camera"], row["start"][:10]): row for row in rows}
    assert {row["camera"] for row in days} >= {"door", "hall"} and len(days) == len(rows)
    for day in days:
        count = by_day[(day["camera"], day["day"])]
        assert (day["people"], day["masked"]) == (count["people"], count["counts"].get("with_mask", 0))
        assert day["masked"] + day["flagged"] == day["people"]
        assert day["compliance"] == (round(day["masked"] / day["people"], 4) if day["people"] else None)
    hall = [day for day in days if day["camera"] == "hall"]
    assert all(day["flagged"] == 0 and day["compliance"] == 1.0 for day in hall)
    assert any(day["flagged"] > 0 for day in days if day["camera"] == "door")
    local = server.get_json("/api/v1/summary")
    assert isinstance(local["utc_offset"], int) and local["days"]


def metrics(server: Server, headers: dict | None = None) -> dict:
    """The /metrics samples, parsed by prometheus_client's own parser: {(name, sorted labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    answer = server.request("/metrics", headers=headers)
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/plain"), answer.status
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.body.decode("utf-8"))
        for sample in family.samples
    }


def test_metrics_parse_and_move_with_the_video(site):
    pytest.importorskip("prometheus_client", reason="/metrics needs prometheus-client (the 'serve' extra)")
    server, *_ = site
    first = metrics(server)
    frames = first[("facemask_frames_processed_total", (("camera", "door"),))]
    later = wait_for(
        lambda: (now := metrics(server))[("facemask_frames_processed_total", (("camera", "door"),))] > frames and now,
        60,
        "more frames processed",
    )
    events = len(server.get_json("/api/v1/events?camera=door&limit=500")["events"])
    assert later[("facemask_events_total", (("camera", "door"), ("label", "without_mask")))] >= min(events, 1)
    assert later[("facemask_people_seen_total", (("camera", "hall"), ("label", "with_mask")))] >= 1
    assert later[("facemask_event_latency_seconds_count", (("camera", "door"),))] >= 1
    assert later[("facemask_camera_online", (("camera", "ghost"),))] == 0
    assert later[("facemask_store_bytes", (("part", "snapshots"),))] > 0
    assert later[("facemask_store_bytes", (("part", "database"),))] > 0
    assert ("facemask_camera_fps", (("camera", "door"),)) in later
    # the photo tests before this one: answers by status, and the time of those answered
    assert later[("facemask_photo_requests_total", (("status", "200"),))] >= 3
    assert later[("facemask_photo_requests_total", (("status", "415"),))] >= 2
    assert later[("facemask_photo_requests_total", (("status", "413"),))] >= 1
    assert later[("facemask_photo_request_seconds_count", ())] >= 3


def test_a_missing_camera_is_offline_while_the_others_run(site):
    server, *_ = site
    ghost = wait_for(lambda: (c := camera(server, "ghost"))["message"] and c, 30, "the ghost camera's message")
    assert ghost["status"] == "offline" and not ghost["online"] and ghost["frames"] == 0
    assert "missing.avi" in ghost["message"]
    door = wait_for(lambda: (c := camera(server, "door"))["online"] and c, 30, "the door camera online")
    assert door["fps"] > 0 and door["frames"] > 0
    health = server.get_json("/api/v1/health")
    assert health["cameras"] == 5 and 1 <= health["online"] <= 3


def test_a_stream_that_drops_is_shown_offline_and_opened_again(site):
    server, *_ = site
    wait_for(lambda: len(VideoHandler.downloads) >= 4, 90, "the stream to be served again")
    frames = camera(server, "gate")["frames"]
    gate = wait_for(lambda: (c := camera(server, "gate"))["frames"] > frames and c, 30, "frames after the drop")
    assert gate["source"].startswith("http://127.0.0.1:") and gate["source"].endswith("/door.avi")
    log = server.log.read_text(errors="replace")
    assert f"camera gate: stream {gate['source']} dropped: cannot open stream {gate['source']}; retrying in 1 s" in log
    assert f"camera gate: cannot open stream {gate['source']}; retrying in 2 s" in log
    wait_for(lambda: server.get_json("/api/v1/events?camera=gate")["events"], 60, "events from the stream too")


def test_stream_credentials_never_appear(site):
    server, *_ = site
    lobby = wait_for(lambda: (c := camera(server, "lobby"))["message"] and c, 30, "the lobby camera's message")
    assert lobby["status"] == "offline"
    assert lobby["source"].startswith("rtsp://127.0.0.1:") and lobby["source"].endswith("/live")
    for path in (
        "/api/v1/cameras",
        "/api/v1/cameras/lobby",
        "/api/v1/cameras/gate",
        "/",
        "/static/app.js",
        "/api/v1/health",
        "/api/v1/openapi.json",
    ):
        body = server.request(path).body.decode("utf-8", "replace")
        assert SECRET not in body and "admin" not in body, path
    log = server.log.read_text(errors="replace")
    assert "lobby" in log and SECRET not in log


def test_webhook_gets_every_event_after_a_failed_attempt(site):
    server, *_ = site
    wait_for(lambda: Receiver.received, 60, "a webhook delivery")
    assert len(Receiver.attempts) > len(Receiver.received), "the first attempt failed and was retried"
    ids = {event["id"] for event in server.get_json("/api/v1/events?limit=500")["events"]}
    delivered = Receiver.received[0]
    # door and gate show the same unmasked people (gate streams door.avi over HTTP): either may report first
    assert delivered["id"] in ids and delivered["camera"] in ("door", "gate") and delivered["label"] == "without_mask"


def test_the_server_process_runs_without_tensorflow(site):
    server, *_ = site
    maps = Path(f"/proc/{server.process.pid}/maps")
    if not maps.is_file():
        pytest.skip("no /proc here")
    assert "tensorflow" not in maps.read_text(), "the serving process must not load TensorFlow"


def test_other_addresses_need_a_token(repository, tmp_path):
    environment = {key: value for key, value in os.environ.items() if key != "FACEMASK_TOKEN"}
    result = subprocess.run(
        [
            sys.executable,
            str(repository / "serve_monitor.py"),
            "--source",
            "0",
            "--host",
            "0.0.0.0",
            "--data",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: listening on 0.0.0.0") and "token" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium driven by Selenium (skips where either is missing)."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="the browser test needs selenium")
    for program in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        if not Path(program).is_file():
            pytest.skip(f"{program} not installed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in (
        "--headless=new",
        "--window-size=1280,1180",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-extensions",
        "--hide-scrollbars",
    ):
        options.add_argument(argument)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService("/usr/bin/chromedriver"))
    yield driver
    driver.quit()


def browser_wait(driver, condition, what: str, timeout: float = 60.0):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.3).until(lambda d: condition(d), message=what)


@pytest.mark.slow
def test_dashboard_in_a_real_browser(site, browser, tmp_path):
    server, *_ = site
    driver = browser
    driver.get(server.url + "/")
    frames_of = (
        "return Object.fromEntries([...document.querySelectorAll('.tile')].map(t => "
        "[t.dataset.camera, [t.dataset.status, Number(t.dataset.frames), "
        "t.querySelector('img').naturalWidth]]))"
    )
    first = browser_wait(
        driver,
        lambda d: (
            (tiles := d.execute_script(frames_of))
            and all(tiles.get(name, [0, 0, 0])[2] > 0 for name in ("door", "hall"))
            and tiles
        ),
        "both live views",
    )
    later = browser_wait(
        driver,
        lambda d: (
            (tiles := d.execute_script(frames_of))
            and all(tiles[name][1] > first[name][1] for name in ("door", "hall"))
            and tiles
        ),
        "both tiles to update",
    )
    assert later["door"][0] == later["hall"][0] == "online"
    assert later["ghost"][0] == "offline" and later["lobby"][0] == "offline"
    violation = (
        "const card = document.querySelector('.violation[data-camera=door]');"
        "const face = card && card.querySelector('img.face');"
        "return face && face.complete && face.naturalWidth > 0 ? card.dataset.event : null"
    )
    event_id = browser_wait(driver, lambda d: d.execute_script(violation), "a violation with its snapshot")
    assert int(event_id) in {event["id"] for event in server.get_json("/api/v1/events?limit=500")["events"]}
    assert driver.execute_script("return document.querySelector('.violation[data-camera=hall]')") is None
    chart = "return document.querySelectorAll('#chart path.series').length"
    browser_wait(driver, lambda d: d.execute_script(chart) >= 2, "the chart's lines (door and hall)")
    assert driver.execute_script("return document.querySelectorAll('#chart circle.point').length") >= 2
    compliance = driver.find_element("id", "compliance").text
    assert compliance.endswith("%"), compliance
    zone = "return document.querySelectorAll('.tile[data-camera=hall] svg.zones polygon.zone').length"
    assert browser_wait(driver, lambda d: d.execute_script(zone), "the hall's zone drawn") == 1
    assert driver.execute_script("return document.querySelector('.tile[data-camera=door] svg.zones')") is None
    daily = (
        "return [...document.querySelectorAll('#daily tbody tr[data-camera]')].map(r => "
        "[...r.children].map(c => c.textContent))"
    )
    rows = browser_wait(
        driver,
        lambda d: (found := d.execute_script(daily)) and {r[1] for r in found} >= {"door", "hall"} and found,
        "the daily summary of door and hall",
    )
    for day, name, people, masked, flagged, rate in rows:
        assert int(people) == int(masked) + int(flagged) and (rate.endswith("%") or rate == "\N{EN DASH}"), (day, name)
    assert SECRET not in driver.page_source
    driver.set_window_size(1360, 1500)
    faces = "return ['door', 'hall'].every(n => document.querySelector(`.tile[data-camera=${n}]`).dataset.faces > 0)"
    try:  # a picture with people in view, where the timing allows it
        browser_wait(driver, lambda d: d.execute_script(faces), "people in both views", timeout=15)
        time.sleep(0.8)
    except Exception:  # noqa: BLE001 (no people in view in time: the picture without them)
        pass
    shot = Path(os.environ.get("FACEMASK_DASHBOARD_SCREENSHOT", tmp_path / "dashboard.png"))
    assert driver.save_screenshot(str(shot))
    assert cv2.imread(str(shot)).shape[1] >= 1000

    driver.get(server.url + "/photo")
    photo = Path(__file__).parents[1] / "examples" / "two_people.jpg"
    driver.find_element("id", "file").send_keys(str(photo))
    rows = (
        "return document.querySelector('#annotated').naturalWidth > 0 ? "
        "document.querySelectorAll('#faces tbody tr').length : 0"
    )
    assert browser_wait(driver, lambda d: d.execute_script(rows), "the annotated photo") == 2
    driver.find_element("id", "file").send_keys(str(Path(__file__)))
    browser_wait(driver, lambda d: "not an image" in d.find_element("id", "status").text, "the upload refused")


def test_restart_keeps_history_and_a_token_guards_everything(site, repository):
    server, *_ = site
    before = server.get_json("/api/v1/events?limit=500")["events"]
    counts_before = server.get_json("/api/v1/counts?per=total")["rows"]
    assert before
    assert server.stop() == 0, "SIGTERM stops the server cleanly"
    assert "Application shutdown complete" in server.log.read_text()
    server.start(repository, {"FACEMASK_TOKEN": TOKEN})
    assert server.request("/api/v1/events").status == 401
    assert server.request("/api/v1/health").status == 401
    assert server.request("/api/v1/detect", data=b"x").status == 401
    assert server.request("/api/v1/snapshots/1/face.jpg").status == 401
    assert server.request("/metrics").status == 401
    page = server.request("/")
    assert page.status == 303 and page.headers["location"] == "/login"
    assert server.request("/api/v1/events", headers={"Authorization": "Bearer wrong-token-000"}).status == 401
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert server.request("/api/v1/events", headers={**bearer, "Host": "attacker.example"}).status == 400
    assert metrics(server, bearer)[("facemask_camera_online", (("camera", "ghost"),))] == 0
    after = server.get_json("/api/v1/events?limit=500", headers=bearer)["events"]
    assert {event["id"] for event in before} <= {event["id"] for event in after}
    old = before[-1]
    assert server.request(old["snapshots"]["face"], headers=bearer).status == 200
    counts_after = {
        row["camera"]: row["people"] for row in server.get_json("/api/v1/counts?per=total", headers=bearer)["rows"]
    }
    assert all(counts_after[row["camera"]] >= row["people"] for row in counts_before)
    login = server.request(
        "/login",
        data=f"token={TOKEN}".encode(),
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert login.status == 303
    cookie = login.headers["set-cookie"].split(";", 1)[0]
    assert "httponly" in login.headers["set-cookie"].lower()
    assert server.request("/", headers={"Cookie": cookie}).status == 200
    assert server.request("/login", data=b"token=nope", method="POST").status == 401
