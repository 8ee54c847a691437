#!/usr/bin/env python3
"""Watch a camera, file or stream: python detect_mask_video.py --source 0 --events events.jsonl --alert"""

from facemask.cli.detect_video import entry_point

if __name__ == "__main__":
    entry_point()
