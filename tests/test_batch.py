"""Batch runs of detect_mask_image.py as a user would run them: streaming JSON Lines, a run killed part-way and
resumed, shards, path lists with bad entries, summaries; and the results file logic itself."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from facemask.batch import (
    ResultSummary,
    ResultWriter,
    completed_images,
    error_record,
    merge_results,
    parts_folder,
    read_records,
    repair,
)

SCRIPT = "detect_mask_image.py"
SUMMARY = "summarize_results.py"
PHOTOS = 6  # the smallest scene photos: a whole run costs a few seconds


def one_line_error(done):
    return done.returncode != 0 and "Traceback" not in done.stderr and done.stderr.strip().count("\n") == 0


@pytest.fixture(scope="module")
def photos(scenes_dir) -> list[Path]:
    """The smallest scene photos, in name order."""
    smallest = sorted((scenes_dir / "images").glob("*.jpg"), key=lambda path: path.stat().st_size)[:PHOTOS]
    return sorted(smallest)


@pytest.fixture(scope="module")
def path_list(photos, tmp_path_factory) -> Path:
    listing = tmp_path_factory.mktemp("list") / "photos.txt"
    listing.write_text("# scene photos\n" + "".join(f"{path}\n" for path in photos) + "\n")
    return listing


@pytest.fixture(scope="module")
def uninterrupted(path_list, tmp_path_factory, run_script) -> list[str]:
    """The lines of a run that nothing interrupted."""
    results = tmp_path_factory.mktemp("whole") / "results.jsonl"
    done = run_script(SCRIPT, "--image-list", path_list, "--jsonl", results)
    assert done.returncode == 0, done.stderr
    return results.read_text().splitlines()


def test_the_stream_holds_one_line_per_image_in_the_json_contract(uninterrupted, photos, default_model):
    records = [json.loads(line) for line in uninterrupted]
    assert [record["image"] for record in records] == [str(path) for path in photos]
    for record in records:
        assert set(record) == {"image", "width", "height", "faces"}
        for face in record["faces"]:
            assert set(face) == {"box", "score", "label", "probabilities"}
    assert sum(len(record["faces"]) for record in records) > 0


def test_a_killed_run_resumed_gives_exactly_the_uninterrupted_lines(
    uninterrupted, path_list, tmp_path, keras_home, repository
):
    results = tmp_path / "results.jsonl"
    env = dict(os.environ, **({"KERAS_HOME": keras_home} if keras_home else {}))
    process = subprocess.Popen(
        [sys.executable, str(repository / SCRIPT), "--image-list", str(path_list), "--jsonl", str(results)],
        cwd=repository,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if results.exists() and results.read_bytes().count(b"\n") >= 2:
                break
            time.sleep(0.02)
        assert process.poll() is None, "the run ended before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    kept = results.read_text().splitlines()
    assert 2 <= len(kept) < len(uninterrupted)
    # What a kill in the middle of a write leaves: half of the next image's line.
    following = uninterrupted[len(kept)]
    with open(results, "a") as handle:
        handle.write(following[: len(following) // 2])

    done = subprocess.run(
        [sys.executable, str(repository / SCRIPT), "--image-list", str(path_list), "--jsonl", str(results), "--resume"],
        cwd=repository,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = results.read_text().splitlines()
    assert len(lines) == len(set(lines)) == len(uninterrupted)
    assert set(lines) == set(uninterrupted)
    assert f"images: {len(uninterrupted)} (0 failed" in done.stdout


def test_resume_reads_the_shards_a_killed_ray_run_left(uninterrupted, path_list, tmp_path, run_script):
    results = tmp_path / "results.jsonl"
    results.write_text(uninterrupted[0] + "\n")
    parts = parts_folder(results)
    parts.mkdir()
    (parts / "node-a.jsonl").write_text(uninterrupted[2] + "\n" + uninterrupted[3][:40])
    (parts / "node-b.jsonl").write_text(uninterrupted[0] + "\n" + uninterrupted[1] + "\n")
    done = run_script(SCRIPT, "--image-list", path_list, "--jsonl", results, "--resume")
    assert done.returncode == 0, done.stderr
    lines = results.read_text().splitlines()
    assert lines == uninterrupted  # shards folded in, input order, each image once
    assert not parts.exists()


def test_a_path_list_with_missing_and_corrupt_entries_reports_them_and_goes_on(photos, tmp_path, run_script):
    truncated, not_an_image = tmp_path / "truncated.jpg", tmp_path / "notes.png"
    truncated.write_bytes(photos[0].read_bytes()[:2000])
    not_an_image.write_text("not an image")
    missing = tmp_path / "gone.jpg"
    listing = tmp_path / "list.txt"
    entries = [photos[0], missing, truncated, photos[1], not_an_image]
    listing.write_text("".join(f"{path}\n" for path in entries))
    results = tmp_path / "results.jsonl"
    done = run_script(SCRIPT, "--image-list", listing, "--jsonl", results)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    for bad in (missing, truncated, not_an_image):
        assert str(bad) in done.stderr
    records = read_records(results)
    assert [record["image"] for record in records] == [str(path) for path in entries]
    failed = {record["image"] for record in records if record.get("error")}
    assert failed == {str(missing), str(truncated), str(not_an_image)}
    for record in records:
        if record["image"] in failed:
            assert record["faces"] == [] and record["width"] is None and str(record["image"]) in record["error"]
        else:
            assert record["width"] > 0 and "error" not in record
    assert "images: 5 (3 failed" in done.stdout

    summary = run_script(SUMMARY, results, "--json", "-")
    assert summary.returncode == 0, summary.stderr
    counted = json.loads(summary.stdout)
    faces = sum(len(record["faces"]) for record in records)
    assert (counted["images"], counted["failed"], counted["faces"]) == (5, 3, faces)
    assert sum(label["faces"] for label in counted["labels"].values()) == faces
    assert set(counted["labels"]) >= {"with_mask", "without_mask"}


def test_a_glob_selects_the_same_images_as_the_list(photos, tmp_path, run_script, uninterrupted):
    folder = tmp_path / "photos" / "sub"
    folder.mkdir(parents=True)
    for path in photos[:2]:
        shutil.copy(path, folder / path.name)
    (folder / "readme.txt").write_text("not a photo")
    results = tmp_path / "glob.jsonl"
    done = run_script(
        SCRIPT, "--image", f"{tmp_path}/photos/**/*.jpg", "--jsonl", results, "--output", tmp_path / "annotated"
    )
    assert done.returncode == 0, done.stderr
    records = read_records(results)
    assert [Path(record["image"]).name for record in records] == [path.name for path in photos[:2]]
    mine = {json.loads(line)["image"]: json.loads(line) for line in uninterrupted}
    for record, path in zip(records, photos):
        assert record["faces"] == mine[str(path)]["faces"]
    assert sorted(p.name for p in (tmp_path / "annotated").iterdir()) == [path.name for path in photos[:2]]


@pytest.mark.parametrize(
    "problem",
    [
        "resume without jsonl",
        "existing results",
        "pattern matches nothing",
        "missing list",
        "ray without jsonl",
        "workers without ray",
    ],
)
def test_bad_batch_options_give_a_one_line_error(photos, tmp_path, run_script, problem):
    existing = tmp_path / "old.jsonl"
    existing.write_text("")
    args = {
        "resume without jsonl": ["--image", photos[0], "--resume"],
        "existing results": ["--image", photos[0], "--jsonl", existing],
        "pattern matches nothing": ["--image", f"{tmp_path}/*.jpg"],
        "missing list": ["--image-list", tmp_path / "nope.txt"],
        "ray without jsonl": ["--image", photos[0], "--engine", "ray"],
        "workers without ray": ["--image", photos[0], "--workers", "2"],
    }[problem]
    done = run_script(SCRIPT, *args)
    assert one_line_error(done), done.stderr
    assert existing.read_text() == ""


# Runs the image tool's main() in a fresh interpreter with Ray hidden from the import system (as on a machine
# without the 'distributed' extra) or present, and reports the exit code and whether Ray was imported.
PROBE = """
import importlib.abc, json, sys
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "ray":
            raise ModuleNotFoundError(name)
