"""Writing outputs so that nothing is ever half-written: one file, or a set of files published together.

Every output is first written to a temporary file beside its target, named `.<target>.<pid>.<random>.facemask-tmp`
(a recognisable name that `.gitignore` covers), then moved onto the target in one step. Files that belong together
(a model and its metadata, an export and its sidecar, a model and its training plot, the plots of one evaluation)
are published as a set: a journal listing the moves is written first, so a crash between two moves is rolled
forward by the next run that writes into that folder (`recover`), and readers never see a new model beside old
metadata for long. A folder of many outputs (a synthesized dataset) is built in a temporary folder of the same kind
of name and published at the end (`StagedFolder`). Temporary files and folders left by a killed run are removed by
the next run's `recover` once their process is gone."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from facemask.errors import FacemaskError

TEMP_SUFFIX = ".facemask-tmp"
JOURNAL_SUFFIX = ".facemask-journal"


def temporary_path(target: str | Path, keep_suffix: bool = False) -> Path:
    """A fresh temporary name beside `target`, carrying this process's id (see `recover`); `keep_suffix` ends it
    with the target's extension too, for writers that choose the format by the name (video)."""
    target = Path(target)
    ending = target.suffix if keep_suffix else ""
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}{ending}")


def _is_temporary(path: Path) -> bool:
    return path.name.startswith(".") and TEMP_SUFFIX in path.name


def _owner_alive(temporary: Path) -> bool:
    """Whether the process that created a temporary file or journal (its id is in the name) still runs."""
    try:
        stem = temporary.name.split(TEMP_SUFFIX)[0].split(JOURNAL_SUFFIX)[0]
        pid = int(stem.rsplit(".", 2)[-2])
    except (ValueError, IndexError):
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ordinary_permissions(path: Path) -> None:
    """Give a finished temporary file the permissions of an ordinary new file (mkstemp-style files are private)."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def os_error(error: OSError, path: str | Path, action: str = "cannot write") -> FacemaskError:
    """An OSError as the one-line FacemaskError the tools print: `cannot write (<reason>): <path>`."""
    reason = error.strerror or str(error) or type(error).__name__
    return FacemaskError(f"{action} ({reason}): {path}")


def recover(folder: str | Path) -> None:
    """Finish what an interrupted run left in `folder`: complete journalled sets (roll forward), then remove
    temporary files whose process is gone. Quietly does nothing where the folder cannot be written."""
    folder = Path(folder) if str(folder) else Path(".")
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for journal in sorted(p for p in entries if p.name.endswith(JOURNAL_SUFFIX)):
        if _owner_alive(journal):
            continue  # another run is publishing this set right now
        try:
            moves = json.loads(journal.read_text(encoding="utf-8"))
            for temporary, target in moves:
                if Path(temporary).exists():
                    Path(target).parent.mkdir(parents=True, exist_ok=True)
                    os.replace(temporary, target)
            journal.unlink()
        except (OSError, ValueError, TypeError):
            continue
    for temporary in (p for p in entries if _is_temporary(p)):
        if temporary.exists() and not _owner_alive(temporary):
            try:
                if temporary.is_dir() and not temporary.is_symlink():
                    shutil.rmtree(temporary)  # a staging folder (StagedFolder)
                else:
                    temporary.unlink()
            except OSError:
                pass


def _discard(temporary: Path) -> None:
    with suppress(OSError):
        temporary.unlink(missing_ok=True)


def publish(temporary: str | Path, target: str | Path) -> None:
    """Move one finished temporary file (from `temporary_path`) onto `target` in one step."""
    try:
        _ordinary_permissions(Path(temporary))
        os.replace(temporary, target)
    except OSError as error:
        raise os_error(error, target) from None


@contextmanager
def atomic_output(target: str | Path) -> Iterator[Path]:
    """`with atomic_output(path) as temporary:` write `temporary`; on success it replaces `path` in one step, on
    any failure it is removed and `path` is untouched. OS errors become one-line FacemaskErrors naming `path`."""
    target = Path(target)
    recover(target.parent)
    temporary = temporary_path(target)
    try:
        yield temporary
        _ordinary_permissions(temporary)
        os.replace(temporary, target)
    except OSError as error:
        raise os_error(error, target) from None
    finally:
        _discard(temporary)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` so that `path` is either the old file or the complete new one."""
    with atomic_output(path) as temporary:
        temporary.write_bytes(data)


