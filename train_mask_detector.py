#!/usr/bin/env python3
"""Train the mask classifier: python train_mask_detector.py --dataset dataset --model models/mask_detector.keras"""

from facemask.cli.train import entry_point

if __name__ == "__main__":
    entry_point()
