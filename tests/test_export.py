"""export_tflite.py on the shipped model: float32 and int8 exports, their accuracy on the dev scenes, and the
scripts running them."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import cv2
import pytest

from facemask.defaults import CLASSIFY_EVERY
from facemask.evaluation import load_scenes
from facemask.imageio import read_image
from facemask.metadata import metadata_path
from facemask.video import DecisionSettings

from test_video import look_frames

# Every test here needs the export script's run (TensorFlow start-up and two conversions): minutes on 2 cores.
pytestmark = pytest.mark.slow


def widest_unmasked_single_face(scenes_dir):
    """The annotated scene with one face, unmasked, the widest such face."""
    singles = [
        scene for scene in load_scenes(scenes_dir) if len(scene.faces) == 1 and scene.faces[0].label == "without_mask"
    ]
    return max(singles, key=lambda scene: scene.faces[0].box.w)


@pytest.fixture(scope="module")
def exported(shipped_model, scenes_dir, run_script, tmp_path_factory):
    """One run of the export script into a fresh folder, measuring every model on the dev scenes."""
    folder = tmp_path_factory.mktemp("export")
    result = run_script("export_tflite.py", "--model", shipped_model, "--output-dir", folder, "--scenes", scenes_dir)
    assert result.returncode == 0, result.stderr
    stem = shipped_model.stem
    return result, folder / f"{stem}_float32.tflite", folder / f"{stem}_int8.tflite"


def test_both_exports_are_written_with_their_class_names(exported, shipped_model):
    _, float32, int8 = exported
    shipped_classes = json.loads(metadata_path(shipped_model).read_text())["class_names"]
    for model, quantization in ((float32, "float32"), (int8, "int8")):
        sidecar = json.loads(metadata_path(model).read_text())
        assert sidecar["class_names"] == shipped_classes
        assert sidecar["export"]["quantization"] == quantization
        assert not list(model.parent.glob(f".{model.stem}*")), "temporary file left behind"
    assert int8.stat().st_size < float32.stat().st_size / 2  # int8 weights: a quarter of float32's


def test_accuracy_of_each_export_on_the_dev_scenes(exported, shipped_model, scenes_dir):
    result, float32, int8 = exported
    faces = sum(len(scene.faces) for scene in load_scenes(scenes_dir))
    measured = {
        name: (int(correct), int(total))
        for name, correct, total in re.findall(r"^\s+(\S+): \d\.\d+ \((\d+)/(\d+)\)$", result.stdout, re.MULTILINE)
    }
    assert set(measured) == {str(shipped_model), str(float32), str(int8)}, result.stdout
    assert {total for _, total in measured.values()} == {faces}
    keras_correct = measured[str(shipped_model)][0]
    assert abs(measured[str(float32)][0] - keras_correct) <= 0.01 * faces  # float32 conversion keeps the model
    assert abs(measured[str(int8)][0] - keras_correct) <= 0.05 * faces  # int8 weights cost little


def test_image_script_gives_the_same_answer_with_a_tflite_model(exported, shipped_model, scenes_dir, run_script):
    _, float32, int8 = exported
    scene = widest_unmasked_single_face(scenes_dir)
    answers = {}
    for model in (shipped_model, float32, int8):
        result = run_script("detect_mask_image.py", "--image", scene.path, "--model", model, "--json", "-")
        assert result.returncode == 0, result.stderr
        answers[model] = json.loads(result.stdout)[0]["faces"]
    reference = answers[shipped_model]
    assert reference, f"no face found in {scene.path}"
    for model in (float32, int8):
        assert [face["box"] for face in answers[model]] == [face["box"] for face in reference]
        assert [face["label"] for face in answers[model]] == [face["label"] for face in reference]
    for ours, theirs in zip(answers[float32], reference):
        for name, probability in theirs["probabilities"].items():
            assert ours["probabilities"][name] == pytest.approx(probability, abs=2e-3)


def test_a_tflite_model_runs_without_tensorflow(exported, repository):
    _, float32, _ = exported
    code = (
        "import sys, numpy; from facemask.classification import MaskClassifier; "
        f"c = MaskClassifier({str(float32)!r}); c.predict(numpy.zeros((2, c.input_size, c.input_size, 3))); "
        "print('tensorflow' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=repository)
    assert result.stdout.strip() == "False", result.stderr
    assert result.stderr == "", "LiteRT's start-up chatter reached the terminal"


def test_video_script_runs_an_int8_model(exported, scenes_dir, run_script, tmp_path):
    _, _, int8 = exported
    scene = widest_unmasked_single_face(scenes_dir)
    image = read_image(scene.path)
    frame = cv2.resize(image, (640, 640 * image.shape[0] // image.shape[1]))
    video = tmp_path / "person.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (frame.shape[1], frame.shape[0]))
    for _ in range(15):
        writer.write(frame)
    writer.release()
    events = tmp_path / "events.jsonl"
    result = run_script("detect_mask_video.py", "--source", video, "--model", int8, "--events", events, "--no-display")
    assert result.returncode == 0, result.stderr
    assert "15 frames" in result.stdout
    # one person, unmasked in every frame: the event comes with the look that settles the call (the third, by the
    # decision's default), at the frame the tracker's schedule takes it
    looks = DecisionSettings().looks
    expected = look_frames(looks, CLASSIFY_EVERY)[looks - 1]
    assert [json.loads(line)["frame"] for line in events.read_text().splitlines()] == [expected]


def test_existing_exports_are_not_overwritten_and_only_keras_models_export(
    exported, shipped_model, run_script, tmp_path
):
    _, float32, _ = exported
    before = float32.read_bytes()
    result = run_script("export_tflite.py", "--model", shipped_model, "--output-dir", float32.parent)
    assert result.returncode == 2 and "output exists (use --force to overwrite)" in result.stderr
    assert float32.read_bytes() == before
    for model, message in (
        (float32, "only a .keras model can be exported"),
        (tmp_path / "missing.keras", "model file not found"),
    ):
        result = run_script("export_tflite.py", "--model", model, "--output-dir", tmp_path)
        assert result.returncode == 2 and message in result.stderr.strip().splitlines()[-1]
    assert list(tmp_path.iterdir()) == []
