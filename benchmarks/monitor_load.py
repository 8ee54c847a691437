#!/usr/bin/env python3
"""Load on facemask-serve: 1, 2 and 4 cameras served at once, and the photo endpoint under concurrent clients.

    python benchmarks/monitor_load.py                      # about 3 minutes
    python benchmarks/monitor_load.py --seconds 10 --requests 40   # quicker

Cameras: builds a 640x480 video from real dev-scene photos (slides of 1 to 4 unmasked people, 2 s each, with
1.5 s of empty grey frames between them, so every slide brings new people), then serves N cameras (each a copy
of that video played at its own 25 FPS, like a camera: frames the pipeline cannot keep up with are skipped) with
the monitor's defaults (privacy on: faces not flagged blurred in the live view and snapshots), in this process,
with the web app served on a loopback port and, where Debian's mosquitto is installed, every event and each
camera's state published over MQTT to a broker started here on a loopback port (no cooldown: every event is a
message; --no-mqtt leaves it out). Per setting: processed FPS
per camera, the process's CPU use (cores busy, and CPU milliseconds per processed frame: what a frame costs,
whatever else the machine runs), and the latency from the first frame in which a slide's people
appear to their event row being committed in the store (median, 95th percentile, max). The baseline for the
ratios is the 1-camera setting in the same run.

Photo endpoint: a real server process (one camera running, as on a small site) answers POST /api/v1/detect with
real scene photos from a bounded load loop on loopback: first 1 client in sequence (the baseline), then 8
concurrent clients; requests/s, p50/p95 latency, errors. The photo pipeline is the image tool's (YuNet pyramid).

The machine's load average is printed at the start and end of each part: figures taken while other work runs
are lower than an idle machine's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

import cv2
import numpy as np

from facemask.errors import FacemaskError, run_cli
from facemask.evaluation import load_scenes
from facemask.imageio import letterbox, read_image

SIZE = (640, 480)
FPS = 25.0
SLIDE_SECONDS = 2.0
GAP_SECONDS = 1.5


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def build_video(scenes_dir: Path, path: Path, slides: int = 8) -> tuple[list[int], int]:
    """The camera video: `slides` slides cycling through 1, 3, 2 and 4 unmasked people (a one-person scene, a
    three-person scene, two one-person scenes side by side, one beside a three-person scene: every annotated face
    unmasked, at least 45 px wide in the frame), each after a grey gap; returns the frame index at which each
    slide starts, and the frame count."""
    singles, triples = [], []
    for scene in load_scenes(scenes_dir):
        if not scene.faces or any(face.label != "without_mask" for face in scene.faces):
            continue
        image = read_image(scene.path)
        narrowest = min(face.box.w for face in scene.faces) * min(SIZE[0] / image.shape[1], SIZE[1] / image.shape[0])
        if len(scene.faces) == 1 and narrowest >= 50:
            singles.append(image)
        elif len(scene.faces) == 3 and narrowest >= 45:
            triples.append(image)
    if len(singles) < 3 or not triples:
        raise FacemaskError(f"not enough one- and three-person unmasked scenes in {scenes_dir}")
    layouts = [((singles, 1),), ((triples, 1),), ((singles, 2),), ((singles, 1), (triples, 1))]
    used = {id(singles): 0, id(triples): 0}
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
    starts, index = [], 0
    for slide in range(slides):
        pictures = []
        for pool, count in layouts[slide % len(layouts)]:
            for _ in range(count):
                pictures.append(pool[used[id(pool)] % len(pool)])
                used[id(pool)] += 1
        column = SIZE[0] // len(pictures)
        frame = np.hstack([letterbox(picture, (column, SIZE[1]), fill=128)[0] for picture in pictures])
        for _ in range(round(GAP_SECONDS * FPS)):
            writer.write(np.full((SIZE[1], SIZE[0], 3), 128, np.uint8))
        index += round(GAP_SECONDS * FPS)
        starts.append(index)
        for _ in range(round(SLIDE_SECONDS * FPS)):
            writer.write(frame)
        index += round(SLIDE_SECONDS * FPS)
    writer.release()
    return starts, index


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def start_broker(folder: Path) -> tuple[subprocess.Popen, int] | None:
    """Debian's mosquitto on a free loopback port (anonymous clients), or None where it is not installed."""
    binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").is_file() else None)
    if binary is None:
        return None
    port = free_port()
    config = folder / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nuser {os.environ.get('USER') or 'root'}\n"
    )
    process = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                return None
            time.sleep(0.2)


