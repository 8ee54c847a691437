#!/usr/bin/env python3
"""Rebuild the example photos in examples/ from public-domain images that installed packages ship.

- astronaut.jpg: NASA portrait of Eileen Collins (public domain), from scikit-image's data.
- grace_hopper.jpg: US Navy portrait of Grace Hopper (public domain), from matplotlib's sample data.
- two_people.jpg: both side by side, the astronaut wearing a mask synthesized by facemask.synthesis.

    python scripts/make_examples.py --force
"""

import argparse
import importlib.util
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
import numpy as np

from facemask.defaults import default_templates
from facemask.detection import create_detector
from facemask.errors import FacemaskError, run_cli as run
from facemask.imageio import check_writable, read_image
from facemask.outputs import write_bytes_atomic
from facemask.synthesis import FaceLandmarker, mask_faces
from facemask.templates import load_templates

REPOSITORY = Path(__file__).resolve().parents[1]


def package_file(package: str, *parts: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FacemaskError(f"package not installed: {package}")
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    if not path.is_file():
        raise FacemaskError(f"file missing from package {package}: {path}")
    return path


def encode_jpeg(image: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rebuild examples/ from public-domain images in installed packages.")
    parser.add_argument("--output", type=Path, default=REPOSITORY / "examples")
    parser.add_argument("--force", action="store_true", help="overwrite the existing examples")
    args = parser.parse_args(argv)
    targets = {
        name: check_writable(args.output / name, args.force)
        for name in ("astronaut.jpg", "grace_hopper.jpg", "two_people.jpg")
    }

    astronaut = read_image(package_file("skimage", "data", "astronaut.png"))
    hopper = read_image(package_file("matplotlib", "mpl-data", "sample_data", "grace_hopper.jpg"))
    search = FaceLandmarker(create_detector("ssd")).find(astronaut)
    if not search.faces:
        raise FacemaskError("no face with landmarks found in the astronaut photo")
    templates = load_templates(default_templates(), ["surgical_blue"])
    masked = mask_faces(astronaut, search.faces, templates, 1, 0.0, np.random.default_rng(7))[0].image
    height = astronaut.shape[0]
    hopper_resized = cv2.resize(
        hopper, (round(hopper.shape[1] * height / hopper.shape[0]), height), interpolation=cv2.INTER_AREA
    )
    write_bytes_atomic(targets["astronaut.jpg"], encode_jpeg(astronaut))
    write_bytes_atomic(targets["grace_hopper.jpg"], encode_jpeg(hopper))
    write_bytes_atomic(targets["two_people.jpg"], encode_jpeg(np.hstack([masked, hopper_resized])))
    print(f"wrote {', '.join(str(p) for p in targets.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
