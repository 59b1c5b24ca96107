"""The interface between downstream models, ground truth and scorers.

Images are ``(H, W, 3)`` uint8 RGB numpy arrays everywhere. Class labels are 0-based indices into the
model's ``class_names`` (COCO: the 80 YOLO classes; Cityscapes: the 19 trainIds).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from bench.data.annotations import Detections, GroundTruth
from bench.evaluators.info import EvaluatorInfo

__all__ = ["RATIO_METRICS", "Detections", "Detector", "EvaluatorInfo", "GroundTruth", "Scorer", "Segmenter"]

#: Downstream scores stored as fractions in records and shown in percent (as in the paper).
RATIO_METRICS: frozenset[str] = frozenset(
    {
        "map50_95",
        "map50",
        "precision",
        "recall",
        "iou",
        "iou_overlap",
        "iou_matched",
        "iou_gt_best",
        "iou_det_best",
        "mask_map50_95",
        "mask_map50",
        "box_map50_95",
        "box_map50",
        "miou",
        "mpa",
        "pixel_acc",
    }
)


@runtime_checkable
class Detector(Protocol):
    """A detection or instance-segmentation model."""

    class_names: Sequence[str]

    def predict(self, images: Sequence[np.ndarray]) -> list[Detections]: ...

    def describe(self) -> EvaluatorInfo:
        """Weights path and sha256, input size, thresholds: written into the run record (``describe()`` of a
        plugin may still return a plain mapping; it is stored in the same schema)."""
        ...


@runtime_checkable
class Segmenter(Protocol):
    """A semantic segmentation model returning ``(H, W)`` int class maps at the input size."""

    class_names: Sequence[str]
    ignore_index: int

    def predict(self, images: Sequence[np.ndarray]) -> list[np.ndarray]: ...

    def describe(self) -> EvaluatorInfo: ...


class Scorer(Protocol):
    """Streaming dataset-level scorer (mAP, mIoU cannot be averaged per image)."""

    def update(self, predictions: Sequence[Any], targets: Sequence[GroundTruth]) -> None: ...

    def compute(self) -> dict[str, float]: ...
