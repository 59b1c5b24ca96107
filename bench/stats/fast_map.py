"""COCO mAP for many image resamples: pycocotools' per-image matching, cached once, AP vectorised over weights.

``COCOeval.evaluate()`` matches detections to ground truth per image, category and IoU threshold; that
matching does not depend on which other images are in the set. :class:`CocoMatches` runs it once (area
"all", ``max_dets`` detections) and keeps, per category and threshold, the detections in pycocotools'
global order (descending score, stable over images in id order) with their image, TP / FP / ignored flag.
The AP of a resample with image weights ``w`` (how often each image was drawn) is then computed as
``COCOeval.accumulate()`` would compute it on the multiset of images:

* at the ``j``-th true positive, ``TP_j = Σ w[image of TP i ≤ j]`` and ``FP_j = w · F[:, j]``, where
  ``F[i, j]`` counts image ``i``'s false positives ranked before it (a matrix product);
* precision ``TP / (FP + TP + eps)``, made monotone from the right; only true positives can be the first
  point reaching a recall threshold, so recall thresholds ``r`` with ``TP_{j−1} < r·npig ≤ TP_j`` take
  the monotone precision at ``j`` (pycocotools' ``searchsorted``, in the same floating-point operations);
* a category counts where the resample holds a non-ignored ground-truth object; mAP is the mean over
  those categories, IoU thresholds and the 101 recall points.

With all weights 1 this is pycocotools' number (tested to 1e-9). Copies of an image drawn several times
are consecutive in the ranking; only ties between different detections' scores could order them
otherwise, which pycocotools itself leaves to the input order.

Example:
    >>> from bench.evaluators.base import Detections, GroundTruth
    >>> gt = GroundTruth(np.array([[0, 0, 10, 10.0]]), np.array([0]))
    >>> det = Detections(np.array([[0, 0, 10, 10.0]]), np.array([0.9]), np.array([0]))
    >>> matches = CocoMatches.build([gt, gt], [det, Detections.empty()], [(20, 20), (20, 20)])
    >>> matches.evaluate(np.array([[1.0, 1.0], [2.0, 0.0]]))["map50_95"].round(6).tolist()
    [0.50495, 1.0]
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from bench.evaluators.base import Detections, GroundTruth
from bench.evaluators.coco_map import object_areas

IouType = Literal["bbox", "segm"]
#: Weight rows evaluated at once (bounds memory: rows × true positives of the largest category).
CHUNK = 200


@dataclass
class _Segment:
    """One (category, IoU threshold): its true-positive points and what each needs from the weights."""

    category: int
    threshold: int
    images: np.ndarray  # images with detections or ground truth of this category
    tp_images: np.ndarray  # (P,) column into ``images`` of each true positive, in ranking order
    fp_before: np.ndarray  # (len(images), P) false positives of each image ranked before each TP


def _xywh(boxes: np.ndarray) -> np.ndarray:
    out = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
    out[:, 2:] -= out[:, :2]
    return out


def _rles(masks: np.ndarray | None, n: int) -> list[dict[str, Any]]:
    from bench.evaluators.scoring import encode_masks

    if n == 0:
        return []
    if masks is None:
        raise ValueError("segm mAP needs masks for every object")
    return encode_masks(np.asarray(masks, dtype=bool))


def coco_inputs(
    truths: Sequence[GroundTruth],
    detections: Sequence[Detections],
    shapes: Sequence[tuple[int, int]],
    iou_type: IouType = "bbox",
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The COCO ground-truth dataset and result list that :class:`~bench.evaluators.scoring.CocoDetectionScorer`
    builds (image ids ``1..n`` in order, category = label + 1, boxes ``x, y, w, h``, object ``area`` by
    :func:`~bench.evaluators.coco_map.object_areas`)."""
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    categories: set[int] = set()
    for k, (gt, det, (height, width)) in enumerate(zip(truths, detections, shapes)):
        image_id = k + 1
        images.append({"id": image_id, "height": int(height), "width": int(width)})
        labels = np.asarray(gt.labels, dtype=np.int64).reshape(-1)
        crowd = np.zeros(len(labels), bool) if gt.iscrowd is None else np.asarray(gt.iscrowd, bool).reshape(-1)
        boxes = _xywh(gt.boxes)
        gt_rles = _rles(gt.masks, len(labels)) if iou_type == "segm" else []
        areas = object_areas(boxes, gt_rles if iou_type == "segm" else None, gt.areas)
        for j in range(len(labels)):
            ann: dict[str, Any] = {
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": int(labels[j]) + 1,
                "bbox": boxes[j].tolist(),
                "area": areas[j],
                "iscrowd": int(crowd[j]),
            }
            if iou_type == "segm":
                ann["segmentation"] = gt_rles[j]
            annotations.append(ann)
            categories.add(int(labels[j]) + 1)
        dt_labels = np.asarray(det.labels, dtype=np.int64).reshape(-1)
        dt_scores = np.asarray(det.scores, dtype=np.float64).reshape(-1)
        dt_boxes = _xywh(det.boxes)
        dt_rles = _rles(det.masks, len(dt_labels)) if iou_type == "segm" else []
        for j in range(len(dt_labels)):
            res: dict[str, Any] = {"image_id": image_id, "category_id": int(dt_labels[j]) + 1}
            res["score"] = float(dt_scores[j])
            if iou_type == "segm":
                res["segmentation"] = dt_rles[j]
            else:
                res["bbox"] = dt_boxes[j].tolist()
            results.append(res)
            categories.add(int(dt_labels[j]) + 1)
    dataset = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": c, "name": str(c)} for c in sorted(categories)],
    }
    return dataset, results


