#!/usr/bin/env python3
"""The shipped `.keras` model and its TFLite exports (float32, int8), size and accuracy on annotated faces, as a
Markdown table.

    python benchmarks/export_table.py --scenes ../shared/data/scenes-dev [--model facemask/models/mask_detector.keras]

What `export_tflite.py --output-dir DIR --scenes DIR` does, into a temporary folder (the shipped exports are not
touched): each model classifies the ground-truth face boxes of the scenes (each box cropped as the pipeline
crops it by default; the model's stored threshold), so this measures the classifier alone, not the detector.
Used by benchmarks/regenerate.py for docs/video.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from facemask.classification import MaskClassifier
from facemask.defaults import default_keras_model
from facemask.errors import run_cli
from facemask.evaluation import load_scenes
from facemask.export import QUANTIZATIONS, classifier_accuracy, export_path, export_tflite, scene_crops


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=Path, required=True, help="annotated scenes (images/, annotations.csv)")
    parser.add_argument("--model", type=Path, default=default_keras_model(), help="the .keras model to export")
    args = parser.parse_args(argv)
    scenes = load_scenes(args.scenes)
    with tempfile.TemporaryDirectory() as folder:
        exports = export_tflite(args.model, {kind: export_path(args.model, kind, folder) for kind in QUANTIZATIONS})
        source = MaskClassifier(args.model)
        crops, labels = scene_crops(scenes, source.input_size)
        print(
            f"Each model classifies the {len(labels)} annotated face boxes of `{args.scenes.name}` (the default "
            f"crop of each box; threshold {source.unmasked_threshold}): the classifier alone, no detector.\n"
        )
        print("| model | size | accuracy on the annotated faces |\n| --- | ---: | ---: |")
        rows = [(args.model.name, args.model.stat().st_size, source)]
        rows += [
            (f"{args.model.stem}_{export.quantization}.tflite", export.size_bytes, MaskClassifier(export.path))
            for export in exports
        ]
        for name, size, classifier in rows:
            result = classifier_accuracy(classifier, crops, labels)
            print(f"| `{name}` | {size / 1e6:.1f} MB | {result.accuracy:.4f} ({result.correct}/{result.total}) |")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
