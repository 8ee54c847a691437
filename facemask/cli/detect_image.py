"""detect_mask_image.py: find faces in photos, tell masked from unmasked, and save annotated copies and JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2

from facemask.batch import (
    ImageInputs,
    ImageOutcome,
    RaySettings,
    ResultSummary,
    iter_records,
    pending,
    prepare_results,
    resolve_batch_inputs,
    run_local,
    run_ray,
    show_progress,
)
from facemask.cli.common import (
    add_pipeline_arguments,
    display_available,
    error,
    load_pipeline,
    pipeline_config,
    run,
    warn,
)
from facemask.drawing import annotate, label_text
from facemask.errors import FacemaskError
from facemask.imageio import check_writable, make_folder, write_image_atomic
from facemask.outputs import write_json_atomic
from facemask.pipeline import MaskPipeline
from facemask.resources import require_extra

WRITABLE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Detect faces in images and tell whether each wears a mask.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--image",
        "-i",
        type=Path,
        help="an image file, a folder of images (searched recursively), or a quoted glob pattern "
        "such as 'photos/**/*.jpg'",
    )
    source.add_argument(
        "--image-list", "-l", type=Path, help="a text file of image paths, one per line (a shard of a larger job)"
    )
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        default=None,
        help="annotated image file, or a folder (required when the input is more than one file)",
    )
    parser.add_argument("--json", "-j", default=None, help="write the results as a JSON array here ('-' for stdout)")
    parser.add_argument(
        "--jsonl",
        default=None,
        type=Path,
        help="stream the results here as JSON Lines, one image per line, written as each image is "
        "done (per-face lines are then not printed; a summary is)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the --jsonl file of a killed or interrupted run: skip the images it holds",
    )
    parser.add_argument("--show", action="store_true", help="show each annotated image in a window (needs a display)")
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")
    batch = parser.add_argument_group("distributed runs (docs/batch.md)")
    batch.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process; ray: an actor pool on a Ray cluster, results in --jsonl "
        "(needs the 'distributed' extra) (default: local)",
    )
    batch.add_argument(
        "--address",
        default=None,
        help="with --engine ray: the address of a running Ray cluster, e.g. 10.0.0.5:6379 or auto "
        "(default: start a local Ray instance for this run)",
    )
    batch.add_argument(
        "--workers",
        type=int,
        default=None,
        help="with --engine ray: the number of actors, each with its own pipeline (default: one per "
        "CPU of the cluster, half a CPU kept free for Ray's own tasks)",
    )
    add_pipeline_arguments(parser)
    return parser


def check_batch_arguments(args: argparse.Namespace) -> None:
    """Reject option combinations that cannot work, before anything is loaded."""
    if args.resume and args.jsonl is None:
        raise FacemaskError("--resume continues a results file: give it with --jsonl")
    if args.resume and args.force:
        raise FacemaskError("--resume keeps the results file and --force starts it over: give one of them")
    if args.jsonl is not None and args.json == str(args.jsonl):
        raise FacemaskError(f"--json and --jsonl name the same file: {args.jsonl}")
    if args.engine == "ray":
        require_extra("distributed", "--engine ray")
        if args.jsonl is None:
            raise FacemaskError("--engine ray writes its results with --jsonl: give the results file")
        unsupported = [
            name for name, value in (("--output", args.output), ("--json", args.json), ("--show", args.show)) if value
        ]
        if unsupported:
            raise FacemaskError(f"--engine ray writes --jsonl results only, not {', '.join(unsupported)}")
        if args.workers is not None and args.workers < 1:
            raise FacemaskError(f"--workers must be at least 1, got {args.workers}")
    elif args.address is not None or args.workers is not None:
        raise FacemaskError("--address and --workers are options of --engine ray")


def output_paths(inputs: ImageInputs, many: bool, output: Path | None) -> list[Path | None]:
    """Where each annotated image goes: the --output file, or the same path relative to the inputs' folder under
    the --output folder (`many`: the input named a folder, a pattern or a list)."""
    if output is None:
        return [None] * len(inputs.paths)
    if many or output.is_dir():
        targets: list[Path | None] = []
        for path in inputs.paths:
            target = output / path.absolute().relative_to(inputs.base.absolute())
            if target.suffix.lower() not in WRITABLE_EXTENSIONS:
                target = target.with_suffix(".png")
            targets.append(target)
        return targets
    if output.suffix.lower() not in WRITABLE_EXTENSIONS:
        raise FacemaskError(
            f"output image needs one of the extensions {', '.join(sorted(WRITABLE_EXTENSIONS))}: {output}"
        )
    return [output]


def check_outputs(inputs: list[Path], targets: list[Path | None], force: bool) -> None:
    """Refuse to overwrite an input image, or an existing output without --force."""
    sources = {path.resolve() for path in inputs}
    for target in targets:
        if target is None:
            continue
        if target.resolve() in sources:
            raise FacemaskError(f"output would overwrite an input image: {target}")
        make_folder(target.parent)
        check_writable(target, force)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    check_batch_arguments(args)
    inputs = resolve_batch_inputs(args.image, args.image_list)
    many = args.image is None or args.image.is_dir() or not args.image.exists()  # a folder, a pattern or a list
    if many and args.output is not None and args.output.exists() and not args.output.is_dir():
        raise FacemaskError(f"the input is more than one file, so --output must be a folder: {args.output}")
    targets = output_paths(inputs, many, args.output)
    check_outputs(inputs.paths, targets, args.force)
    to_stdout = args.json == "-"
    if args.json and not to_stdout:
        check_writable(args.json, args.force)
    if args.engine == "ray":
        return run_on_ray(args, inputs)
    show = args.show and display_available()
    if args.show and not show:
        warn("no display found, --show ignored")
    pipeline = load_pipeline(args)
    report = sys.stderr if to_stdout else sys.stdout
    paths, done = inputs.paths, set()
    if args.jsonl is not None:
        done = prepare_results(args.jsonl, args.resume, args.force, [str(path) for path in inputs.paths])
        paths = pending(inputs.paths, done)
    skipped = len(inputs.paths) - len(paths)

    results, window_open = [], False
    targets_of = dict(zip(inputs.paths, targets))

    def handle(outcome: ImageOutcome) -> None:
        nonlocal show, window_open
        if outcome.result is None:
            print_line(f"error: {outcome.error}", sys.stderr)
            return
        result = outcome.result
        results.append(result.to_json())
        if args.jsonl is None:
            if not result.faces:
                print_line(f"{outcome.path}: no faces", report)
            for number, face in enumerate(result.faces, 1):
                print_line(
                    f"{outcome.path}: face {number} at {face.box.as_list()} {label_text(face)} "
                    f"(detector {face.score:.2f})",
                    report,
                )
        target = targets_of[outcome.path]
        if target is not None or show:
            assert outcome.image is not None  # kept for annotating
            annotated = annotate(outcome.image, result.faces)
            if target is not None:
                write_image_atomic(target, annotated)
            if show:
                cv2.imshow("facemask", annotated)
                window_open = True
                if cv2.waitKey(0) & 0xFF == ord("q"):  # q: no more windows, go on annotating
                    show = False

    summary = run_local(
        pipeline,
        paths,
        args.jsonl,
        fresh=not args.resume,
        skipped=skipped,
        on_outcome=handle,
        keep_images=any(t is not None for t in targets) or show,
    )
    if window_open:
        cv2.destroyAllWindows()
    if to_stdout:
        json.dump(results, sys.stdout, indent=2)
        print()
    elif args.json:
        write_json_atomic(args.json, results)
    return finish(args, summary, len(inputs.paths), pipeline.classifier.class_names, report)


def print_line(text: str, stream) -> None:
    """A line on the terminal that leaves a progress bar intact (the bar's writer only where one is drawn: a run
    on one photo starts without importing tqdm)."""
    if not show_progress():
        print(text, file=stream)
        return
    from tqdm import tqdm

    tqdm.write(text, file=stream)


def run_on_ray(args: argparse.Namespace, inputs: ImageInputs) -> int:
    """--engine ray: check the choices here (a one-line error for a bad model or detector), then let the actors
    load the pipeline themselves (the default model from their own installation)."""
    config = pipeline_config(args)
    class_names = MaskPipeline.load(config).classifier.class_names  # a bad model is a one-line error here
    order = [str(path) for path in inputs.paths]
    done = prepare_results(args.jsonl, args.resume, args.force, order)
    paths = pending(inputs.paths, done)
    summary = run_ray(
        config.absolute(),
        paths,
        args.jsonl,
        RaySettings(args.address, args.workers),
        order=order,
        skipped=len(inputs.paths) - len(paths),
        summary=ResultSummary.of([], class_names),
    )
    return finish(args, summary, len(inputs.paths), class_names, sys.stdout)


def finish(args: argparse.Namespace, summary: ResultSummary, inputs: int, class_names, report) -> int:
    """The summary (of the whole results file where there is one, so a resumed run shows the whole job) and the
    exit code: 1 where an image of this run failed."""
    if args.jsonl is not None:
        whole = ResultSummary.of(iter_records(args.jsonl), class_names) if args.jsonl.exists() else summary
        print(f"{args.jsonl}:", file=report)
        for line in whole.lines():
            print(line, file=report)
    elif inputs > 1:
        for line in summary.lines():
            print(line, file=report)
    if summary.failed:
        if summary.images > 1:  # a single image's own error line already said it
            error(f"{summary.failed} of {summary.images} images could not be read")
        return 1
    return 0


def entry_point() -> None:
    sys.exit(run(main))
