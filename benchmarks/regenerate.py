#!/usr/bin/env python3
"""Regenerate every figure table in README.md and docs/*.md from the benchmark scripts.

    python benchmarks/regenerate.py                 # every block, one after another (an hour or more on 2 cores)
    python benchmarks/regenerate.py --only video-fps pipeline
    python benchmarks/regenerate.py --list          # the registered blocks, their commands and files
    python benchmarks/regenerate.py --check         # markers and registry agree (no command run)

Each registered block names a command that prints a Markdown table (the benchmarks' `--markdown` option). The
command runs from the repository root with this interpreter; its standard output replaces the text between
`<!-- figures:NAME -->` and `<!-- /figures:NAME -->` in every file the block lists, under a line stating the
command, the date and the machine (cores, CPU model, load average before and after). The same block in README
and in a docs page is the same text, so they cannot disagree. Files are rewritten atomically (facemask.outputs),
each as soon as its block's command has finished, so an interrupted run keeps the blocks already done.

To add a figure: write a benchmark that prints a Markdown table with `--markdown`, add a `Figure` to FIGURES
below, and put the two marker lines where the table goes. After a change of model or defaults, run the blocks
it affects (`--only`), or all of them.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from facemask.errors import FacemaskError, run_cli
from facemask.outputs import write_bytes_atomic

DEV = "../shared/data/scenes-dev"
CROWD = "../shared/data/scenes-crowd-dev"


@dataclass(frozen=True)
class Figure:
    """One generated block: `command` (argv after the interpreter, run from the repository root) prints the
    Markdown that goes between the block's markers in each of `files` (relative to the repository root);
    `minutes` is roughly how long it ran on the idle 2-core machine (2026-11-23; seven to nine times as long with
    a training and other runs beside it); the slow ones are video-fps and detectors."""

    name: str
    command: tuple[str, ...]
    files: tuple[str, ...]
    minutes: float


# The registry: one entry per block. Keep the commands the ones the docs tell readers to run.
FIGURES = [
    Figure(
        "pipeline", ("benchmarks/pipeline_table.py", "--scenes", DEV, CROWD), ("README.md", "docs/evaluation.md"), 2
    ),
    Figure("detectors", ("benchmarks/detectors.py", "--scenes", DEV, "--markdown"), ("docs/evaluation.md",), 5),
    Figure(
        "detectors-crowd",
        ("benchmarks/detectors.py", "--scenes", CROWD, "--backends", "yunet", "ssd", "mtcnn", "--markdown"),
        ("docs/evaluation.md",),
        2,
    ),
    Figure(
        "crop",
        (
            "benchmarks/crop_study.py",
            "--scenes",
            DEV,
            "--margins",
            "-0.25",
            "-0.15",
            "-0.05",
            "0",
            "0.1",
            "0.2",
            "--markdown",
        ),
        ("docs/evaluation.md",),
        1.5,
    ),
    Figure(
        "crop-crowd",
        ("benchmarks/crop_study.py", "--scenes", CROWD, "--margins", "-0.15", "-0.05", "0", "0.1", "--markdown"),
        ("docs/evaluation.md",),
        3,
    ),
    Figure("video-fps", ("benchmarks/video_fps.py", "--markdown"), ("docs/benchmarks.md", "docs/video.md"), 9),
    Figure(
        "video-detectors",
        ("benchmarks/detectors.py", "--scenes", DEV, "--frame", "640x480", "--backends", "ssd", "video", "--markdown"),
        ("docs/video.md",),
        0.5,
    ),
    Figure("export", ("benchmarks/export_table.py", "--scenes", DEV), ("docs/video.md",), 1),
    Figure("cold-start", ("benchmarks/cold_start.py", "--markdown"), ("docs/benchmarks.md",), 1.5),
    Figure("light-install", ("benchmarks/light_install.py", "--markdown"), ("docs/benchmarks.md",), 1),
]

MARKER = "<!-- figures:{name} -->"
END_MARKER = "<!-- /figures:{name} -->"
ANY_MARKER = re.compile(r"<!-- /?figures:([\w.-]+) -->")


def machine() -> str:
    """Cores and CPU model of this machine."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}"


