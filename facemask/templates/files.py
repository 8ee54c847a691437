"""Mask template files: an RGBA PNG picture and a JSON file of its anchors, read at run time by synthesis and
written (published together) by scripts/make_mask_templates.py."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facemask.errors import FacemaskError
from facemask.outputs import OutputSet
from facemask.templates.geometry import anchor_names


@dataclass(frozen=True)
class MaskTemplate:
    """One mask picture (RGBA, straight alpha) and its anchors in the picture's pixels."""

    name: str
    kind: str
    image: np.ndarray
    anchors: dict[str, tuple[float, float]]

    def points(self, names: list[str]) -> np.ndarray:
        """The anchors called `names` as an (n, 2) float array."""
        return np.asarray([self.anchors[name] for name in names], dtype=np.float64)


def save_template(template: MaskTemplate, folder: str | Path) -> tuple[Path, Path]:
    """Write `<name>.png` (RGBA) and `<name>.json` (kind, size, anchors) into `folder`, published together."""
    folder = Path(folder)
    ok, encoded = cv2.imencode(".png", template.image)
    if not ok:
        raise FacemaskError(f"cannot encode template {template.name}")
    picture, anchors = folder / f"{template.name}.png", folder / f"{template.name}.json"
    height, width = template.image.shape[:2]
    with OutputSet() as outputs:
        outputs.add_bytes(picture, encoded.tobytes())
        outputs.add_json(
            anchors,
            {
                "name": template.name,
                "kind": template.kind,
                "image": picture.name,
                "size": [width, height],
                "anchors": template.anchors,
            },
        )
        outputs.publish()
    return picture, anchors


def load_template(json_path: str | Path) -> MaskTemplate:
    """One template from its JSON file and the RGBA picture it names."""
    json_path = Path(json_path)
    try:
        spec = json.loads(json_path.read_text(encoding="utf-8"))
        picture = json_path.parent / spec["image"]
        anchors = {name: (float(x), float(y)) for name, (x, y) in spec["anchors"].items()}
        name, kind = str(spec["name"]), str(spec["kind"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise FacemaskError(f"not a valid mask template file ({type(error).__name__}: {error}): {json_path}") from None
    missing = [name for name in anchor_names() if name not in anchors]
    if missing:
        raise FacemaskError(f"mask template lacks anchors {', '.join(missing)}: {json_path}")
    image = cv2.imdecode(np.fromfile(str(picture), np.uint8), cv2.IMREAD_UNCHANGED) if picture.is_file() else None
    if image is None or image.ndim != 3 or image.shape[2] != 4:
        raise FacemaskError(f"mask template picture missing or not an RGBA PNG: {picture}")
    return MaskTemplate(name, kind, image, anchors)


def load_templates(folder: str | Path, kinds: list[str] | None = None) -> list[MaskTemplate]:
    """Every template in `folder` (sorted by name), only those of `kinds` when given."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FacemaskError(f"mask template folder not found: {folder}")
    templates = [load_template(path) for path in sorted(folder.glob("*.json"))]
    if not templates:
        raise FacemaskError(f"no mask templates (*.json + *.png) in: {folder}")
    if kinds:
        available = sorted({t.kind for t in templates} | {t.name for t in templates})
        unknown = [k for k in kinds if k not in available]
        if unknown:
            raise FacemaskError(f"unknown mask type {', '.join(unknown)}: choose from {', '.join(available)}")
        templates = [t for t in templates if t.kind in kinds or t.name in kinds]
    return templates
