"""Scores by image condition (day/night, rain preset) and confidence sweeps, from stored detections only.

A downstream run stores every scored image's ground truth and per-condition detections (the record's
state sidecar, replayed by ``bench.results.state.DetectionLog.replay``) and each row's image condition
(``time_of_day``, ``rain_preset``, carried from the built set's manifest). These functions rescore
subsets and thresholds from those, without running a model:

* :func:`confidence_sweep`: precision / recall / TP / FP / FN at each score threshold (the
  precision-recall curve of the operating point: greedy matching at ``match_iou``, crowds ignored,
  exactly the rule of the P/R columns, boxes only);
* :func:`split_scores`: COCO mAP and the operating point of each group of images (e.g. night frames).

Example:
    >>> import numpy as np
    >>> from bench.evaluators.base import Detections, GroundTruth
    >>> gt = GroundTruth(np.array([[0, 0, 10, 10.0]]), np.array([0]))
    >>> entries = [("a", (16, 16), gt, {"rainy": Detections(gt.boxes, np.array([0.7]), gt.labels)})]
    >>> [(p["threshold"], p["recall"]) for p in confidence_sweep(entries, "rainy", thresholds=(0.5, 0.8))]
    [(0.5, 1.0), (0.8, 0.0)]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.evaluators.base import Detections, GroundTruth

#: Fields of a downstream row that name an image condition (see ``bench.tasks.downstream``).
CONDITION_FIELDS: tuple[str, ...] = ("time_of_day", "rain_preset")
DEFAULT_THRESHOLDS: tuple[float, ...] = tuple(round(t, 2) for t in np.arange(0.05, 1.0, 0.05))

LoggedImage = tuple[str, tuple[int, int], GroundTruth, Mapping[str, Detections]]


def group_ids(rows: Iterable[Mapping[str, Any]], field: str) -> dict[str, list[str]]:
    """Image ids by the value of a row field (rows without it are left out), values sorted.

    Example:
        >>> group_ids([{"id": "a", "time_of_day": "night"}, {"id": "b", "time_of_day": "day"}], "time_of_day")
        {'day': ['b'], 'night': ['a']}
    """
    out: dict[str, list[str]] = {}
    for row in rows:
        if row.get(field) is not None:
            out.setdefault(str(row[field]), []).append(str(row["id"]))
    return dict(sorted(out.items()))


def confidence_sweep(
    entries: Iterable[LoggedImage],
    condition: str,
    *,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    match_iou: float = 0.5,
    ids: Iterable[str] | None = None,
) -> list[dict[str, float]]:
    """Precision and recall of ``condition``'s detections at each score threshold.

    Args:
        entries: Logged images ``(id, (H, W), ground truth, {condition: detections})``.
        condition: ``clean``, ``rainy`` or ``derained``.
        thresholds: Score thresholds (a detection counts when its score is ``>=`` the threshold).
        match_iou: IoU of a true positive (the record's ``operating_point_match_iou``).
        ids: Only these images (default: all).

    Returns:
        One ``{"threshold", "precision", "recall", "tp", "fp", "fn"}`` per threshold; precision is NaN
        where nothing is detected, recall NaN where there is no object.
    """
    from bench.evaluators.scoring import box_iou, match_greedy

    keep = None if ids is None else set(ids)
    counts = np.zeros((len(thresholds), 3), dtype=np.int64)
    for item_id, _, truth, preds in entries:
        if keep is not None and item_id not in keep:
            continue
        det = preds[condition]
        gt_boxes = np.asarray(truth.boxes, np.float64).reshape(-1, 4)
        gt_labels = np.asarray(truth.labels).reshape(-1)
        crowd = np.zeros(len(gt_labels), bool) if truth.iscrowd is None else np.asarray(truth.iscrowd, bool)
        scores = np.asarray(det.scores, np.float64).reshape(-1)
        boxes = np.asarray(det.boxes, np.float64).reshape(-1, 4)
        labels = np.asarray(det.labels).reshape(-1)
        iou_all = box_iou(boxes, gt_boxes, crowd)
        for t, threshold in enumerate(thresholds):
            idx = np.flatnonzero(scores >= threshold)
            matches, fp, fn = match_greedy(iou_all[idx], scores[idx], labels[idx], gt_labels, crowd, match_iou)
            counts[t] += (len(matches), fp, fn)
    out = []
    for t, threshold in enumerate(thresholds):
        tp, fp, fn = (int(v) for v in counts[t])
        out.append(
            {
                "threshold": float(threshold),
                "precision": tp / (tp + fp) if tp + fp else float("nan"),
                "recall": tp / (tp + fn) if tp + fn else float("nan"),
                "tp": tp,
                "fp": fp,
                "fn": fn,
            }
        )
    return out


def split_scores(
    entries: Sequence[LoggedImage],
    rows: Sequence[Mapping[str, Any]],
    scoring: Mapping[str, Any],
    *,
    conditions: Sequence[str] = ("clean", "rainy", "derained"),
    fields: Sequence[str] = CONDITION_FIELDS,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
) -> dict[str, dict[str, dict[str, Any]]]:
    """mAP, operating point and confidence sweep of each condition, per group of each row field.

    Args:
        entries: The record's logged images (``DetectionLog.replay`` of its state sidecar).
        rows: The record's rows (hold ``id`` and the condition fields).
        scoring: The record's ``evaluator.scoring`` (score threshold, match IoU, IoU variant).
        conditions: Which predictions to score.
        fields: Row fields to split by; a field no row holds is left out.
        thresholds: Thresholds of the sweeps.

    Returns:
        ``{field: {value: {"n_images", "ids", condition: {metric: value, ..., "sweep": [...]}}}}``.
    """
    from bench.evaluators.scoring import CocoDetectionScorer

    out: dict[str, dict[str, dict[str, Any]]] = {}
    for field in fields:
        groups = group_ids(rows, field)
        if not groups:
            continue
        out[field] = {}
        for value, ids in groups.items():
            wanted = set(ids)
            subset = [e for e in entries if e[0] in wanted]
            block: dict[str, Any] = {"n_images": len(subset), "ids": ids}
            for cond in conditions:
                scorer = CocoDetectionScorer(  # the record's own scoring (as bench.stats.samples reads it)
                    score_threshold=float(scoring.get("operating_point_score", 0.6)),
                    match_iou=float(scoring.get("operating_point_match_iou", 0.5)),
                    max_dets=int(scoring.get("max_dets", 100)),
                    zero_division=float(scoring.get("zero_division", 0.0)),
                    iou_variant=str(scoring.get("iou_variant", "matched")),  # records before IoU readings: matched
                )
                for item_id, shape, truth, preds in subset:
                    scorer.update([preds[cond]], [truth], names=[item_id], shapes=[shape])
                scores: dict[str, Any] = dict(scorer.compute()) if subset else {}
                scores["sweep"] = confidence_sweep(subset, cond, thresholds=thresholds, match_iou=scorer.match_iou)
                block[cond] = scores
            out[field][value] = block
    return out


def record_splits(
    path: str | Path, *, thresholds: Sequence[float] = DEFAULT_THRESHOLDS
) -> dict[str, dict[str, dict[str, Any]]]:
    """:func:`split_scores` of a stored detection / instance record (its rows and state sidecar).

    Args:
        path: The record's JSON file (its state sidecar lies beside it).
        thresholds: Thresholds of the sweeps.

    Raises:
        bench.results.state.StateError: the record has no per-image detection log.
    """
    from bench.results.record import read_record
    from bench.results.state import DetectionLog, read_state, state_path

    record = read_record(path)
    conditions = ("clean", "rainy", "derained")
    entries = list(DetectionLog.replay(read_state(state_path(path)), conditions))
    scoring = (record.get("evaluator") or {}).get("scoring") or {}
    rows = list(record.get("rows") or [])
    return split_scores(entries, rows, scoring, conditions=conditions, thresholds=thresholds)
