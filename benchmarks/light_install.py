#!/usr/bin/env python3
"""The light install: `pip install .` alone (base dependencies only, no TensorFlow) into a fresh virtual
environment, its size on disk, and the image tool run from another folder on a real photo, as a camera box would.

    python benchmarks/light_install.py [--image PHOTO --faces N] [--max-mb MB] [--keep DIR] [--markdown]

Exits non-zero (one line) when the install or the run fails, when the tool finds other than `--faces` faces
(two on the default photo), when the environment is larger than `--max-mb` (450 MB; measured as `du -sm`),
or when TensorFlow got installed; CI runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from facemask.errors import FacemaskError, run_cli


def disk_usage_mb(folder: Path) -> int:
    """Disk space of `folder` in MiB as `du -sm` counts it (allocated blocks, hard links once, rounded up)."""
    seen, blocks = set(), 0
    for root, folders, files in os.walk(folder):
        for name in folders + files:
            info = (Path(root) / name).lstat()
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                blocks += info.st_blocks
    info = folder.lstat()
    blocks += info.st_blocks
    return -(-blocks * 512 // 2**20)


# What a checkout holds beside the source that a fresh clone would not: environments, builds, caches, outputs.
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    "out",
    "facemask-data",
    "*.facemask-tmp*",
    "*.facemask-journal",
)


def run(command: list, **options) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(c) for c in command], capture_output=True, text=True, stdin=subprocess.DEVNULL, **options
    )
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:]
        raise FacemaskError(f"failed ({' '.join(last)}): {' '.join(str(c) for c in command)}")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=REPOSITORY / "examples" / "two_people.jpg")
    parser.add_argument("--faces", type=int, default=2, help="faces the tool must find on --image (default 2)")
    parser.add_argument(
        "--max-mb",
        type=float,
        default=450.0,
        help="largest size of the environment, MiB as du -sm counts (default 450)",
    )
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--keep", type=Path, default=None, help="build the environment here and keep it")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        environment = args.keep or Path(scratch) / "venv"
        started = time.perf_counter()
        run([sys.executable, "-m", "venv", environment])
        python = environment / "bin" / "python"
        # Installed from a copy of the source, so the build leaves nothing (build/, *.egg-info) in the checkout.
        source = Path(scratch) / "source"
        shutil.copytree(REPOSITORY, source, ignore=NOT_SOURCE)
        run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", source])
        seconds = time.perf_counter() - started
        site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
        installed = {line.split("==")[0].lower() for line in run([python, "-m", "pip", "freeze"]).stdout.split()}
        if "tensorflow" in installed or "keras" in installed:
            raise FacemaskError(f"the base install pulled in TensorFlow/Keras: {environment}")
        # Run from an empty folder: the model and everything else must come from the installed package.
        workdir = Path(scratch) / "elsewhere"
        workdir.mkdir()
        started_tool = time.perf_counter()
        done = run(
            [environment / "bin" / "facemask-image", "--image", args.image.resolve(), "--json", "-"], cwd=workdir
        )
        tool_seconds = time.perf_counter() - started_tool
        results = json.loads(done.stdout)
        faces = [face["label"] for result in results for face in result["faces"]]
        if len(faces) != args.faces:
            raise FacemaskError(f"the light install found {len(faces)} faces, not {args.faces}: {args.image}")
        size_mb = disk_usage_mb(environment)
        if size_mb > args.max_mb:
            raise FacemaskError(f"the light install takes {size_mb} MB, more than {args.max_mb:g} MB: {environment}")
        packages = {path.name: disk_usage_mb(path) for path in site.iterdir() if path.is_dir()}
        largest = sorted(packages.items(), key=lambda item: -item[1])[:6]
        if args.markdown:
            print("| light install (`pip install .` into a fresh venv, base dependencies) | |\n| --- | ---: |")
            print(f"| size of the virtual environment (du -sm) | **{size_mb} MB** (at most {args.max_mb:g}) |")
            print(f"| of which installed packages | {disk_usage_mb(site)} MB |")
            print(f"| largest packages | {', '.join(f'{name} {size} MB' for name, size in largest)} |")
            print(f"| install time | {seconds:.0f} s |")
            print(
                f"| `facemask-image --image {args.image.name} --json -` from another folder | {len(faces)} faces "
                f"({', '.join(faces)}) in {tool_seconds:.2f} s, TensorFlow not installed |"
            )
            return 0
        print(
            f"light install (pip install ., base dependencies): {size_mb} MB in the virtual environment (du -sm, "
            f"at most {args.max_mb:g}), {disk_usage_mb(site)} MB of packages, installed in {seconds:.0f} s"
        )
        print("  largest: " + ", ".join(f"{name} {size} MB" for name, size in largest))
        print(
            f"  facemask-image from another folder: {len(faces)} faces ({', '.join(faces)}) in "
            f"{tool_seconds:.2f} s; TensorFlow not installed"
        )
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
