"""Inference without TensorFlow: the shipped TFLite model is every inference tool's default, gives the `.keras`
model's answers, and neither the image nor the video tool imports TensorFlow on it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from facemask.classification import MaskClassifier
from facemask.evaluation import load_scenes
from facemask.imageio import letterbox, read_image

REPOSITORY = Path(__file__).resolve().parents[1]
HEAVY = ("tensorflow", "keras", "sklearn", "matplotlib", "scipy", "dlib")

# Runs a tool's main() in a fresh interpreter, then reports which heavy modules it had imported.
PROBE = """
import json, sys
from facemask.cli.{module} import main
code = main({argv!r})
print(json.dumps({{"code": code, "heavy": sorted({{m.split(".")[0] for m in sys.modules}} & set({heavy!r}))}}))
"""


def run_probe(module: str, argv: list[str]) -> dict:
    code = PROBE.format(module=module, argv=[str(a) for a in argv], heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPOSITORY,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_image_tool_runs_on_the_default_model_without_tensorflow(scenes_dir: Path, tmp_path: Path):
    photo = next(s.path for s in load_scenes(scenes_dir) if len(s.faces) >= 2)
    probe = run_probe("detect_image", ["--image", photo, "--json", tmp_path / "out.json"])
    assert probe == {"code": 0, "heavy": []}
    assert json.loads((tmp_path / "out.json").read_text())[0]["faces"]


def test_the_video_tool_runs_on_the_default_model_without_tensorflow(scenes_dir: Path, tmp_path: Path):
    video = tmp_path / "two.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (640, 480))
    for scene in [s for s in load_scenes(scenes_dir) if len(s.faces) == 1][:2]:
        frame = letterbox(read_image(scene.path), (640, 480), fill=128)[0]
        for _ in range(5):
            writer.write(frame)
    writer.release()
    probe = run_probe("detect_video", ["--source", video, "--no-display", "--events", tmp_path / "events.jsonl"])
    assert probe == {"code": 0, "heavy": []}


def test_the_front_door_runs_the_pipeline_in_three_lines():
    from facemask import MaskPipeline as FrontDoor, read_image as read

    pipeline = FrontDoor.load()
    result = pipeline.process_image(read(REPOSITORY / "examples" / "two_people.jpg"), "two_people.jpg")
    assert pipeline.classifier.path.suffix == ".tflite"
    # The example is made by scripts/make_examples.py: a synthesized mask on the left face, none on the right.
    faces = sorted(result.faces, key=lambda face: face.box.x)
    assert [face.label for face in faces] == ["with_mask", "without_mask"]


@pytest.mark.slow
def test_the_tflite_default_gives_the_keras_models_answers_on_every_dev_photo(
    scenes_dir: Path, shipped_model, default_pipeline
):
    """Same faces (one detector), same labels, probabilities within 0.01, on every photo of scenes-dev."""
    pipeline = default_pipeline
    keras = MaskClassifier(shipped_model)
    assert keras.unmasked_threshold == pipeline.classifier.unmasked_threshold
    compared, largest = 0, 0.0
    for scene in load_scenes(scenes_dir):
        image = read_image(scene.path)
        detections = pipeline.detector.detect(image)
        crops = pipeline.crops(image, [d.box for d in detections])
        light, heavy = pipeline.classifier.predict(crops), keras.predict(crops)
        for a, b in zip(light, heavy):
            assert a.label == b.label, scene.name
            difference = max(abs(a.probabilities[name] - b.probabilities[name]) for name in a.probabilities)
            assert difference <= 0.01, (scene.name, a, b)
            largest = max(largest, difference)
        compared += len(crops)
    assert compared >= 150  # the detector finds most of the 202 annotated faces, and a few more
    print(f"{compared} faces compared; largest probability difference {largest:.2e}")
