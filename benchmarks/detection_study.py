#!/usr/bin/env python3
"""Face detection alone on annotated scene sets: recall by size and label, unmatched boxes, seconds per photo.

    python benchmarks/detection_study.py                      # both dev scene sets, every setting
    python benchmarks/detection_study.py --settings default yunet --sheets sheets/   # unmatched boxes, to review

Settings (rows are "name@threshold"): default = the library's default, YuNet's pyramid and CenterFace, each
from 0.3, fused by weighted box fusion, boxes kept from 0.35 (and the same at 0.3 and 0.4); yunet = the YuNet
pyramid alone (0.7 was the default before); yunet-3x = the photo enlarged up to 3 times (at most 2400 px) instead
of 2 (1600 px); yunet+mirror = the pyramid on the photo and on its mirror image, fused; centerface = CenterFace
alone; nms-union = YuNet and CenterFace at 0.6, pooled with NMS instead of fused.

No classifier: each setting's detector runs on every photo of each scene set (decoding not timed), and its boxes
are matched to the annotated faces with facemask.geometry.match_boxes (IoU > 0.5). Recall is given for every
face, for faces at least 20 px on their shorter side, per size band of the shorter side, and per label; an
"unmatched" box matches no annotated face (a false detection, a real face the annotations lack, or a box
overlapping a face below IoU 0.5: --sheets draws them on contact sheets to be told apart by eye). The settings
run interleaved, photo by photo, in this one process, so the seconds of each can be read as a ratio to the first
setting (the library's default) even on a loaded machine. Results are recorded in docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from facemask.defaults import DETECTOR as DEFAULT_DETECTOR
from facemask.detection import (
    DEFAULT_CONFIDENCE,
    FUSED_PART_CONFIDENCE,
    CenterFaceDetector,
    FaceDetector,
    FusedDetector,
    YuNetDetector,
    create_detector,
)
from facemask.errors import run_cli
from facemask.evaluation import MATCH_IOU, MIN_FACE, SIZE_BANDS, large_enough, load_scenes, size_band
from facemask.geometry import Box, Detection, match_boxes
from facemask.imageio import read_image
from facemask.outputs import write_json_atomic

from benchmarks.contact_sheets import plot_contact_sheet

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_SCENES = (SHARED / "scenes-dev", SHARED / "scenes-crowd-dev")
SHEET_PAGE = 96  # tiles on one contact sheet
LABELS = {"with_mask": "masked", "without_mask": "unmasked", "mask_worn_incorrectly": "incorrect"}


class Mirrored:
    """A detector run on the horizontally mirrored photo, its boxes mirrored back (study only)."""

    def __init__(self, detector: FaceDetector) -> None:
        self.detector, self.name = detector, f"{detector.name} mirrored"

    def detect(self, image) -> list[Detection]:
        width = image.shape[1]
        return [
            Detection(Box(width - d.box.right, d.box.y, d.box.w, d.box.h), d.score)
            for d in self.detector.detect(np.ascontiguousarray(image[:, ::-1]))
        ]


def settings() -> dict[str, tuple[Callable[[], FaceDetector], tuple[float, ...]]]:
    """The detector settings compared: each detector, built at its lowest threshold, and the thresholds its rows
    keep boxes from (one run of the detector serves every threshold). The library's default comes first: the
    baseline of the time ratio."""
    part = FUSED_PART_CONFIDENCE
    return {
        "default": (lambda: create_detector(DEFAULT_DETECTOR, 0.3), (DEFAULT_CONFIDENCE[DEFAULT_DETECTOR], 0.3, 0.4)),
        "yunet": (lambda: YuNetDetector(0.6), (DEFAULT_CONFIDENCE["yunet"], 0.6)),
        "yunet-3x": (lambda: YuNetDetector(0.7, upscale=3.0, max_side=2400), (0.7,)),
        "yunet+mirror": (lambda: FusedDetector([YuNetDetector(part), Mirrored(YuNetDetector(part))], part), (0.5, 0.4)),
        "centerface": (lambda: CenterFaceDetector(0.4), (DEFAULT_CONFIDENCE["centerface"], 0.4)),
        "nms-union": (lambda: NMSUnion([YuNetDetector(0.6), CenterFaceDetector(0.6)]), (0.6,)),
    }


class NMSUnion:
    """Several detectors' boxes pooled and thinned by NMS at IoU 0.4 (study only: the alternative to fusion)."""

    def __init__(self, detectors: list[FaceDetector]) -> None:
        self.detectors, self.name = detectors, "+".join(d.name for d in detectors) + " nms"

    def detect(self, image) -> list[Detection]:
        from facemask.geometry import non_max_suppression

        return non_max_suppression([d for detector in self.detectors for d in detector.detect(image)], 0.4)


def shorter_side(box) -> int:
    return min(box.w, box.h)


class Tally:
    """Found / annotated faces per group, unmatched boxes and seconds for one setting on one scene set."""

    def __init__(self) -> None:
        self.found: dict[str, list[int]] = {}
        self.unmatched: list[tuple[Path, object, str]] = []
        self.missed: list[tuple[Path, object, str]] = []
        self.seconds = 0.0
        self.images = 0

    def count(self, group: str, hit: bool) -> None:
        row = self.found.setdefault(group, [0, 0])
        row[0] += hit
        row[1] += 1

    def recall(self, group: str) -> float | None:
        found, total = self.found.get(group, (0, 0))
        return found / total if total else None


