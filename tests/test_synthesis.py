"""Mask synthesis on real face photos: the mask lands over nose and mouth, follows a tilted head, worn-incorrectly
variants sit lower, inputs stay untouched, and augment_masks.py reports photos with no face."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from facemask.data import read_sources_manifest
from facemask.defaults import DETECTOR as DEFAULT_DETECTOR, default_templates
from facemask.detection import create_detector
from facemask.imageio import read_image
from facemask.synthesis import FaceLandmarker, MaskPainter, Variation, locate_landmark_model, mask_faces
from facemask.templates import INCORRECT_PLACEMENTS, load_templates

REPOSITORY = Path(__file__).resolve().parents[1]
# real unmasked faces: two portraits with background and two tight face crops
PHOTOS = ("461.jpg", "251.jpg", "0_0_lijian_0012.jpg", "0_0_hanxue_0096.jpg")


@pytest.fixture(scope="module")
def landmarker() -> FaceLandmarker:
    return FaceLandmarker(create_detector(DEFAULT_DETECTOR))


@pytest.fixture(scope="module")
def templates():
    return load_templates(default_templates())


@pytest.fixture(scope="module")
def photos(faces_dir) -> dict[str, np.ndarray]:
    return {name: read_image(faces_dir / "without_mask" / name) for name in PHOTOS}


def alpha_at(alpha: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The mask's coverage at each (x, y) point."""
    xs = np.clip(np.round(points[:, 0]).astype(int), 0, alpha.shape[1] - 1)
    ys = np.clip(np.round(points[:, 1]).astype(int), 0, alpha.shape[0] - 1)
    return alpha[ys, xs]


def mask_angle(alpha: np.ndarray) -> float:
    """Direction of the long axis of the mask region, degrees (image y down), from its second moments."""
    moments = cv2.moments((alpha > 0.5).astype(np.uint8), binaryImage=True)
    return float(np.degrees(0.5 * np.arctan2(2 * moments["mu11"], moments["mu20"] - moments["mu02"])))


def test_landmark_model_is_located():
    assert locate_landmark_model().name == "shape_predictor_68_face_landmarks.dat"


def test_every_photo_has_one_face_with_landmarks(landmarker, photos):
    for name, image in photos.items():
        search = landmarker.find(image)
        assert len(search.faces) == 1, name
        face = search.faces[0]
        assert face.points.shape == (68, 2)
        box = face.box
        nose = face.points[30]
        assert box.x <= nose[0] <= box.right and box.y <= nose[1] <= box.bottom, name


def test_mask_covers_nose_and_mouth_not_eyes(landmarker, photos, templates):
    painter, rng = MaskPainter(), np.random.default_rng(0)
    for index, (name, image) in enumerate(photos.items()):
        face = landmarker.find(image).faces[0]
        for template in templates[index::4]:
            masked = painter.paint(image, face, template, "correct", Variation.random(rng), rng)
            label = f"{name} {template.name}"
            assert alpha_at(masked.alpha, face.points[48:68]).min() > 0.5, label  # every mouth landmark
            assert alpha_at(masked.alpha, face.points[30:36]).min() > 0.5, label  # nose tip and nostrils
            eyes = np.array([face.points[36:42].mean(axis=0), face.points[42:48].mean(axis=0)])
            assert alpha_at(masked.alpha, eyes).max() < 0.05, label  # the eyes stay free
            assert alpha_at(masked.alpha, face.points[36:48]).max() < 0.25, label  # at most the soft edge at a lid
            assert alpha_at(masked.alpha, face.points[17:27]).max() < 0.05, label  # nor the brows
            changed = np.any(masked.image != image, axis=2)
            assert np.all(changed[masked.alpha > 0.5]), label


def test_incorrectly_worn_masks_sit_lower(landmarker, photos, templates):
    painter, rng = MaskPainter(), np.random.default_rng(1)
    for name, image in photos.items():
        face = landmarker.find(image).faces[0]
        below = painter.paint(image, face, templates[0], "below_nose", Variation(), rng).alpha
        chin = painter.paint(image, face, templates[0], "on_chin", Variation(), rng).alpha
        tip = painter.paint(image, face, templates[0], "nose_tip", Variation(), rng).alpha
        assert alpha_at(tip, face.points[[28, 29]]).max() < 0.1, name  # bridge of the nose free
        assert alpha_at(tip, face.points[[62, 66, 57]]).min() > 0.5, name  # mouth covered
        assert alpha_at(below, face.points[[30]]).max() < 0.1, name  # nose tip free
        assert alpha_at(below, face.points[[62, 66, 57]]).min() > 0.5, name  # mouth covered
        assert alpha_at(chin, face.points[[30, 51, 62]]).max() < 0.1, name  # nose and upper lip free
        assert alpha_at(chin, face.points[[8]]).min() > 0.5, name  # chin covered