if {hide!r}:
    sys.meta_path.insert(0, Hide())
import importlib.util
importlib.util.find_spec = (lambda original: lambda name, *a: None if {hide!r} and name.split(".")[0] == "ray"
                            else original(name, *a))(importlib.util.find_spec)
from facemask.cli.detect_image import main
from facemask.errors import run_cli
code = run_cli(main, {argv!r})
print(json.dumps({{"code": code, "ray": "ray" in sys.modules}}))
"""


def run_probe(argv: list, hide: bool, repository: Path) -> tuple[dict, str]:
    code = PROBE.format(argv=[str(a) for a in argv], hide=hide)
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=repository,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_without_the_extra_engine_ray_says_what_to_install(photos, tmp_path, repository):
    probe, stderr = run_probe(
        ["--image", photos[0], "--jsonl", tmp_path / "r.jsonl", "--engine", "ray"], True, repository
    )
    assert probe == {"code": 2, "ray": False}
    assert stderr.strip().count("\n") == 0 and "pip install 'facemask[distributed]'" in stderr


def test_the_single_process_path_never_imports_ray(photos, tmp_path, repository):
    probe, stderr = run_probe(["--image", photos[0], "--jsonl", tmp_path / "r.jsonl"], False, repository)
    assert probe == {"code": 0, "ray": False}, stderr


def test_a_torn_last_line_is_skipped_and_cut_off_before_appending(tmp_path):
    results = tmp_path / "r.jsonl"
    with ResultWriter(results, fresh=True) as writer:
        writer.write(error_record("a.jpg", "no such image file: a.jpg"))
        writer.write({"image": "b.jpg", "width": 4, "height": 3, "faces": []})
    whole = results.read_bytes()
    results.write_bytes(whole + b'{"image": "c.jpg", "wid')
    assert [r["image"] for r in read_records(results)] == ["a.jpg", "b.jpg"]
    assert completed_images(results) == {"a.jpg", "b.jpg"}
    assert repair(results) and results.read_bytes() == whole
    assert not repair(results)
    results.write_bytes(whole + b'{"image": "c.jpg"}\n' + b"garbage\n")
    with pytest.raises(Exception, match="line 4 is not JSON"):
        read_records(results)


def test_merging_keeps_one_line_per_image_and_prefers_a_result_to_an_error(tmp_path):
    first, second = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    result = {"image": "x.jpg", "width": 4, "height": 3, "faces": []}
    with ResultWriter(first, fresh=True) as writer:
        writer.write(error_record("x.jpg", "cannot read x.jpg: stale file handle"))
        writer.write({"image": "y.jpg", "width": 5, "height": 3, "faces": []})
    with ResultWriter(second, fresh=True) as writer:
        writer.write(result)
        writer.write({"image": "y.jpg", "width": 5, "height": 3, "faces": []})
    report = merge_results([first, second], tmp_path / "all.jsonl", order=["y.jpg", "x.jpg"])
    assert (report.images, report.duplicates) == (2, 2)
    assert read_records(tmp_path / "all.jsonl") == [{"image": "y.jpg", "width": 5, "height": 3, "faces": []}, result]


def test_the_summary_takes_its_classes_from_the_results():
    face = {
        "box": [0, 0, 9, 9],
        "score": 0.9,
        "label": "mask_worn_incorrectly",
        "probabilities": {"with_mask": 0.1, "without_mask": 0.2, "mask_worn_incorrectly": 0.7},
    }
    summary = ResultSummary.of(
        [{"image": "a.jpg", "width": 9, "height": 9, "faces": [face]}, error_record("b.jpg", "empty file: b.jpg")]
    )
    assert (summary.images, summary.failed, summary.faces) == (2, 1, 1)
    assert summary.labels == {"with_mask": 0, "without_mask": 0, "mask_worn_incorrectly": 1}
    assert any(line.startswith("  mask worn incorrectly") and "100.0%" in line for line in summary.lines())


@pytest.mark.parametrize("cpus,workers", [(2, 1), (2, 2), (2, 4), (8, 8), (64, 16), (1, 1)])
def test_actors_always_leave_cpu_for_ray_datas_tasks(cpus, workers):
    from facemask.batch.ray_engine import READ_RESERVE, actor_cpus

    each = actor_cpus(cpus, workers)
    assert 0 < each <= 1
    assert workers * each <= cpus - READ_RESERVE + 1e-9 or each == 0.05
