"""detect_mask_image.py run as a user would: real scenes, odd images, bad input, outputs kept safe. The tests that
only need a photo with faces run on the example photos (examples/), so on every clone."""

from __future__ import annotations

import json
import os
import shutil

import cv2
import numpy as np
import pytest
from PIL import Image

from facemask.geometry import Box
from facemask.imageio import read_image
from facemask.metadata import read_metadata
from facemask.pipeline import MaskPipeline
from facemask.settings import CropSettings

from scenes import annotated_faces, single_face_scenes

SCRIPT = "detect_mask_image.py"


def one_line_error(done):
    """The run failed with a single error line and no traceback."""
    return done.returncode != 0 and "Traceback" not in done.stderr and done.stderr.strip().count("\n") == 0


@pytest.fixture(scope="module")
def all_scenes(scenes_dir, tmp_path_factory, run_script):
    """The script over every scene photo, with --json."""
    out = tmp_path_factory.mktemp("all") / "out.json"
    done = run_script(SCRIPT, "--image", scenes_dir / "images", "--json", out)
    return done, json.loads(out.read_text()) if out.exists() else None


@pytest.mark.slow
def test_runs_over_every_scene_in_input_order(all_scenes, scenes_dir):
    done, results = all_scenes
    assert done.returncode == 0, done.stderr
    images = sorted((scenes_dir / "images").glob("*.jpg"))
    assert [r["image"] for r in results] == [str(p) for p in images]
    assert sum(len(r["faces"]) for r in results) >= 0.5 * sum(map(len, annotated_faces(scenes_dir).values()))


@pytest.mark.slow
def test_json_follows_the_documented_format(all_scenes, default_model):
    _, results = all_scenes
    threshold = read_metadata(default_model).unmasked_threshold
    for result in results:
        assert set(result) == {"image", "width", "height", "faces"}
        for face in result["faces"]:
            probabilities = face["probabilities"]
            flagged = 1.0 - probabilities["with_mask"] >= threshold
            x, y, w, h = face["box"]
            assert set(face) == {"box", "score", "label", "probabilities"}
            assert x >= 0 and y >= 0 and w > 0 and h > 0
            assert x + w <= result["width"] and y + h <= result["height"]
            assert set(probabilities) == {"mask_worn_incorrectly", "with_mask", "without_mask"}
            assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-3)
            # a flagged face gets the likelier of the two labels that are not compliant
            worn = probabilities["mask_worn_incorrectly"] > probabilities["without_mask"]
            expected = ("mask_worn_incorrectly" if worn else "without_mask") if flagged else "with_mask"
            assert face["label"] == expected


def test_the_tools_probabilities_are_the_pipelines_on_its_crop(
    example_scenes_dir, tmp_path, run_script, default_pipeline
):
    """The tool's probabilities are the pipeline's on the crop the options ask for (default, or widened squares)."""
    path, _ = single_face_scenes(example_scenes_dir, "without_mask")[0]
    image = read_image(path)
    for option, crop in (([], CropSettings()), (["--crop-margin", "0.2", "--square-crop"], CropSettings(0.2, True))):
        out = tmp_path / f"crop-{crop.margin}.json"
        done = run_script(SCRIPT, "--image", path, "--json", out, *option)
        assert done.returncode == 0, done.stderr
        faces = json.loads(out.read_text())[0]["faces"]
        assert faces
        pipeline = MaskPipeline(default_pipeline.detector, default_pipeline.classifier, crop)
        expected = pipeline.probabilities(image, [Box(*face["box"]) for face in faces])
        names = default_pipeline.classifier.class_names
        reported = np.array([[face["probabilities"][name] for name in names] for face in faces])
        assert np.allclose(reported, expected, atol=1e-3), (option, reported, expected)


def test_annotated_output_and_terminal_lines(example_scenes_dir, tmp_path, run_script):
    path, _ = single_face_scenes(example_scenes_dir, "without_mask")[0]
    done = run_script(SCRIPT, "--image", path, "--output", tmp_path / "annotated.jpg")
    assert done.returncode == 0, done.stderr
    assert "No Mask:" in done.stdout and str(path) in done.stdout
    annotated, original = cv2.imread(str(tmp_path / "annotated.jpg")), cv2.imread(str(path))
    assert annotated.shape == original.shape
    red = (annotated[:, :, 2] > 200) & (annotated[:, :, 1] < 60) & (annotated[:, :, 0] < 60)
    assert red.sum() > red.size * 0.001  # the red box and caption are drawn


def test_a_folder_with_a_broken_file_reports_it_and_goes_on(example_scenes_dir, tmp_path, run_script):
    folder = tmp_path / "in"
    folder.mkdir()
    good = [p for p, _ in single_face_scenes(example_scenes_dir, "without_mask", count=2)]
    assert len(good) == 2
    for path in good:
        shutil.copy(path, folder / path.name)
    (folder / "broken.jpg").write_bytes(good[0].read_bytes()[:3000])
    (folder / "notes.png").write_text("not an image")
    done = run_script(SCRIPT, "--image", folder, "--output", tmp_path / "out", "--json", tmp_path / "r.json")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "broken.jpg" in done.stderr and "notes.png" in done.stderr
    results = json.loads((tmp_path / "r.json").read_text())
    assert [os.path.basename(r["image"]) for r in results] == sorted(p.name for p in good)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in good)