def run_cameras(
    video: Path,
    starts: list[int],
    length: int,
    cameras: int,
    seconds: float,
    warmup: float,
    folder: Path,
    mqtt_port: int | None = None,
) -> dict:
    """Serve `cameras` cameras of `video` in this process (publishing to the broker on `mqtt_port`, if any); FPS
    per camera, CPU, event latency, MQTT messages published."""
    import uvicorn

    from facemask.monitor.api import create_app
    from facemask.monitor.config import CameraConfig, MqttConfig, NotifyConfig, ServeConfig, finish_config
    from facemask.monitor.site import Site

    mqtt = MqttConfig(host="127.0.0.1", port=mqtt_port, state_every=2.0) if mqtt_port else MqttConfig()
    config = finish_config(
        ServeConfig(
            cameras=tuple(CameraConfig(f"camera{n}", str(video), loop=True) for n in range(1, cameras + 1)),
            port=free_port(),
            data=folder / f"data-{cameras}",
            mqtt=mqtt,
            notify=NotifyConfig(cooldown=0.0),
        ),
        environment={},
    )
    site = Site(config)
    server = uvicorn.Server(
        uvicorn.Config(create_app(site), host="127.0.0.1", port=config.port, log_level="error", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.1)
    time.sleep(warmup)
    frames_before = {name: worker.status().frames for name, worker in site.workers.items()}
    cpu_before, wall_before = os.times(), time.time()
    time.sleep(seconds)
    cpu_after, wall_after = os.times(), time.time()
    frames_after = {name: worker.status().frames for name, worker in site.workers.items()}
    # event latency: each event row against the first frame of the slide it belongs to (the latest slide start
    # scheduled before the row was written), by each camera's own replay clock
    latencies = []
    for name, worker in site.workers.items():
        source = worker.source
        if source is None or source.started is None:
            continue
        for event in site.store.events(camera=name, since=wall_before, until=wall_after, limit=100000):
            recorded = event.recorded
            position = (recorded - source.started) * FPS  # frames since the replay started
            loop, offset = divmod(position, length)
            begun = [start for start in starts if start <= offset]
            if not begun:
                continue
            first_frame = source.started + (loop * length + begun[-1]) / FPS
            latencies.append(recorded - first_frame)
    published = site.mqtt.published if site.mqtt is not None else 0
    server.should_exit = True
    thread.join(timeout=30)
    elapsed = wall_after - wall_before
    busy = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    fps = [(frames_after[name] - frames_before[name]) / elapsed for name in frames_after]
    frames = sum(frames_after[name] - frames_before[name] for name in frames_after)
    return {
        "cameras": cameras,
        "fps": fps,
        "cpu": busy / elapsed,
        "latencies": latencies,
        "cpu_ms_per_frame": 1000.0 * busy / max(1, frames),
        "mqtt": published,
    }


def photo_load(
    scenes_dir: Path, video: Path, folder: Path, requests: int, clients: list[int], photo_workers: int
) -> list[dict]:
    """A real server process; POST /api/v1/detect from `clients` threads, `requests` requests each setting."""
    photos = [scene.path.read_bytes() for scene in load_scenes(scenes_dir)[:24]]
    port = free_port()
    config = folder / f"photo-{photo_workers}.toml"
    config.write_text(
        f'[server]\nport = {port}\ndata = "photo-data-{photo_workers}"\nphoto_workers = '
        f'{photo_workers}\n[[camera]]\nname = "door"\nsource = "{video}"\nloop = true\n'
    )
    server = subprocess.Popen(
        [sys.executable, str(REPOSITORY / "serve_monitor.py"), "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api/v1/detect"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise FacemaskError("the photo server did not start") from None
                time.sleep(0.5)

        def one(number: int) -> tuple[float, bool]:
            start = time.perf_counter()
            request = urllib.request.Request(url, data=photos[number % len(photos)], method="POST")
            try:
                with urllib.request.urlopen(request, timeout=120) as response:
                    response.read()
                    ok = response.status == 200
            except (urllib.error.URLError, OSError):
                ok = False
            return time.perf_counter() - start, ok

        one(0)  # the first request warms up the pipeline
        results = []
        for count in clients:
            start = time.perf_counter()
            with ThreadPoolExecutor(count) as pool:
                answers = list(pool.map(one, range(requests)))
            wall = time.perf_counter() - start
            times = [seconds for seconds, ok in answers if ok]
            results.append(
                {
                    "clients": count,
                    "rate": len(times) / wall,
                    "p50": percentile(times, 50),
                    "p95": percentile(times, 95),
                    "errors": sum(not ok for _, ok in answers),
                    "requests": len(answers),
                }
            )
        return results
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=Path, default=REPOSITORY.parent / "shared" / "data" / "scenes-dev")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds per camera setting")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--cameras", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--requests", type=int, default=64, help="photo requests per client setting")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--photo-workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--no-mqtt", action="store_true", help="cameras without MQTT publishing")
    args = parser.parse_args(argv)
    print(f"machine: {os.cpu_count()} cores, load average {load_average()}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        video = folder / "camera.avi"
        starts, length = build_video(args.scenes, video)
        print(
            f"camera video: 640x480 at {FPS:g} FPS, {length} frames, {len(starts)} slides of 1 to 4 unmasked people",
            flush=True,
        )
        broker = None if args.no_mqtt else start_broker(folder)
        print(
            f"privacy on (faces not flagged blurred); MQTT: "
            f"{f'a mosquitto on port {broker[1]}, every event published' if broker else 'off'}",
            flush=True,
        )
        print(
            f"\n{'cameras':>7} {'FPS per camera':>24} {'mean':>6} {'ratio':>6} {'CPU cores':>9} "
            f"{'CPU ms/frame':>12} {'events':>6} {'latency p50/p95/max s':>22} {'MQTT msgs':>9}"
        )
        baseline = None
        for count in args.cameras:
            result = run_cameras(
                video, starts, length, count, args.seconds, args.warmup, folder, broker[1] if broker else None
            )
            mean = float(np.mean(result["fps"]))
            baseline = baseline or mean
            lat = result["latencies"]
            print(
                f"{count:>7} {' '.join(f'{fps:5.1f}' for fps in result['fps']):>24} {mean:6.1f} "
                f"{mean / baseline:6.2f} {result['cpu']:9.2f} {result['cpu_ms_per_frame']:12.1f} {len(lat):>6} "
                f"{percentile(lat, 50):6.2f} / {percentile(lat, 95):5.2f} / {max(lat, default=float('nan')):5.2f}"
                f" {result['mqtt']:>9}",
                flush=True,
            )
        if broker is not None:
            broker[0].terminate()
            broker[0].wait(timeout=10)
        print(f"load average after the cameras: {load_average()}", flush=True)
        print(
            f"\nphoto endpoint (POST /api/v1/detect, {args.requests} real scene photos per setting, one camera running)"
        )
        print(
            f"{'photo workers':>13} {'clients':>7} {'requests/s':>10} {'ratio':>6} {'p50 s':>6} {'p95 s':>6} "
            f"{'errors':>6}"
        )
        for workers in args.photo_workers:
            base = None
            for row in photo_load(args.scenes, video, folder, args.requests, args.clients, workers):
                base = base or row["rate"]
                print(
                    f"{workers:>13} {row['clients']:>7} {row['rate']:10.2f} {row['rate'] / base:6.2f} "
                    f"{row['p50']:6.2f} {row['p95']:6.2f} {row['errors']:>6}",
                    flush=True,
                )
        print(f"load average at the end: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