@pytest.mark.parametrize("degrees", [-25, pytest.param(20, marks=pytest.mark.slow)])
def test_tilted_face_gets_a_tilted_mask(landmarker, photos, templates, degrees):
    image = photos["251.jpg"]
    height, width = image.shape[:2]
    # rotate about the face so it stays inside the frame; positive OpenCV angles turn the picture anticlockwise
    face = landmarker.find(image).faces[0]
    centre = tuple(float(v) for v in face.points[30])
    rotated = cv2.warpAffine(
        image, cv2.getRotationMatrix2D(centre, degrees, 1.0), (width, height), borderMode=cv2.BORDER_REFLECT
    )
    tilted = landmarker.find(rotated).faces[0]
    painter, rng = MaskPainter(), np.random.default_rng(2)
    for template in templates[::5]:
        upright = painter.paint(image, face, template, "correct", Variation(), rng).alpha
        turned = painter.paint(rotated, tilted, template, "correct", Variation(), rng).alpha
        measured = mask_angle(turned) - mask_angle(upright)
        assert abs(measured - (-degrees)) < 5.0, (template.name, measured)  # image y points down
        assert abs(tilted.roll_degrees - face.roll_degrees - (-degrees)) < 5.0


def test_painting_leaves_the_input_array_untouched(landmarker, photos, templates):
    image = photos["461.jpg"]
    before = image.copy()
    faces = landmarker.find(image).faces
    versions = mask_faces(image, faces, templates, 3, 0.5, np.random.default_rng(3))
    assert np.array_equal(image, before)
    assert len(versions) == 3 and all(not np.array_equal(v.image, image) for v in versions)


def test_same_seed_same_masks(landmarker, photos, templates):
    image = photos["0_0_lijian_0012.jpg"]
    faces = landmarker.find(image).faces
    first = mask_faces(image, faces, templates, 2, 0.5, np.random.default_rng(7))
    second = mask_faces(image, faces, templates, 2, 0.5, np.random.default_rng(7))
    assert all(np.array_equal(a.image, b.image) and a.placement == b.placement for a, b in zip(first, second))


def no_face_picture() -> np.ndarray:
    """A literal picture with no face in it: smooth random blotches, 200x200."""
    noise = np.random.default_rng(7).integers(0, 256, (10, 10, 3), dtype=np.uint8)
    return cv2.resize(noise, (200, 200), interpolation=cv2.INTER_CUBIC)


def test_a_photo_without_a_face_has_no_faces(landmarker):
    assert landmarker.find(no_face_picture()).faces == []


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def input_folder(tmp_path, faces_dir) -> Path:
    """Three real face photos and one picture with no face in it."""
    folder = tmp_path / "faces"
    folder.mkdir()
    for name in PHOTOS[:3]:
        (folder / name).write_bytes((faces_dir / "without_mask" / name).read_bytes())
    cv2.imwrite(str(folder / "no_face.png"), no_face_picture())
    return folder


@pytest.mark.slow
def test_script_writes_a_dataset_and_reports_the_skipped_photo(run_script, input_folder, tmp_path):
    before = digest(input_folder)
    output = tmp_path / "dataset"
    result = run_script(
        "augment_masks.py",
        "--input",
        input_folder,
        "--output",
        output,
        "--per-face",
        "2",
        "--dataset",
        "--seed",
        "5",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert digest(input_folder) == before  # inputs untouched
    assert "3 faces masked" in result.stdout and "1 images with no face" in result.stdout
    assert sorted(p.name for p in output.iterdir()) == ["sources.csv", "with_mask", "without_mask"]
    assert len(list((output / "with_mask").glob("*.jpg"))) == 6
    sources = read_sources_manifest(output / "sources.csv")  # every image written, with the photo it came from
    assert sorted(sources) == sorted(p.resolve() for p in output.rglob("*") if p.suffix in (".jpg", ".png"))
    for image, source in sources.items():
        assert source.parent == input_folder.resolve() and image.name.startswith(source.stem)
    copies = digest(output / "without_mask")
    assert copies == before  # the originals, byte for byte, including the photo without a face
    for path in (output / "with_mask").glob("*.jpg"):
        assert read_image(path).shape == read_image(input_folder / (path.name.split("_mask")[0] + ".jpg")).shape


@pytest.mark.slow
def test_script_incorrect_class_only_when_asked(run_script, input_folder, tmp_path):
    output = tmp_path / "three"
    result = run_script(
        "augment_masks.py",
        "-i",
        input_folder,
        "-o",
        output,
        "--dataset",
        "--incorrect-fraction",
        "1",
        "--types",
        "surgical",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    incorrect = sorted((output / "mask_worn_incorrectly").glob("*.jpg"))
    assert len(incorrect) == 3 and not list((output / "with_mask").glob("*.jpg"))
    assert all("surgical" in p.name and any(place in p.name for place in INCORRECT_PLACEMENTS) for p in incorrect)


@pytest.mark.slow
def test_script_refuses_bad_requests(run_script, input_folder, tmp_path):
    inside = run_script("augment_masks.py", "-i", input_folder, "-o", input_folder / "out")
    assert inside.returncode == 2 and inside.stderr.strip().startswith("error: output folder must not be inside")
    assert "Traceback" not in inside.stderr and not (input_folder / "out").exists()
    unknown = run_script("augment_masks.py", "-i", input_folder, "-o", tmp_path / "x", "--types", "scarf")
    assert unknown.returncode == 2 and "unknown mask type scarf" in unknown.stderr
    first = run_script("augment_masks.py", "-i", input_folder, "-o", tmp_path / "y", "--quiet")
    assert first.returncode == 0, first.stderr
    again = run_script("augment_masks.py", "-i", input_folder, "-o", tmp_path / "y", "--quiet")
    assert again.returncode == 2 and "use --force" in again.stderr
    assert run_script("augment_masks.py", "-i", input_folder, "-o", tmp_path / "y", "--force", "-q").returncode == 0
