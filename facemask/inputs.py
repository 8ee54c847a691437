"""Which images a run reads (the batch engines, and MaskPipeline.predict): one file, a folder (recursively), a glob
pattern, or a text file of paths.

A path list has one image path per line (blank lines and lines starting with `#` are skipped; relative paths are
taken from the current folder, as a shell would). Its entries are not checked here: a missing or unreadable entry
becomes that image's error result, and the run goes on. Splitting such a list is how a job is sharded over
machines without Ray (docs/batch.md).
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from facemask.errors import FacemaskError
from facemask.imageio import list_images

GLOB_CHARACTERS = frozenset("*?[")


@dataclass(frozen=True)
class ImageInputs:
    """The images of a run, in the order they are processed, and the folder their annotated copies mirror
    (`base`: relative paths under an --output folder are taken from it)."""

    paths: list[Path]
    base: Path


def is_glob(pattern: str) -> bool:
    """Whether `pattern` holds glob characters (`*`, `?`, `[`)."""
    return any(character in GLOB_CHARACTERS for character in pattern)


def expand_glob(pattern: str) -> list[Path]:
    """Every image file the pattern matches (`**` crosses folders), sorted; an error if none does."""
    found = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
    if not found:
        raise FacemaskError(f"no files match the pattern: {pattern}")
    return found


def read_path_list(list_file: str | Path) -> list[Path]:
    """The image paths listed in a text file, one per line, in file order (see the module docstring)."""
    list_file = Path(list_file)
    try:
        text = list_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FacemaskError(f"no such path list: {list_file}") from None
    except IsADirectoryError:
        raise FacemaskError(f"path list is a folder, expected a text file: {list_file}") from None
    except UnicodeDecodeError:
        raise FacemaskError(f"path list is not UTF-8 text: {list_file}") from None
    except OSError as error:
        raise FacemaskError(f"cannot read {list_file}: {error.strerror or error}") from None
    paths = [Path(line.strip()) for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not paths:
        raise FacemaskError(f"path list names no images: {list_file}")
    return paths


def _common_folder(paths: list[Path]) -> Path:
    parents = {str(path.parent.absolute()) for path in paths}
    try:
        return Path(os.path.commonpath(sorted(parents)))
    except ValueError:  # paths on different drives (Windows): no common folder
        return Path(".")


def resolve_batch_inputs(image: str | Path | None = None, path_list: str | Path | None = None) -> ImageInputs:
    """The images named by `image` (a file, a folder, or a glob pattern) or by `path_list` (a text file of
    paths); exactly one of them."""
    if (image is None) == (path_list is None):
        raise FacemaskError("give either an image, folder or pattern, or a path list")
    if path_list is not None:
        paths = read_path_list(path_list)
        return ImageInputs(paths, _common_folder(paths))
    assert image is not None  # exactly one of the two was given
    image = Path(image)
    if image.is_dir():
        return ImageInputs(list_images(image), image)
    if image.exists():
        return ImageInputs([image], image.parent)
    if is_glob(str(image)):
        paths = expand_glob(str(image))
        return ImageInputs(paths, _common_folder(paths))
    raise FacemaskError(f"no such file or folder: {image}")
