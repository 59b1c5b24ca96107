"""What an image's labels and a model's predictions are: the types data readers and evaluators share.

Boxes are ``x1, y1, x2, y2`` pixels; class labels are 0-based indices into the model's ``class_names``.
They live in the data layer so that label readers (:mod:`bench.data.labels`, :mod:`bench.data.cityscapes`)
need not import the evaluators; :mod:`bench.evaluators.base` re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
    or a per-pixel class map for semantic segmentation.

    Attributes:
        boxes: ``(K, 4)`` float ``x1, y1, x2, y2`` in pixels.
        labels: ``(K,)`` int class indices.
        masks: Optional ``(K, H, W)`` bool instance masks.
        iscrowd: Optional ``(K,)`` bool COCO crowd flags (``None``: no crowd).
        areas: Optional ``(K,)`` float object areas in px², the COCO annotation's ``area`` field (the
            segmentation's area), which COCOeval's small / medium / large ranges bin for box and mask AP
            alike; NaN where an object has none. ``None`` (YOLO text, pseudo labels): scoring bins by the
            box area (mask area for mask AP). Overall mAP (area range "all") does not depend on it.
        semantic: Optional ``(H, W)`` per-pixel class map (semantic segmentation).
        pseudo: True when derived from the model's output on the clean image.
    """

    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    masks: np.ndarray | None = None
    iscrowd: np.ndarray | None = None
    semantic: np.ndarray | None = None
    pseudo: bool = False  # True when derived from the model's output on the clean image
    areas: np.ndarray | None = None
