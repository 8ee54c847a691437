"""detect_mask_image.py --engine ray on a local Ray instance gives the single-process run's results, image for
image (needs the 'distributed' extra; skipped without it)."""

from __future__ import annotations

import importlib.util
import json

import pytest

from facemask.batch import parts_folder, read_records

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("ray") is None, reason="Ray is not installed (pip install 'facemask[distributed]')"
    ),
]

SCRIPT = "detect_mask_image.py"
EVERY = 3  # every third scenes-dev photo by name (38 of 114): both runs in about two minutes on a loaded machine


def test_ray_gives_the_single_process_results_image_for_image(scenes_dir, tmp_path, run_script):
    photos = sorted((scenes_dir / "images").glob("*.jpg"))[::EVERY]
    listing = tmp_path / "photos.txt"
    listing.write_text("".join(f"{path}\n" for path in photos))
    local, distributed = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    done = run_script(SCRIPT, "--image-list", listing, "--jsonl", local)
    assert done.returncode == 0, done.stderr
    done = run_script(SCRIPT, "--image-list", listing, "--jsonl", distributed, "--engine", "ray", "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert not parts_folder(distributed).exists()  # the workers' shards were folded into the results file

    expected, got = read_records(local), read_records(distributed)
    assert [r["image"] for r in got] == [r["image"] for r in expected] == [str(p) for p in photos]  # input order
    assert sum(len(r["faces"]) for r in expected) >= len(photos)
    for mine, theirs in zip(expected, got):
        assert (theirs["width"], theirs["height"]) == (mine["width"], mine["height"])
        assert [(f["box"], f["label"]) for f in theirs["faces"]] == [(f["box"], f["label"]) for f in mine["faces"]]
        for face, reference in zip(theirs["faces"], mine["faces"]):
            for name, probability in reference["probabilities"].items():
                assert face["probabilities"][name] == pytest.approx(probability, abs=2e-3)
    summary = json.loads(run_script("summarize_results.py", distributed, "--json", "-").stdout)
    assert summary["images"] == len(photos) and summary["failed"] == 0
