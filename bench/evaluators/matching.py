"""Box and mask IoU, greedy matching at the operating point, the IoU readings of Table 6, pseudo labels.

Boxes are ``x1, y1, x2, y2`` pixels; IoU is area-based (no +1), as in pycocotools. ``box_iou`` stays
hand-written: ``torchvision.ops.box_iou`` gives the same values on valid boxes (tested) but NaN for a
zero union and no intersection for COCO's crowd rule (intersection over the detection's area).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.evaluators.base import Detections, GroundTruth


def box_iou(a: np.ndarray, b: np.ndarray, crowd: np.ndarray | None = None) -> np.ndarray:
    """Pairwise IoU of ``(N, 4)`` detections and ``(M, 4)`` ground-truth ``x1, y1, x2, y2`` boxes, ``(N, M)``.

    Against a crowd region (``crowd[j]``) the overlap is COCO's: intersection over the *detection's* area,
    so a detection inside a crowd counts as on it however large the crowd box is.

    Example:
        >>> box_iou(np.array([[0, 0, 2, 2.0]]), np.array([[1, 0, 3, 2.0]]))
        array([[0.33333333]])
        >>> box_iou(np.array([[0, 0, 1, 1.0]]), np.array([[0, 0, 10, 10.0]]), crowd=np.array([True]))
        array([[1.]])
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    if crowd is not None and len(b):
        union = np.where(np.asarray(crowd, dtype=bool)[None, :], area_a[:, None], union)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def encode_masks(masks: np.ndarray) -> list[dict[str, Any]]:
    """``(K, H, W)`` bool masks to pycocotools compressed RLEs (counts as ``str``)."""
    from pycocotools import mask as mask_utils

    if len(masks) == 0:
        return []
    rles = mask_utils.encode(np.asfortranarray(np.moveaxis(np.asarray(masks, dtype=np.uint8), 0, -1)))
    for rle in rles:
        rle["counts"] = rle["counts"].decode("ascii")
    return rles


def rle_iou(dt: list[dict[str, Any]], gt: list[dict[str, Any]], crowd: np.ndarray | None = None) -> np.ndarray:
    """Mask IoU (pycocotools; against crowd regions intersection over the detection's area, as COCO)."""
    from pycocotools import mask as mask_utils

    if not dt or not gt:
        return np.zeros((len(dt), len(gt)))
    flags = [int(c) for c in crowd] if crowd is not None else [0] * len(gt)
    return np.asarray(mask_utils.iou(dt, gt, flags), dtype=np.float64).reshape(len(dt), len(gt))


def match_greedy(
    iou: np.ndarray,
    scores: np.ndarray,
    det_labels: np.ndarray,
    gt_labels: np.ndarray,
    gt_crowd: np.ndarray,
    iou_threshold: float,
) -> tuple[list[tuple[int, int, float]], int, int]:
    """Greedy one-to-one matching in descending score order (the paper's operating point rule).

    Args:
        iou: ``(D, G)`` IoU matrix.
        scores: ``(D,)`` detection scores (only the detections to be counted).
        det_labels: ``(D,)`` detection classes.
        gt_labels: ``(G,)`` ground-truth classes.
        gt_crowd: ``(G,)`` crowd flags.
        iou_threshold: Minimum IoU of a match.

    Returns:
        ``(matches, fp, fn)``: matched ``(det, gt, iou)`` triples, false positives, missed non-crowd objects.

    Example:
        >>> iou = np.array([[0.9, 0.0], [0.6, 0.0]])
        >>> match_greedy(iou, np.array([0.9, 0.8]), np.array([0, 0]), np.array([0, 0]),
        ...              np.array([False, False]), 0.5)
        ([(0, 0, 0.9)], 1, 1)
    """
    order = np.argsort(-np.asarray(scores), kind="stable")
    matched = np.zeros(len(gt_labels), dtype=bool)
    matches: list[tuple[int, int, float]] = []
    fp = 0
    for d in order:
        same = gt_labels == det_labels[d]
        candidates = np.where(same & ~matched & ~gt_crowd, iou[d], -1.0)
        g = int(np.argmax(candidates)) if len(candidates) else -1
        if g >= 0 and candidates[g] >= iou_threshold:
            matched[g] = True
            matches.append((int(d), g, float(iou[d, g])))
            continue
        crowd_iou = np.where(same & gt_crowd, iou[d], -1.0)
        if len(crowd_iou) and crowd_iou.max() >= iou_threshold:
            continue  # on a crowd region: ignored, as in COCO
        fp += 1
    fn = int((~matched & ~gt_crowd).sum())
    return matches, fp, fn


