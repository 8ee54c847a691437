"""The single-process engine: every image through one pipeline in input order, each result line written the
moment its image is done, with a progress bar on a terminal."""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from facemask.batch.process import ImageOutcome, process_path
from facemask.batch.results import ResultWriter, completed_images, fold_shards, parts_folder, repair
from facemask.batch.summary import ResultSummary
from facemask.errors import FacemaskError
from facemask.imageio import check_writable
from facemask.pipeline import MaskPipeline

if TYPE_CHECKING:
    from tqdm import tqdm


def prepare_results(results: str | Path, resume: bool, force: bool, order: Sequence[str] | None = None) -> set[str]:
    """Make a results file ready for a run; the images it already holds.

    `resume`: keep it, fold in the shards a Ray run left beside it (in `order`, the run's inputs, where given),
    cut off a torn last line, and return the images it holds (the run skips them). Otherwise it must not exist,
    unless `force` (it is then started anew).
    """
    results = Path(results)
    if resume:
        check_writable(results, force=True)
        fold_shards(results, None if order is None else list(order))
        if results.is_file():
            repair(results)
        return completed_images(results)
    if parts_folder(results).exists() and not results.exists() and not force:
        raise FacemaskError(
            f"output exists (use --resume to continue it or --force to start over): {parts_folder(results)}"
        )
    if results.exists() and not force:
        raise FacemaskError(f"output exists (use --resume to continue it or --force to start over): {results}")
    check_writable(results, force=True)
    shutil.rmtree(parts_folder(results), ignore_errors=True)
    return set()


def pending(paths: Sequence[Path], done: set[str]) -> list[Path]:
    """The paths whose images are not among `done` (by the image name results carry: the path as given)."""
    return [path for path in paths if str(path) not in done]


def show_progress(stream=None) -> bool:
    """Whether to draw a progress bar: only on a terminal."""
    stream = sys.stderr if stream is None else stream
    return bool(getattr(stream, "isatty", lambda: False)())


def progress_bar(total: int, initial: int = 0, enabled: bool | None = None) -> tqdm:
    """A progress bar over images (rate in images/s, ETA), drawn on stderr only when it is a terminal."""
    from tqdm import tqdm  # here, not at the top: see run_local

    enabled = show_progress() if enabled is None else enabled
    return tqdm(
        total=total,
        initial=initial,
        unit="image",
        dynamic_ncols=True,
        disable=not enabled,
        file=sys.stderr,
        smoothing=0.1,
    )


def run_local(
    pipeline: MaskPipeline,
    paths: Sequence[Path],
    results: str | Path | None = None,
    fresh: bool = True,
    skipped: int = 0,
    summary: ResultSummary | None = None,
    on_outcome: Callable[[ImageOutcome], None] | None = None,
    keep_images: bool = False,
    progress: bool | None = None,
) -> ResultSummary:
    """Run `pipeline` over `paths`, in order. Each image's line is appended to `results` (if given; `fresh`:
    start it empty) as soon as it is done, counted in `summary` (a new one unless given), and handed to
    `on_outcome` (with the decoded image if `keep_images`). `skipped`: images done by an earlier run, shown as
    done on the progress bar."""
    summary = summary if summary is not None else ResultSummary.of([], pipeline.classifier.class_names)
    writer = ResultWriter(results, fresh=fresh) if results is not None else None
    try:
        # No bar off a terminal, where tqdm would draw nothing: a run on one photo then starts without importing it.
        drawn = show_progress() if progress is None else progress
        with progress_bar(len(paths) + skipped, skipped, True) if drawn else contextlib.nullcontext() as bar:
            for path in paths:
                outcome = process_path(pipeline, path, keep_images)
                record = outcome.to_json()
                if writer is not None:
                    writer.write(record)
                summary.add(record)
                if on_outcome is not None:
                    on_outcome(outcome)
                if bar is not None:
                    bar.update()
    finally:
        if writer is not None:
            writer.close()
    return summary
