"""One image through the pipeline, as every batch path runs it (the image tool, the local engine, Ray workers):
read it, detect and classify, and turn a failure into that image's error instead of the run's end."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facemask.batch.results import error_record
from facemask.errors import FacemaskError
from facemask.imageio import read_image
from facemask.pipeline import ImageResult, MaskPipeline


@dataclass
class ImageOutcome:
    """What became of one input image: its result, or why there is none. `image` keeps the decoded picture
    when the caller asked for it (to annotate it)."""

    path: Path
    name: str
    result: ImageResult | None = None
    error: str | None = None
    image: np.ndarray | None = None

    def to_json(self) -> dict[str, Any]:
        """The image's results line (the `--json` object; an `error` record for a failed image)."""
        if self.result is None:
            return error_record(self.name, self.error or "failed")
        return self.result.to_json()


def process_path(
    pipeline: MaskPipeline, path: str | Path, keep_image: bool = False, name: str | None = None
) -> ImageOutcome:
    """Read the image at `path` and run the pipeline on it; a file that cannot be read or processed gives an
    outcome with its one-line error. `name`: what the results call the image (default: `path` as given)."""
    path = Path(path)
    name = str(path) if name is None else name
    try:
        image = read_image(path)
        result = pipeline.process_image(image, name)
    except FacemaskError as problem:
        return ImageOutcome(path, name, error=str(problem))
    except cv2.error as problem:  # OpenCV refusing one odd image must not end a run over thousands
        return ImageOutcome(path, name, error=f"cannot process image {path}: {problem.err or 'OpenCV error'}")
    return ImageOutcome(path, name, result, image=image if keep_image else None)
