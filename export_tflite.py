#!/usr/bin/env python3
"""Export the classifier to TFLite: python export_tflite.py --model models/mask_detector.keras"""

from facemask.cli.export import entry_point

if __name__ == "__main__":
    entry_point()
