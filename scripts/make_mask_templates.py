#!/usr/bin/env python3
"""Draw the mask templates into facemask/mask-templates/ (RGBA PNG + JSON anchors), shipped inside the package.

python scripts/make_mask_templates.py
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facemask.errors import FacemaskError, run_cli as run
from facemask.templates import save_template
from facemask.templates.drawing import draw_template, template_designs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Draw the mask templates (pictures and anchor points).")
    parser.add_argument(
        "--output", "-o", type=Path, default=Path(__file__).resolve().parents[1] / "facemask" / "mask-templates"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the fabric noise and patterns")
    args = parser.parse_args(argv)
    if args.output.exists() and not args.output.is_dir():
        raise FacemaskError(f"output is not a folder: {args.output}")
    try:
        args.output.mkdir(parents=True, exist_ok=True)
    except OSError as problem:
        raise FacemaskError(f"cannot create the output folder ({problem.strerror}): {args.output}") from None
    for design in template_designs():
        picture, _ = save_template(draw_template(design, args.seed), args.output)
        print(picture)
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
