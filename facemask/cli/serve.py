"""facemask-serve: the compliance monitor for a whole site — cameras, event store, dashboard and JSON API."""

from __future__ import annotations

import argparse
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
                    "SIGTERM stops it cleanly.")
    parser.add_argument("--config", "-c", type=Path, default=None,
                        help="TOML settings: [server], [store], [webhook], [pipeline] and [[camera]] tables "
                             "(docs/monitor.md)")
    parser.add_argument("--source", "-s", action="append", default=[],
                        help="a camera: index, video file or stream URL, optionally named NAME=SOURCE; repeat for "
                             "more cameras (added to the config's cameras)")
    parser.add_argument("--host", default=None,
                        help="address to listen on (default 127.0.0.1; any other address needs an access token, "
                             "from the config or the FACEMASK_TOKEN environment variable)")
    parser.add_argument("--port", "-p", type=int, default=None, help="port to listen on (default 8080)")
    parser.add_argument("--data", "-d", type=Path, default=None,
                        help="data folder for the event database and snapshots (default ./facemask-data)")
    parser.add_argument("--model", "-m", type=Path, default=None,
                        help="mask classifier (default: the shipped float32 TFLite model)")
    parser.add_argument("--loop", action="store_true", help="video files given with --source start over at the end")
    parser.add_argument("--access-log", action="store_true", help="log every HTTP request")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    require_extra("serve", "facemask-serve")
    from facemask.monitor.config import camera_from_argument, finish_config, load_config

    config = load_config(args.config)
    added = tuple(replace(camera_from_argument(text, len(config.cameras) + number), loop=args.loop)
                  for number, text in enumerate(args.source, 1))
    overrides = {key: value for key, value in (("host", args.host), ("port", args.port), ("data", args.data),
                                                 ("model", args.model)) if value is not None}
    config = finish_config(replace(config, cameras=config.cameras + added, **overrides))
    if config.model is not None and config.model.suffix == ".keras":
        raise FacemaskError(f"facemask-serve runs TFLite models only (no TensorFlow in the server): {config.model}")

    import uvicorn

    from facemask.monitor.api import create_app
    from facemask.monitor.site import Site

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    site = Site(config)
    server = uvicorn.Server(uvicorn.Config(create_app(site), host=config.host, port=config.port,
                                           access_log=args.access_log, log_level="info", lifespan="on",
                                           timeout_graceful_shutdown=5))
    stopped_by: list[str] = []
    for number in (signal.SIGINT, signal.SIGTERM):  # uvicorn stops on these, then raises them again: here
        signal.signal(number, lambda signum, frame: stopped_by.append(signal.Signals(signum).name))
    server.run()
    if not server.started:
        raise FacemaskError(f"cannot serve on {config.host}:{config.port} (address in use, or not allowed?)")
    print(f"stopped by {stopped_by[0] if stopped_by else 'the server'}; events are kept in {site.store.path}",
          flush=True)
    return 0


def entry_point() -> None:
    sys.exit(run(main))
