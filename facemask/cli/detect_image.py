"""detect_mask_image.py: find faces in photos, tell masked from unmasked, and save annotated copies and JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2

from facemask.cli.common import add_pipeline_arguments, display_available, error, load_pipeline, run
from facemask.drawing import annotate, label_text
from facemask.errors import FacemaskError
from facemask.imageio import check_writable, resolve_inputs, read_image, write_image_atomic
from facemask.outputs import write_json_atomic

WRITABLE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Detect faces in images and tell whether each wears a mask.")
    parser.add_argument("--image", "-i", type=Path, required=True, help="an image file or a folder of images")
    parser.add_argument("--output", "-o", type=Path, default=None,
                        help="annotated image file, or a folder (required when --image is a folder)")
    parser.add_argument("--json", "-j", default=None, help="write the results as a JSON array here ('-' for stdout)")
    parser.add_argument("--show", action="store_true", help="show each annotated image in a window (needs a display)")
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")
    add_pipeline_arguments(parser)
    return parser


def output_paths(inputs: list[Path], image_arg: Path, output: Path | None) -> list[Path | None]:
    """Where each annotated image goes: the --output file, or the same relative path under the --output folder."""
    if output is None:
        return [None] * len(inputs)
    if image_arg.is_dir() or output.is_dir():
        base = image_arg if image_arg.is_dir() else image_arg.parent
        targets = []
        for path in inputs:
            target = output / path.relative_to(base)
            if target.suffix.lower() not in WRITABLE_EXTENSIONS:
                target = target.with_suffix(".png")
            targets.append(target)
        return targets
    if output.suffix.lower() not in WRITABLE_EXTENSIONS:
        raise FacemaskError(f"output image needs one of the extensions {', '.join(sorted(WRITABLE_EXTENSIONS))}: "
                            f"{output}")
    return [output]


def check_outputs(inputs: list[Path], targets: list[Path | None], force: bool) -> None:
    """Refuse to overwrite an input image, or an existing output without --force."""
    sources = {path.resolve() for path in inputs}
    for target in targets:
        if target is None:
            continue
        if target.resolve() in sources:
            raise FacemaskError(f"output would overwrite an input image: {target}")
        target.parent.mkdir(parents=True, exist_ok=True)
        check_writable(target, force)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    inputs = resolve_inputs(args.image)
    if args.image.is_dir() and args.output is not None and args.output.exists() and not args.output.is_dir():
        raise FacemaskError(f"--image is a folder, so --output must be a folder: {args.output}")
    targets = output_paths(inputs, args.image, args.output)
    check_outputs(inputs, targets, args.force)
    to_stdout = args.json == "-"
    if args.json and not to_stdout:
        check_writable(args.json, args.force)
    show = args.show and display_available()
    if args.show and not show:
        error("no display found, --show ignored")
    pipeline = load_pipeline(args)
    report = sys.stderr if to_stdout else sys.stdout

    results, failures, window_open = [], 0, False
    for path, target in zip(inputs, targets):
        try:
            image = read_image(path)
        except FacemaskError as problem:
            error(str(problem))
            failures += 1
            continue
        result = pipeline.process_image(image, str(path))
        results.append(result.to_json())
        if not result.faces:
            print(f"{path}: no faces", file=report)
        for number, face in enumerate(result.faces, 1):
            print(f"{path}: face {number} at {face.box.as_list()} {label_text(face)} (detector {face.score:.2f})",
                  file=report)
        if target is not None or show:
            annotated = annotate(image, result.faces)
            if target is not None:
                write_image_atomic(target, annotated)
            if show:
                cv2.imshow("facemask", annotated)
                window_open = True
                if cv2.waitKey(0) & 0xFF == ord("q"):  # q: no more windows, go on annotating
                    show = False
    if window_open:
        cv2.destroyAllWindows()
    if to_stdout:
        json.dump(results, sys.stdout, indent=2)
        print()
    elif args.json:
        write_json_atomic(args.json, results)
    if failures:
        error(f"{failures} of {len(inputs)} images could not be read")
        return 1
    return 0


def entry_point() -> None:
    sys.exit(run(main))
