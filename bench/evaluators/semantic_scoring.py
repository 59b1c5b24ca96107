"""Dataset-level semantic segmentation scores from one streaming confusion matrix.

Conventions (the Cityscapes / mmsegmentation ones; written into the run record):

* Only pixels whose ground truth is a class ``0 .. C-1`` count. Ground truth equal to ``ignore_index``
  (255) — or any other value outside ``0 .. C-1`` — is skipped entirely.
* A prediction outside ``0 .. C-1`` (e.g. 255 where the model said "background") on a counted pixel
  is a miss: a false negative of the true class, and a false positive of no class.
* The confusion matrix is accumulated over the whole dataset; the scores are computed once from it
  (not averaged per image). ``TP_c``, ``FP_c``, ``FN_c`` are its diagonal, column and row sums.
* ``IoU_c = TP_c / (TP_c + FP_c + FN_c)``; a class with ``TP + FP + FN = 0`` (neither in the ground
  truth nor predicted) has no IoU and is left out of the mean. A class only predicted (FP > 0, absent
  from the ground truth) has IoU 0 and counts. ``miou`` = mean over the classes that have an IoU.
* ``mpa`` (mean pixel accuracy, the "mPA" of MSPFN Table 6) = mean over classes *present in the ground
  truth* (``TP_c + FN_c > 0``) of the per-class recall ``TP_c / (TP_c + FN_c)``.
* ``pixel_acc`` = ``sum_c TP_c / (number of counted pixels)``.

Only numpy is needed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np

from bench.evaluators.base import GroundTruth

logger = logging.getLogger(__name__)


class SemanticScorer:
    """Streaming mIoU / mPA / pixel accuracy over ``num_classes`` with an ignore label.

    Attributes:
        confusion: ``(C, C + 1)`` int64 counts; row = ground-truth class, column = predicted class,
            the last column counts predictions outside ``0 .. C-1``.

    Example:
        >>> scorer = SemanticScorer(num_classes=2)
        >>> scorer.update([np.array([[0, 1], [1, 1]])], [np.array([[0, 0], [1, 255]])])
        >>> {k: round(v, 4) for k, v in scorer.compute().items()}
        {'miou': 0.5, 'mpa': 0.75, 'pixel_acc': 0.6667}
    """

    def __init__(
        self, num_classes: int = 19, ignore_index: int = 255, class_names: Sequence[str] | None = None
    ) -> None:
        if num_classes < 1:
            raise ValueError("num_classes must be >= 1")
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(f"{len(class_names)} class names for {num_classes} classes")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.class_names: tuple[str, ...] = (
            tuple(class_names) if class_names is not None else tuple(str(i) for i in range(num_classes))
        )
        self.confusion = np.zeros((num_classes, num_classes + 1), dtype=np.int64)
        self.images = 0

    def reset(self) -> None:
        """Forget everything seen so far."""
        self.confusion[:] = 0
        self.images = 0

    def add(self, prediction: np.ndarray, target: np.ndarray) -> None:
        """Accumulate one ``(H, W)`` predicted class map against its ``(H, W)`` ground truth.

        Raises:
            ValueError: the two maps differ in shape.

        Example:
            >>> s = SemanticScorer(3); s.add(np.zeros((2, 2), int), np.zeros((2, 2), int)); int(s.confusion[0, 0])
            4
        """
        pred = np.asarray(prediction)
        gt = np.asarray(target)
        if pred.shape != gt.shape:
            raise ValueError(f"prediction shape {pred.shape} != ground-truth shape {gt.shape}")
        c = self.num_classes
        gt = gt.astype(np.int64, copy=False).ravel()
        pred = pred.astype(np.int64, copy=False).ravel()
        valid = (gt >= 0) & (gt < c) & (gt != self.ignore_index)
        gt = gt[valid]
        pred = pred[valid]
        pred = np.where((pred >= 0) & (pred < c), pred, c)
        counts = np.bincount(gt * (c + 1) + pred, minlength=c * (c + 1))
        self.confusion += counts.reshape(c, c + 1)
        self.images += 1

    def update(self, predictions: Sequence[np.ndarray], targets: Sequence[GroundTruth | np.ndarray]) -> None:
        """Accumulate a batch; targets are :class:`GroundTruth` (``semantic`` used) or plain arrays.

        Raises:
            ValueError: lengths differ, or a :class:`GroundTruth` has no ``semantic`` map.
        """
        if len(predictions) != len(targets):
            raise ValueError(f"{len(predictions)} predictions for {len(targets)} targets")
        for pred, target in zip(predictions, targets):
            if isinstance(target, GroundTruth):
                if target.semantic is None:
                    raise ValueError("ground truth has no semantic map")
                target = target.semantic
            self.add(pred, target)

    def merge(self, other: SemanticScorer) -> None:
        """Add another scorer's counts (same classes) into this one."""
        if other.confusion.shape != self.confusion.shape or other.ignore_index != self.ignore_index:
            raise ValueError("cannot merge scorers with different classes or ignore label")
        self.confusion += other.confusion
        self.images += other.images

    # ------------------------------------------------------------------ derived counts
    def _tp_fp_fn(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        c = self.num_classes
        square = self.confusion[:, :c]
        tp = np.diag(square).astype(np.float64)
        fp = square.sum(axis=0) - tp  # predicted as c, ground truth another counted class
        fn = self.confusion.sum(axis=1) - tp  # ground truth c, predicted anything else (incl. outside)
        return tp, fp, fn

    def iou_per_class(self) -> np.ndarray:
        """``(C,)`` IoU per class; NaN where ``TP + FP + FN = 0``."""
        tp, fp, fn = self._tp_fp_fn()
        union = tp + fp + fn
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(union > 0, tp / np.where(union > 0, union, 1), np.nan)

    def accuracy_per_class(self) -> np.ndarray:
        """``(C,)`` per-class pixel accuracy (recall) ``TP / (TP + FN)``; NaN for classes absent from GT."""
        tp, _, fn = self._tp_fp_fn()
        support = tp + fn
        return np.where(support > 0, tp / np.where(support > 0, support, 1), np.nan)

    def compute(self) -> dict[str, float]:
        """``miou``, ``mpa`` and ``pixel_acc`` in [0, 1] (NaN when nothing was counted).

        Example:
            >>> SemanticScorer(2).compute()["miou"]
            nan
        """
        total = int(self.confusion.sum())
        if total == 0:
            logger.warning("semantic scorer: no labelled pixels seen; scores are NaN")
            return {"miou": math.nan, "mpa": math.nan, "pixel_acc": math.nan}
        iou = self.iou_per_class()
        acc = self.accuracy_per_class()
        tp = np.trace(self.confusion[:, : self.num_classes])
        return {
            "miou": float(np.nanmean(iou)),
            "mpa": float(np.nanmean(acc)),
            "pixel_acc": float(tp / total),
        }

    def per_class_iou(self) -> dict[str, float]:
        """Per-class IoU keyed by class name (NaN for classes neither present nor predicted).

        Example:
            >>> s = SemanticScorer(2, class_names=["road", "sky"]); s.add(np.array([0]), np.array([0]))
            >>> s.per_class_iou()
            {'road': 1.0, 'sky': nan}
        """
        return {name: float(v) for name, v in zip(self.class_names, self.iou_per_class())}

    def per_class_accuracy(self) -> dict[str, float]:
        """Per-class pixel accuracy keyed by class name (NaN for classes absent from the ground truth)."""
        return {name: float(v) for name, v in zip(self.class_names, self.accuracy_per_class())}

    def describe(self) -> dict[str, object]:
        """The conventions, for the run record."""
        return {
            "num_classes": self.num_classes,
            "ignore_index": self.ignore_index,
            "accumulation": "one confusion matrix over the dataset",
            "miou": "mean over classes with TP+FP+FN>0 of TP/(TP+FP+FN)",
            "mpa": "mean over classes present in the ground truth of TP/(TP+FN)",
            "pixel_acc": "sum TP / labelled pixels",
            "prediction_outside_classes": "false negative of the true class",
            "images": self.images,
        }
