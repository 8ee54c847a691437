"""Atomic outputs: single files, sets published together, and what a killed run leaves behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from facemask.errors import FacemaskError
from facemask.outputs import (
    JOURNAL_SUFFIX,
    TEMP_SUFFIX,
    OutputSet,
    StagedFolder,
    atomic_output,
    recover,
    temporary_path,
    write_bytes_atomic,
    write_json_atomic,
)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path):
    target = tmp_path / "result.json"
    write_json_atomic(target, {"version": 1})
    with pytest.raises(RuntimeError), atomic_output(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("crash while writing")
    assert json.loads(target.read_text()) == {"version": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


def test_os_errors_are_one_line_errors_naming_the_path(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(FacemaskError, match=r"cannot write \(Not a directory\): .*file/out.json$") as raised:
        write_json_atomic(blocker / "out.json", {})
    assert "\n" not in str(raised.value)


def test_a_set_is_published_whole_or_not_at_all(tmp_path: Path):
    model, meta = tmp_path / "m.bin", tmp_path / "m.json"
    model.write_bytes(b"old model")
    meta.write_text("old meta")
    with pytest.raises(KeyboardInterrupt), OutputSet() as outputs:
        outputs.add_bytes(model, b"new model")
        raise KeyboardInterrupt  # killed before the metadata was written
    assert (model.read_bytes(), meta.read_text()) == (b"old model", "old meta")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bin", "m.json"]
    with OutputSet() as outputs:
        outputs.add_bytes(model, b"new model")
        outputs.add_bytes(meta, b"new meta")
        outputs.publish()
    assert (model.read_bytes(), meta.read_text()) == (b"new model", "new meta")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bin", "m.json"]


def _dead_pid() -> int:
    process = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(process.stdout)


def test_a_set_interrupted_between_two_moves_is_rolled_forward_by_the_next_run(tmp_path: Path):
    model, meta = tmp_path / "m.bin", tmp_path / "m.json"
    model.write_bytes(b"new model")  # the first move happened, then the process died
    meta.write_text("old meta")
    pid = _dead_pid()
    pending = tmp_path / f".m.json.{pid}.abcd1234{TEMP_SUFFIX}"
    pending.write_text("new meta")
    journal = tmp_path / f".m.bin.{pid}.abcd1234{JOURNAL_SUFFIX}"
    journal.write_text(
        json.dumps([[str(tmp_path / f".m.bin.{pid}.0{TEMP_SUFFIX}"), str(model)], [str(pending), str(meta)]])
    )
    recover(tmp_path)
    assert (model.read_bytes(), meta.read_text()) == (b"new model", "new meta")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bin", "m.json"]


def test_temporaries_of_a_killed_run_are_cleaned_but_a_live_writers_are_kept(tmp_path: Path):
    dead = tmp_path / f".out.jpg.{_dead_pid()}.deadbeef{TEMP_SUFFIX}.jpg"
    dead.write_bytes(b"torn")
    live = temporary_path(tmp_path / "other.json")  # this process: still writing
    live.write_text("{")
    write_bytes_atomic(tmp_path / "new.txt", b"ok")  # any later write into the folder recovers it
    assert not dead.exists() and live.exists()
    assert (tmp_path / "new.txt").read_bytes() == b"ok"


def test_outputs_get_ordinary_permissions(tmp_path: Path):
    write_bytes_atomic(tmp_path / "shared.txt", b"x")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "shared.txt").stat().st_mode & 0o777 == 0o666 & ~mask


def test_a_staged_folder_appears_whole_and_merges_into_an_existing_one(tmp_path: Path):
    target = tmp_path / "dataset"
    with StagedFolder(target) as staged:
        (staged.path / "with_mask").mkdir()
        (staged.path / "with_mask" / "a.jpg").write_bytes(b"a")
        assert not target.exists()  # nothing shows until it is published
        staged.publish()
    assert (target / "with_mask" / "a.jpg").read_bytes() == b"a"
    (target / "notes.txt").write_text("the user's own")
    with StagedFolder(target) as staged:
        (staged.path / "with_mask").mkdir()
        (staged.path / "with_mask" / "a.jpg").write_bytes(b"a2")
        (staged.path / "without_mask").mkdir()
        (staged.path / "without_mask" / "b.jpg").write_bytes(b"b")
        staged.publish()
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()) == [
        "notes.txt",
        "with_mask/a.jpg",
        "without_mask/b.jpg",
    ]
    assert (target / "with_mask" / "a.jpg").read_bytes() == b"a2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]


def test_a_staged_folder_not_published_leaves_the_target_and_a_killed_ones_is_cleaned(tmp_path: Path):
    target = tmp_path / "dataset"
    target.mkdir()
    (target / "old.jpg").write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), StagedFolder(target) as staged:
        (staged.path / "new.jpg").write_bytes(b"new")
        raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]
    assert [p.name for p in target.iterdir()] == ["old.jpg"]
    killed = tmp_path / f".dataset.{_dead_pid()}.abcd1234{TEMP_SUFFIX}"
    (killed / "with_mask").mkdir(parents=True)
    (killed / "with_mask" / "x.jpg").write_bytes(b"half")
    recover(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]
