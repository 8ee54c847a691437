#!/usr/bin/env python3
"""Make docs/images/monitor_dashboard.png: facemask-serve watching two cameras fed by videos of the repository's
public-domain example photos (an entrance showing unmasked people, a reception showing a masked person) and a
third camera whose stream does not answer, shown in Debian's headless Chromium.

    python scripts/make_monitor_screenshot.py --force
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from facemask.errors import FacemaskError, run_cli
from facemask.imageio import check_writable, letterbox, read_image

SIZE = (640, 480)


def write_video(path: Path, pictures: list[np.ndarray], fps: float = 10.0) -> None:
    """Each picture for two seconds, then three seconds of an empty grey frame."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, SIZE)
    for picture in pictures:
        frame = letterbox(picture, SIZE, fill=128)[0]
        for _ in range(int(fps * 2)):
            writer.write(frame)
        for _ in range(int(fps * 3)):
            writer.write(np.full((SIZE[1], SIZE[0], 3), 128, np.uint8))
    writer.release()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPOSITORY / "docs" / "images" / "monitor_dashboard.png")
    parser.add_argument("--seconds", type=float, default=40.0, help="how long the cameras run before the picture")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    check_writable(args.output, args.force)
    from selenium import webdriver

    examples = REPOSITORY / "examples"
    both = read_image(examples / "two_people.jpg")
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        write_video(folder / "entrance.avi", [read_image(examples / "grace_hopper.jpg"), both])
        write_video(folder / "reception.avi", [both[:, : both.shape[1] // 2]])  # the masked astronaut
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        (folder / "site.toml").write_text(f"""
[server]
port = {port}
data = "data"
[[camera]]
name = "entrance"
source = "{folder / "entrance.avi"}"
loop = true
[[camera]]
name = "reception"
source = "{folder / "reception.avi"}"
loop = true
[[camera]]
name = "loading-dock"
source = "rtsp://viewer:secret@127.0.0.1:9/stream1"
""")
        server = subprocess.Popen(
            [sys.executable, str(REPOSITORY / "serve_monitor.py"), "--config", str(folder / "site.toml")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for argument in (
            "--headless=new",
            "--window-size=1360,1420",
            "--disable-gpu",
            "--hide-scrollbars",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ):
            options.add_argument(argument)
        if os.geteuid() == 0:
            options.add_argument("--no-sandbox")
        driver = None
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).read()
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise FacemaskError("the server did not start") from None
                    time.sleep(0.5)
            time.sleep(args.seconds)
            driver = webdriver.Chrome(options=options, service=webdriver.ChromeService("/usr/bin/chromedriver"))
            driver.get(f"http://127.0.0.1:{port}/")
            time.sleep(4)
            in_view = (
                "return ['entrance', 'reception'].every(n => "
                "document.querySelector(`.tile[data-camera=${n}]`).dataset.faces > 0)"
            )
            for _ in range(100):  # a moment with people in both views
                if driver.execute_script(in_view):
                    break
                time.sleep(0.2)
            time.sleep(0.8)
            args.output.parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(args.output))
        finally:
            if driver is not None:
                driver.quit()
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
