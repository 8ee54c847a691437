#!/usr/bin/env python3
"""Annotate photos: python detect_mask_image.py --image examples/astronaut.jpg --output annotated.jpg"""

from facemask.cli.detect_image import entry_point

if __name__ == "__main__":
    entry_point()
