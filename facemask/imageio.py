"""Reading images of any kind OpenCV reads, listing them, and writing them (atomically, via facemask.outputs)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facemask.errors import FacemaskError
from facemask.outputs import os_error, write_bytes_atomic
from facemask.runtime import quiet_native_stderr

_JPEG_MAGIC = b"\xff\xd8\xff"
_JPEG_END = b"\xff\xd9"


def list_images(folder: str | Path) -> list[Path]:
    """All image files under `folder` (recursively), sorted by path; an error if there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FacemaskError(f"not a folder: {folder}")
    from imutils import paths  # here: imutils pulls in urllib and http, which a run on one photo does without

    images = sorted(Path(p) for p in paths.list_images(str(folder)))
    if not images:
        raise FacemaskError(f"no images found in folder: {folder}")
    return images


def resolve_inputs(path: str | Path) -> list[Path]:
    """The images named by `path`: the file itself, or every image in the folder."""
    path = Path(path)
    if path.is_dir():
        return list_images(path)
    if not path.exists():
        raise FacemaskError(f"no such file or folder: {path}")
    return [path]


def _to_bgr8(image: np.ndarray) -> np.ndarray:
    """Any decoded image (gray, BGR, BGRA; 8, 16 bit or float) as 3-channel 8-bit BGR, alpha over white."""
    if image.dtype == np.uint16:
        image = (image / 257.0).round().astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image.astype(np.float32) * (255.0 if image.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        white = np.full_like(image[:, :, :3], 255, dtype=np.float32)
        return (image[:, :, :3] * alpha + white * (1.0 - alpha)).round().astype(np.uint8)
    if image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return image


def as_bgr8(image: object, name: str) -> np.ndarray:
    """A decoded image given as an array (gray, BGR or BGRA; 8 or 16 bit, or float) as contiguous 3-channel
    8-bit BGR, converted as `read_image` converts files; a one-line error naming `name` for anything else."""
    if not isinstance(image, np.ndarray):
        raise FacemaskError(f"expected an image path or array, got {type(image).__name__}: {name}")
    kind = f"shape {tuple(image.shape)}, {image.dtype}"
    numeric = np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)
    if (
        image.size == 0
        or image.ndim not in (2, 3)
        or (image.ndim == 3 and image.shape[2] not in (1, 3, 4))
        or not numeric
        or image.dtype == np.bool_
    ):
        raise FacemaskError(f"expected an image array (height x width, with 1, 3 or 4 channels), got {kind}: {name}")
    if np.issubdtype(image.dtype, np.floating) and not np.isfinite(image).all():
        raise FacemaskError(f"image array holds NaN or infinite values: {name}")
    return np.ascontiguousarray(_to_bgr8(image))


def read_image(path: str | Path) -> np.ndarray:
    """The image at `path` as 8-bit BGR, upright as a viewer shows it (EXIF orientation applied).

    Grayscale, 16-bit and images with alpha (composited over white) are converted; a missing, unreadable,
    truncated or non-image file raises FacemaskError naming the path.
    """
    path = Path(path)
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except (FileNotFoundError, IsADirectoryError):
        raise FacemaskError(f"no such image file: {path}") from None
    except OSError as error:
        raise os_error(error, path, "cannot read") from None
    # libpng and libjpeg print their own complaints about a corrupt file; the error says it in one line. (Only
    # here: redirecting the process's stderr is not safe in the threads of a server that decodes uploads.)
    with quiet_native_stderr():
        return decode_image(data.tobytes(), str(path))


def decode_image(raw: bytes, name: str) -> np.ndarray:
    """An encoded image (the bytes of a file, an upload) decoded as `read_image` reads files; errors name `name`."""
    if not raw:
        raise FacemaskError(f"empty file: {name}")
    data = np.frombuffer(raw, dtype=np.uint8)
    if raw.startswith(_JPEG_MAGIC) and _JPEG_END not in raw[-64:]:
        raise FacemaskError(f"truncated JPEG image: {name}")
    try:
        if raw.startswith(_JPEG_MAGIC):
            image = cv2.imdecode(data, cv2.IMREAD_COLOR)  # applies EXIF orientation
        else:
            image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
            if image is not None and image.ndim == 3 and image.shape[2] != 4:
                image = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)  # EXIF orientation
    except cv2.error as error:
        raise FacemaskError(f"cannot decode image {name}: {error.err}") from None
    if image is None or image.size == 0:
        raise FacemaskError(f"not an image or corrupt image file: {name}")
    return _to_bgr8(image)


def check_writable(path: str | Path, force: bool) -> Path:
    """`path` as an output: its folder must exist and it must not exist already unless `force`."""
    path = Path(path)
    if path.exists() and not force:
        raise FacemaskError(f"output exists (use --force to overwrite): {path}")
    if path.is_dir():
        raise FacemaskError(f"output is a folder, expected a file: {path}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        problem = "is a file, not a folder" if parent.exists() else "does not exist"
        raise FacemaskError(f"output folder {problem}: {parent}")
    return path


def make_folder(path: str | Path) -> Path:
    """Create the output folder `path` (and its parents) if needed; a one-line error where that cannot be done (a
    file in the way, no permission)."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise FacemaskError(f"output folder is a file, not a folder: {path}") from None
    except OSError as error:
        raise os_error(error, path, "cannot create the output folder") from None
    return path


def letterbox(image: np.ndarray, size: tuple[int, int], fill: int = 0) -> tuple[np.ndarray, float, int, int]:
    """`image` scaled to fit a `size` (width, height) frame, centred on a `fill` grey level, as a camera frame
    would show a photo: the frame, the scale, and the picture's left and top offsets in the frame."""
    scale = min(size[0] / image.shape[1], size[1] / image.shape[0])
    resized = cv2.resize(
        image,
        (round(image.shape[1] * scale), round(image.shape[0] * scale)),
        interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
    )
    frame = np.full((size[1], size[0], 3), fill, np.uint8)
    top, left = (size[1] - resized.shape[0]) // 2, (size[0] - resized.shape[1]) // 2
    frame[top : top + resized.shape[0], left : left + resized.shape[1]] = resized
    return frame, scale, left, top


def encode_image(path: str | Path, image: np.ndarray) -> bytes:
    """`image` encoded in the format the extension of `path` names (PNG without one)."""
    path = Path(path)
    extension = path.suffix.lower() or ".png"
    try:
        ok, encoded = cv2.imencode(extension, image)
    except cv2.error:
        ok = False
    if not ok:
        raise FacemaskError(f"cannot write an image with extension {extension!r}: {path}")
    return encoded.tobytes()


def write_image_atomic(path: str | Path, image: np.ndarray) -> None:
    """Encode `image` in the format its extension names and write it atomically."""
    write_bytes_atomic(path, encode_image(path, image))
