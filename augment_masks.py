#!/usr/bin/env python3
"""Synthesize masked faces: python augment_masks.py --input faces/ --output masked/ --per-face 2"""

from facemask.cli.augment import entry_point

if __name__ == "__main__":
    entry_point()
