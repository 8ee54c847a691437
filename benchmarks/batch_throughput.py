#!/usr/bin/env python3
"""Batch throughput: `detect_mask_image.py --jsonl` over the scenes-dev photos in one process, and with
`--engine ray` on a local Ray instance with 1 and 2 workers; images per second and peak memory of each; from the
measured per-worker rate, the projected wall time for a million photos on 10 and 100 workers.

    python benchmarks/batch_throughput.py [--scenes ../shared/data/scenes-dev] [--limit N]

Each configuration is the tool run as a user runs it, in a subprocess. While it runs, the results file and the
Ray workers' shards are polled: start-up is the time to the first finished image, the rate is taken from the
first finished image to the last (steady state), and memory is the peak of the summed proportional set size
(PSS: shared pages split between the processes that map them) of the tool's whole process tree (with Ray: the
driver, Ray's GCS and raylet, and the workers). Linux only (/proc). Also reports the 'distributed' extra's size
on disk and Ray's import time. Ratios are against the single process measured in the same run.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from facemask.batch import parts_folder
from facemask.errors import FacemaskError, run_cli

PHOTOS = 1_000_000
WORKER_COUNTS = (10, 100)


@dataclass
class Measurement:
    name: str
    images: int
    wall: float
    startup: float
    rate: float
    peak_mb: float


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(parent, []).append(int(entry))
    return tree


def tree_pss_mb(root: int) -> float:
    """The summed PSS of `root` and every process under it, in MB."""
    tree, stack, total = _children(), [root], 0
    while stack:
        pid = stack.pop()
        stack += tree.get(pid, [])
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total / 1024


def finished_lines(results: Path) -> int:
    files = [results, *sorted(parts_folder(results).glob("*.jsonl"))]
    count = 0
    for path in files:
        try:
            count += path.read_bytes().count(b"\n")
        except OSError:
            continue
    return count


def measure(name: str, arguments: list[str], listing: Path, images: int, folder: Path) -> Measurement:
    results = folder / f"{name.replace(' ', '_')}.jsonl"
    command = [
        sys.executable,
        str(REPOSITORY / "detect_mask_image.py"),
        "--image-list",
        str(listing),
        "--jsonl",
        str(results),
        *arguments,
    ]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=REPOSITORY, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    first = last = None
    first_count, peak = 0, 0.0
    while process.poll() is None:
        peak = max(peak, tree_pss_mb(process.pid))
        count = finished_lines(results)
        now = time.perf_counter()
        if count and first is None:
            first, first_count = now, count
        if count >= images and last is None:
            last = now
        time.sleep(0.2)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise FacemaskError(f"{name} failed: {process.stderr.read().strip().splitlines()[-1:]}")
    last = last or time.perf_counter()
    first = first or started
    rate = (images - first_count) / (last - first) if last > first else float("nan")
    return Measurement(name, images, wall, first - started, rate, peak)


def install_size_mb(distributions: tuple[str, ...]) -> float:
    total = 0
    for name in distributions:
        for file in importlib.metadata.distribution(name).files or []:
            path = Path(file.locate())
            if path.is_file():
                total += path.stat().st_size
    return total / 1e6


def import_seconds(statement: str, rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True, stdin=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return min(times)


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=Path, default=REPOSITORY.parent / "shared" / "data" / "scenes-dev")
    parser.add_argument("--limit", type=int, default=0, help="only the first N photos by name (default: all)")
    args = parser.parse_args(argv)
    photos = sorted((args.scenes / "images").glob("*.jpg"))
    if not photos:
        raise FacemaskError(f"no photos found in: {args.scenes / 'images'}")
    photos = photos[: args.limit] if args.limit else photos

    base = import_seconds("import facemask.cli.detect_image")
    with_ray = import_seconds("import ray, ray.data")
    python = import_seconds("pass")
    print(f"'distributed' extra on disk (ray, pyarrow, pandas): {install_size_mb(('ray', 'pyarrow', 'pandas')):.0f} MB")
    print(
        f"import time: facemask image tool {base - python:.2f} s, ray + ray.data {with_ray - python:.2f} s "
        f"(best of 3, interpreter start-up of {python:.2f} s subtracted)"
    )

    configurations = {
        "single process": [],
        "ray, 1 worker": ["--engine", "ray", "--workers", "1"],
        "ray, 2 workers": ["--engine", "ray", "--workers", "2"],
    }
    with tempfile.TemporaryDirectory() as folder:
        listing = Path(folder) / "photos.txt"
        listing.write_text("".join(f"{path}\n" for path in photos))
        measured = [
            measure(name, arguments, listing, len(photos), Path(folder)) for name, arguments in configurations.items()
        ]
    baseline = measured[0].rate
    print(
        f"\n{len(photos)} scenes-dev photos, {os.cpu_count()} CPUs (machine load average at the end: "
        f"{os.getloadavg()[0]:.1f})"
    )
    print(f"{'':<16} {'wall s':>7} {'start-up s':>10} {'images/s':>9} {'ratio':>6} {'peak MB':>8}")
    for m in measured:
        print(f"{m.name:<16} {m.wall:7.1f} {m.startup:10.1f} {m.rate:9.2f} {m.rate / baseline:6.2f} {m.peak_mb:8.0f}")
    per_worker = measured[1].rate
    print(
        f"\nper-worker rate (ray, 1 worker): {per_worker:.2f} images/s; projected for {PHOTOS:,} photos, "
        f"each worker on its own core at that rate, plus the measured start-up:"
    )
    for workers in WORKER_COUNTS:
        print(f"  {workers:>3} workers: {hours(PHOTOS / (per_worker * workers) + measured[1].startup)}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
