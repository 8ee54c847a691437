#!/usr/bin/env python3
"""Cold start: the whole `detect_mask_image.py` process on one photo, on defaults (the shipped TFLite model,
no TensorFlow) against the same command with the shipped `.keras` model (TensorFlow import and model load), the
way every run of the tool used to start.

    python benchmarks/cold_start.py [--rounds 7] [--image examples/two_people.jpg] [--markdown]

Rounds interleave the two commands, so a change in the machine's load hits both; prints each median wall time
and their ratio (`--markdown`: as a Markdown table, for benchmarks/regenerate.py).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from facemask.defaults import default_keras_model
from facemask.errors import FacemaskError, run_cli


def wall_time(command: list[str]) -> tuple[float, float]:
    """Wall time of the whole process, and the CPU time (user + system) it used: on a loaded machine the wall time
    grows with the load, the CPU time hardly."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=REPOSITORY)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise FacemaskError(f"the command failed ({done.stderr.strip().splitlines()[-1:]}): {' '.join(command)}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=REPOSITORY / "examples" / "two_people.jpg")
    parser.add_argument("--rounds", type=int, default=7, help="runs of each command, interleaved (default: 7)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    tool = [sys.executable, str(REPOSITORY / "detect_mask_image.py"), "--image", str(args.image)]
    commands = {
        "defaults (TFLite float32, no TensorFlow)": tool,
        "--model mask_detector.keras (TensorFlow)": [*tool, "--model", str(default_keras_model())],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    wall_time(tool)  # warm the file cache once, as a machine that has run the tool before
    for _ in range(args.rounds):
        for name, command in commands.items():
            wall, used = wall_time(command)
            times[name].append(wall)
            cpu[name].append(used)
    baseline = statistics.median(times["--model mask_detector.keras (TensorFlow)"])
    if args.markdown:
        print(
            f"`detect_mask_image.py --image {args.image.name}`, the whole process, median of {args.rounds} runs "
            "(interleaved, after one untimed run):\n"
        )
        print(
            "| command | median s | min s | max s | ratio to .keras | CPU s (user + system), median |\n"
            "| --- | ---: | ---: | ---: | ---: | ---: |"
        )
        for name, values in times.items():
            median = statistics.median(values)
            print(
                f"| {name} | **{median:.2f}** | {min(values):.2f} | {max(values):.2f} | {median / baseline:.3f} | "
                f"{statistics.median(cpu[name]):.2f} |"
            )
        return 0
    print(f"detect_mask_image.py --image {args.image.name}: whole process, median of {args.rounds} runs")
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"  {name:<44} {median:6.2f} s  (min {min(values):.2f}, max {max(values):.2f})  "
            f"ratio to .keras {median / baseline:.3f}, CPU {statistics.median(cpu[name]):.2f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