@pytest.mark.slow
def test_odd_images_are_all_handled(example_scenes_dir, tmp_path, run_script):
    path = example_scenes_dir / "images" / "grace_hopper.jpg"  # one face; 512 x 600, so a rotation shows
    photo = cv2.imread(str(path))
    folder = tmp_path / "odd"
    folder.mkdir()
    cv2.imwrite(str(folder / "gray.png"), cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(folder / "alpha.png"), np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)]))
    cv2.imwrite(str(folder / "deep.png"), photo.astype(np.uint16) * 257)
    cv2.imwrite(str(folder / "tiny.png"), cv2.resize(photo, (6, 5)))
    cv2.imwrite(str(folder / "huge.jpg"), cv2.resize(photo, (7000, 7000 * photo.shape[0] // photo.shape[1])))
    rotated = Image.open(path)
    exif = rotated.getexif()
    exif[0x0112] = 8  # shown rotated 90 degrees counter-clockwise
    rotated.save(folder / "exif.jpg", exif=exif)
    done = run_script(SCRIPT, "--image", folder, "--json", tmp_path / "odd.json")
    assert done.returncode == 0, done.stderr
    results = {os.path.basename(r["image"]): r for r in json.loads((tmp_path / "odd.json").read_text())}
    assert set(results) == {"gray.png", "alpha.png", "deep.png", "tiny.png", "huge.jpg", "exif.jpg"}
    assert (results["exif.jpg"]["width"], results["exif.jpg"]["height"]) == (photo.shape[0], photo.shape[1])
    assert results["tiny.png"]["faces"] == []
    for name in ("gray.png", "alpha.png", "deep.png", "huge.jpg", "exif.jpg"):
        assert results[name]["faces"], f"no face found in {name}"


@pytest.mark.slow
def test_existing_outputs_and_inputs_are_never_overwritten(example_scenes_dir, tmp_path, run_script):
    path, _ = single_face_scenes(example_scenes_dir, "without_mask")[0]
    existing = tmp_path / "out.jpg"
    existing.write_bytes(b"keep")
    done = run_script(SCRIPT, "--image", path, "--output", existing)
    assert one_line_error(done) and "--force" in done.stderr and existing.read_bytes() == b"keep"
    assert run_script(SCRIPT, "--image", path, "--output", existing, "--force").returncode == 0
    copy = tmp_path / "photo.jpg"
    shutil.copy(path, copy)
    done = run_script(SCRIPT, "--image", copy, "--output", copy, "--force")
    assert one_line_error(done) and "overwrite an input" in done.stderr
    assert copy.read_bytes() == path.read_bytes()


@pytest.mark.parametrize(
    "problem",
    [
        "missing image",
        "missing model",
        "corrupt model",
        pytest.param("corrupt keras model", marks=pytest.mark.slow),  # TensorFlow
        "bad face folder",
        "threshold out of range",
    ],
)
def test_bad_input_gives_a_one_line_error(example_scenes_dir, tmp_path, run_script, problem):
    image = sorted((example_scenes_dir / "images").glob("*.jpg"))[0]
    args = {
        "missing image": ["--image", tmp_path / "nope.jpg"],
        "missing model": ["--image", image, "--model", tmp_path / "nope.keras"],
        "corrupt model": ["--image", image, "--model", tmp_path / "bad.tflite"],
        "corrupt keras model": ["--image", image, "--model", tmp_path / "bad.keras"],
        "bad face folder": ["--image", image, "--face", tmp_path],
        "threshold out of range": ["--image", image, "--unmasked-threshold", "1.5"],
    }[problem]
    (tmp_path / "bad.keras").write_text("garbage")
    (tmp_path / "bad.tflite").write_text("garbage")
    done = run_script(SCRIPT, *args)
    assert one_line_error(done), done.stderr
    assert str(args[-1]) in done.stderr


def test_show_without_a_display_still_annotates(example_scenes_dir, tmp_path, run_script):
    path, _ = single_face_scenes(example_scenes_dir, "without_mask")[0]
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    done = run_script(SCRIPT, "--image", path, "--show", "--json", "-", env=env)
    assert done.returncode == 0 and "no display" in done.stderr
    assert json.loads(done.stdout)[0]["image"] == str(path)


def test_readme_quick_start_annotates_the_example_photo(repository, tmp_path, run_script):
    """README's example command, on the example photo shipped in the repository (no ../shared needed)."""
    example = repository / "examples" / "two_people.jpg"
    done = run_script(SCRIPT, "--image", example, "--output", tmp_path / "annotated.jpg")
    assert done.returncode == 0, done.stderr
    assert "] Mask:" in done.stdout and "] No Mask:" in done.stdout  # the masked astronaut and Grace Hopper
    assert cv2.imread(str(tmp_path / "annotated.jpg")).shape == cv2.imread(str(example)).shape
