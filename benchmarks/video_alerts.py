#!/usr/bin/env python3
"""Alerts per person on a camera-like video made from the photos of an annotated scene set.

    .venv/bin/python benchmarks/video_alerts.py --scenes DIR [--model PATH] [--no-baseline] [-- OPTIONS]

The video: every photo of the scene set (`images/` + `annotations.csv`) letterboxed into a 640x480 frame and
shown for 2 s at 25 FPS with a slow zoom (1.0 to 1.12) and pan (about 6 % of the frame) and Gaussian sensor
noise, so each face looks a little different in every frame; 15 grey frames between photos, more than the
tracker's patience, so every track ends between photos. The annotated boxes are carried into frame coordinates
frame by frame. The video is written once to a cache folder under the system's temporary folder and reused.

It is run through `detect_mask_video.py --source VIDEO --events FILE --no-display` on its defaults (a subprocess, as
a user runs it; `--model` and any options after `--` are passed on), and each event is matched to the annotated face
under its box at the event's frame: the face with the highest IoU (at least 0.3), else the smallest face holding the
event box's centre. A person is an annotated face that is at least 20 px on its shorter side and wholly inside the
frame in every frame of its photo; smaller or cut faces are not counted either way (events on them are counted
apart). Prints, per label, the share of people alerted, events under no annotated face, extra events for one person
and the latency of each person's first event from the first frame of its photo.

With the baseline (default; `--no-baseline` skips it), the same video also runs through the library's monitor
(facemask.video.monitor) with the same pipeline and the rule that fired on a track's first non-compliant look
(`DecisionSettings.single_look()`), and its figures are printed beside the default's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

import cv2
import numpy as np

from facemask.detection import Box
from facemask.errors import FacemaskError, run_cli
from facemask.evaluation import load_scenes
from facemask.imageio import letterbox, read_image
from facemask.metadata import INCORRECT, MASKED, UNMASKED

SIZE = (640, 480)
FPS = 25.0


@dataclass(frozen=True)
class VideoSettings:
    """How a scene set becomes a camera-like video."""

    photo_frames: int = 50  # 2 s at 25 FPS
    gap_frames: int = 15  # grey frames between photos, more than the tracker's patience (10)
    zoom: float = 0.12  # the zoom grows from 1 to 1 + zoom over a photo
    pan: float = 0.06  # the view's centre moves this fraction of the frame over a photo
    noise: float = 4.0  # sensor noise, standard deviation in grey levels
    min_side: int = 20  # a counted person: at least this many pixels on the shorter side in every frame
    seed: int = 27

    def key(self) -> str:
        return hashlib.sha1(repr(self).encode()).hexdigest()[:10]


@dataclass(frozen=True)
class Person:
    """One annotated face of the video: its photo's frames and its box in every one of them."""

    photo: str
    label: str
    first: int
    boxes: tuple[Box, ...]  # one per frame of the photo
    counted: bool

    @property
    def last(self) -> int:
        return self.first + len(self.boxes) - 1

    def box_at(self, frame: int) -> Box:
        return self.boxes[frame - self.first]


def view(settings: VideoSettings, photo: int, step: int) -> tuple[float, float, float]:
    """The zoom and the view's centre (in frame pixels) at `step` of photo number `photo`: each photo pans its
    own way (the direction turns by a golden angle from photo to photo)."""
    t = step / max(1, settings.photo_frames - 1)
    angle = photo * 2.399963
    reach = settings.pan * min(SIZE) * (t - 0.5)
    return 1.0 + settings.zoom * t, SIZE[0] / 2 + reach * np.cos(angle), SIZE[1] / 2 + reach * np.sin(angle)


def transform(zoom: float, cx: float, cy: float) -> np.ndarray:
    """The affine map from the letterboxed photo to the frame: scale by `zoom` about (cx, cy), which lands at the
    frame's centre."""
    return np.array([[zoom, 0.0, SIZE[0] / 2 - zoom * cx], [0.0, zoom, SIZE[1] / 2 - zoom * cy]])


