"""facemask-serve: the compliance monitor for a whole site — cameras, event store, dashboard and JSON API."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import signal
import sys
from dataclasses import replace
from pathlib import Path

from facemask.cli.common import run
from facemask.errors import FacemaskError
from facemask.resources import require_extra


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Watch many cameras, store mask events, and serve a dashboard and a JSON API. Ctrl-C or "
        "SIGTERM stops it cleanly."
    )
    parser.add_argument(
        "--config",
        "-c",
        type=Path,
        default=None,
        help="TOML settings: [server], [store], [webhook], [pipeline] and [[camera]] tables (docs/monitor.md)",
    )
    parser.add_argument(
        "--source",
        "-s",
        action="append",
        default=[],
        help="a camera: index, video file or stream URL, optionally named NAME=SOURCE; repeat for "
        "more cameras (added to the config's cameras)",
    )
    parser.add_argument(
        "--host",
        default=None,
        help="address to listen on (default 127.0.0.1; any other address needs an access token, "
        "from the config or the FACEMASK_TOKEN environment variable)",
    )
    parser.add_argument("--port", "-p", type=int, default=None, help="port to listen on (default 8080)")
    parser.add_argument(
        "--data",
        "-d",
        type=Path,
        default=None,
        help="data folder for the event database and snapshots (default ./facemask-data)",
    )
    parser.add_argument(
        "--model",
        "-m",
        type=Path,
        default=None,
        help="mask classifier of every pipeline, the config's included (default: the shipped float32 TFLite model)",
    )
    parser.add_argument("--loop", action="store_true", help="video files given with --source start over at the end")
    parser.add_argument("--access-log", action="store_true", help="log every HTTP request")
    erase = parser.add_argument_group("erasing data (instead of serving; the same as DELETE /api/v1/data)")
    erase.add_argument(
        "--erase-camera",
        metavar="NAME",
        default=None,
        help="delete this camera's events, snapshots and counts (of --erase-day only, when given)",
    )
    erase.add_argument(
        "--erase-day",
        metavar="YYYY-MM-DD",
        default=None,
        help="delete that day's events, snapshots and counts (the server's local day) of every camera, "
        "or of --erase-camera",
    )
    return parser


def erase(data: Path, retention, camera: str | None, day: str | None) -> int:
    """Erase a camera's or a day's data from the store in `data` (opened with the site's `retention`, which it
    applies as the server does) and say what was removed."""
    from datetime import date, datetime, timedelta

    from facemask.monitor.store import EventStore

    since = until = None
    if day is not None:
        try:
            start = datetime.combine(date.fromisoformat(day), datetime.min.time()).astimezone()
        except ValueError:
            raise FacemaskError(f"--erase-day must be a date YYYY-MM-DD, got {day!r}") from None
        since, until = start.timestamp(), (start + timedelta(days=1)).timestamp()
    if not (data / "events.sqlite3").is_file():
        raise FacemaskError(f"no event store in {data}")
    store = EventStore(data, retention)
    try:
        removed = store.erase(camera, since, until)
    finally:
        store.close()
    what = " and ".join(part for part in (camera and f"camera {camera}", day and f"day {day}") if part)
    print(
        f"erased {what}: {removed['events']} events with their snapshots, {removed['people']} people counted",
        flush=True,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    require_extra("serve", "facemask-serve")
    for module, package in (("prometheus_client", "prometheus-client"), ("paho.mqtt", "paho-mqtt")):
        if importlib.util.find_spec(module.split(".")[0]) is None:
            raise FacemaskError(f"facemask-serve needs {package} (the 'serve' extra): pip install \"facemask[serve]\"")
    from facemask.monitor.config import camera_from_argument, finish_config, load_config

    config = load_config(args.config)
    if args.erase_camera is not None or args.erase_day is not None:
        return erase(args.data or config.data, config.store, args.erase_camera, args.erase_day)
    if args.model is not None:
        config = config.with_model(args.model)
    added = tuple(
        replace(camera_from_argument(text, len(config.cameras) + number, config.pipeline), loop=args.loop)
        for number, text in enumerate(args.source, 1)
    )
    overrides = {
        key: value
        for key, value in (("host", args.host), ("port", args.port), ("data", args.data))
        if value is not None
    }
    config = finish_config(replace(config, cameras=config.cameras + added, **overrides))
    for pipeline in (config.pipeline, *(camera.pipeline for camera in config.cameras)):
        if pipeline.model is not None and pipeline.model.suffix == ".keras":
            raise FacemaskError(
                f"facemask-serve runs TFLite models only (no TensorFlow in the server): {pipeline.model}"
            )

    import uvicorn

    from facemask.monitor.api import create_app
    from facemask.monitor.site import Site

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    site = Site(config)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(site),
            host=config.host,
            port=config.port,
            access_log=args.access_log,
            log_level="info",
            lifespan="on",
            timeout_graceful_shutdown=5,
        )
    )
    stopped_by: list[str] = []
    for number in (signal.SIGINT, signal.SIGTERM):  # uvicorn stops on these, then raises them again: here
        signal.signal(number, lambda signum, frame: stopped_by.append(signal.Signals(signum).name))
    server.run()
    if not server.started:
        raise FacemaskError(f"cannot serve on {config.host}:{config.port} (address in use, or not allowed?)")
    print(
        f"stopped by {stopped_by[0] if stopped_by else 'the server'}; events are kept in {site.store.path}", flush=True
    )
    return 0


def entry_point() -> None:
    sys.exit(run(main))
