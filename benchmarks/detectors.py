#!/usr/bin/env python3
"""Face detector backends on annotated real scenes: recall, false detections, TNR, FNR and seconds per image.

    python benchmarks/detectors.py --scenes ../shared/data/scenes-dev

Every backend runs in this one process on the same decoded images (decoding is not timed) as the whole pipeline
(facemask.evaluation, with the shipped classifier or --model, default crop and threshold); the first row is the
tutorial's setting (res10 SSD, one 300x300 pass, confidence 0.5) and the speed ratio is against it. A face is
found when a detected box overlaps it with IoU > 0.5 (facemask.evaluation.MATCH_IOU). Seconds per image are
those of detection and classification; s/640x480 is the detector alone on one video-sized frame. Results are
recorded in docs/evaluation.md.

    python benchmarks/detectors.py --frame 640x480 --backends ssd video

measures the settings for live video instead: every scene fitted into a 640x480 frame (grey borders), as a
camera would show it, its annotations scaled with it (docs/video.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
import numpy as np

from facemask.classification import MaskClassifier
from facemask.defaults import default_model
from facemask.detection import (
    DEFAULT_CONFIDENCE,
    MTCNNDetector,
    SSDDetector,
    YuNetDetector,
    create_detector,
)
from facemask.errors import run_cli as run
from facemask.evaluation import (
    AnnotatedFace,
    Scene,
    SceneEvaluation,
    evaluate_scene,
    load_scenes,
    summarize,
)
from facemask.geometry import Box, Detection
from facemask.imageio import letterbox, read_image
from facemask.metadata import MASKED
from facemask.pipeline import MaskPipeline

from benchmarks.ssd_tiles import TiledSSDDetector


class DlibHOG:
    """dlib's HOG + linear SVM frontal face detector (not a backend of the package: measured for comparison)."""

    name = "dlib-hog"

    def __init__(self, upsample: int = 1) -> None:
        import dlib

        self.detector, self.upsample = dlib.get_frontal_face_detector(), upsample

    def detect(self, image) -> list[Detection]:
        height, width = image.shape[:2]
        rects, scores, _ = self.detector.run(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), self.upsample, 0.0)
        return [
            Detection(Box.from_corners(r.left(), r.top(), r.right(), r.bottom(), width, height), float(s))
            for r, s in zip(rects, scores)
        ]


def backends(names: list[str]) -> dict:
    """The detector settings to compare: the tutorial baseline first, then each named backend at its default."""
    settings = {"tutorial ssd-300 @0.5": lambda: SSDDetector(None, 0.5, input_size=300)}
    extra = {
        "yunet single pass @0.5": lambda: YuNetDetector(
            0.5, upscale=1.0, large_face_side=0, box_height_gain=1.0, box_shift_down=0.0
        ),
        "yunet pyramid, raw boxes @0.7": lambda: YuNetDetector(box_height_gain=1.0, box_shift_down=0.0),
        "yunet pyramid @0.6": lambda: YuNetDetector(0.6),
        "yunet pyramid, max 1280 px": lambda: YuNetDetector(max_side=1280),
        "ssd-300 + 3x3 tiles @0.5": lambda: TiledSSDDetector(None, 0.5, input_size=300, tiles=3),
        "ssd-300 + 3x3 tiles @0.8": lambda: TiledSSDDetector(None, 0.8, input_size=300, tiles=3),
        "mtcnn @0.7": lambda: MTCNNDetector(0.7),
        "dlib HOG, upsample 1": DlibHOG,
    }
    video = {
        f"yunet one pass at {side} px @0.7": lambda side=side: YuNetDetector(frame_side=side)
        for side in (320, 448, 640)
    }
    for name in names:
        if name in DEFAULT_CONFIDENCE:
            settings[f"{name} (default) @{DEFAULT_CONFIDENCE[name]}"] = lambda name=name: create_detector(name)
        elif name == "extra":
            settings.update(extra)
        elif name == "video":
            settings.update(video)
    return settings


def fit_into_frame(scene: Scene, image: np.ndarray, size: tuple[int, int]) -> tuple[Scene, np.ndarray]:
    """The scene fitted into a `size` (width, height) frame on grey, and its faces moved with it."""
    frame, scale, left, top = letterbox(image, size, fill=128)
    faces = tuple(
        AnnotatedFace(
            Box(
                round(f.box.x * scale) + left,
                round(f.box.y * scale) + top,
                max(1, round(f.box.w * scale)),
                max(1, round(f.box.h * scale)),
            ),
            f.label,
        )
        for f in scene.faces
    )
    return Scene(scene.name, scene.path, faces), frame


