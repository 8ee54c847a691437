#!/usr/bin/env python3
"""Measure the pipeline on annotated scenes: python evaluate_pipeline.py --scenes ../shared/data/scenes-dev"""

from facemask.cli.evaluate import entry_point

if __name__ == "__main__":
    entry_point()