def map_box(matrix: np.ndarray, x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
    zoom = matrix[0, 0]
    return matrix[0, 0] * x + matrix[0, 2], matrix[1, 1] * y + matrix[1, 2], zoom * w, zoom * h


def plan(scenes_dir: Path, settings: VideoSettings) -> tuple[list, list[Person], int]:
    """The photos in video order with their letterboxed scale and offsets, every annotated person, the frame
    count."""
    photos, people, index = [], [], 0
    for number, scene in enumerate(sorted(load_scenes(scenes_dir), key=lambda s: s.name)):
        if number:
            index += settings.gap_frames
        height, width = read_image(scene.path).shape[:2]
        scale = min(SIZE[0] / width, SIZE[1] / height)
        left, top = (SIZE[0] - round(width * scale)) // 2, (SIZE[1] - round(height * scale)) // 2
        photos.append((scene, number, index))
        for face in scene.faces:
            boxes, counted = [], True
            for step in range(settings.photo_frames):
                matrix = transform(*view(settings, number, step))
                x, y, w, h = map_box(
                    matrix, face.box.x * scale + left, face.box.y * scale + top, face.box.w * scale, face.box.h * scale
                )
                boxes.append(Box(round(x), round(y), max(1, round(w)), max(1, round(h))))
                counted &= (
                    min(w, h) >= settings.min_side and x >= 0 and y >= 0 and x + w <= SIZE[0] and y + h <= SIZE[1]
                )
            people.append(Person(scene.name, face.label, index, tuple(boxes), counted))
        index += settings.photo_frames
    return photos, people, index


def write_video(path: Path, photos: list, settings: VideoSettings) -> None:
    """Write the video (MJPG) to `path` through a temporary name, so an interrupted run leaves no half video."""
    partial = path.with_suffix(".partial.avi")
    writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
    if not writer.isOpened():
        raise FacemaskError(f"cannot write a video to {partial}")
    rng = np.random.default_rng(settings.seed)
    bank = rng.normal(0.0, settings.noise, (16, SIZE[1] + 64, SIZE[0] + 64, 3)).astype(np.int16)
    grey = np.full((SIZE[1], SIZE[0], 3), 128, np.uint8)
    for scene, number, _ in photos:
        if number:
            for _ in range(settings.gap_frames):
                writer.write(grey)
        picture = letterbox(read_image(scene.path), SIZE, fill=128)[0]
        for step in range(settings.photo_frames):
            frame = cv2.warpAffine(
                picture,
                transform(*view(settings, number, step)),
                SIZE,
                flags=cv2.INTER_LINEAR,
                borderValue=(128, 128, 128),
            )
            dy, dx = rng.integers(0, 64, 2)  # a noise frame of the bank at a random offset: new noise every frame
            noise = bank[rng.integers(len(bank)), dy : dy + SIZE[1], dx : dx + SIZE[0]]
            writer.write(np.clip(frame + noise, 0, 255).astype(np.uint8))
    writer.release()
    partial.replace(path)


def cached_video(scenes_dir: Path, settings: VideoSettings) -> tuple[Path, list[Person], int]:
    """The scene set's video (built on first use, then taken from the cache), its people and frame count."""
    photos, people, frames = plan(scenes_dir, settings)
    if not people:
        raise FacemaskError(f"no annotated faces in {scenes_dir}")
    digest = hashlib.sha1(f"{scenes_dir.resolve()}|{settings.key()}|{frames}".encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / "facemask-video-alerts"
    folder.mkdir(exist_ok=True)
    path = folder / f"{scenes_dir.name}-{digest}.avi"
    if not path.is_file():
        print(f"writing {frames} frames to {path} ...", flush=True)
        write_video(path, photos, settings)
    return path, people, frames


@dataclass(frozen=True)
class Figures:
    """Events matched to people: per label the people counted and those alerted, the events under no annotated
    face, on faces too small or cut to count, beyond the first for one person, and the first events' latency in
    frames from the first frame of the person's photo."""

    people: dict[str, int]
    alerted: dict[str, int]
    events: int
    unmatched: int
    uncounted: int
    extra: int
    latency: tuple[int, ...]

    def lines(self, name: str) -> list[str]:
        def share(label: str) -> str:
            count = self.people.get(label, 0)
            return (
                f"{self.alerted.get(label, 0)}/{count} ({self.alerted.get(label, 0) / count:.1%})" if count else "none"
            )

        latency = np.array(self.latency) if self.latency else np.zeros(1)
        return [
            f"{name}:",
            f"  unmasked people alerted          {share(UNMASKED)}",
            f"  worn-incorrectly people alerted  {share(INCORRECT)}",
            f"  masked people falsely alerted    {share(MASKED)}",
            f"  events {self.events}: under no annotated face {self.unmatched}, on faces not counted "
            f"{self.uncounted}, extra for one person {self.extra}",
            f"  latency from the person's first frame: median {np.median(latency):.0f} frames "
            f"({np.median(latency) / FPS:.2f} s), 90th percentile {np.percentile(latency, 90):.0f} "
            f"({np.percentile(latency, 90) / FPS:.2f} s), most {latency.max():.0f} ({latency.max() / FPS:.2f} s)",
        ]


def owner(event: dict, people: list[Person]) -> Person | None:
    """The annotated face under an event's box at its frame: the highest IoU of at least 0.3, else the smallest
    face holding the box's centre."""
    frame, box = event["frame"], Box(*event["box"])
    present = [person for person in people if person.first <= frame <= person.last]
    if not present:
        return None
    best = max(present, key=lambda person: person.box_at(frame).iou(box))
    if best.box_at(frame).iou(box) >= 0.3:
        return best
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    holding = [
        person
        for person in present
        if person.box_at(frame).x <= cx <= person.box_at(frame).right
        and person.box_at(frame).y <= cy <= person.box_at(frame).bottom
    ]
    return min(holding, key=lambda person: person.box_at(frame).w * person.box_at(frame).h, default=None)


def measure(events: list[dict], people: list[Person]) -> Figures:
    """Match every event (a dict with frame and box, as the events file has it) to the people."""
    by_person: dict[int, list[dict]] = {}
    unmatched = uncounted = 0
    for event in events:
        person = owner(event, people)
        if person is None:
            unmatched += 1
        elif not person.counted:
            uncounted += 1
        else:
            by_person.setdefault(id(person), []).append(event)
    counted = [person for person in people if person.counted]
    tally: dict[str, int] = {}
    alerted: dict[str, int] = {}
    latency = []
    for person in counted:
        tally[person.label] = tally.get(person.label, 0) + 1
        mine = by_person.get(id(person), [])
        if mine:
            alerted[person.label] = alerted.get(person.label, 0) + 1
            if person.label != MASKED:
                latency.append(min(event["frame"] for event in mine) - person.first)
    extra = sum(len(mine) - 1 for mine in by_person.values())
    return Figures(tally, alerted, len(events), unmatched, uncounted, extra, tuple(latency))


def run_script(video: Path, options: list[str], events: Path) -> str:
    """detect_mask_video.py on its defaults (changed by `options`), headless, logging events to `events`; returns
    its summary line."""
    command = [
        sys.executable,
        str(REPOSITORY / "detect_mask_video.py"),
        "--source",
        str(video),
        "--events",
        str(events),
        "--no-display",
        *options,
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise FacemaskError(f"detect_mask_video.py failed (exit code {result.returncode}): {last}")
    return next((line for line in result.stdout.splitlines() if " frames in " in line), "")


def run_baseline(video: Path, options: list[str]) -> list[dict]:
    """The library's monitor on the same settings (the CLI's own parser and loader, `options` included), with the
    rule that fired on a track's first non-compliant look; the events as the events file would hold them."""
    from facemask.cli.common import load_pipeline
    from facemask.cli.detect_video import build_parser
    from facemask.video import DecisionSettings, FileSource, MonitorSettings, monitor

    args = build_parser().parse_args(["--no-display", *options])
    pipeline = load_pipeline(args)
    events: list[dict] = []
    settings = MonitorSettings(classify_every=args.classify_every, decision=DecisionSettings.single_look())
    source = FileSource(str(video))
    try:
        monitor(pipeline, source.start(), settings, on_event=lambda event: events.append(event.to_json()))
    finally:
        source.close()
    return events


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scenes",
        type=Path,
        default=REPOSITORY.parent / "shared" / "data" / "scenes-dev",
        help="annotated scene set (images/ and annotations.csv; default: ../shared/data/scenes-dev)",
    )
    parser.add_argument(
        "--model", type=Path, default=None, help="classifier to pass to detect_mask_video.py (default: the shipped one)"
    )
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip the run of the rule that fired on a track's first non-compliant look",
    )
    parser.add_argument(
        "options",
        nargs=argparse.REMAINDER,
        help="after --: more options for detect_mask_video.py (e.g. -- --detection-size 448)",
    )
    args = parser.parse_args(argv)
    options = [option for option in args.options if option != "--"]
    if args.model is not None:
        options += ["--model", str(args.model)]
    if args.model is not None and not args.model.is_file():
        raise FacemaskError(f"model file not found: {args.model}")
    settings = VideoSettings()
    video, people, frames = cached_video(args.scenes, settings)
    counted = [person for person in people if person.counted]
    print(
        f"{args.scenes}: {frames} frames, {len(people)} annotated faces, {len(counted)} counted as people "
        f"(at least {settings.min_side} px on the shorter side and wholly in the frame throughout their photo)"
    )
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "events.jsonl"
        started = time.perf_counter()
        last = run_script(video, options, log)
        print(f"detect_mask_video.py ({time.perf_counter() - started:.0f} s): {last}")
        events = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    setting = f"the defaults with {' '.join(options)}" if options else "the defaults"
    for line in measure(events, people).lines(f"per person ({setting})"):
        print(line)
    if not args.no_baseline:
        started = time.perf_counter()
        baseline = run_baseline(video, options)
        print(f"baseline run ({time.perf_counter() - started:.0f} s)")
        for line in measure(baseline, people).lines("first non-compliant look (baseline)"):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
