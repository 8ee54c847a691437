"""Reading images of every kind a user may give, listing them, and writing outputs safely."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from facemask.errors import FacemaskError
from facemask.imageio import check_writable, letterbox, list_images, read_image, resolve_inputs, write_image_atomic
from facemask.outputs import write_json_atomic


def picture(width: int = 180, height: int = 120) -> np.ndarray:
    """A literal BGR picture with no symmetry (colour ramps, a bright block off centre), so a rotation, a flip or a
    channel swap shows."""
    ramp_x = np.linspace(0, 255, width, dtype=np.float32)[None, :].repeat(height, axis=0)
    ramp_y = np.linspace(0, 255, height, dtype=np.float32)[:, None].repeat(width, axis=1)
    image = np.dstack([ramp_x, ramp_y, 255 - ramp_x]).astype(np.uint8)
    image[height // 5 : height // 2, width // 6 : width // 3] = (20, 220, 250)
    return image


@pytest.fixture
def scene(tmp_path_factory):
    """A JPEG photo written from a literal picture (reading, converting and writing need no real scene)."""
    path = tmp_path_factory.mktemp("input") / "photo.jpg"
    assert cv2.imwrite(str(path), picture(), [cv2.IMWRITE_JPEG_QUALITY, 95])
    return path


def test_reads_a_jpeg_as_8bit_bgr(scene):
    image = read_image(scene)
    reference = cv2.imread(str(scene))
    assert image.dtype == np.uint8 and image.shape == reference.shape
    assert np.array_equal(image, reference)


def test_grayscale_becomes_three_equal_channels(scene, tmp_path):
    gray = cv2.cvtColor(cv2.imread(str(scene)), cv2.COLOR_BGR2GRAY)
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    image = read_image(tmp_path / "gray.png")
    assert image.shape == (*gray.shape, 3)
    assert np.array_equal(image[:, :, 0], gray) and np.array_equal(image[:, :, 2], gray)


def test_alpha_is_composited_over_white(scene, tmp_path):
    bgr = cv2.imread(str(scene))
    alpha = np.full(bgr.shape[:2], 255, np.uint8)
    alpha[:, : bgr.shape[1] // 2] = 0
    cv2.imwrite(str(tmp_path / "alpha.png"), np.dstack([bgr, alpha]))
    image = read_image(tmp_path / "alpha.png")
    assert image.shape == bgr.shape
    assert (image[:, : bgr.shape[1] // 2] == 255).all()
    assert np.array_equal(image[:, bgr.shape[1] // 2 :], bgr[:, bgr.shape[1] // 2 :])


def test_16_bit_is_scaled_to_8_bit(scene, tmp_path):
    bgr = cv2.imread(str(scene))
    cv2.imwrite(str(tmp_path / "deep.png"), bgr.astype(np.uint16) * 257)
    image = read_image(tmp_path / "deep.png")
    assert image.dtype == np.uint8 and np.array_equal(image, bgr)


def test_exif_orientation_is_applied(scene, tmp_path):
    photo = Image.open(scene)
    exif = photo.getexif()
    exif[0x0112] = 6  # stored sideways, to be shown rotated 90 degrees clockwise
    photo.save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    image = read_image(tmp_path / "rotated.jpg")
    assert image.shape[:2] == (photo.width, photo.height)
    stored = cv2.imread(str(tmp_path / "rotated.jpg"), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    assert np.abs(image.astype(int) - cv2.rotate(stored, cv2.ROTATE_90_CLOCKWISE).astype(int)).mean() < 1


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"", "empty file"),
        (b"this is not an image\n", "not an image"),
    ],
)
def test_bad_files_raise_an_error_naming_the_path(tmp_path, content, problem):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(FacemaskError, match=problem) as raised:
        read_image(path)
    assert str(path) in str(raised.value)


def test_truncated_jpeg_is_reported(scene, tmp_path):
    data = scene.read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(FacemaskError, match="truncated"):
        read_image(tmp_path / "cut.jpg")


def test_missing_file_and_empty_folder(tmp_path):
    with pytest.raises(FacemaskError, match="no such"):
        read_image(tmp_path / "missing.jpg")
    with pytest.raises(FacemaskError, match="no such file or folder"):
        resolve_inputs(tmp_path / "missing")
    with pytest.raises(FacemaskError, match="no images found"):
        list_images(tmp_path)


def test_listing_is_sorted_and_recursive(tmp_path):
    for name in ("b.jpg", "a.png", "sub/c.JPG", "sub/deeper/d.jpeg"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / name), picture(8, 8))
    (tmp_path / "notes.txt").write_text("not an image")
    images = list_images(tmp_path)
    assert [image.relative_to(tmp_path).as_posix() for image in images] == sorted(
        ["a.png", "b.jpg", "sub/c.JPG", "sub/deeper/d.jpeg"]
    )


def test_outputs_are_not_overwritten_without_force(tmp_path):
    existing = tmp_path / "out.json"
    existing.write_text("keep me")
    with pytest.raises(FacemaskError, match="--force"):
        check_writable(existing, force=False)
    assert check_writable(existing, force=True) == existing
    with pytest.raises(FacemaskError, match="folder does not exist"):
        check_writable(tmp_path / "nowhere" / "out.json", force=False)


def test_atomic_writes_leave_only_the_result(scene, tmp_path):
    write_image_atomic(tmp_path / "copy.png", read_image(scene))
    write_json_atomic(tmp_path / "result.json", {"ok": True})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.png", "result.json"]
    assert np.array_equal(cv2.imread(str(tmp_path / "copy.png")), read_image(scene))
    with pytest.raises(FacemaskError, match="extension"):
        write_image_atomic(tmp_path / "copy.xyz", read_image(scene))
    assert not list(tmp_path.glob(".*"))


def test_letterbox_fits_a_photo_into_a_frame_without_distorting_it(scene):
    image = read_image(scene)
    frame, scale, left, top = letterbox(image, (640, 480), fill=128)
    height, width = round(image.shape[0] * scale), round(image.shape[1] * scale)
    assert frame.shape == (480, 640, 3) and (width == 640 or height == 480) and width <= 640 and height <= 480
    assert (left, top) == ((640 - width) // 2, (480 - height) // 2)
    picture = frame[top : top + height, left : left + width]
    expected = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    assert np.array_equal(picture, expected)
    border = np.ones(frame.shape[:2], bool)
    border[top : top + height, left : left + width] = False
    assert (frame[border] == 128).all()
