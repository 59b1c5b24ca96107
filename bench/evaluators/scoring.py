"""Dataset-level scorers for detection and instance segmentation.

* COCO mAP@[.5:.95] and mAP@.5 through pycocotools' ``COCOeval`` (101-point interpolated AP, area "all",
  ``max_dets`` detections per image), computed from *all* detections the evaluator returns (its low
  validation confidence, 0.001 by default), as COCO evaluation expects.
* The paper's operating point (Table 6): detections with score >= ``score_threshold`` (0.6) are matched
  greedily in descending score order, each to the unmatched ground-truth object of the same class with the
  highest IoU, if that IoU >= ``match_iou`` (0.5). Precision = TP / (TP + FP), recall = TP / (TP + FN) over
  the whole set. IoU (``iou``) is the ``iou_variant`` reading, summed over the set and then divided; the
  default ``overlap`` is the mean, over the detections (score >= threshold) that overlap a same-class
  non-crowd object, of their best IoU with one (``matched``: mean IoU of the matched pairs; every reading
  is also kept as ``iou_<variant>``, :data:`IOU_VARIANTS`). Crowd ground truth is not counted as a miss; a
  detection whose best same-class match is a crowd region is ignored (neither TP nor FP). Undefined ratios
  (0 / 0) are ``zero_division`` (0.0).
* Per-class AP and AP by object size (:meth:`CocoDetectionScorer.ap_breakdown`) from the same ``COCOeval``;
  sizes bin each object's annotation ``area`` where the labels carry one (COCO JSON), else its box area
  (mask area for mask AP), range ends included, as pycocotools.

Boxes are ``x1, y1, x2, y2`` pixels; IoU is area-based (no +1), as in pycocotools.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from bench.evaluators.base import Detections, GroundTruth
from bench.evaluators.coco_map import CocoImage, ap_breakdown, coco_map
from bench.evaluators.matching import (
    DEFAULT_IOU_VARIANT,
    IOU_VARIANTS,
    box_iou,
    encode_masks,
    iou_readings,
    match_greedy,
    pseudo_ground_truth,
    rle_iou,
)

__all__ = [
    "DEFAULT_IOU_VARIANT",
    "DETECTION_KEYS",
    "INSTANCE_KEYS",
    "IOU_VARIANTS",
    "CocoDetectionScorer",
    "CocoInstanceScorer",
    "ap_breakdown",
    "box_iou",
    "encode_masks",
    "iou_readings",
    "match_greedy",
    "pseudo_ground_truth",
]


DETECTION_KEYS: tuple[str, ...] = ("map50_95", "map50", "precision", "recall", "iou")
INSTANCE_KEYS: tuple[str, ...] = ("mask_map50_95", "mask_map50", "box_map50_95", "box_map50")


class CocoDetectionScorer:
    """Streaming COCO box mAP plus the paper's precision / recall / IoU operating point.

    Args:
        score_threshold: Operating-point score threshold for P / R / IoU (paper: 0.6).
        match_iou: IoU needed for a true positive at the operating point (0.5).
        max_dets: Detections per image considered by COCOeval (COCO: 100).
        zero_division: Value of precision / recall / IoU when undefined (0 / 0).
        iou_variant: Which IoU reading is ``iou`` (:data:`IOU_VARIANTS`; default ``overlap``).

    Example:
        >>> scorer = CocoDetectionScorer()
        >>> gt = GroundTruth(np.array([[0, 0, 10, 10.0]]), np.array([0]))
        >>> scorer.update([Detections(gt.boxes, np.array([0.9]), gt.labels)], [gt])
        >>> round(scorer.compute()["map50_95"], 6)
        1.0
    """

    keys: tuple[str, ...] = DETECTION_KEYS
    use_masks: bool = False

    def __init__(
        self,
        *,
        score_threshold: float = 0.6,
        match_iou: float = 0.5,
        max_dets: int = 100,
        zero_division: float = 0.0,
        iou_variant: str = DEFAULT_IOU_VARIANT,
    ) -> None:
        if iou_variant not in IOU_VARIANTS:
            raise ValueError(f"iou_variant must be one of {', '.join(IOU_VARIANTS)}, not {iou_variant!r}")
        self.iou_variant = iou_variant
        self.score_threshold = float(score_threshold)
        self.match_iou = float(match_iou)
        self.max_dets = int(max_dets)
        self.zero_division = float(zero_division)
        self._images: list[CocoImage] = []
        self._breakdowns: dict[str, dict[str, Any]] = {}

    def config(self) -> dict[str, Any]:
        """Every threshold of this scorer, for the run record and the printed table."""
        return {
            "map": "pycocotools COCOeval, 101-point interpolated AP, IoU 0.50:0.05:0.95, area all",
            "iou_type": "segm+bbox" if self.use_masks else "bbox",
            "max_dets": self.max_dets,
            "operating_point_score": self.score_threshold,
            "operating_point_match_iou": self.match_iou,
            "iou_variant": self.iou_variant,
            "iou_definition": IOU_VARIANTS[self.iou_variant],
            "matching": "greedy by descending score, same class, unmatched ground truth",
            "zero_division": self.zero_division,
        }

    def reset(self) -> None:
        self._images.clear()

    def __len__(self) -> int:
        return len(self._images)

    def update(
        self,
        predictions: Sequence[Detections],
        targets: Sequence[GroundTruth],
        names: Sequence[str] | None = None,
        shapes: Sequence[tuple[int, int]] | None = None,
    ) -> None:
        """Add images: their detections (all, at the evaluator's low confidence) and ground truth.

        Args:
            predictions: One :class:`Detections` per image.
            targets: One :class:`GroundTruth` per image.
            names: Optional image names for :attr:`per_image` (default: running index).
            shapes: Optional ``(H, W)`` per image; needed only when neither masks give it. For box
                evaluation any shape containing the boxes works.
        """
        if len(predictions) != len(targets):
            raise ValueError(f"{len(predictions)} predictions for {len(targets)} targets")
        for k, (det, gt) in enumerate(zip(predictions, targets)):
            image_id = len(self._images) + 1
            name = str(names[k]) if names is not None else str(image_id - 1)
            height, width = self._shape(det, gt, None if shapes is None else shapes[k])
            gt_rles = dt_rles = None
            if self.use_masks:
                if gt.masks is None and len(gt.labels) > 0:
                    raise ValueError(f"image {name}: instance scoring needs ground-truth masks")
                if det.masks is None and len(det.scores) > 0:
                    raise ValueError(f"image {name}: instance scoring needs predicted masks")
                gt_rles = [] if gt.masks is None else encode_masks(gt.masks)  # None: an image without objects
                dt_rles = [] if det.masks is None else encode_masks(det.masks)
            n_gt = len(gt.labels)
            areas = None if gt.areas is None else np.asarray(gt.areas, dtype=np.float64).reshape(-1)
            if areas is not None and len(areas) != n_gt:
                raise ValueError(f"image {name}: {len(areas)} object areas for {n_gt} objects")
            record = CocoImage(
                image_id=image_id,
                name=name,
                height=height,
                width=width,
                gt_boxes=np.asarray(gt.boxes, dtype=np.float64).reshape(-1, 4),
                gt_labels=np.asarray(gt.labels, dtype=np.int64).reshape(-1),
                gt_crowd=(
                    np.zeros(n_gt, dtype=bool) if gt.iscrowd is None else np.asarray(gt.iscrowd, dtype=bool).reshape(-1)
                ),
                gt_rles=gt_rles,
                dt_boxes=np.asarray(det.boxes, dtype=np.float64).reshape(-1, 4),
                dt_scores=np.asarray(det.scores, dtype=np.float64).reshape(-1),
                dt_labels=np.asarray(det.labels, dtype=np.int64).reshape(-1),
                dt_rles=dt_rles,
                gt_areas=areas,
            )
            record.counts = self._operating_point(record)[0]
            self._images.append(record)

    @staticmethod
    def _shape(det: Detections, gt: GroundTruth, shape: tuple[int, int] | None) -> tuple[int, int]:
        for masks in (gt.masks, det.masks):
            if masks is not None and np.ndim(masks) == 3:
                return int(masks.shape[1]), int(masks.shape[2])
        if shape is not None:
            return int(shape[0]), int(shape[1])
        boxes = np.concatenate([np.asarray(gt.boxes).reshape(-1, 4), np.asarray(det.boxes).reshape(-1, 4)])
        extent = np.ceil(boxes[:, 2:].max(axis=0)) if len(boxes) else np.ones(2)
        return int(max(extent[1], 1)), int(max(extent[0], 1))

    def _operating_point(self, rec: CocoImage) -> tuple[dict[str, int], dict[str, tuple[float, int]]]:
        keep = rec.dt_scores >= self.score_threshold
        idx = np.flatnonzero(keep)
        if self.use_masks and rec.dt_rles is not None and rec.gt_rles is not None:
            iou = rle_iou([rec.dt_rles[i] for i in idx], rec.gt_rles, rec.gt_crowd)
        else:
            iou = box_iou(rec.dt_boxes[idx], rec.gt_boxes, rec.gt_crowd)
        matches, fp, fn = match_greedy(
            iou, rec.dt_scores[idx], rec.dt_labels[idx], rec.gt_labels, rec.gt_crowd, self.match_iou
        )
        readings = iou_readings(iou, rec.dt_labels[idx], rec.gt_labels, rec.gt_crowd, [m[2] for m in matches])
        return {"tp": len(matches), "fp": fp, "fn": fn}, readings

    @property
    def per_image(self) -> list[dict[str, Any]]:
        """Per-image ``name``, ``tp``, ``fp``, ``fn`` at the operating point (rows of the run record)."""
        return [{"name": rec.name, **rec.counts} for rec in self._images]

    def _ratio(self, num: float, den: float) -> float:
        return float(num / den) if den > 0 else self.zero_division

    def _operating_point_summary(self) -> dict[str, float]:
        tp = fp = fn = 0
        sums = dict.fromkeys(IOU_VARIANTS, 0.0)
        counts_ = dict.fromkeys(IOU_VARIANTS, 0)
        for rec in self._images:
            counts, readings = self._operating_point(rec)
            tp += counts["tp"]
            fp += counts["fp"]
            fn += counts["fn"]
            for name, (total, n) in readings.items():
                sums[name] += total
                counts_[name] += n
        ious = {f"iou_{name}": self._ratio(sums[name], counts_[name]) for name in IOU_VARIANTS}
        return {
            "precision": self._ratio(tp, tp + fp),
            "recall": self._ratio(tp, tp + fn),
            "iou": ious[f"iou_{self.iou_variant}"],
            **ious,
        }

    def _coco_eval(self, iou_type: Literal["bbox", "segm"]) -> tuple[float, float]:
        """pycocotools AP@[.5:.95] and AP@.5 (NaN when there is no ground truth at all)."""
        map50_95, map50, breakdown = coco_map(self._images, iou_type, self.max_dets)
        self._breakdowns.pop(iou_type, None)  # none when mAP is undefined
        if breakdown is not None:
            self._breakdowns[iou_type] = breakdown
        return map50_95, map50

    def ap_breakdown(self) -> dict[str, Any]:
        """Per-class AP and AP by object size of the last :meth:`compute` (per IoU type: ``bbox``, ``segm``)."""
        return dict(self._breakdowns)

    def compute(self) -> dict[str, float]:
        """The scores over all images added so far (keys :data:`DETECTION_KEYS`)."""
        map50_95, map50 = self._coco_eval("bbox")
        return {"map50_95": map50_95, "map50": map50, **self._operating_point_summary()}


class CocoInstanceScorer(CocoDetectionScorer):
    """Streaming COCO mask and box mAP for instance segmentation (keys :data:`INSTANCE_KEYS`).

    Masks are RLE-encoded as they arrive, so memory stays small. The per-image operating-point counts
    (:attr:`per_image`) use mask IoU.

    Example:
        >>> scorer = CocoInstanceScorer()
        >>> m = np.zeros((1, 8, 8), bool); m[0, 2:6, 2:6] = True
        >>> gt = GroundTruth(np.array([[2, 2, 6, 6.0]]), np.array([0]), masks=m)
        >>> scorer.update([Detections(gt.boxes, np.array([0.9]), gt.labels, m)], [gt])
        >>> round(scorer.compute()["mask_map50_95"], 6)
        1.0
    """

    keys = INSTANCE_KEYS
    use_masks = True

    def compute(self) -> dict[str, float]:
        mask_map50_95, mask_map50 = self._coco_eval("segm")
        box_map50_95, box_map50 = self._coco_eval("bbox")
        return {
            "mask_map50_95": mask_map50_95,
            "mask_map50": mask_map50,
            "box_map50_95": box_map50_95,
            "box_map50": box_map50,
        }
