"""Batch runs over photo archives: inputs (file, folder, glob, path list), streaming JSON Lines results that a
killed run resumes from, the single-process and Ray engines, merging shards, and summaries. One module per concern;
the names below are the package's public interface (Ray itself is imported only when the Ray engine runs)."""

from facemask.batch.local import pending, prepare_results, progress_bar, run_local, show_progress
from facemask.batch.process import ImageOutcome, process_path
from facemask.batch.ray_engine import RaySettings, actor_cpus, run_ray
from facemask.batch.results import (
    MergeReport,
    ResultWriter,
    completed_images,
    encode_record,
    error_record,
    fold_shards,
    is_error,
    iter_records,
    iter_unique,
    iter_unique_records,
    merge_results,
    parts_folder,
    read_records,
    repair,
    shard_files,
)
from facemask.batch.summary import ResultSummary
from facemask.inputs import ImageInputs, expand_glob, is_glob, read_path_list, resolve_batch_inputs

__all__ = [
    "ImageInputs",
    "ImageOutcome",
    "MergeReport",
    "RaySettings",
    "ResultSummary",
    "ResultWriter",
    "actor_cpus",
    "completed_images",
    "encode_record",
    "error_record",
    "expand_glob",
    "fold_shards",
    "is_error",
    "is_glob",
    "iter_records",
    "iter_unique",
    "iter_unique_records",
    "merge_results",
    "parts_folder",
    "pending",
    "prepare_results",
    "process_path",
    "progress_bar",
    "read_path_list",
    "read_records",
    "repair",
    "resolve_batch_inputs",
    "run_local",
    "run_ray",
    "shard_files",
    "show_progress",
]
