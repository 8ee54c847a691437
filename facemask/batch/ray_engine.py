"""The Ray engine: the same per-image work (facemask.batch.process) on a pool of Ray actors, one pipeline each.

Ray Data holds the image paths as a dataset; `map_batches` sends batches of paths to an actor pool whose actors
each load the pipeline once (model and detector) and write every finished image's line to a shard of their own in
`<results>.parts/`, at once, as the single-process engine writes its file. The driver counts the lines coming back
(progress bar, summary) and, at the end, folds the shards into the results file in input order. A killed run's
shards are read by `--resume` like the results file itself (facemask.batch.results).

Ray is imported only here, and only when this engine runs: the single-process path never loads it.

Ray's resource accounting: an actor that asks for a whole CPU on each of a machine's cores leaves none for Ray
Data's other tasks, and the job waits forever (seen on a 2-core machine). Actors here ask for at most one CPU each
and together for the cluster's CPUs less `READ_RESERVE`, so other tasks always fit.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facemask.batch.local import progress_bar
from facemask.batch.process import process_path
from facemask.batch.results import ResultWriter, fold_shards, parts_folder
from facemask.batch.summary import ResultSummary
from facemask.errors import FacemaskError
from facemask.pipeline import MaskPipeline
from facemask.resources import require_extra
from facemask.settings import PipelineConfig

# CPUs left free of actors for Ray Data's tasks (see the module docstring).
READ_RESERVE = 0.5
# A local Ray instance's object store: paths and results lines are small; capped so a CI machine keeps its memory.
LOCAL_OBJECT_STORE_BYTES = 128 * 1024 * 1024
BATCH_SIZE = 4


@dataclass(frozen=True)
class RaySettings:
    """Where and how wide to run: `address` of a running cluster (None: start a local instance for this run),
    `workers` actors (None: one per CPU of the cluster, less the reserve), `batch_size` images per batch."""

    address: str | None = None
    workers: int | None = None
    batch_size: int = BATCH_SIZE


def actor_cpus(cluster_cpus: float, workers: int) -> float:
    """The CPUs each of `workers` actors reserves: at most one, and together no more than the cluster's CPUs less
    READ_RESERVE, so Ray Data's tasks can always be scheduled."""
    return max(0.05, math.floor(min(1.0, (cluster_cpus - READ_RESERVE) / workers) * 1000) / 1000)


class ImageWorker:
    """A Ray actor's work: one pipeline, loaded once; each batch of paths processed in order, each line written
    to this actor's shard as soon as its image is done, and the lines returned to the driver. Files are read at
    their absolute path on the driver (a worker's current folder is not the driver's); results name each image as
    the user gave it, as the single process does."""

    def __init__(self, config: PipelineConfig, shard_folder: str, threads: int) -> None:
        self.pipeline = MaskPipeline.load(config, threads=threads)
        folder = Path(shard_folder)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        self.writer = ResultWriter(folder / name, fresh=True)

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        lines = []
        for name, path in zip(batch["image"], batch["file"]):
            record = process_path(self.pipeline, str(path), name=str(name)).to_json()
            self.writer.write(record)
            lines.append(json.dumps(record))
        return {"line": np.array(lines, dtype=object)}


def _start(settings: RaySettings):
    """Import Ray and connect to the cluster (or start a local instance); the module and whether we started it."""
    require_extra("distributed", "--engine ray")
    import ray

    if ray.is_initialized():
        return ray, False
    quiet: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": logging.ERROR,
        "configure_logging": True,
    }
    try:
        if settings.address:
            ray.init(address=settings.address, **quiet)
        else:
            ray.init(num_cpus=os.cpu_count() or 1, object_store_memory=LOCAL_OBJECT_STORE_BYTES, **quiet)
    except Exception as error:  # noqa: BLE001 (Ray raises plain Exception when its node does not start)
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        where = f"the Ray cluster at {settings.address}" if settings.address else "a local Ray instance"
        raise FacemaskError(f"cannot start or reach {where} ({reason[:200]}): --engine ray") from None
    return ray, True


def run_ray(
    config: PipelineConfig,
    paths: Sequence[Path],
    results: str | Path,
    settings: RaySettings,
    order: Sequence[str] | None = None,
    skipped: int = 0,
    summary: ResultSummary | None = None,
    progress: bool | None = None,
) -> ResultSummary:
    """Run the pipeline over `paths` on Ray actors; the lines land in shards beside `results` and are folded into
    it at the end (in `order`, the run's inputs, where given). `skipped`: images an earlier run did."""
    summary = summary if summary is not None else ResultSummary()
    results = Path(results)
    ray, started = _start(settings)
    try:
        from ray.data import DataContext

        context = DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        cluster_cpus = float(ray.cluster_resources().get("CPU", 1.0))
        workers = settings.workers or max(1, int(cluster_cpus - READ_RESERVE))
        cpus = actor_cpus(cluster_cpus, workers)
        if paths:
            dataset = ray.data.from_items(
                [{"image": str(path), "file": str(path.absolute())} for path in paths],
                override_num_blocks=max(1, min(len(paths) // settings.batch_size, 10_000)),
            )
            worker = {"config": config, "shard_folder": str(parts_folder(results)), "threads": max(1, round(cpus))}
            lines = dataset.map_batches(
                ImageWorker,
                batch_size=settings.batch_size,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=workers),
                num_cpus=cpus,
                fn_constructor_kwargs=worker,
            )
            with progress_bar(len(paths) + skipped, skipped, progress) as bar:
                try:
                    for batch in lines.iter_batches(batch_size=None, batch_format="numpy"):
                        for line in batch["line"]:
                            summary.add(json.loads(line))
                            bar.update()
                except ray.exceptions.RayError as error:  # a worker that could not start or died
                    reason = next((text for text in str(error).splitlines() if text.strip()), type(error).__name__)
                    raise FacemaskError(
                        f"the Ray job failed ({reason.strip()[:300]}); finished images are kept "
                        f"for --resume in: {parts_folder(results)}"
                    ) from None
    finally:
        if started:
            ray.shutdown()
    fold_shards(results, list(order) if order is not None else [str(path) for path in paths])
    return summary
