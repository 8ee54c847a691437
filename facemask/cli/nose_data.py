"""prepare_nose_dataset.py: the training data of the nose check (the upper part of every face of a face dataset)
or of the chin check (the lower part)."""

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
from facemask.nose_data import PART_CLASSES, lower_face, part_class, upper_face
from facemask.outputs import StagedFolder
from facemask.pipeline import ChinCheck, NoseCheck

# What each check's classes mean, for the summary line.
MEANINGS = {"nose": ("nose covered", "nose bare"), "chin": ("a mask on the lower face", "none")}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Cut the part of every face that a check for masks worn incorrectly looks at out of face "
                    "datasets, as training data for that check's model. The nose check (default) looks at the "
                    "forehead down to a cut between the nose tip and the mouth: with_mask faces give with_mask (nose "
                    "covered), without_mask and mask_worn_incorrectly faces give without_mask (nose bare). The chin "
                    "check looks from the nose tip to below the chin: with_mask and mask_worn_incorrectly faces "
                    "give with_mask (a mask on the lower face), without_mask faces give without_mask.")
    parser.add_argument("--dataset", "-d", type=Path, nargs="+", required=True,
                        help=f"face dataset folder(s) with class folders ({', '.join(PART_CLASSES['nose'])}), merged "
                             "by name, e.g. ../shared/data/faces plus masks drawn worn incorrectly by augment_masks.py")
    parser.add_argument("--check", choices=sorted(PART_CLASSES), default="nose",
                        help="whose training data: the nose check's or the chin check's (default: nose)")
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
        part_class(args.check, label)  # an unknown class folder stops the run before any work
    sources = find_sources(roots)  # a face drawn on a real photo keeps that photo as its source
    detector, rng = create_detector(DETECTOR), np.random.default_rng(args.seed)
    nose, chin = NoseCheck(), ChinCheck()
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
                if args.check == "nose":
                    part = upper_face(image, detector, nose, rng)
                else:
                    part = lower_face(image, detector, chin)
                if part is None:
                    counts["no face"] += 1
                    continue
                target = part_class(args.check, label)
                name, number = Path(target) / f"{label}_{path.stem}.jpg", 1
                while name in written:  # the same file name in two datasets
                    number += 1
                    name = name.with_name(f"{label}_{path.stem}_{number}.jpg")
                stage(staged, name, encode_image(name, cv2.cvtColor(part.crop, cv2.COLOR_RGB2BGR)), args.force)
                written[name] = sources.get(path.resolve(), path)
                counts[target] += 1
                counts[part.cut] += 1
        stage(staged, Path(SOURCES_MANIFEST), sources_manifest(args.output, written), force=True)
        staged.publish()
    covered, bare = MEANINGS[args.check]
    no_face = (f"no face found (whole image) {counts['whole image']}" if args.check == "nose"
               else f"no face found (left out) {counts['no face']}")
    print(f"{counts[MASKED] + counts[UNMASKED]} faces: {counts[MASKED]} {covered} ({MASKED}), {counts[UNMASKED]} "
          f"{bare} ({UNMASKED}); cut by landmarks {counts['landmarks']}, by the box {counts['box']}, {no_face}; "
          f"{counts['unreadable']} unreadable")
    return 0


def entry_point() -> None:
    sys.exit(run(main))