def tally_scene(tally: Tally, scene, detections, seconds: float) -> None:
    truth = [face.box for face in scene.faces]
    predicted = [d.box for d in detections]
    matched = match_boxes(truth, predicted, MATCH_IOU)
    tally.images += 1
    tally.seconds += seconds
    for index, face in enumerate(scene.faces):
        hit = index in matched
        large = large_enough(face.box)
        label = LABELS.get(face.label, face.label)
        for group in ("all", label, f"band {size_band(shorter_side(face.box))}"):
            tally.count(group, hit)
        if large:
            tally.count(f">={MIN_FACE}", hit)
            tally.count(f"{label} >={MIN_FACE}", hit)
        if not hit:
            tally.missed.append((scene.path, face.box, f"{scene.name}\n{face.label} {face.box.w}x{face.box.h}"))
    used = set(matched.values())
    for number, detection in enumerate(detections):
        if number not in used:
            best = max((detection.box.iou(box) for box in truth), default=0.0)
            tally.unmatched.append(
                (scene.path, detection.box, f"{scene.name} {detection.score:.2f}\nIoU {best:.2f} {detection.box.w}px")
            )


def study(folder: Path, chosen: dict) -> dict[str, Tally]:
    """Every chosen setting over the scenes of `folder`, photo by photo, each timed; one tally per threshold."""
    from tqdm import tqdm

    scenes = load_scenes(folder)
    detectors = {name: (make(), thresholds) for name, (make, thresholds) in chosen.items()}
    tallies = {f"{name}@{t}": Tally() for name, (_, thresholds) in detectors.items() for t in thresholds}
    warm = read_image(scenes[0].path)
    for detector, _ in detectors.values():  # the first call builds the networks' kernels: keep it out of the timing
        detector.detect(warm)
    for scene in tqdm(scenes, desc=folder.name, unit="image", leave=False):
        image = read_image(scene.path)
        for name, (detector, thresholds) in detectors.items():
            start = time.perf_counter()
            detections = detector.detect(image)
            seconds = time.perf_counter() - start
            for threshold in thresholds:
                tally_scene(
                    tallies[f"{name}@{threshold}"], scene, [d for d in detections if d.score >= threshold], seconds
                )
    return tallies


def row(name: str, tally: Tally, baseline: Tally) -> dict:
    bands = [f"band {size_band(low)}" for low, _ in SIZE_BANDS]
    large = f">={MIN_FACE}"
    result = {"setting": name, "recall": tally.recall("all"), large: tally.recall(large)}
    for label in ("masked", "unmasked", "incorrect"):
        result[label] = tally.recall(label)
        result[f"{label} {large}"] = tally.recall(f"{label} {large}")
    result.update({band[5:]: tally.recall(band) for band in bands})
    result["unmatched/photo"] = len(tally.unmatched) / tally.images
    result["s/photo"] = tally.seconds / tally.images
    result["x default"] = tally.seconds / baseline.seconds
    return result


def print_table(folder: Path, rows: list[dict]) -> None:
    columns = [key for key in rows[0] if key != "setting" and any(r[key] is not None for r in rows)]
    width = max(len(r["setting"]) for r in rows) + 2
    print(f"\n{folder}")
    print(f"{'setting':<{width}}" + "".join(f"{c:>{max(8, len(c) + 1)}}" for c in columns))
    for r in rows:
        cells = "".join(f"{'-' if r[c] is None else format(r[c], '.3f'):>{max(8, len(c) + 1)}}" for c in columns)
        print(f"{r['setting']:<{width}}{cells}", flush=True)


def main(argv: list[str] | None = None) -> int:
    available = settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenes",
        type=Path,
        nargs="+",
        default=list(DEFAULT_SCENES),
        help="scene folders (images/ + annotations.csv); default: both dev sets in ../shared",
    )
    parser.add_argument(
        "--settings",
        nargs="+",
        default=list(available),
        choices=list(available),
        help="settings to compare (the first is the time baseline)",
    )
    parser.add_argument(
        "--sheets",
        type=Path,
        default=None,
        help="write contact sheets of the first row's unmatched boxes and missed faces here",
    )
    parser.add_argument("--json", type=Path, default=None, help="write every row as JSON here")
    args = parser.parse_args(argv)
    if args.sheets:
        args.sheets.mkdir(parents=True, exist_ok=True)
    chosen = {name: available[name] for name in args.settings}
    results = {}
    for folder in args.scenes:
        tallies = study(folder, chosen)
        baseline = next(iter(tallies.values()))
        rows = [row(name, tally, baseline) for name, tally in tallies.items()]
        print_table(folder, rows)
        results[str(folder)] = rows
        if args.sheets:  # the first row's (the default's) boxes, 96 to a page
            name, tally = next(iter(tallies.items()))
            for kind, items in (("unmatched boxes", tally.unmatched), ("missed faces", tally.missed)):
                for page, first in enumerate(range(0, max(1, len(items)), SHEET_PAGE), start=1):
                    plot_contact_sheet(
                        items[first : first + SHEET_PAGE],
                        f"{folder.name}, {name}: {kind} {first + 1}-{first + SHEET_PAGE}",
                        args.sheets / f"{folder.name}-{kind.split()[0]}-{page}.png",
                        limit=SHEET_PAGE,
                        columns=12,
                    )
    if args.json:
        write_json_atomic(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