#: The readings of the paper's "IoU" column (Table 6 does not define it); ``iou`` in a record is the one the
#: scorer's ``iou_variant`` names, every reading is stored as ``iou_<variant>``. See docs/metrics.md.
IOU_VARIANTS: dict[str, str] = {
    "overlap": "mean over detections (score >= threshold) that overlap a same-class object of their best IoU "
    "with one (detections overlapping nothing are excluded)",
    "matched": "mean IoU of the matched (true-positive) pairs; >= match_iou by construction",
    "gt_best": "mean over all non-crowd objects of the best IoU with a same-class detection (0 when none)",
    "det_best": "mean over all detections (score >= threshold) of their best IoU with a same-class object "
    "(0 when none)",
}
DEFAULT_IOU_VARIANT = "overlap"


def iou_readings(
    iou: np.ndarray, det_labels: np.ndarray, gt_labels: np.ndarray, gt_crowd: np.ndarray, matched: Sequence[float]
) -> dict[str, tuple[float, int]]:
    """``(sum, count)`` of every :data:`IOU_VARIANTS` reading on one image (summed over a set, then divided).

    Example:
        >>> r = iou_readings(np.array([[0.8], [0.2], [0.0]]), np.array([0, 0, 0]), np.array([0]), np.array([False]), [0.8])
        >>> {k: round(v[0] / v[1], 3) for k, v in r.items()}
        {'overlap': 0.5, 'matched': 0.8, 'gt_best': 0.8, 'det_best': 0.333}
    """
    real = ~np.asarray(gt_crowd, dtype=bool)
    same = np.asarray(det_labels)[:, None] == np.asarray(gt_labels)[None, :]
    scored = np.where(same & real[None, :], iou, 0.0) if iou.size else np.zeros((len(det_labels), len(gt_labels)))
    det_best = scored.max(axis=1) if scored.shape[1] else np.zeros(len(det_labels))
    gt_best = scored.max(axis=0)[real] if scored.shape[0] else np.zeros(int(real.sum()))
    overlapping = det_best[det_best > 0]
    return {
        "overlap": (float(overlapping.sum()), len(overlapping)),
        "matched": (float(np.sum(matched)), len(matched)),
        "gt_best": (float(gt_best.sum()), len(gt_best)),
        "det_best": (float(det_best.sum()), len(det_best)),
    }


def pseudo_ground_truth(detections: Detections, score_threshold: float = 0.6) -> GroundTruth:
    """Turn a model's output on the clean image into pseudo ground truth (``pseudo=True``).

    Used for sets without labels: detections with score >= ``score_threshold`` become the objects.

    Example:
        >>> det = Detections(np.array([[0, 0, 4, 4.0], [1, 1, 2, 2.0]]), np.array([0.9, 0.2]), np.array([3, 1]))
        >>> gt = pseudo_ground_truth(det, 0.5)
        >>> gt.labels.tolist(), gt.pseudo
        ([3], True)
    """
    keep = np.asarray(detections.scores) >= score_threshold
    masks = None if detections.masks is None else np.asarray(detections.masks)[keep].astype(bool)
    return GroundTruth(
        boxes=np.asarray(detections.boxes, dtype=np.float64).reshape(-1, 4)[keep],
        labels=np.asarray(detections.labels, dtype=np.int64)[keep],
        masks=masks,
        iscrowd=np.zeros(int(keep.sum()), dtype=bool),
        pseudo=True,
    )
