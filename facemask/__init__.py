"""facemask: find faces in photos and video and tell whether each one wears a mask.

The front door for Python users (nothing is loaded until it is used):

    from facemask import MaskPipeline, read_image

    pipeline = MaskPipeline.load()  # YuNet + the shipped TFLite classifier, loaded once
    result = pipeline.process_image(read_image("photo.jpg"), "photo.jpg")
    print([(face.box.as_list(), face.label, face.probability) for face in result.faces])
"""

from __future__ import annotations

import importlib

__version__ = "1.1.0"

_EXPORTS = {
    "MaskPipeline": "facemask.pipeline",
    "CropSettings": "facemask.pipeline",
    "NoseCheck": "facemask.pipeline",
    "ChinCheck": "facemask.pipeline",
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
