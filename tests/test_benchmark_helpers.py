"""The research-only code that lives in benchmarks/ (not the package): the SSD over tiles and contact sheets,
on the shipped example photos."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from facemask.detection import SSDDetector
from facemask.geometry import Box
from facemask.imageio import read_image

REPOSITORY = Path(__file__).resolve().parents[1]


def _benchmark_module(name: str):
    """benchmarks/<name>.py, loaded by its path (benchmarks/ is a folder of scripts, not an installed package)."""
    spec = importlib.util.spec_from_file_location(f"benchmarks.{name}", REPOSITORY / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiled_ssd_keeps_what_the_whole_photo_pass_finds(repository: Path):
    image = read_image(repository / "examples" / "two_people.jpg")  # two faces, 92 and 149 px wide
    whole = SSDDetector(None, 0.5).detect(image)
    tiled = _benchmark_module("ssd_tiles").TiledSSDDetector(None, 0.5, tiles=3).detect(image)
    assert len(whole) == 2 and len(tiled) >= 2
    # every face of the whole-photo pass survives NMS, or a better box overlapping it (IoU above 0.3) replaced it
    assert all(any(face.box.iou(box.box) > 0.3 for box in tiled) for face in whole)
    height, width = image.shape[:2]
    assert all(d.box.x >= 0 and d.box.y >= 0 and d.box.right <= width and d.box.bottom <= height for d in tiled)
    assert [d.score for d in tiled] == sorted((d.score for d in tiled), reverse=True)


def test_contact_sheet_is_one_png(repository: Path, tmp_path: Path):
    photo = repository / "examples" / "two_people.jpg"
    items = [(photo, Box(178, 61, 92, 118), "left"), (photo, Box(664, 104, 149, 194), "right")]
    _benchmark_module("contact_sheets").plot_contact_sheet(items, "faces", tmp_path / "sheet.png", columns=2, tile=60)
    sheet = read_image(tmp_path / "sheet.png")
    assert sheet.shape[1] == 2 * 60 and [p.name for p in tmp_path.iterdir()] == ["sheet.png"]