class CocoMatches:
    """Cached COCOeval matching of one set of images; mAP@[.5:.95] and mAP@.5 for any image weights.

    Build it with :meth:`build`; :meth:`evaluate` takes a ``(B, n)`` weight matrix (ones: the full set).
    """

    def __init__(
        self, n_images: int, npig: np.ndarray, segments: list[_Segment], thresholds: np.ndarray, rec_thrs: np.ndarray
    ) -> None:
        self.n_images = n_images
        self.npig = npig  # (n_images, K) non-ignored ground truth per image and category
        self.segments = segments
        self.thresholds = thresholds  # IoU thresholds (T,)
        self.rec_thrs = rec_thrs  # recall thresholds (R,)

    @classmethod
    def build(
        cls,
        truths: Sequence[GroundTruth],
        detections: Sequence[Detections],
        shapes: Sequence[tuple[int, int]],
        *,
        iou_type: IouType = "bbox",
        max_dets: int = 100,
    ) -> CocoMatches:
        """Run pycocotools' ``evaluate()`` once (area "all") and cache the per-image matching.

        Args:
            truths: Ground truth per image (boxes ``x1, y1, x2, y2``; masks for ``segm``).
            detections: Every detection per image (the evaluator's low confidence).
            shapes: ``(H, W)`` per image.
            iou_type: ``bbox`` or ``segm``.
            max_dets: Detections per image and category that COCOeval keeps.
        """
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        n = len(truths)
        dataset, results = coco_inputs(truths, detections, shapes, iou_type)
        default = COCOeval(iouType=iou_type).params
        thresholds, rec_thrs = np.asarray(default.iouThrs), np.asarray(default.recThrs)
        cat_ids = [c["id"] for c in dataset["categories"]]
        if not dataset["annotations"] or not results:  # nothing to match: AP is 0 (or undefined)
            npig = np.zeros((n, len(cat_ids)))
            col = {c: k for k, c in enumerate(cat_ids)}
            for ann in dataset["annotations"]:
                if not ann["iscrowd"] and 0 <= ann["area"] <= default.areaRng[0][1]:
                    npig[ann["image_id"] - 1, col[ann["category_id"]]] += 1
            return cls(n, npig, [], thresholds, rec_thrs)
        gt_api = COCO()
        gt_api.dataset = dataset
        with contextlib.redirect_stdout(io.StringIO()):
            gt_api.createIndex()
            evaluator = COCOeval(gt_api, gt_api.loadRes(results), iouType=iou_type)
            evaluator.params.maxDets = [max_dets]
            evaluator.params.areaRng = [default.areaRng[0]]
            evaluator.params.areaRngLbl = ["all"]
            evaluator.evaluate()
        params = evaluator.params
        img_index = {img_id: i for i, img_id in enumerate(params.imgIds)}
        n_img = len(params.imgIds)
        npig = np.zeros((n, len(params.catIds)))
        segments: list[_Segment] = []
        for k in range(len(params.catIds)):
            found = [e for e in evaluator.evalImgs[k * n_img : (k + 1) * n_img] if e is not None]
            if not found:
                continue
            for e in found:
                npig[img_index[e["image_id"]], k] = np.count_nonzero(np.asarray(e["gtIgnore"]) == 0)
            scores = np.concatenate([np.asarray(e["dtScores"][:max_dets], dtype=np.float64) for e in found])
            if scores.size == 0:
                continue
            owner = np.concatenate(
                [np.full(len(e["dtScores"][:max_dets]), img_index[e["image_id"]], dtype=np.int64) for e in found]
            )
            order = np.argsort(-scores, kind="mergesort")  # as COCOeval.accumulate
            matched = np.concatenate([e["dtMatches"][:, :max_dets] for e in found], axis=1)[:, order]
            ignored = np.concatenate([e["dtIgnore"][:, :max_dets] for e in found], axis=1)[:, order]
            owner = owner[order]
            images = np.unique([img_index[e["image_id"]] for e in found])
            column = np.searchsorted(images, owner)
            for t in range(len(thresholds)):
                tps = np.logical_and(matched[t], np.logical_not(ignored[t]))
                fps = np.logical_and(np.logical_not(matched[t]), np.logical_not(ignored[t]))
                tp_pos = np.flatnonzero(tps)
                if tp_pos.size == 0:
                    continue
                fp_pos = np.flatnonzero(fps)
                nxt = np.searchsorted(tp_pos, fp_pos)  # the first TP ranked after each FP
                keep = nxt < tp_pos.size
                fp_before = np.zeros((images.size, tp_pos.size))
                np.add.at(fp_before, (column[fp_pos[keep]], nxt[keep]), 1.0)
                segments.append(_Segment(k, t, images, column[tp_pos], np.cumsum(fp_before, axis=1)))
        return cls(n, npig, segments, thresholds, rec_thrs)

    def evaluate(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """``map50_95`` and ``map50`` for each row of ``(B, n)`` image weights (NaN: no ground truth).

        Example:
            >>> m = CocoMatches(2, np.zeros((2, 0)), [], np.linspace(0.5, 0.95, 10), np.linspace(0, 1, 101))
            >>> m.evaluate(np.ones((1, 2)))["map50"].tolist()
            [nan]
        """
        weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
        if weights.shape[1] != self.n_images:
            raise ValueError(f"weights for {weights.shape[1]} images, the set has {self.n_images}")
        parts = [self._evaluate(weights[s : s + CHUNK]) for s in range(0, len(weights), CHUNK)]
        return {key: np.concatenate([p[key] for p in parts]) for key in ("map50_95", "map50")}

    def _evaluate(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        b = len(weights)
        n_cat, n_thr, n_rec = self.npig.shape[1], len(self.thresholds), len(self.rec_thrs)
        npig = weights @ self.npig  # (B, K)
        ap = np.zeros((b, n_cat, n_thr))
        eps = np.spacing(1)
        for seg in self.segments:
            w = weights[:, seg.images]
            tp = np.cumsum(w[:, seg.tp_images], axis=1)
            fp = w @ seg.fp_before
            precision = tp / (fp + tp + eps)
            envelope = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
            total = npig[:, seg.category : seg.category + 1]
            with np.errstate(divide="ignore", invalid="ignore"):
                reached = np.searchsorted(self.rec_thrs, (tp / total).ravel(), side="right").reshape(tp.shape)
            served = np.diff(reached, axis=1, prepend=0)  # recall thresholds first reached at each TP
            ap[:, seg.category, seg.threshold] = np.sum(envelope * served, axis=1) / n_rec
        valid = npig > 0
        count = valid.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            map50_95 = np.where(valid, ap.mean(axis=2), 0.0).sum(axis=1) / count
            t50 = int(np.flatnonzero(np.isclose(self.thresholds, 0.5))[0])
            map50 = np.where(valid, ap[:, :, t50], 0.0).sum(axis=1) / count
        return {"map50_95": np.where(count > 0, map50_95, np.nan), "map50": np.where(count > 0, map50, np.nan)}
