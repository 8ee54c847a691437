#!/usr/bin/env python3
"""Choose the model's unmasked threshold on annotated scenes: python calibrate_threshold.py --scenes DIR --write"""

from facemask.cli.calibrate import entry_point

if __name__ == "__main__":
    entry_point()
