"""summarize_results.py: add up JSON Lines results (of one run, of a killed Ray run's shards, or of shards run on
several machines): images, failures, faces, people per class and their shares; optionally merge them into one
file, one line per image."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from facemask.batch import ResultSummary, iter_unique_records, merge_results, shard_files
from facemask.cli.common import run
from facemask.errors import FacemaskError
from facemask.imageio import check_writable
from facemask.outputs import write_json_atomic


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Summarize detect_mask_image.py --jsonl results: images, failed images, faces, and how many "
        "people were called masked, unmasked (and each other class of the model), with shares. Several "
        "files (the shards of one job) are counted as one job, each image once."
    )
    parser.add_argument(
        "results",
        type=Path,
        nargs="+",
        help="JSON Lines results files (a file's <name>.parts/ shards, left by a killed Ray run, are read with it)",
    )
    parser.add_argument(
        "--merge", type=Path, default=None, help="also write every image's line, once, to this JSON Lines file"
    )
    parser.add_argument("--json", "-j", default=None, help="write the summary as JSON here ('-' for stdout)")
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sources: list[Path] = []
    for path in args.results:
        if not path.is_file():
            raise FacemaskError(f"no such results file: {path}")
        sources += [path, *shard_files(path)]
    if args.merge is not None:
        if args.merge.resolve() in {source.resolve() for source in sources}:
            raise FacemaskError(f"--merge would overwrite an input results file: {args.merge}")
        check_writable(args.merge, args.force)
    if args.json and args.json != "-":
        check_writable(args.json, args.force)
    summary = ResultSummary.of(iter_unique_records(sources))
    if args.merge is not None:
        merged = merge_results(sources, args.merge)
        print(
            f"merged {merged.images} images into {args.merge} ({merged.duplicates} duplicate lines dropped)",
            file=sys.stderr,
        )
    report = sys.stderr if args.json == "-" else sys.stdout
    for line in summary.lines():
        print(line, file=report)
    if args.json == "-":
        json.dump(summary.to_json(), sys.stdout, indent=2)
        print()
    elif args.json:
        write_json_atomic(args.json, summary.to_json())
    return 0


def entry_point() -> None:
    sys.exit(run(main))