def measure(detector, classifier: MaskClassifier, scenes, images) -> dict:
    """The whole pipeline with `detector` over the scenes (facemask.evaluation), and the detector alone on a
    640x480 frame. The same classifier labels the faces, so only the detector differs."""
    pipeline = MaskPipeline(detector, classifier)
    evaluation = SceneEvaluation()
    pipeline.process(images[0])  # warm-up
    for scene, image in zip(scenes, images):
        evaluate_scene(pipeline, scene, image, evaluation)
    summary = summarize(evaluation)
    recall = summary["detector_recall"]
    frame = cv2.resize(images[0], (640, 480))
    start = time.perf_counter()
    for _ in range(10):
        detector.detect(frame)
    return {
        "recall": recall["overall"]["recall"],
        "masked": recall["per_label"][MASKED]["recall"],
        "small": recall["per_size"]["< 20 px"]["recall"],
        "false": summary["false_detections"]["count"],
        "per_image": summary["false_detections"]["per_image"],
        "tnr": summary["tnr"],
        "fnr": summary["fnr"],
        "seconds": summary["seconds_per_image"],
        "frame": (time.perf_counter() - start) / 10,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenes", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "scenes-dev"
    )
    parser.add_argument(
        "--backends",
        nargs="+",
        default=["yunet", "ssd", "mtcnn", "extra"],
        help="backends to compare after the baseline ('extra': further settings of the study; "
        "'video': YuNet's one-pass settings for live video)",
    )
    parser.add_argument("--model", type=Path, default=default_model(), help="the mask classifier")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table (benchmarks/regenerate.py)")
    parser.add_argument("--frame", default=None, help="fit every scene into a frame of this size first, e.g. 640x480")
    args = parser.parse_args(argv)
    scenes = load_scenes(args.scenes)
    images = [read_image(scene.path) for scene in scenes]
    if args.frame:
        size = tuple(int(n) for n in args.frame.lower().split("x"))
        scenes, images = zip(*(fit_into_frame(scene, image, size) for scene, image in zip(scenes, images)))
    description = f"{len(images)} images, {sum(len(s.faces) for s in scenes)} faces from {args.scenes}" + (
        f", each fitted into a {args.frame} frame" if args.frame else ""
    )
    classifier = MaskClassifier(args.model)
    columns = [
        "recall",
        "masked",
        "< 20 px",
        "false det.",
        "per image",
        "TNR",
        "FNR",
        "s/image",
        "x tutorial",
        "s/640x480",
    ]
    if args.markdown:
        print(f"{description}; classifier `{args.model.name}` at threshold {classifier.unmasked_threshold}.\n")
        print("| backend and setting | " + " | ".join(columns) + " |\n| --- |" + " ---: |" * len(columns))
    else:
        print(description)
        print(
            f"{'backend':<30}{'recall':>7}{'masked':>7}{'<20px':>7}{'false':>6}{'/image':>7}{'TNR':>7}{'FNR':>7}"
            f"{'s/image':>9}{'x base':>8}{'s/640x480':>10}"
        )
    baseline = None
    for name, make in backends(args.backends).items():
        result = measure(make(), classifier, scenes, images)
        baseline = baseline or result["seconds"]
        if args.markdown:
            values = [
                f"{result['recall']:.3f}",
                f"{result['masked']:.3f}",
                f"{result['small']:.3f}",
                str(result["false"]),
                f"{result['per_image']:.2f}",
                f"{result['tnr']:.3f}",
                f"{result['fnr']:.3f}",
                f"{result['seconds']:.3f}",
                f"{result['seconds'] / baseline:.1f}",
                f"{result['frame']:.3f}",
            ]
            print(f"| {name} | " + " | ".join(values) + " |", flush=True)
            continue
        print(
            f"{name:<30}{result['recall']:>7.3f}{result['masked']:>7.3f}{result['small']:>7.3f}{result['false']:>6}"
            f"{result['per_image']:>7.2f}{result['tnr']:>7.3f}{result['fnr']:>7.3f}{result['seconds']:>9.3f}"
            f"{result['seconds'] / baseline:>8.1f}{result['frame']:>10.3f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