def load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "n/a"


def replace_block(text: str, name: str, body: str, source: str = "") -> str:
    """`text` with the content between the markers of block `name` replaced by `body` (a FacemaskError naming
    `source` when the markers are missing, repeated or out of order)."""
    start, end = MARKER.format(name=name), END_MARKER.format(name=name)
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise FacemaskError(f"block {name!r} needs one {start} line followed by one {end} line: {source}")
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    return f"{before}{start}\n{body.strip()}\n{end}{after}"


def markers_in(text: str) -> set[str]:
    """Names of the blocks whose markers appear in `text`."""
    return set(ANY_MARKER.findall(text))


def check(figures: list[Figure]) -> list[str]:
    """Problems between the registry and the markers in README.md and docs/*.md (empty when they agree)."""
    problems = []
    registered: dict[str, set[str]] = {}
    for figure in figures:
        for file in figure.files:
            registered.setdefault(file, set()).add(figure.name)
    documents = ["README.md", *sorted(str(p.relative_to(REPOSITORY)) for p in (REPOSITORY / "docs").glob("*.md"))]
    for document in documents:
        found = markers_in((REPOSITORY / document).read_text(encoding="utf-8"))
        for name in sorted(found - registered.get(document, set())):
            problems.append(f"{document}: block {name!r} has markers but no registered figure")
        for name in sorted(registered.get(document, set()) - found):
            problems.append(f"{document}: registered block {name!r} has no markers")
    return problems


def regenerate(figure: Figure) -> float:
    """Run the figure's command and write its output into its blocks; returns the minutes it took."""
    for file in figure.files:  # fail before an hour's run, not after it
        replace_block((REPOSITORY / file).read_text(encoding="utf-8"), figure.name, "", file)
    command = [sys.executable, *figure.command]
    load_before = load_average()
    started = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    minutes = (time.perf_counter() - started) / 60
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:]
        raise FacemaskError(f"{figure.name} failed ({' '.join(last)}): python {' '.join(figure.command)}")
    stamp = (
        f"*Generated by `python benchmarks/regenerate.py --only {figure.name}`: `python "
        f"{' '.join(figure.command)}`, {datetime.date.today().isoformat()}, {machine()}, load average "
        f"{load_before} before and {load_average()} after, {minutes:.0f} min.*"
    )
    body = f"{stamp}\n\n{done.stdout.strip()}"
    for file in figure.files:
        path = REPOSITORY / file
        text = path.read_text(encoding="utf-8")
        write_bytes_atomic(path, replace_block(text, figure.name, body, file).encode("utf-8"))
    return minutes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="regenerate only these blocks")
    parser.add_argument("--list", action="store_true", help="list the registered blocks and exit")
    parser.add_argument(
        "--check",
        action="store_true",
        help="check that every registered block has markers and every marker a block, and exit",
    )
    args = parser.parse_args(argv)
    names = [figure.name for figure in FIGURES]
    if len(set(names)) != len(names):
        raise FacemaskError(f"a block name is registered twice: {__file__}")
    if args.list:
        for figure in FIGURES:
            print(
                f"{figure.name:<16} ~{figure.minutes:>4.1f} min  {', '.join(figure.files)}\n"
                f"{'':<16} python {' '.join(figure.command)}"
            )
        return 0
    problems = [] if args.only and not args.check else check(FIGURES)  # --only: its own blocks are checked
    if problems:
        raise FacemaskError(f"markers and registry disagree ({'; '.join(problems)}): {__file__}")
    if args.check:
        print(f"{len(FIGURES)} blocks, markers in place")
        return 0
    unknown = sorted(set(args.only or []) - set(names))
    if unknown:
        raise FacemaskError(f"unknown block {', '.join(unknown)} (known: {', '.join(names)}): --only")
    for figure in FIGURES:
        if args.only and figure.name not in args.only:
            continue
        print(f"{figure.name}: python {' '.join(figure.command)}", flush=True)
        minutes = regenerate(figure)
        print(f"{figure.name}: {minutes:.1f} min, written to {', '.join(figure.files)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
