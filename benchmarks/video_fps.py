#!/usr/bin/env python3
"""Frames per second of live monitoring: the tutorial's loop against the project's, in one process.

    python benchmarks/video_fps.py

Builds a 640x480 test video from real annotated photos (scenes with 1 to 4 faces, each shown for a while, as
people standing in front of a camera), then times on it:
- the tutorial's loop: width-400 resize, res10 SSD on a 300x300 blob, Keras `model.predict` on the frame's faces,
  boxes drawn, frames read on the main thread;
- the project's loop (facemask.video.monitor, the code behind detect_mask_video.py) in several settings: its
  default detector (YuNet, one pass at 320 px) or the SSD, Keras compiled call or TFLite, every face classified
  in every frame or tracked faces re-classified every N frames, frames read on a thread or not.
Every loop draws its annotations and opens no window. Prints FPS, faces seen per frame and the ratio to the
tutorial's loop, and frames per CPU second (frames / the user + system CPU time the process used meanwhile): on a
machine loaded by other work the FPS falls with the load while the frames per CPU second hardly change. A .keras
model is exported to TFLite (float32 and int8) in a temporary folder first. Last, whole processes with their
start-up: the tutorial's (TensorFlow, .keras) and detect_mask_video.py on its defaults.
"""

from __future__ import annotations

import argparse
import functools
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

import cv2
import imutils
import numpy as np

from facemask.classification import MaskClassifier
from facemask.defaults import VIDEO_DETECTION_SIZE as VIDEO_FRAME_SIDE, VIDEO_DETECTOR, default_keras_model
from facemask.detection import DETECTORS, create_detector, locate_ssd_files
from facemask.errors import FacemaskError, run_cli as run
from facemask.evaluation import load_scenes
from facemask.export import export_path, export_tflite
from facemask.imageio import letterbox, read_image
from facemask.metadata import MASKED, read_metadata
from facemask.pipeline import MaskPipeline
from facemask.runtime import import_tensorflow
from facemask.video import FileSource, MonitorSettings, monitor

SIZE = (640, 480)


def build_video(scenes_dir: Path, path: Path, slide_count: int, frames_each: int) -> tuple[int, int]:
    """Write the test video: `slide_count` slides of `frames_each` frames, cycling through one single-face
    scene, one three-face scene, two single-face scenes side by side and a single-face scene beside a three-face
    one (1, 3, 2 and 4 annotated faces). Returns the frame count and the number of annotated faces shown."""
    singles, triples = [], []
    for scene in load_scenes(scenes_dir):
        image = read_image(scene.path)
        narrowest = min(face.box.w for face in scene.faces) * min(SIZE[0] / image.shape[1], SIZE[1] / image.shape[0])
        if len(scene.faces) == 1 and narrowest >= 80:
            singles.append(image)
        elif len(scene.faces) == 3 and narrowest >= 40:
            triples.append(image)
    if len(singles) < 4 or len(triples) < 2:
        raise FacemaskError(f"not enough single- and three-face scenes in {scenes_dir}")
    layouts = [((singles, 1),), ((triples, 1),), ((singles, 2),), ((singles, 1), (triples, 1))]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, SIZE)
    used = {id(singles): 0, id(triples): 0}
    faces = 0
    for slide in range(slide_count):
        pictures = []
        for pool, count in layouts[slide % len(layouts)]:
            for _ in range(count):
                pictures.append(pool[used[id(pool)] % len(pool)])
                used[id(pool)] += 1
                faces += 1 if pool is singles else 3
        column = SIZE[0] // len(pictures)
        frame = np.hstack([letterbox(picture, (column, SIZE[1]))[0] for picture in pictures])
        for _ in range(frames_each):
            writer.write(frame)
    writer.release()
    return slide_count * frames_each, faces


def milliseconds_per_call(call, repeats: int = 15) -> float:
    """Median wall time of `call()` in milliseconds, after two untimed calls."""
    call(), call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times))


