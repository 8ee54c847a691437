"""augment_masks.py: draw synthetic masks on the faces of unmasked photos, optionally as a ready dataset."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from facemask.cli.common import run
from facemask.data import SOURCES_MANIFEST, sources_manifest
from facemask.defaults import DETECTOR as DEFAULT_DETECTOR, default_templates
from facemask.detection import DEFAULT_CONFIDENCE, DETECTORS, create_detector
from facemask.errors import FacemaskError
from facemask.imageio import encode_image, list_images, make_folder, read_image
from facemask.metadata import INCORRECT, MASKED as WITH_MASK, UNMASKED as WITHOUT_MASK
from facemask.outputs import StagedFolder, os_error
from facemask.resources import require_extra
from facemask.settings import check_unit
from facemask.templates import load_templates


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Synthesize masked faces: find each face and its 68 landmarks, "
        "warp a mask template onto it and light it like the face."
    )
    parser.add_argument("--input", "-i", type=Path, required=True, help="folder of unmasked photos or face crops")
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        required=True,
        help="output folder (not inside --input); written whole when the run ends, so a stopped "
        "or killed run leaves it as it was",
    )
    parser.add_argument(
        "--templates",
        "-t",
        type=Path,
        default=None,
        help="folder of mask templates, PNG + JSON (default: the templates shipped with facemask)",
    )
    parser.add_argument("--per-face", "-n", type=int, default=1, help="masked versions of each photo (default: 1)")
    parser.add_argument("--seed", type=int, default=0, help="random seed: same seed, same output (default: 0)")
    parser.add_argument(
        "--types",
        nargs="+",
        default=None,
        metavar="TYPE",
        help="mask kinds (surgical, n95, kn95, cloth) or template names to use (default: all)",
    )
    parser.add_argument(
        "--incorrect-fraction",
        type=float,
        default=0.0,
        help="fraction of versions worn incorrectly: below the nose, at the nose tip or on the chin (default: 0)",
    )
    parser.add_argument(
        "--dataset",
        action="store_true",
        help=f"write a dataset layout: {WITH_MASK}/ synthesized, {WITHOUT_MASK}/ the originals, "
        f"{INCORRECT}/ the incorrectly worn versions (only with --incorrect-fraction > 0)",
    )
    parser.add_argument(
        "--detector",
        choices=DETECTORS,
        default=DEFAULT_DETECTOR,
        help=f"face detector backend (default: {DEFAULT_DETECTOR})",
    )
    defaults = ", ".join(f"{name} {value}" for name, value in DEFAULT_CONFIDENCE.items())
    parser.add_argument(
        "--confidence",
        "-c",
        type=float,
        default=None,
        help=f"minimum face detection confidence (default per detector: {defaults})",
    )
    parser.add_argument(
        "--whole-crops",
        action="store_true",
        help="the input holds face crops: where the detector finds no face, fit the landmarks to the "
        "whole image (do not use on other photos)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")
    # every run also records in OUTPUT/sources.csv which photo each written image came from, so training can keep
    # a synthesized face on the same side of its held-back split as the real photo it was made from
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    return parser


@dataclass
class Summary:
    """Counts reported at the end of a run."""

    images: int = 0
    unreadable: int = 0
    faces: int = 0
    faces_whole_image: int = 0
    no_face: int = 0
    no_landmarks: int = 0
    with_mask: int = 0
    incorrect: int = 0
    originals: int = 0

    def text(self) -> str:
        return (
            f"{self.images} images: {self.faces} faces masked ({self.faces_whole_image} of them face crops the "
            f"detector missed, fitted as a whole), skipped {self.no_face} images with no face and "
            f"{self.no_landmarks} faces without usable landmarks, {self.unreadable} unreadable; wrote "
            f"{self.with_mask} masked, {self.incorrect} worn incorrectly, {self.originals} originals"
        )


def check_folders(source: Path, output: Path) -> None:
    """The input must be a folder and the output must not be it, or inside it."""
    if not source.is_dir():
        raise FacemaskError(f"input is not a folder: {source}")
    source, target = source.resolve(), output.resolve()
    if target == source or source in target.parents:
        raise FacemaskError(f"output folder must not be inside the input folder: {output}")
    if output.exists() and not output.is_dir():
        raise FacemaskError(f"output is not a folder: {output}")


def output_name(relative: Path, index: int, template: str, placement: str) -> Path:
    suffix = "" if placement == "correct" else f"_{placement}"
    return relative.parent / f"{relative.stem}_mask{index}_{template}{suffix}.jpg"


def stage(staged: StagedFolder, name: Path, data: bytes, force: bool) -> None:
    """Write one output file, `name` relative to the output folder, into the staging folder (published whole at
    the end); an existing output file needs `force`."""
    final = staged.target / name
    if final.is_dir():
        raise FacemaskError(f"output is a folder, expected a file: {final}")
    if final.exists() and not force:
        raise FacemaskError(f"output exists (use --force to overwrite): {final}")
    path = staged.path / name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as error:
        raise os_error(error, final) from None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    require_extra("train", "augment_masks.py")
    from facemask.synthesis import FaceLandmarker, MaskPainter, mask_faces

    check_unit(args.incorrect_fraction, "--incorrect-fraction")
    if args.confidence is not None:
        check_unit(args.confidence, "--confidence")
    if args.per_face < 1:
        raise FacemaskError(f"--per-face must be at least 1, got {args.per_face}")
    check_folders(args.input, args.output)
    templates = load_templates(args.templates or default_templates(), args.types)
    inputs = list_images(args.input)
    landmarker = FaceLandmarker(create_detector(args.detector, args.confidence), whole_image_fallback=args.whole_crops)
    painter, rng, summary = MaskPainter(), np.random.default_rng(args.seed), Summary()
    make_folder(args.output.parent if str(args.output.parent) else Path("."))
    # Everything is written into a hidden staging folder beside --output and published at the end: a run that
    # is stopped or killed leaves --output as it was (a killed run's staging folder is removed by the next run).
    sources: dict[Path, Path] = {}  # each output, relative to --output, and the photo it was made from
    with StagedFolder(args.output) as staged:
        for path in tqdm(inputs, desc="masking", unit="image", disable=args.quiet):
            summary.images += 1
            relative = path.relative_to(args.input)
            try:
                image = read_image(path)
            except FacemaskError as problem:
                summary.unreadable += 1
                tqdm.write(f"warning: skipped {problem}", file=sys.stderr)
                continue
            if args.dataset:
                stage(staged, Path(WITHOUT_MASK) / relative, path.read_bytes(), args.force)
                sources[Path(WITHOUT_MASK) / relative] = path
                summary.originals += 1
            search = landmarker.find(image)
            summary.no_landmarks += search.without_landmarks
            if not search.faces:
                summary.no_face += search.without_landmarks == 0
                continue
            summary.faces += len(search.faces)
            summary.faces_whole_image += sum(face.source == "whole image" for face in search.faces)
            for index, version in enumerate(
                mask_faces(image, search.faces, templates, args.per_face, args.incorrect_fraction, rng, painter)
            ):
                name = output_name(relative, index, version.masks[0].template, version.placement)
                if args.dataset:
                    name = Path(WITH_MASK if version.worn_correctly else INCORRECT) / name
                stage(staged, name, encode_image(name, version.image), args.force)
                sources[name] = path
                summary.with_mask += version.worn_correctly
                summary.incorrect += not version.worn_correctly
        if sources:  # added to the rows of an earlier run into the same folder
            stage(staged, Path(SOURCES_MANIFEST), sources_manifest(args.output, sources), force=True)
        staged.publish()
    print(summary.text())
    return 0


def entry_point() -> None:
    sys.exit(run(main))
