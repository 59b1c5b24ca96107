"""COCO mAP through pycocotools' ``COCOeval`` for the scorers of :mod:`bench.evaluators.scoring`.

:func:`coco_map` builds the COCO ground-truth dataset and result list of a set of images (category id =
class index + 1, boxes ``x, y, w, h``, masks as RLE, object ``area`` by :func:`object_areas`) and returns
mAP@[.5:.95], mAP@.5 and :func:`ap_breakdown` (per-class AP and AP by object size).
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = ["CocoImage", "ap_breakdown", "coco_map", "in_area_range", "object_areas", "xyxy_to_xywh"]

logger = logging.getLogger(__name__)


@dataclass
class CocoImage:
    """One image as the scorers keep it: ground truth and detections (boxes ``x1, y1, x2, y2``, RLE masks).

    ``gt_areas`` are the objects' annotation areas (:attr:`~bench.data.annotations.GroundTruth.areas`, NaN
    where unknown; ``None``: all unknown), the areas COCOeval bins by size; see :func:`object_areas`.
    """

    image_id: int
    name: str
    height: int
    width: int
    gt_boxes: np.ndarray
    gt_labels: np.ndarray
    gt_crowd: np.ndarray
    gt_rles: list[dict[str, Any]] | None
    dt_boxes: np.ndarray
    dt_scores: np.ndarray
    dt_labels: np.ndarray
    dt_rles: list[dict[str, Any]] | None
    counts: dict[str, int] = field(default_factory=dict)
    gt_areas: np.ndarray | None = None


def object_areas(
    boxes_xywh: np.ndarray, rles: Sequence[Mapping[str, Any]] | None = None, given: np.ndarray | None = None
) -> list[float]:
    """Each ground-truth object's ``area`` in the COCO dataset COCOeval scores (what its size ranges bin).

    The given annotation area where known (COCO's ``area``: the segmentation's area, for box AP too, as
    pycocotools reads it), else the mask area of ``rles`` (mask AP) or the box area ``w * h``.

    Raises:
        ValueError: ``given`` holds another number of areas than there are boxes.

    Example:
        >>> object_areas(np.array([[0, 0, 40, 40.0], [0, 0, 10, 10]]), given=np.array([800.0, np.nan]))
        [800.0, 100.0]
    """
    boxes_xywh = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
    if rles is not None:
        from pycocotools import mask as mask_utils

        fallback = [float(mask_utils.area(rle)) for rle in rles]
    else:
        fallback = [float(w * h) for w, h in boxes_xywh[:, 2:]]
    if given is None:
        return fallback
    areas = np.asarray(given, dtype=np.float64).reshape(-1)
    if len(areas) != len(fallback):
        raise ValueError(f"{len(areas)} object areas for {len(fallback)} objects")
    return [float(a) if np.isfinite(a) else f for a, f in zip(areas.tolist(), fallback)]


def in_area_range(area: float, area_range: Sequence[float]) -> bool:
    """Whether COCOeval counts an object of ``area`` in ``area_range``: both ends included, as pycocotools.

    So an object of exactly 32² px counts as small *and* medium (COCOeval ignores it in neither).

    Example:
        >>> in_area_range(32.0**2, [0, 32**2]), in_area_range(32.0**2, [32**2, 96**2])
        (True, True)
    """
    return float(area_range[0]) <= float(area) <= float(area_range[1])


def _mean_valid(values: np.ndarray) -> float | None:
    """Mean of COCOeval precision entries that are defined (> -1); None when none is."""
    valid = values[values > -1]
    return float(np.mean(valid)) if valid.size else None


def ap_breakdown(evaluator: Any | None, annotations: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per-class AP and AP by object size from an accumulated ``COCOeval`` (what ``summarize`` prints).

    Args:
        evaluator: A ``COCOeval`` after ``evaluate()`` and ``accumulate()``; category id = class index + 1.
            ``None`` when there were no detections at all (AP 0 wherever there are objects).
        annotations: Its ground-truth annotations (to count each class's non-crowd objects).

    Returns:
        ``{"per_class": {class index: {"ap", "ap50", "n_objects"}}, "by_size": {"small" | "medium" |
        "large": {"ap", "ap50", "n_objects"}}, "area_ranges": ...}``; AP is None where undefined (no object
        of that class or size). Classes without ground-truth objects are left out. Sizes bin the
        annotations' ``area`` with both range ends included (:func:`in_area_range`, as COCOeval), so an
        object on a range edge counts in both ranges.
    """
    from pycocotools.cocoeval import Params

    params = evaluator.params if evaluator is not None else Params(iouType="bbox")
    if evaluator is None:
        params.catIds = sorted({int(a["category_id"]) for a in annotations})
        shape = (len(params.iouThrs), len(params.recThrs), len(params.catIds), len(params.areaRng), 1)
        precision = np.zeros(shape)
        for a, rng in enumerate(params.areaRng):  # -1 (undefined) where no object of that size exists
            if not any(in_area_range(x["area"], rng) and not x.get("iscrowd") for x in annotations):
                precision[:, :, :, a, :] = -1
    else:
        precision = evaluator.eval["precision"]  # (T, R, K, A, M)
    at50 = np.isclose(params.iouThrs, 0.5)
    objects: dict[int, int] = {}
    sizes: dict[str, int] = {}
    labels = list(params.areaRngLbl)
    for ann in annotations:
        if ann.get("iscrowd"):
            continue
        objects[int(ann["category_id"])] = objects.get(int(ann["category_id"]), 0) + 1
        for label, rng in zip(labels, params.areaRng):
            if label != "all" and in_area_range(ann["area"], rng):
                sizes[label] = sizes.get(label, 0) + 1
    per_class: dict[str, dict[str, Any]] = {}
    for k, cat_id in enumerate(params.catIds):
        if objects.get(int(cat_id), 0) == 0:
            continue
        p = precision[:, :, k, 0, -1]
        per_class[str(int(cat_id) - 1)] = {
            "ap": _mean_valid(p),
            "ap50": _mean_valid(p[at50]),
            "n_objects": objects[int(cat_id)],
        }
    by_size = {
        label: {
            "ap": _mean_valid(precision[:, :, :, a, -1]),
            "ap50": _mean_valid(precision[at50][:, :, :, a, -1]),
            "n_objects": sizes.get(label, 0),
        }
        for a, label in enumerate(labels)
        if label != "all"
    }
    ranges = {label: [float(lo), float(hi)] for label, (lo, hi) in zip(labels, params.areaRng) if label != "all"}
    return {"per_class": per_class, "by_size": by_size, "area_ranges": ranges}


