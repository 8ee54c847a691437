"""Results of a batch run as JSON Lines: one object per image, appended and flushed the moment that image is done.

Each line is the image's object of the `--json` contract (`image`, `width`, `height`, `faces`); an image that could
not be read or processed has `width` and `height` null, no faces, and an `error` message. A line is written with a
single `write` call on a file opened for appending, so a killed run leaves every finished image on disk and at
worst a torn last line (no newline at its end). Readers skip a torn last line; `repair` cuts it off before a
resumed run appends, so it is neither kept nor duplicated. (A line reaches the operating system at once; a power
cut may still lose the last lines the disk had not stored, which a resumed run simply processes again.)

The Ray engine's workers each write such a file, a shard, into `<results>.parts/` beside the results file;
`merge_results` folds shards (or the files of runs on other machines) into one results file, one line per image.
Resuming reads the results file and its shards alike (`completed_images`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facemask.errors import FacemaskError
from facemask.outputs import atomic_output, os_error

PARTS_SUFFIX = ".parts"


def encode_record(record: dict[str, Any]) -> bytes:
    """One results line: the record as compact one-line JSON and a newline."""
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def error_record(image: str, message: str) -> dict[str, Any]:
    """The line of an image that could not be read or processed."""
    return {"image": image, "width": None, "height": None, "faces": [], "error": message}


def is_error(record: dict[str, Any]) -> bool:
    """Whether a record is a failed image's."""
    return bool(record.get("error"))


def parts_folder(results: str | Path) -> Path:
    """The folder of shards beside a results file (`results.jsonl` -> `results.jsonl.parts/`)."""
    results = Path(results)
    return results.with_name(results.name + PARTS_SUFFIX)


def shard_files(results: str | Path) -> list[Path]:
    """The shards of a results file, sorted by name (none if the folder is absent)."""
    folder = parts_folder(results)
    return sorted(folder.glob("*.jsonl")) if folder.is_dir() else []


class ResultWriter:
    """Appends results lines to a file, each in one write call and at once (see the module docstring).

    `fresh`: start the file empty (an existing one is truncated); otherwise lines are appended after a torn last
    line, if any, is cut off (`repair`).
    """

    def __init__(self, path: str | Path, fresh: bool = False) -> None:
        self.path = Path(path)
        if not fresh and self.path.exists():
            repair(self.path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if fresh else 0)
        try:
            self._fd: int | None = os.open(self.path, flags, 0o666)
        except OSError as error:
            raise os_error(error, self.path) from None

    def write(self, record: dict[str, Any]) -> None:
        data = encode_record(record)
        fd = self._fd
        assert fd is not None, "write after close"
        try:
            written = os.write(fd, data)
            while written < len(data):  # only for very long lines on unusual file systems
                written += os.write(fd, data[written:])
        except OSError as error:
            raise os_error(error, self.path) from None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


@dataclass
class ReadReport:
    """What reading a results file found besides its records: whether the last line was torn, and the length
    of the file up to the end of its last whole line."""

    torn: bool = False
    whole_bytes: int = 0


def _entries(path: str | Path, report: ReadReport | None = None) -> Iterator[tuple[dict[str, Any], bytes]]:
    """Each record of a results file with its line as stored (see `iter_records`)."""
    path = Path(path)
    report = report if report is not None else ReadReport()
    try:
        handle = open(path, "rb")  # noqa: SIM115 (only open()'s errors get the messages below; `with handle` follows)
    except FileNotFoundError:
        raise FacemaskError(f"no such results file: {path}") from None
    except IsADirectoryError:
        raise FacemaskError(f"results file is a folder: {path}") from None
    except OSError as error:
        raise os_error(error, path, "cannot read") from None
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.endswith(b"\n"):
                report.torn = True  # only the last line can lack its newline
                return
            report.whole_bytes += len(line)
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (ValueError, UnicodeDecodeError):
                raise FacemaskError(f"results line {number} is not JSON: {path}") from None
            if not isinstance(record, dict) or not isinstance(record.get("image"), str):
                raise FacemaskError(f"results line {number} is not an image's result: {path}")
            yield record, line


def iter_records(path: str | Path, report: ReadReport | None = None) -> Iterator[dict[str, Any]]:
    """The records of a results file in file order, streamed; a torn last line is skipped (and noted in
    `report`). A whole line that is not a JSON object with an `image` is a one-line error naming the file."""
    for record, _ in _entries(path, report):
        yield record


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Every record of a results file (see `iter_records`)."""
    return list(iter_records(path))


def repair(path: str | Path) -> bool:
    """Cut a torn last line off a results file (left by a killed run); whether there was one."""
    report = ReadReport()
    for _ in iter_records(path, report):
        pass
    if report.torn:
        try:
            os.truncate(path, report.whole_bytes)
        except OSError as error:
            raise os_error(error, path) from None
    return report.torn


def completed_images(results: str | Path) -> set[str]:
    """The images a results file and its shards already hold (failed images included: they failed for good,
    a resumed run does not retry them)."""
    done: set[str] = set()
    for path in [Path(results), *shard_files(results)]:
        if path.is_file():
            done.update(record["image"] for record in iter_records(path))
    return done


@dataclass(frozen=True)
class MergeReport:
    """What merging wrote: the number of images, and of duplicate lines dropped."""

    images: int
    duplicates: int


def iter_unique(sources: Iterable[str | Path]) -> Iterator[tuple[dict[str, Any], bytes]]:
    """The records of `sources` (with their lines) in order, one per image: its first successful record, or its
    first error where no source has a result for it. Streamed, in two passes over the files."""
    sources = [Path(source) for source in sources]
    succeeded = {record["image"] for source in sources for record in iter_records(source) if not is_error(record)}
    seen: set[str] = set()
    for source in sources:
        for record, line in _entries(source):
            image = record["image"]
            if image in seen or (is_error(record) and image in succeeded):
                continue
            seen.add(image)
            yield record, line


def iter_unique_records(sources: Iterable[str | Path]) -> Iterator[dict[str, Any]]:
    """The records of `iter_unique`."""
    for record, _ in iter_unique(sources):
        yield record


def merge_results(sources: Sequence[str | Path], target: str | Path, order: list[str] | None = None) -> MergeReport:
    """Write the records of `sources` to `target` atomically, one line per image (`iter_unique`), in the order of
    `order` where an image is in it (the run's inputs), the others after them in source order; without `order`,
    streamed in source order. `target` may be one of the sources."""
    total = sum(1 for source in sources for _ in iter_records(source))
    written = 0
    with atomic_output(target) as temporary, open(temporary, "wb") as handle:
        lines = (line for _, line in iter_unique(sources))
        if order is not None:  # only the lines are kept in memory while sorting, not the parsed records
            rank = {image: index for index, image in enumerate(order)}
            ranked = [
                (rank.get(record["image"], len(rank)), sequence, line)
                for sequence, (record, line) in enumerate(iter_unique(sources))
            ]
            lines = (line for _, _, line in sorted(ranked))
        for line in lines:
            handle.write(line)
            written += 1
    return MergeReport(written, total - written)


def fold_shards(results: str | Path, order: list[str] | None = None) -> MergeReport | None:
    """Merge the shards beside `results` into it (with what it already holds), then remove them; None if there
    were none."""
    results = Path(results)
    shards = shard_files(results)
    if not shards and not parts_folder(results).is_dir():
        return None
    sources = ([results] if results.is_file() else []) + shards
    report = merge_results(sources, results, order)
    shutil.rmtree(parts_folder(results), ignore_errors=True)
    return report
