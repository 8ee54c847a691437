#!/usr/bin/env python3
"""The nose check's training data: python prepare_nose_dataset.py --dataset faces/ incorrect/ --output nose/"""

from facemask.cli.nose_data import entry_point

if __name__ == "__main__":
    entry_point()