def xyxy_to_xywh(boxes: np.ndarray) -> np.ndarray:
    """``x1, y1, x2, y2`` boxes as COCO's ``x, y, w, h``."""
    out = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
    out[:, 2:] -= out[:, :2]
    return out


def coco_map(
    records: Sequence[CocoImage], iou_type: Literal["bbox", "segm"], max_dets: int = 100
) -> tuple[float, float, dict[str, Any] | None]:
    """pycocotools AP@[.5:.95], AP@.5 and their :func:`ap_breakdown` over ``records``.

    Both APs are NaN (and the breakdown None) when there is no ground truth at all; 0 when nothing is
    detected.

    Example:
        >>> gt = np.array([[0, 0, 10, 10.0]])
        >>> one = CocoImage(1, "a", 10, 10, gt, np.array([0]), np.zeros(1, bool), None,
        ...                 gt, np.array([0.9]), np.array([0]), None)
        >>> [round(ap, 6) for ap in coco_map([one], "bbox")[:2]]
        [1.0, 1.0]
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    categories: set[int] = set()
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for rec in records:
        images.append({"id": rec.image_id, "height": rec.height, "width": rec.width})
        gt_xywh = xyxy_to_xywh(rec.gt_boxes)
        rles = None
        if iou_type == "segm" and len(rec.gt_labels):
            assert rec.gt_rles is not None
            rles = rec.gt_rles
        areas = object_areas(gt_xywh, rles, rec.gt_areas)
        for k in range(len(rec.gt_labels)):
            ann: dict[str, Any] = {
                "id": len(annotations) + 1,
                "image_id": rec.image_id,
                "category_id": int(rec.gt_labels[k]) + 1,
                "bbox": gt_xywh[k].tolist(),
                "area": areas[k],
                "iscrowd": int(rec.gt_crowd[k]),
            }
            if rles is not None:
                ann["segmentation"] = rles[k]
            annotations.append(ann)
            categories.add(int(rec.gt_labels[k]) + 1)
        dt_xywh = xyxy_to_xywh(rec.dt_boxes)
        for k in range(len(rec.dt_labels)):
            res: dict[str, Any] = {
                "image_id": rec.image_id,
                "category_id": int(rec.dt_labels[k]) + 1,
                "score": float(rec.dt_scores[k]),
            }
            if iou_type == "segm":
                assert rec.dt_rles is not None
                res["segmentation"] = rec.dt_rles[k]
            else:
                res["bbox"] = dt_xywh[k].tolist()
            results.append(res)
            categories.add(int(rec.dt_labels[k]) + 1)
    if not annotations:
        logger.warning("no ground-truth objects: mAP is undefined (NaN)")
        return float("nan"), float("nan"), None
    if not results:  # nothing detected: every class and size with objects has AP 0
        return 0.0, 0.0, ap_breakdown(None, annotations)
    gt_api = COCO()
    gt_api.dataset = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": c, "name": str(c)} for c in sorted(categories)],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt_api.createIndex()
        dt_api = gt_api.loadRes(results)
        evaluator = COCOeval(gt_api, dt_api, iouType=iou_type)
        evaluator.params.maxDets = [1, 10, max_dets]
        evaluator.evaluate()
        evaluator.accumulate()
    # As COCOeval.summarize: mean over IoU thresholds, recall points and categories of the interpolated
    # precision (area "all", the last max-dets setting), ignoring -1 (categories without ground truth).
    precision = evaluator.eval["precision"][:, :, :, 0, -1]  # (T, R, K)

    def mean_valid(values: np.ndarray) -> float:
        valid = values[values > -1]
        return float(np.mean(valid)) if valid.size else float("nan")

    iou_thrs = evaluator.params.iouThrs
    return mean_valid(precision), mean_valid(precision[np.isclose(iou_thrs, 0.5)]), ap_breakdown(evaluator, annotations)
