"""facemask: find faces in photos and video and tell whether each one wears a mask.

The front door for Python users (nothing is loaded until it is used):

    from facemask import MaskPipeline

    pipeline = MaskPipeline.load()  # the default detector and the shipped TFLite classifier, loaded once
    for number, result in enumerate(pipeline.predict("photos/")):  # a file, folder, glob, list, or BGR array
        print(result.image, result.counts)  # faces per label
        print([(face.box.as_list(), face.label, face.probability, face.flagged) for face in result.faces])
        result.save(f"annotated-{number}.jpg")  # boxes and captions (result.plot() gives the array), atomically
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the names below for IDEs and type checkers; at run time __getattr__ imports them on first use
    from facemask.classification import MaskClassifier as MaskClassifier
    from facemask.detection import create_detector as create_detector
    from facemask.drawing import annotate as annotate
    from facemask.errors import FacemaskError as FacemaskError
    from facemask.imageio import read_image as read_image
    from facemask.pipeline import (
        FaceResult as FaceResult,
        ImageResult as ImageResult,
        MaskPipeline as MaskPipeline,
    )
    from facemask.settings import CropSettings as CropSettings, PipelineConfig as PipelineConfig

__version__ = "1.1.0"

_EXPORTS = {
    "MaskPipeline": "facemask.pipeline",
    "PipelineConfig": "facemask.settings",
    "CropSettings": "facemask.settings",
    "FaceResult": "facemask.pipeline",
    "ImageResult": "facemask.pipeline",
    "MaskClassifier": "facemask.classification",
    "create_detector": "facemask.detection",
    "read_image": "facemask.imageio",
    "annotate": "facemask.drawing",
    "FacemaskError": "facemask.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    """Import a front-door name's module on first use, so `import facemask` itself costs nothing."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'facemask' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
