"""What is resampled: a record's per-image data, as statistics that take image weights.

Every aggregate of a record is rebuilt from stored per-image data (the record's ``rows`` and its
``.state.npz`` sidecar), as a function of ``(B, n)`` image weights (see :mod:`bench.stats.bootstrap`):

* means of per-image metrics (PSNR, SSIM, FSIM, NIQE, SSEQ …) from the rows;
* COCO mAP from the logged detections and ground truth (:class:`~bench.stats.fast_map.CocoMatches`);
* precision / recall / IoU at the operating point from per-image TP, FP, FN and matched-IoU sums;
* mIoU / mPA / pixel accuracy from per-image confusion matrices.

With all weights 1 each statistic is the record's number. Nothing here runs a model.

Example:
    >>> rows = [{"id": "a", "psnr_y": 30.0}, {"id": "b", "psnr_y": 32.0}]
    >>> data = record_data({"task": "restoration", "rows": rows, "metrics": {"psnr_y": 31.0}}, None)
    >>> data.evaluate(np.array([[1.0, 1.0], [2.0, 0.0]]))["psnr_y"].tolist()
    [31.0, 30.0]
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from bench.evaluators.base import Detections, GroundTruth
from bench.evaluators.scoring import IOU_VARIANTS
from bench.stats.derived import CONDITIONS
from bench.stats.fast_map import CocoMatches, IouType

#: The IoU readings at the operating point (``iou_<reading>`` in records), as the detection scorer defines them.
IOU_READINGS: tuple[str, ...] = tuple(IOU_VARIANTS)


class Statistic(Protocol):
    """A set-level score (or several) as a function of image weights."""

    @property
    def keys(self) -> tuple[str, ...]:
        """The record keys this statistic computes."""
        ...

    def evaluate(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """``{key: (B,) values}`` for ``(B, n)`` image weights."""
        ...


class SamplesError(ValueError):
    """A record's stored per-image data cannot rebuild its aggregates (no state file, ids differ …)."""


