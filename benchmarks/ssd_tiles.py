"""The res10 SSD searched in tiles as well as whole: a research setting of benchmarks/detectors.py, not a detector
the tools offer (they run facemask.detection.SSDDetector on the whole photo)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facemask.detection import SSDDetector
from facemask.geometry import Detection, non_max_suppression


class TiledSSDDetector(SSDDetector):
    """The SSD on the whole photo and on the overlapping tiles of a `tiles` x `tiles` grid (each tile two grid
    steps wide and high), so small faces in a large photo reach the network at a size it can see; the boxes of
    every pass, in the photo's pixels, merged with NMS at `nms_threshold`."""

    def __init__(
        self,
        folder: str | Path | None = None,
        confidence: float = 0.5,
        input_size: int = 300,
        tiles: int = 3,
        nms_threshold: float = 0.3,
    ) -> None:
        super().__init__(folder, confidence, input_size, nms_threshold)
        self.tiles = tiles

    def detect(self, image: np.ndarray) -> list[Detection]:
        height, width = image.shape[:2]
        found = self._detect_region(image, 0, 0, width, height)
        tile_w, tile_h = 2 * width // (self.tiles + 1), 2 * height // (self.tiles + 1)
        for row in range(self.tiles):
            for col in range(self.tiles):
                x0, y0 = col * tile_w // 2, row * tile_h // 2
                tile = image[y0 : y0 + tile_h, x0 : x0 + tile_w]
                found += self._detect_region(tile, x0, y0, width, height)
        return non_max_suppression(found, self.nms_threshold)