def write_json_atomic(path: str | Path, payload: Any) -> None:
    """Write `payload` as indented JSON, atomically."""
    write_bytes_atomic(path, (json.dumps(payload, indent=2) + "\n").encode("utf-8"))


class OutputSet:
    """Files that belong together, published together.

    `path = outputs.add(target)` gives a temporary path to write the target's content to; `publish()` moves
    them all into place under a journal (see the module docstring). Leaving the block without publishing
    (an error, Ctrl-C) removes the temporaries and leaves every target as it was.
    """

    def __init__(self) -> None:
        self.moves: list[tuple[Path, Path]] = []
        self.published = False

    def __enter__(self) -> OutputSet:
        return self

    def add(self, target: str | Path, keep_suffix: bool = False) -> Path:
        target = Path(target)
        if not self.moves or target.parent != self.moves[0][1].parent:
            recover(target.parent)
        temporary = temporary_path(target, keep_suffix)
        self.moves.append((temporary, target))
        return temporary

    def write(self, target: str | Path, writer: Callable[[Path], None], keep_suffix: bool = False) -> None:
        """Add `target`, written by `writer(temporary)`; an OS error while writing names `target`."""
        temporary = self.add(target, keep_suffix)
        try:
            writer(temporary)
        except OSError as error:
            raise os_error(error, target) from None

    def add_bytes(self, target: str | Path, data: bytes) -> None:
        temporary = self.add(target)
        try:
            temporary.write_bytes(data)
        except OSError as error:
            raise os_error(error, target) from None

    def add_json(self, target: str | Path, payload: Any) -> None:
        self.add_bytes(target, (json.dumps(payload, indent=2) + "\n").encode("utf-8"))

    def publish(self) -> None:
        if not self.moves:
            return
        first = self.moves[0][1]
        journal = first.with_name(f".{first.name}.{os.getpid()}.{secrets.token_hex(4)}{JOURNAL_SUFFIX}")
        try:
            for temporary, target in self.moves:
                if not temporary.is_file():
                    raise FacemaskError(f"output was not written: {target}")
                _ordinary_permissions(temporary)
            write_json_atomic(journal, [[str(t.resolve()), str(p.resolve())] for t, p in self.moves])
            for temporary, target in self.moves:
                os.replace(temporary, target)
            journal.unlink()
        except OSError as error:
            raise os_error(error, first) from None
        self.published = True

    def __exit__(self, *exc_info) -> None:
        if not self.published:
            for temporary, _ in self.moves:
                _discard(temporary)


class StagedFolder:
    """A folder of many outputs (a synthesized dataset) built in a hidden staging folder beside `target` and
    published at the end, so a killed run leaves `target` as it was, never half filled.

    `folder.path` is the staging folder to write into (plain writes: nobody sees it). `publish()` renames it to
    `target` when `target` does not exist yet; into an existing `target` it moves every staged file under a
    journal, as OutputSet does. Leaving the block without publishing removes the staging folder; one left by a
    killed run is removed by the next run's `recover` of the target's parent folder.
    """

    def __init__(self, target: str | Path) -> None:
        self.target = Path(target)
        self.path = temporary_path(self.target)
        self.published = False

    def __enter__(self) -> StagedFolder:
        recover(self.target.parent)
        try:
            self.path.mkdir()
        except OSError as error:
            raise os_error(error, self.target, "cannot create the output folder") from None
        return self

    def publish(self) -> None:
        """Move the staged files into `target` (see the class docstring)."""
        try:
            if not self.target.exists():
                os.rename(self.path, self.target)
            else:
                self._merge()
        except OSError as error:
            raise os_error(error, self.target) from None
        self.published = True

    def _merge(self) -> None:
        staged = sorted(p for p in self.path.rglob("*") if not p.is_dir())
        moves = [(p, self.target / p.relative_to(self.path)) for p in staged]
        for _, target in moves:
            target.parent.mkdir(parents=True, exist_ok=True)
        journal = self.target.with_name(f".{self.target.name}.{os.getpid()}.{secrets.token_hex(4)}{JOURNAL_SUFFIX}")
        write_json_atomic(journal, [[str(t.resolve()), str(p.resolve())] for t, p in moves])
        for temporary, target in moves:
            os.replace(temporary, target)
        journal.unlink()
        shutil.rmtree(self.path, ignore_errors=True)

    def __exit__(self, *exc_info) -> None:
        if not self.published:
            shutil.rmtree(self.path, ignore_errors=True)