@dataclass
class MeanStatistic:
    """Means of per-image values; an image without a value (``NaN`` in ``present``) is left out, as the task does.

    Example:
        >>> s = MeanStatistic(("m",), np.array([[1.0], [3.0]]), np.ones((2, 1), bool))
        >>> s.evaluate(np.array([[1.0, 1.0], [0.0, 2.0]]))["m"].tolist()
        [2.0, 3.0]
    """

    keys: tuple[str, ...]
    values: np.ndarray  # (n, M)
    present: np.ndarray  # (n, M) bool

    def evaluate(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        v, present = self.values, self.present.astype(np.float64)
        finite = np.isfinite(v)
        total = weights @ np.where(finite, v, 0.0)
        count = weights @ present
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = total / count
        pos = (weights @ (present * (v == np.inf))) > 0
        neg = (weights @ (present * (v == -np.inf))) > 0
        nan = (weights @ (present * np.isnan(v))) > 0
        mean = np.where(pos, np.inf, np.where(neg, -np.inf, mean))
        mean = np.where(nan | (pos & neg) | (count == 0), np.nan, mean)
        return {key: mean[:, j] for j, key in enumerate(self.keys)}


@dataclass
class OperatingPoint:
    """Precision, recall and the IoU readings at the operating point, from per-image counts.

    ``counts`` columns (:data:`OPERATING_COLUMNS`): TP, FP, FN, then for every IoU reading of
    :data:`bench.evaluators.scoring.IOU_VARIANTS` its per-image sum and count (summed over the resampled
    images, then divided, as the scorer does). ``iou`` is the reading named ``iou_variant``.

    Example:
        >>> counts = np.array([[1, 0, 1, 0.8, 1, 0.8, 1, 0.8, 2, 0.8, 1], [2, 2, 0, 1.8, 2, 1.8, 2, 1.8, 2, 2.0, 4]])
        >>> s = OperatingPoint("rainy", counts, iou_variant="matched")
        >>> {k: round(float(v[0]), 3) for k, v in s.evaluate(np.array([[1.0, 1.0]])).items()}["rainy.iou"]
        0.867
    """

    condition: str
    counts: np.ndarray
    zero_division: float = 0.0
    iou_variant: str = "overlap"
    keys: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = ["precision", "recall", "iou", *(f"iou_{v}" for v in IOU_READINGS)]
        self.keys = tuple(f"{self.condition}.{k}" for k in names)

    def evaluate(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        totals = (weights @ self.counts).T
        tp, fp, fn = totals[:3]

        def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(den > 0, num / den, self.zero_division)

        readings = {v: ratio(totals[3 + 2 * k], totals[4 + 2 * k]) for k, v in enumerate(IOU_READINGS)}
        values = [ratio(tp, tp + fp), ratio(tp, tp + fn), readings[self.iou_variant], *readings.values()]
        return dict(zip(self.keys, values))


@dataclass
class MapStatistic:
    """COCO mAP@[.5:.95] and mAP@.5 of one condition through the cached matching."""

    matches: CocoMatches
    names: tuple[str, str]  # record keys for (map50_95, map50)

    @property
    def keys(self) -> tuple[str, ...]:
        return self.names

    def evaluate(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        out = self.matches.evaluate(weights)
        return {self.names[0]: out["map50_95"], self.names[1]: out["map50"]}


@dataclass
class ConfusionStatistic:
    """mIoU, mPA and pixel accuracy (``SemanticScorer``'s conventions) from ``(n, C, C + 1)`` confusions.

    Example:
        >>> conf = np.array([[[2, 0, 0], [0, 1, 0]], [[0, 1, 0], [0, 1, 0]]])
        >>> ConfusionStatistic("rainy", conf).evaluate(np.ones((1, 2)))["rainy.pixel_acc"].tolist()
        [0.8]
    """

    condition: str
    confusions: np.ndarray
    keys: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.keys = tuple(f"{self.condition}.{k}" for k in ("miou", "mpa", "pixel_acc"))

    def evaluate(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        n, c, c1 = self.confusions.shape
        conf = (weights @ self.confusions.reshape(n, c * c1).astype(np.float64)).reshape(-1, c, c1)
        square = conf[:, :, :c]
        tp = np.einsum("bii->bi", square)
        fp = square.sum(axis=1) - tp
        fn = conf.sum(axis=2) - tp
        union, support = tp + fp + fn, tp + fn
        total = conf.sum(axis=(1, 2))
        with np.errstate(divide="ignore", invalid="ignore"):
            iou = np.where(union > 0, tp / np.where(union > 0, union, 1), np.nan)
            acc = np.where(support > 0, tp / np.where(support > 0, support, 1), np.nan)
            miou = np.nansum(iou, axis=1) / np.sum(~np.isnan(iou), axis=1)
            mpa = np.nansum(acc, axis=1) / np.sum(~np.isnan(acc), axis=1)
            pixel_acc = tp.sum(axis=1) / total
        empty = total == 0
        return dict(zip(self.keys, (np.where(empty, np.nan, v) for v in (miou, mpa, pixel_acc))))


@dataclass
class RecordData:
    """The resampling units (scored images, in the record's order) and every statistic of one record.

    Attributes:
        ids: Image ids, one per resampling unit.
        statistics: Set-level scores as functions of weights.
        per_image: Per-image values of the mean metrics (key → ``(n,)``, NaN where absent): the paired
            sign-flip test uses their differences.
    """

    ids: list[str]
    statistics: list[Statistic]
    per_image: dict[str, np.ndarray]

    @property
    def keys(self) -> list[str]:
        """Every aggregate key this data rebuilds."""
        return [k for s in self.statistics for k in s.keys]

    def evaluate(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Every statistic for ``(B, n)`` weights."""
        weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
        if weights.shape[1] != len(self.ids):
            raise ValueError(f"weights for {weights.shape[1]} images, the record has {len(self.ids)}")
        out: dict[str, np.ndarray] = {}
        for stat in self.statistics:
            out.update(stat.evaluate(weights))
        return out


def _mean_statistic(rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> tuple[MeanStatistic, dict]:
    values = np.full((len(rows), len(keys)), np.nan)
    present = np.zeros((len(rows), len(keys)), dtype=bool)
    for i, row in enumerate(rows):
        for j, key in enumerate(keys):
            if key in row and row[key] is not None:
                values[i, j] = float(row[key])
                present[i, j] = True
    stat = MeanStatistic(tuple(keys), values, present)
    return stat, {key: np.where(present[:, j], values[:, j], np.nan) for j, key in enumerate(keys)}


def operating_point_counts(
    truth: GroundTruth, det: Detections, score_threshold: float, match_iou: float
) -> list[float]:
    """One image's row of :class:`OperatingPoint` counts, as :class:`~bench.evaluators.scoring.CocoDetectionScorer`.

    Example:
        >>> gt = GroundTruth(np.array([[0, 0, 10, 10.0]]), np.array([0]))
        >>> operating_point_counts(gt, Detections(gt.boxes, np.array([0.9]), gt.labels), 0.6, 0.5)[:4]
        [1.0, 0.0, 0.0, 1.0]
    """
    from bench.evaluators.scoring import box_iou, iou_readings, match_greedy

    scores = np.asarray(det.scores, dtype=np.float64).reshape(-1)
    idx = np.flatnonzero(scores >= score_threshold)
    gt_labels = np.asarray(truth.labels, dtype=np.int64).reshape(-1)
    crowd = np.zeros(len(gt_labels), bool) if truth.iscrowd is None else np.asarray(truth.iscrowd, bool).reshape(-1)
    iou = box_iou(np.asarray(det.boxes).reshape(-1, 4)[idx], truth.boxes, crowd)  # crowd: COCO's overlap
    labels = np.asarray(det.labels, dtype=np.int64).reshape(-1)[idx]
    matches, fp, fn = match_greedy(iou, scores[idx], labels, gt_labels, crowd, match_iou)
    readings = iou_readings(iou, labels, gt_labels, crowd, [m[2] for m in matches])
    row = [float(len(matches)), float(fp), float(fn)]
    for name in IOU_READINGS:
        total, count = readings[name]
        row += [float(total), float(count)]
    return row


def _scoring(record: Mapping[str, Any]) -> dict[str, Any]:
    return dict((record.get("evaluator") or {}).get("scoring") or {})


@dataclass
class Memoized:
    """A statistic shared by several records (the same clean or rainy detections), evaluated once per weights.

    Example:
        >>> m = Memoized(MeanStatistic(("m",), np.array([[1.0], [3.0]]), np.ones((2, 1), bool)))
        >>> w = np.ones((1, 2)); m.evaluate(w) is m.evaluate(w.copy())
        True
    """

    inner: Statistic
    memo: dict[str, dict[str, np.ndarray]] = field(default_factory=dict, repr=False)

    @property
    def keys(self) -> tuple[str, ...]:
        return self.inner.keys

    def evaluate(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        weights = np.ascontiguousarray(weights, dtype=np.float64)
        digest = f"{weights.shape}:{hashlib.sha1(weights.tobytes()).hexdigest()}"
        if digest not in self.memo:
            self.memo[digest] = self.inner.evaluate(weights)
        return self.memo[digest]


#: Statistics of one condition's per-image data, by content digest (see :func:`record_data`'s ``cache``).
StatisticsCache = dict[str, list[Statistic]]


def _condition_digest(state: Mapping[str, np.ndarray], cond: str, settings: Sequence[object]) -> str:
    """A digest of everything one condition's set-level scores depend on (images, truth, predictions, scoring)."""
    digest = hashlib.sha1(repr(list(settings)).encode())
    for key in sorted(k for k in state if k.startswith(("log.", "gt.", f"pred.{cond}."))):
        array = np.ascontiguousarray(state[key])
        digest.update(f"{key}:{array.dtype}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _detection_statistics(
    record: Mapping[str, Any], state: Mapping[str, np.ndarray], ids: list[str], cache: StatisticsCache | None
) -> list[Statistic]:
    from bench.results.state import DetectionLog

    try:
        logged = list(DetectionLog.replay(state, CONDITIONS))
    except (KeyError, ValueError) as err:
        raise SamplesError(f"no per-image detections in the state file ({err})") from err
    if [entry[0] for entry in logged] != ids:
        raise SamplesError("the state file's logged images differ from the record's rows")
    truths = [entry[2] for entry in logged]
    shapes = [entry[1] for entry in logged]
    scoring = _scoring(record)
    max_dets = int(scoring.get("max_dets", 100))
    instance = record.get("task") == "instance"
    kinds: list[tuple[IouType, str]] = [("segm", "mask_"), ("bbox", "box_")] if instance else [("bbox", "")]
    thr = float(scoring.get("operating_point_score", 0.6))
    match_iou = float(scoring.get("operating_point_match_iou", 0.5))
    zero_division = float(scoring.get("zero_division", 0.0))
    variant = str(scoring.get("iou_variant", "matched"))  # records from before the IoU readings: matched pairs
    stats: list[Statistic] = []
    for cond in CONDITIONS:
        key = _condition_digest(state, cond, (cond, instance, max_dets, thr, match_iou, zero_division, variant))
        if cache is not None and key in cache:
            stats += cache[key]
            continue
        dets = [entry[3][cond] for entry in logged]
        found: list[Statistic] = []
        for iou_type, prefix in kinds:
            matches = CocoMatches.build(truths, dets, shapes, iou_type=iou_type, max_dets=max_dets)
            found.append(MapStatistic(matches, (f"{cond}.{prefix}map50_95", f"{cond}.{prefix}map50")))
        if not instance:
            counts = np.array([operating_point_counts(t, d, thr, match_iou) for t, d in zip(truths, dets)])
            width = 3 + 2 * len(IOU_READINGS)
            found.append(OperatingPoint(cond, counts.reshape(-1, width), zero_division, variant))
        if cache is not None:
            found = [Memoized(stat) for stat in found]
            cache[key] = found
        stats += found
    return stats


def _semantic_statistics(state: Mapping[str, np.ndarray], ids: list[str]) -> list:
    if "semantic.ids" not in state:
        raise SamplesError("the state file holds no per-image confusion matrices (a record from before bench 0.x)")
    if [str(i) for i in state["semantic.ids"].tolist()] != ids:
        raise SamplesError("the state file's per-image confusion matrices do not match the record's rows")
    return [ConfusionStatistic(cond, np.asarray(state[f"semantic.{cond}.per_image"])) for cond in CONDITIONS]


def record_data(
    record: Mapping[str, Any], state: Mapping[str, np.ndarray] | None, cache: StatisticsCache | None = None
) -> RecordData:
    """The per-image data of a record (rows + state arrays) as statistics of image weights.

    Args:
        record: A run record (``rows``, ``metrics``, ``task``, ``evaluator.scoring``).
        state: Its state sidecar's arrays (needed for detection, instance and semantic records).
        cache: Shared between records of one comparison: a condition whose per-image data is the same in
            several records (the clean and rainy detections, cached by bench run) is built and evaluated once.

    Raises:
        SamplesError: the set-level scores cannot be rebuilt (no state, or it does not match the rows).
    """
    rows = list(record.get("rows") or [])
    ids = [str(r.get("id")) for r in rows]
    if len(set(ids)) != len(ids):
        raise SamplesError("the record's rows repeat an image id")
    task = str(record.get("task", ""))
    metrics = list((record.get("metrics") or {}).keys())
    row_keys = {k for r in rows for k in r}
    mean_keys = [k for k in metrics if k in row_keys]
    stats: list[Statistic] = []
    per_image: dict[str, np.ndarray] = {}
    if mean_keys:
        mean, per_image = _mean_statistic(rows, mean_keys)
        stats.append(mean)
    if task in ("detection", "instance", "semantic") and rows:
        if state is None:
            raise SamplesError("set-level scores need the record's .state.npz sidecar")
        if task == "semantic":
            stats += _semantic_statistics(state, ids)
        else:
            stats += _detection_statistics(record, state, ids, cache)
    return RecordData(ids=ids, statistics=stats, per_image=per_image)
