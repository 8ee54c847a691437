"""The one settings object: its defaults are what every tool starts from, bad values are refused where it is built
(naming the setting, the flag or the TOML key), and MaskPipeline.load loads what it says."""

from __future__ import annotations

from pathlib import Path

import pytest

from facemask import defaults
from facemask.cli.common import pipeline_config
from facemask.cli.detect_image import build_parser as image_parser
from facemask.cli.detect_video import build_parser as video_parser
from facemask.cli.evaluate import build_parser as evaluate_parser
from facemask.detection import DEFAULT_CONFIDENCE, YuNetDetector
from facemask.errors import FacemaskError, SettingError
from facemask.pipeline import MaskPipeline
from facemask.settings import CropSettings, PipelineConfig


def test_the_tools_start_from_the_library_defaults():
    assert pipeline_config(image_parser().parse_args(["--image", "x.jpg"])) == PipelineConfig()
    assert pipeline_config(evaluate_parser().parse_args(["--scenes", "s"])) == PipelineConfig()
    assert pipeline_config(video_parser().parse_args([])) == PipelineConfig.video()
    video = PipelineConfig.video()
    assert (video.detector, video.detection_size) == (defaults.VIDEO_DETECTOR, defaults.VIDEO_DETECTION_SIZE)
    assert PipelineConfig().detector == defaults.DETECTOR and PipelineConfig().detection_size == 0


def test_options_become_the_config():
    args = image_parser().parse_args(
        ["--image", "x.jpg", "-f", "ssd-files", "-c", "0.6", "-t", "0.4", "--crop-margin", "0.1", "--square-crop"]
    )
    config = pipeline_config(args)
    assert config == PipelineConfig(
        detector="ssd",  # --face names SSD files
        face_folder=Path("ssd-files"),
        confidence=0.6,
        unmasked_threshold=0.4,
        crop=CropSettings(0.1, True),
    )
    assert config.detection_confidence == 0.6
    assert PipelineConfig(detector="yunet").detection_confidence == DEFAULT_CONFIDENCE["yunet"]


@pytest.mark.parametrize(
    ("changes", "setting", "rule"),
    [
        ({"confidence": 1.5}, "confidence", "must be between 0 and 1, got 1.5"),
        ({"detector": "haar"}, "detector", "must be one of"),
        ({"detection_size": 8}, "detection_size", "at least 32, got 8"),
        ({"unmasked_threshold": 0.0}, "unmasked_threshold", "between 0 and 1 (exclusive)"),
        ({"threads": 0}, "threads", "at least 1"),
        ({"face_folder": "ssd-files"}, "face_folder", "needs the ssd detector"),
        ({"model": ""}, "model", "must be a path"),
        ({"crop": None}, "crop", "must be a CropSettings"),
    ],
)
def test_bad_values_are_refused_naming_the_setting(changes, setting, rule):
    with pytest.raises(SettingError) as raised:
        PipelineConfig(**changes)
    assert raised.value.setting == setting and rule in raised.value.rule
    assert str(raised.value.named("--flag")).startswith("--flag ")


def test_margin_out_of_range_names_the_flag_on_the_command_line():
    with pytest.raises(FacemaskError, match=r"^--crop-margin must be between -0\.4 and 1, got 2\.0$"):
        pipeline_config(image_parser().parse_args(["--image", "x.jpg", "--crop-margin", "2"]))
    with pytest.raises(FacemaskError, match=r"^--detection-size must be 0 \(the photo setting\) or at least 32"):
        pipeline_config(video_parser().parse_args(["--detection-size", "8"]))


def test_paths_as_strings_and_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = PipelineConfig(model="models/m.tflite")
    assert config.model == Path("models/m.tflite") and config.model_path == Path("models/m.tflite")
    assert config.absolute().model == tmp_path / "models/m.tflite"
    assert PipelineConfig().absolute().model is None, "the shipped model is found where the pipeline loads"
    assert PipelineConfig().model_path == defaults.default_model()


def test_load_loads_what_the_config_says(default_model):
    pipeline = MaskPipeline.load(PipelineConfig.video(model=default_model, unmasked_threshold=0.3, threads=1))
    assert isinstance(pipeline.detector, YuNetDetector)
    assert pipeline.classifier.unmasked_threshold == 0.3 and pipeline.classifier.path == default_model
    changed = MaskPipeline.load(model=str(default_model), crop=CropSettings(0.2, True))
    assert changed.crop == CropSettings(0.2, True)
    assert changed.classifier.unmasked_threshold != 0.3, "the model's own stored threshold"
    with pytest.raises(FacemaskError, match=r"nothing\.tflite"):
        MaskPipeline.load(model="nothing.tflite")