def component_timings(
    frame: np.ndarray, detector, mask_net, classifiers: dict[str, MaskClassifier]
) -> list[tuple[str, float]]:
    """What each part of a frame's work costs (median ms per call): the detector, and each way of classifying 1 or
    4 faces."""
    timings = [
        (
            f"face detector {detector.name}, as the project loop runs it",
            milliseconds_per_call(lambda: detector.detect(frame)),
        )
    ]
    for name in DETECTORS:
        other = create_detector(name)
        timings.append(
            (
                f"face detector {name}, image settings",
                milliseconds_per_call(lambda other=other: other.detect(frame), repeats=3),
            )
        )
    for count in (1, 4):
        faces = np.random.default_rng(0).uniform(0, 255, (count, 224, 224, 3)).astype(np.float32)
        calls = {"Keras model.predict": lambda faces=faces: mask_net.predict(faces, batch_size=32, verbose=0)}
        calls.update({name: functools.partial(classifier.predict, faces) for name, classifier in classifiers.items()})
        for name, call in calls.items():
            timings.append((f"{name}, {count} face" + ("s" if count > 1 else ""), milliseconds_per_call(call)))
    return timings


def masked_column(model: Path) -> int:
    """The with_mask column of the model's output, from the class names in its metadata."""
    metadata = read_metadata(model)
    if metadata is None or MASKED not in metadata.class_names:
        raise FacemaskError(f"the model's metadata names no {MASKED} class: {model}")
    return metadata.class_names.index(MASKED)


def tutorial_loop(video: Path, mask_net, confidence: float, masked: int) -> tuple[float, float, float]:
    """The tutorial's detect_mask_video.py loop on a file, without its window: (FPS, faces per frame, frames per
    CPU second of this process). `masked`: the with_mask column of the model's output (its mask probability
    against the likeliest other class, as the tutorial's two-class "Mask" against "No Mask")."""
    prototxt, weights = locate_ssd_files(None)
    face_net = cv2.dnn.readNetFromCaffe(str(prototxt), str(weights))
    mask_net.predict(np.zeros((1, 224, 224, 3), np.float32), verbose=0)  # first-call set-up outside the timing
    capture = cv2.VideoCapture(str(video))
    frames = faces_seen = 0
    start, cpu_start = time.perf_counter(), time.process_time()
    while True:
        grabbed, frame = capture.read()
        if not grabbed:
            break
        frame = imutils.resize(frame, width=400)
        (h, w) = frame.shape[:2]
        face_net.setInput(cv2.dnn.blobFromImage(frame, 1.0, (300, 300), (104.0, 177.0, 123.0)))
        detections = face_net.forward()
        faces, locations = [], []
        for i in range(detections.shape[2]):
            if detections[0, 0, i, 2] > confidence:
                box = detections[0, 0, i, 3:7] * np.array([w, h, w, h])
                (start_x, start_y, end_x, end_y) = box.astype("int")
                (start_x, start_y) = (max(0, start_x), max(0, start_y))
                (end_x, end_y) = (min(w - 1, end_x), min(h - 1, end_y))
                face = frame[start_y:end_y, start_x:end_x]
                if face.size == 0:
                    continue
                face = cv2.resize(cv2.cvtColor(face, cv2.COLOR_BGR2RGB), (224, 224))
                faces.append(face.astype("float32"))  # the model scales 0-255 itself (preprocess_input's job)
                locations.append((start_x, start_y, end_x, end_y))
        predictions = mask_net.predict(np.array(faces), batch_size=32, verbose=0) if faces else []
        for (start_x, start_y, end_x, end_y), row in zip(locations, predictions):
            mask, without_mask = row[masked], max(p for index, p in enumerate(row) if index != masked)
            label = "Mask" if mask > without_mask else "No Mask"
            colour = (0, 255, 0) if label == "Mask" else (0, 0, 255)
            cv2.putText(
                frame,
                f"{label}: {max(mask, without_mask) * 100:.2f}%",
                (start_x, start_y - 10),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.45,
                colour,
                2,
            )
            cv2.rectangle(frame, (start_x, start_y), (end_x, end_y), colour, 2)
        frames += 1
        faces_seen += len(faces)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return frames / elapsed, faces_seen / max(frames, 1), frames / cpu


class PlainSource:
    """Frames read on the calling thread (to measure what the reader thread buys)."""

    def __init__(self, path: Path) -> None:
        self.capture = cv2.VideoCapture(str(path))

    def read(self) -> np.ndarray | None:
        grabbed, frame = self.capture.read()
        return frame if grabbed else None

    def close(self) -> None:
        self.capture.release()


