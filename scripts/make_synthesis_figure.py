#!/usr/bin/env python3
"""Draw the README figure of synthesized masks: real unmasked faces from ../shared, then the same face wearing a
surgical mask, a respirator, a cloth mask and a mask worn incorrectly.

    python scripts/make_synthesis_figure.py --faces ../shared/data/faces/without_mask --force
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
import numpy as np

from facemask.classification import crop_face
from facemask.defaults import default_templates
from facemask.detection import create_detector
from facemask.errors import FacemaskError, run_cli as run
from facemask.geometry import Box
from facemask.imageio import check_writable, read_image
from facemask.outputs import write_bytes_atomic
from facemask.synthesis import FaceLandmarker, MaskPainter, Variation
from facemask.templates import load_templates

REPOSITORY = Path(__file__).resolve().parents[1]
FACES = ("251.jpg", "461.jpg", "0_0_lijian_0012.jpg", "107.jpg", "1_0_aidai_0138.jpg", "augmented_image_148.jpg")
COLUMNS = (
    ("surgical", "correct"),
    ("kn95", "correct"),
    ("n95", "correct"),
    ("cloth", "correct"),
    ("cloth", "below_nose"),
    ("surgical", "on_chin"),
)
TILE = 150


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Draw the grid of synthesized masks shown in the README.")
    parser.add_argument("--faces", type=Path, default=REPOSITORY.parent / "shared" / "data" / "faces" / "without_mask")
    parser.add_argument("--output", type=Path, default=REPOSITORY / "docs" / "images" / "synthesized_masks.jpg")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    check_writable(args.output, args.force)
    templates = load_templates(default_templates())
    landmarker, painter = FaceLandmarker(create_detector("ssd", 0.5)), MaskPainter()
    rng = np.random.default_rng(args.seed)
    rows = []
    for row, name in enumerate(FACES):
        image = read_image(args.faces / name)
        faces = landmarker.find(image).faces
        if not faces:
            raise FacemaskError(f"no face found in {args.faces / name}")
        face = faces[0]
        x0, y0 = face.points.min(axis=0)
        x1, y1 = face.points.max(axis=0)
        height, width = image.shape[:2]
        side = int(min(1.25 * max(x1 - x0, y1 - y0), width, height))  # a square around the face, inside the photo
        left = int(np.clip((x0 + x1 - side) / 2, 0, width - side))
        top = int(np.clip((y0 + y1 - side) / 2 - 0.1 * side, 0, height - side))
        box = Box(left, top, side, side)
        tiles = [image]
        for kind, placement in COLUMNS:
            choices = [t for t in templates if t.kind == kind]
            template = choices[(row + int(rng.integers(len(choices)))) % len(choices)]
            tiles.append(painter.paint(image, face, template, placement, Variation.random(rng), rng).image)
        rows.append(np.hstack([cv2.cvtColor(crop_face(t, box, TILE), cv2.COLOR_RGB2BGR) for t in tiles]))
    grid = np.vstack(rows)
    captions = ["original", "surgical", "KN95", "N95", "cloth", "below nose", "on chin"]
    header = np.full((24, grid.shape[1], 3), 255, np.uint8)
    for column, caption in enumerate(captions):
        cv2.putText(header, caption, (column * TILE + 8, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    ok, encoded = cv2.imencode(".jpg", np.vstack([header, grid]), [cv2.IMWRITE_JPEG_QUALITY, 82])
    if not ok:
        raise FacemaskError(f"cannot encode the figure as JPEG: {args.output}")
    write_bytes_atomic(args.output, encoded.tobytes())
    print(f"{args.output}: {args.output.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
