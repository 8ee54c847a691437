"""Model metadata, owned here: the JSON beside every classifier (`mask_detector.keras` -> `mask_detector.json`,
`mask_detector_float32.tflite` -> `mask_detector_float32.json`).

It names the classes in output order, the input size, the decision threshold and the SHA-256 of the model file it
describes, and keeps the record of how the model was made and measured (training settings, dataset and split,
held-back metrics, history, how the threshold was chosen, export settings). Training, export, calibration and
every tool read and write it only through this module; a model and its metadata are published together
(facemask.outputs.OutputSet), and a model whose metadata names another file's hash is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from facemask.errors import FacemaskError, SettingError
from facemask.outputs import OutputSet, os_error, write_json_atomic

MASKED, UNMASKED, INCORRECT = "with_mask", "without_mask", "mask_worn_incorrectly"
DEFAULT_CLASS_NAMES = (MASKED, UNMASKED)
KNOWN_FIELDS = ("class_names", "input", "unmasked_threshold", "model_sha256")


def is_flagged(label: str | None) -> bool:
    """Whether a face called `label` is flagged: any label but with_mask (no mask, or a mask worn incorrectly).
    None (no label: an annotated face the detector did not find) is not flagged. The one rule for a label, be it
    the pipeline's, a tracked person's or an annotation's; FaceResult.flagged applies it to a result."""
    return label is not None and label != MASKED


def check_threshold(value: float, name: str = "--unmasked-threshold") -> float:
    """The one valid range of a decision threshold: strictly between 0 (everyone flagged) and 1 (no one)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 < float(value) < 1.0:
        raise SettingError(name, f"must be between 0 and 1 (exclusive), got {value!r}")
    return float(value)


def metadata_path(model_path: str | Path) -> Path:
    """The metadata JSON beside a model file."""
    return Path(model_path).with_suffix(".json")


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelMetadata:
    """What a tool needs to know about a classifier, and the record of how it was made.

    `unmasked_threshold`: a face is called not compliant (without a mask, or wearing it incorrectly) when the
    probability of the classes other than `with_mask` reaches it; None lets the most probable class win.
    `record`: every other field of the JSON (training settings, dataset, held-back metrics, ...), kept as is.
    """

    class_names: tuple[str, ...] = DEFAULT_CLASS_NAMES
    input_size: int | None = None
    unmasked_threshold: float | None = None
    model_sha256: str | None = None
    record: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, payload: Any, where: Path) -> ModelMetadata:
        """Validated metadata from a parsed JSON document (`where`: its path, for errors)."""
        if not isinstance(payload, dict):
            raise FacemaskError(f"model metadata is not a JSON object: {where}")
        names = payload.get("class_names")
        if (
            not isinstance(names, list)
            or len(names) < 2
            or len(set(names)) != len(names)
            or not all(isinstance(name, str) and name for name in names)
        ):
            raise FacemaskError(f"model metadata has no valid 'class_names' list: {where}")
        size = payload.get("input", {}).get("size") if isinstance(payload.get("input"), dict) else None
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 8):
            raise FacemaskError(f"model metadata has an invalid input size ({size!r}): {where}")
        threshold = payload.get("unmasked_threshold")
        if threshold is not None:
            try:
                threshold = check_threshold(threshold, "'unmasked_threshold'")
            except FacemaskError as problem:
                raise FacemaskError(f"model metadata: {problem}: {where}") from None
        digest = payload.get("model_sha256")
        if digest is not None and (not isinstance(digest, str) or len(digest) != 64):
            raise FacemaskError(f"model metadata has an invalid 'model_sha256': {where}")
        record = {key: value for key, value in payload.items() if key not in KNOWN_FIELDS or key == "input"}
        return cls(tuple(names), size, threshold, digest, record)

    def to_json(self) -> dict[str, Any]:
        """The JSON document: the known fields first, then the record."""
        payload: dict[str, Any] = {"class_names": list(self.class_names)}
        payload["input"] = dict(self.record.get("input", {}))
        if self.input_size is not None:
            payload["input"]["size"] = self.input_size
        if self.unmasked_threshold is not None:
            payload["unmasked_threshold"] = self.unmasked_threshold
        if self.model_sha256 is not None:
            payload["model_sha256"] = self.model_sha256
        payload.update({key: value for key, value in self.record.items() if key != "input"})
        return payload

    def with_record(self, **entries: Any) -> ModelMetadata:
        """A copy with these record entries added or replaced."""
        return replace(self, record={**self.record, **entries})


def read_metadata(model_path: str | Path, check_hash: bool = True) -> ModelMetadata | None:
    """The metadata beside `model_path` (None where there is none), validated; with `check_hash`, an error if
    it was written for a different model file."""
    where = metadata_path(model_path)
    if not where.is_file():
        return None
    try:
        payload = json.loads(where.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise FacemaskError(f"model metadata is not valid JSON: {where}") from None
    except OSError as error:
        raise os_error(error, where, "cannot read model metadata") from None
    metadata = ModelMetadata.from_json(payload, where)
    if (
        check_hash
        and metadata.model_sha256
        and Path(model_path).is_file()
        and file_sha256(model_path) != metadata.model_sha256
    ):
        raise FacemaskError(
            f"model metadata describes another model file (its model_sha256 differs; the "
            f"model and its metadata were not replaced together): {where}"
        )
    return metadata


def class_names_for(model_path: str | Path, metadata: ModelMetadata | None, outputs: int) -> tuple[str, ...]:
    """The class names of a model with `outputs` outputs: from its metadata, or the two defaults."""
    if metadata is None:
        if outputs != len(DEFAULT_CLASS_NAMES):
            raise FacemaskError(
                f"model has {outputs} outputs and no metadata naming its classes: {metadata_path(model_path)}"
            )
        return DEFAULT_CLASS_NAMES
    if len(metadata.class_names) != outputs:
        raise FacemaskError(
            f"model metadata names {len(metadata.class_names)} classes but the model has {outputs} "
            f"outputs: {metadata_path(model_path)}"
        )
    return metadata.class_names


def add_model(
    outputs: OutputSet, model_path: str | Path, write: Callable[[Path], None], metadata: ModelMetadata
) -> None:
    """Add a model and its metadata to a set of outputs published together: `write(temporary)` writes the model,
    then the metadata is stamped with that file's hash."""
    temporary = outputs.add(model_path, keep_suffix=True)
    try:
        write(temporary)
    except OSError as error:
        raise os_error(error, model_path) from None
    outputs.add_json(metadata_path(model_path), replace(metadata, model_sha256=file_sha256(temporary)).to_json())


def update_metadata(model_path: str | Path, **changes: Any) -> ModelMetadata:
    """Change known fields of an existing model's metadata (e.g. `unmasked_threshold=0.4`) and record entries
    (any other keyword) in place, atomically; the model file is unchanged, so its hash still holds."""
    metadata = read_metadata(model_path)
    if metadata is None:
        raise FacemaskError(f"the model has no metadata file to update: {metadata_path(model_path)}")
    known = {key: changes.pop(key) for key in list(changes) if key in ("unmasked_threshold",)}
    if known.get("unmasked_threshold") is not None:
        check_threshold(known["unmasked_threshold"], "unmasked threshold")
    updated = replace(metadata, **known).with_record(**changes)
    write_json_atomic(metadata_path(model_path), updated.to_json())
    return updated