def project_loop(
    video: Path, pipeline: MaskPipeline, classify_every: int, threaded: bool
) -> tuple[float, float, float]:
    """detect_mask_video.py's loop, headless, on a file: (FPS, faces per frame, frames per CPU second)."""
    pipeline.process(np.zeros((SIZE[1], SIZE[0], 3), np.uint8))  # first-call set-up outside the timing
    pipeline.classifier.predict(np.zeros((1, pipeline.classifier.input_size, pipeline.classifier.input_size, 3)))
    cpu_start = time.process_time()
    source = FileSource(str(video)).start() if threaded else PlainSource(video)
    try:
        summary = monitor(pipeline, source, MonitorSettings(classify_every=classify_every))
    finally:
        source.close()
    cpu = time.process_time() - cpu_start
    return summary.fps, summary.faces / max(summary.frames, 1), summary.frames / cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        type=Path,
        default=default_keras_model(),
        help="the .keras classifier (default: the shipped one; it is exported to TFLite here)",
    )
    parser.add_argument(
        "--scenes",
        type=Path,
        default=Path(__file__).resolve().parents[2] / "shared" / "data" / "scenes-dev",
        help="annotated scenes to build the video from",
    )
    parser.add_argument(
        "--detector",
        default=VIDEO_DETECTOR,
        help=f"face detector of the project's loop (default: {VIDEO_DETECTOR}, as the video tool)",
    )
    parser.add_argument(
        "--detection-size",
        type=int,
        default=VIDEO_FRAME_SIDE,
        help=f"the video tool's --detection-size (default: {VIDEO_FRAME_SIDE})",
    )
    parser.add_argument("--slides", type=int, default=12, help="photos or pairs of photos in the video")
    parser.add_argument("--frames-each", type=int, default=20)
    parser.add_argument("--classify-every", type=int, default=5)
    parser.add_argument(
        "--confidence",
        type=float,
        default=None,
        help="the project detector's confidence (default: that detector's default)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="times each loop runs, interleaved (default: 3)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="no component timings, only the tutorial's loop, the two re-classify settings and "
        "the SSD in the project's loop",
    )
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables (benchmarks/regenerate.py)")
    parser.add_argument(
        "--tutorial-process", type=Path, default=None, metavar="VIDEO", help=argparse.SUPPRESS
    )  # internal: the tutorial's whole process on VIDEO, for start-up costs
    args = parser.parse_args(argv)
    if args.tutorial_process is not None:
        return tutorial_process(args.tutorial_process, args.model)

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        video = folder / "scenes_640x480.avi"
        frames, faces = build_video(args.scenes, video, args.slides, args.frames_each)
        description = (
            f"test video: {frames} frames of 640x480, {args.slides} slides of real photos from "
            f"{args.scenes} showing 1 to 4 people ({faces / args.slides:.2f} annotated faces per frame)"
        )
        if not args.markdown:
            print(description, flush=True)
        tflite = export_path(folder / args.model.name, "float32")
        int8 = export_path(folder / args.model.name, "int8")
        export_tflite(args.model, {"float32": tflite} if args.quick else {"float32": tflite, "int8": int8})
        detector = create_detector(args.detector, args.confidence, frame_side=args.detection_size)
        classifiers = {"Keras compiled call": MaskClassifier(args.model), "TFLite float32": MaskClassifier(tflite)}
        keras_pipeline = MaskPipeline(detector, classifiers["Keras compiled call"])
        tflite_pipeline = MaskPipeline(detector, classifiers["TFLite float32"])
        ssd_pipeline = MaskPipeline(create_detector("ssd"), classifiers["TFLite float32"])
        import_tensorflow()
        import keras

        mask_net = keras.models.load_model(args.model, compile=False)
        every = args.classify_every
        settings = [
            (
                f"project: TFLite float32, re-classify every {every}, threaded reading (the default model)",
                tflite_pipeline,
                every,
                True,
            ),
            (
                f"project: Keras compiled call, re-classify every {every} (--model mask_detector.keras)",
                keras_pipeline,
                every,
                True,
            ),
            (f"project: res10 SSD 300 instead, TFLite float32, re-classify every {every}", ssd_pipeline, every, True),
        ]
        components: list[tuple[str, float]] = []
        if not args.quick:
            classifiers["TFLite int8"] = MaskClassifier(int8)
            capture = cv2.VideoCapture(str(video))
            capture.set(cv2.CAP_PROP_POS_FRAMES, 3 * args.frames_each)  # the fourth slide: 4 people
            components = component_timings(capture.read()[1], detector, mask_net, classifiers)
            capture.release()
            settings += [
                ("project: Keras compiled call, every face every frame", keras_pipeline, 1, True),
                ("project: TFLite float32, every face every frame", tflite_pipeline, 1, True),
                (
                    "project: TFLite int8, every face every frame",
                    MaskPipeline(detector, classifiers["TFLite int8"]),
                    1,
                    True,
                ),
                (
                    f"project: TFLite float32, re-classify every {every}, frames read on the main thread",
                    tflite_pipeline,
                    every,
                    False,
                ),
            ]
        loops = [
            (
                "tutorial: SSD 300 + Keras model.predict every frame",
                functools.partial(tutorial_loop, video, mask_net, 0.5, masked_column(args.model)),
            )
        ]
        loops += [
            (name, functools.partial(project_loop, video, pipeline, every, threaded))
            for name, pipeline, every, threaded in settings
        ]
        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name, _ in loops}
        for _ in range(args.rounds):  # rounds interleave the loops, so a change in the machine's load hits all
            for name, loop in loops:
                results[name].append(loop())
        processes = {
            "whole process, start-up included: tutorial (TensorFlow import, .keras load, its loop)": [
                sys.executable,
                __file__,
                "--model",
                str(args.model),
                "--tutorial-process",
                str(video),
            ],
            "whole process, start-up included: detect_mask_video.py on its defaults (TFLite, no TensorFlow)": [
                sys.executable,
                str(REPOSITORY / "detect_mask_video.py"),
                "--source",
                str(video),
                "--no-display",
            ],
        }
        for _ in range(args.rounds):
            for name, command in processes.items():
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                started = time.perf_counter()
                subprocess.run(command, check=True, capture_output=True, stdin=subprocess.DEVNULL)
                elapsed = time.perf_counter() - started
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                results.setdefault(name, []).append((frames / elapsed, float("nan"), frames / cpu))
        baseline = float(np.median([fps for fps, _, _ in results[loops[0][0]]]))
        cpu_baseline = float(np.median([per_cpu for _, _, per_cpu in results[loops[0][0]]]))
        if args.markdown:
            print(
                f"{description}; median of {args.rounds} interleaved rounds; detector {detector.name}; "
                f"`{args.model.name}` and its TFLite exports.\n"
            )
            print(
                "| loop | FPS | faces/frame | ratio to the tutorial | frames per CPU second | ratio |\n"
                "| --- | ---: | ---: | ---: | ---: | ---: |"
            )
            for name in results:
                fps = float(np.median([fps for fps, _, _ in results[name]]))
                per_cpu = float(np.median([per_cpu for _, _, per_cpu in results[name]]))
                faces_per_frame = results[name][0][1]
                cells = [
                    name,
                    f"{fps:.1f}",
                    "-" if np.isnan(faces_per_frame) else f"{faces_per_frame:.2f}",
                    f"{fps / baseline:.2f}",
                    f"{per_cpu:.1f}",
                    f"{per_cpu / cpu_baseline:.2f}",
                ]
                if "(the default model)" in name or "detect_mask_video.py on its defaults" in name:
                    cells = [f"**{cell}**" for cell in cells]
                print("| " + " | ".join(cells) + " |")
            if components:
                print("\n| cost of each part, one 640x480 frame with 4 people | ms per call |\n| --- | ---: |")
                for name, ms in components:
                    print(f"| {name} | {ms:.1f} |")
            return 0
        for name, ms in components:
            print(f"{name:<60} {ms:12.1f}")
        print(f"{'loop (median of ' + str(args.rounds) + ' rounds)':<104} {'FPS':>6} {'faces/frame':>11} {'ratio':>6}")
        for name in results:
            fps = float(np.median([fps for fps, _, _ in results[name]]))
            print(f"{name:<104} {fps:6.1f} {results[name][0][1]:11.2f} {fps / baseline:6.2f}", flush=True)
    return 0


def tutorial_process(video: Path, model: Path) -> int:
    """The tutorial as its own process: import TensorFlow, load the .keras model, run its loop on `video`."""
    import_tensorflow()
    import keras

    tutorial_loop(video, keras.models.load_model(model, compile=False), 0.5, masked_column(model))
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
