"""prepare_nose_dataset.py: the nose check's training data, the upper part of every face of a face dataset."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from facemask.cli.augment import check_folders, stage
from facemask.cli.common import run
from facemask.data import SOURCES_MANIFEST, dataset_roots, find_class_folders, find_sources, sources_manifest
from facemask.defaults import DETECTOR
from facemask.detection import create_detector
from facemask.errors import FacemaskError
from facemask.imageio import encode_image, make_folder, read_image
from facemask.metadata import MASKED, UNMASKED
from facemask.nose_data import NOSE_CLASSES, nose_class, upper_face
from facemask.outputs import StagedFolder
from facemask.pipeline import NoseCheck


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Cut the part of every face that the nose check looks at (forehead to a cut between the nose "
                    "tip and the mouth) out of face datasets, as training data for the nose check's model: "
                    "with_mask faces give with_mask (nose covered), without_mask and mask_worn_incorrectly faces "
                    "give without_mask (nose bare).")
    parser.add_argument("--dataset", "-d", type=Path, nargs="+", required=True,
                        help=f"face dataset folder(s) with class folders ({', '.join(NOSE_CLASSES)}), merged by "
                             "name, e.g. ../shared/data/faces plus masks drawn below the nose by augment_masks.py")
    parser.add_argument("--output", "-o", type=Path, required=True,
                        help="output dataset folder (with_mask/, without_mask/, sources.csv), not inside a "
                             "--dataset folder; written whole when the run ends")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed for the cut of each face: same seed, same output (default: 0)")
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    roots = dataset_roots(args.dataset)
    for root in roots:
        check_folders(root, args.output)
    classes = find_class_folders(roots)
    for label in classes:
        nose_class(label)  # an unknown class folder stops the run before any work
    sources = find_sources(roots)  # a face drawn on a real photo keeps that photo as its source
    detector, check, rng = create_detector(DETECTOR), NoseCheck(), np.random.default_rng(args.seed)
    counts: Counter[str] = Counter()
    written: dict[Path, Path] = {}
    make_folder(args.output.parent if str(args.output.parent) else Path("."))
    with StagedFolder(args.output) as staged:
        for label, files in classes.items():
            for path in tqdm(files, desc=label, unit="image", disable=args.quiet):
                try:
                    image = read_image(path)
                except FacemaskError as problem:
                    counts["unreadable"] += 1
                    tqdm.write(f"warning: skipped {problem}", file=sys.stderr)
                    continue
                part = upper_face(image, detector, check, rng)
                name, number = Path(nose_class(label)) / f"{label}_{path.stem}.jpg", 1
                while name in written:  # the same file name in two datasets
                    number += 1
                    name = name.with_name(f"{label}_{path.stem}_{number}.jpg")
                stage(staged, name, encode_image(name, cv2.cvtColor(part.crop, cv2.COLOR_RGB2BGR)), args.force)
                written[name] = sources.get(path.resolve(), path)
                counts[nose_class(label)] += 1
                counts[part.cut] += 1
        stage(staged, Path(SOURCES_MANIFEST), sources_manifest(args.output, written), force=True)
        staged.publish()
    print(f"{counts[MASKED] + counts[UNMASKED]} faces: {counts[MASKED]} nose covered ({MASKED}), {counts[UNMASKED]} "
          f"nose bare ({UNMASKED}); cut by landmarks {counts['landmarks']}, "
          f"by the box {counts['box']}, no face found (whole image) {counts['whole image']}; "
          f"{counts['unreadable']} unreadable")
    return 0


def entry_point() -> None:
    sys.exit(run(main))
