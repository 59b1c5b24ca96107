"""The interface between downstream models, ground truth and scorers.

Images are ``(H, W, 3)`` uint8 RGB numpy arrays everywhere. Class labels are 0-based indices into the
model's ``class_names`` (COCO: the 80 YOLO classes; Cityscapes: the 19 trainIds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

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


@dataclass
class Detections:
    """Detections (or instances) on one image.

    Attributes:
        boxes: ``(K, 4)`` float ``x1, y1, x2, y2`` in pixels of the input image.
        scores: ``(K,)`` confidences.
        labels: ``(K,)`` int class indices.
        masks: Optional ``(K, H, W)`` bool instance masks.
    """

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    masks: np.ndarray | None = None

    @classmethod
    def empty(cls, height: int = 0, width: int = 0, with_masks: bool = False) -> Detections:
        return cls(
            np.zeros((0, 4)),
            np.zeros(0),
            np.zeros(0, dtype=np.int64),
            np.zeros((0, height, width), dtype=bool) if with_masks else None,
        )

    def __len__(self) -> int:
        return len(self.scores)

    def restricted_to(self, classes: frozenset[int] | None) -> Detections:
        """Only the detections whose class the dataset labels (``None``: all of them).

        A COCO-trained detector on BDD100K finds benches and umbrellas BDD never annotates; scored, each
        would be a false positive. They are dropped before any scoring instead.

        Example:
            >>> d = Detections(np.zeros((2, 4)), np.array([0.9, 0.8]), np.array([0, 25]))
            >>> d.restricted_to(frozenset({0})).labels.tolist()
            [0]
        """
        if classes is None or len(self) == 0:
            return self
        keep = np.isin(self.labels, np.fromiter(classes, dtype=np.int64))
        if keep.all():
            return self
        return Detections(
            self.boxes[keep], self.scores[keep], self.labels[keep], None if self.masks is None else self.masks[keep]
        )


@dataclass
class GroundTruth:
    """Labels of one image: boxes/labels (and optional masks) for detection and instances,
    or a per-pixel class map for semantic segmentation."""

    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    masks: np.ndarray | None = None
    iscrowd: np.ndarray | None = None
    semantic: np.ndarray | None = None
    pseudo: bool = False  # True when derived from the model's output on the clean image


@runtime_checkable
class Detector(Protocol):
    """A detection or instance-segmentation model."""

    class_names: Sequence[str]

    def predict(self, images: Sequence[np.ndarray]) -> list[Detections]: ...

    def describe(self) -> Mapping[str, Any]:
        """Weights path and sha256, input size, thresholds: written into the run record."""
        ...


@runtime_checkable
class Segmenter(Protocol):
    """A semantic segmentation model returning ``(H, W)`` int class maps at the input size."""

    class_names: Sequence[str]
    ignore_index: int

    def predict(self, images: Sequence[np.ndarray]) -> list[np.ndarray]: ...

    def describe(self) -> Mapping[str, Any]: ...


class Scorer(Protocol):
    """Streaming dataset-level scorer (mAP, mIoU cannot be averaged per image)."""

    def update(self, predictions: Sequence[Any], targets: Sequence[GroundTruth]) -> None: ...

    def compute(self) -> dict[str, float]: ...
