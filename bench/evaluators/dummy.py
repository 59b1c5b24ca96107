"""Deterministic fake downstream models for pipeline tests: no weights, milliseconds per image.

Their outputs are pure functions of the pixels, so clean, rainy and derained images give different but
reproducible scores, and a cache or streaming bug shows up as a changed number.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from bench.data.cityscapes import CITYSCAPES_CLASSES, IGNORE_INDEX
from bench.data.labels import COCO80_NAMES
from bench.evaluators.base import Detections
from bench.evaluators.info import EvaluatorInfo


class DummyDetector:
    """Fake detector: one candidate box per cell of a ``grid x grid`` partition of the image.

    In each cell the box covers the pixels brighter than the cell's mean luminance (their bounding box);
    the score is the cell's luminance contrast (std / 128, clipped to 1), the class the index of the
    dominant colour channel plus 3 x the cell's brightness tercile (classes 0..8 of COCO-80). Cells whose
    score is below ``conf`` are dropped. With ``with_masks`` the mask is the bright pixels inside the box.

    Args:
        grid: Cells per side.
        conf: Minimum score kept.
        with_masks: Return instance masks (for instance-segmentation pipelines).

    Example:
        >>> img = np.zeros((40, 40, 3), np.uint8); img[5:15, 5:15] = 255
        >>> det = DummyDetector(grid=2).predict([img])[0]
        >>> det.boxes.tolist(), det.labels.tolist()
        ([[5.0, 5.0, 15.0, 15.0]], [0])
    """

    class_names: ClassVar[tuple[str, ...]] = COCO80_NAMES

    def __init__(self, grid: int = 4, conf: float = 0.001, with_masks: bool = False) -> None:
        if grid < 1:
            raise ValueError(f"grid must be >= 1, got {grid}")
        self.grid = int(grid)
        self.conf = float(conf)
        self.with_masks = bool(with_masks)

    def _detect(self, image: np.ndarray) -> Detections:
        image = np.asarray(image)
        height, width = image.shape[:2]
        rgb = image.astype(np.float64)
        luma = rgb @ np.array([0.299, 0.587, 0.114])
        ys = np.linspace(0, height, self.grid + 1).round().astype(int)
        xs = np.linspace(0, width, self.grid + 1).round().astype(int)
        boxes: list[list[float]] = []
        scores: list[float] = []
        labels: list[int] = []
        masks: list[np.ndarray] = []
        for i in range(self.grid):
            for j in range(self.grid):
                y0, y1, x0, x1 = ys[i], ys[i + 1], xs[j], xs[j + 1]
                cell = luma[y0:y1, x0:x1]
                if cell.size == 0:
                    continue
                score = min(float(cell.std()) / 128.0, 1.0)
                bright = cell > cell.mean()
                if score < self.conf or not bright.any():
                    continue
                rows = np.flatnonzero(bright.any(axis=1))
                cols = np.flatnonzero(bright.any(axis=0))
                boxes.append([x0 + cols[0], y0 + rows[0], x0 + cols[-1] + 1.0, y0 + rows[-1] + 1.0])
                scores.append(score)
                channel = int(np.argmax(rgb[y0:y1, x0:x1].reshape(-1, 3).mean(axis=0)))
                labels.append(channel + 3 * min(int(cell.mean() / 256.0 * 3), 2))
                if self.with_masks:
                    mask = np.zeros((height, width), dtype=bool)
                    mask[y0:y1, x0:x1] = bright
                    masks.append(mask)
        if not boxes:
            return Detections.empty(height, width, with_masks=self.with_masks)
        return Detections(
            boxes=np.asarray(boxes, dtype=np.float64),
            scores=np.asarray(scores),
            labels=np.asarray(labels, dtype=np.int64),
            masks=np.stack(masks) if self.with_masks else None,
        )

    def predict(self, images: Sequence[np.ndarray]) -> list[Detections]:
        """Fake detections for ``(H, W, 3)`` uint8 RGB images."""
        return [self._detect(im) for im in images]

    def describe(self) -> EvaluatorInfo:
        return EvaluatorInfo(
            "DummyDetector", None, None, options={"grid": self.grid, "conf": self.conf, "with_masks": self.with_masks}
        )


class DummySegmenter:
    """Fake semantic segmenter: pixel class from its dominant colour channel and brightness.

    ``class = (3 * brightness_tercile + dominant_channel) mod num_classes``; pixels of near-black
    (luminance < ``ignore_below``) are ``ignore_index``. With 19 classes the names are Cityscapes'.

    Example:
        >>> img = np.zeros((2, 2, 3), np.uint8); img[0, 0] = (250, 10, 10); img[1, 1] = (10, 10, 250)
        >>> DummySegmenter().predict([img])[0].tolist()
        [[0, 255], [255, 2]]
    """

    ignore_index: ClassVar[int] = IGNORE_INDEX

    def __init__(self, num_classes: int = 19, ignore_below: float = 8.0) -> None:
        self.num_classes = int(num_classes)
        self.class_names: tuple[str, ...] = (
            CITYSCAPES_CLASSES
            if self.num_classes == len(CITYSCAPES_CLASSES)
            else tuple(f"class_{i}" for i in range(self.num_classes))
        )
        self.ignore_below = float(ignore_below)

    def _segment(self, image: np.ndarray) -> np.ndarray:
        rgb = np.asarray(image).astype(np.float32)
        luma = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        tercile = np.minimum((luma / 256.0 * 3).astype(np.int64), 2)
        classes = (3 * tercile + np.argmax(rgb, axis=2)) % self.num_classes
        classes[luma < self.ignore_below] = self.ignore_index
        return classes.astype(np.int64)

    def predict(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """``(H, W)`` int64 class maps for ``(H, W, 3)`` uint8 RGB images."""
        return [self._segment(im) for im in images]

    def describe(self) -> EvaluatorInfo:
        return EvaluatorInfo(
            "DummySegmenter", None, None, options={"num_classes": self.num_classes, "ignore_below": self.ignore_below}
        )
