"""Intervals of a record's aggregates (stored at run time) and paired comparisons between records (reports).

Both resample the *images*: one ``(B, n)`` weight matrix (:func:`~bench.stats.bootstrap.resample_counts`)
drives every condition and every record compared, so a gain (derained − rainy) or a difference between
two derainers is computed on the same resampled images (paired). Gains and differences carry a paired
test: a sign-flip test on per-image differences where the score is a mean of per-image values, the
(shifted) bootstrap where it is a set-level score (mAP, mIoU, precision …).

Example:
    >>> rows = [{"id": str(i), "rainy.psnr_y": 20.0 + i, "derained.psnr_y": 20.0 + i} for i in range(6)]
    >>> record = {"task": "noref", "rows": rows,
    ...           "metrics": {"rainy.psnr_y": 22.5, "derained.psnr_y": 22.5, "gain.psnr_y": 0.0}}
    >>> block = record_intervals(record, None)
    >>> block["metrics"]["gain.psnr_y"]["lo"], block["metrics"]["gain.psnr_y"]["hi"]
    (0.0, 0.0)
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.results.record import RunRecord
from bench.stats.bootstrap import (
    BootstrapSettings,
    Interval,
    bootstrap_p_value,
    jackknife_weights,
    resample_counts,
    sign_flip_test,
    single_image,
    summarize,
)
from bench.stats.derived import derive, derived_keys
from bench.stats.samples import RecordData, SamplesError, record_data

logger = logging.getLogger(__name__)

RESAMPLED = "images (scored images of the record, drawn with replacement; the same draws for every condition)"


Resampled = tuple[dict[str, np.ndarray], dict[str, float]]


@dataclass
class Member:
    """A record taking part in a comparison: its label, per-image data and its resampled scores (memoised).

    Example:
        >>> data = RecordData(["a", "b"], [], {})
        >>> Member("x", {}, data).resampled(["a", "b"], BootstrapSettings(n_resamples=3))
        ({}, {})
    """

    label: str
    record: Mapping[str, Any]
    data: RecordData
    memo: dict[tuple[Any, ...], Resampled] = field(default_factory=dict, repr=False)

    def resampled(self, ids: Sequence[str], settings: BootstrapSettings) -> Resampled:
        """Every statistic on the bootstrap resamples of the images ``ids`` (other images weigh 0), and at
        weights 1: ``(samples, point)``. The same ``ids`` and settings give the same resampled images for
        every member (paired)."""
        key = (tuple(ids), settings.n_resamples, settings.seed)
        if key not in self.memo:
            weights = resample_counts(len(ids), settings.n_resamples, settings.seed)
            samples = self.data.evaluate(_embed(weights, ids, self.data))
            ones = self.data.evaluate(_embed(np.ones((1, len(ids))), ids, self.data))
            self.memo[key] = (samples, {k: float(v[0]) for k, v in ones.items()})
        return self.memo[key]

    def jackknife(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Every statistic with one of the images ``ids`` left out at a time (for BCa)."""
        return self.data.evaluate(_embed(jackknife_weights(len(ids)), ids, self.data))


def _embed(weights: np.ndarray, ids: Sequence[str], data: RecordData) -> np.ndarray:
    """Weights over ``ids`` placed at those images' positions in ``data`` (other images weigh 0)."""
    if list(ids) == data.ids:
        return weights
    position = {item: k for k, item in enumerate(data.ids)}
    out = np.zeros((len(weights), len(data.ids)))
    out[:, [position[i] for i in ids]] = weights
    return out


def _paired_test(
    a: np.ndarray | None, b: np.ndarray | None, samples: np.ndarray, estimate: float, seed: int
) -> tuple[float, str]:
    """p-value of ``a − b``: sign-flip on per-image differences where both are per-image means, else bootstrap."""
    if a is not None and b is not None and len(a) == len(b):
        return sign_flip_test(a - b, len(samples), seed)
    return bootstrap_p_value(samples, estimate), "bootstrap"


def member_intervals(member: Member, settings: BootstrapSettings | None = None) -> dict[str, Any]:
    """The ``intervals`` block of one record from its :class:`Member` (see :func:`record_intervals`)."""
    settings = settings or BootstrapSettings()
    data, record = member.data, member.record
    n = len(data.ids)
    block: dict[str, Any] = {"settings": settings.describe(), "resampled": RESAMPLED, "n_images": n, "metrics": {}}
    if n == 0:
        return block
    resampled, at_ones = member.resampled(data.ids, settings)
    samples, point = dict(resampled), dict(at_ones)
    jack = member.jackknife(data.ids) if settings.method == "bca" and n > 1 else {}
    metrics = record.get("metrics") or {}
    for key in derived_keys(metrics):
        derived = derive(key, samples)
        if derived is None:
            continue
        samples[key] = derived
        point[key] = float(np.asarray(derive(key, {k: np.array([v]) for k, v in point.items()}))[0])
        if jack:
            jack[key] = np.asarray(derive(key, jack))
    out: dict[str, Any] = {}
    for key in metrics:
        if key not in samples:
            continue
        interval = summarize(samples[key], point[key], settings, jack.get(key))
        if key.startswith("gain."):
            name = key.split(".", 1)[1]
            a, b = data.per_image.get(f"derained.{name}"), data.per_image.get(f"rainy.{name}")
            interval.p_value, interval.test = _paired_test(a, b, samples[key], point[key], settings.seed)
        out[key] = (single_image(interval) if n < 2 else interval).to_dict()
    block["metrics"] = out
    return block


def record_intervals(
    record: Mapping[str, Any], state: Mapping[str, np.ndarray] | None, settings: BootstrapSettings | None = None
) -> dict[str, Any]:
    """The ``intervals`` block of a record: every aggregate's interval; gains with a paired test.

    Args:
        record: The record (rows, metrics, task, evaluator scoring).
        state: Its state sidecar's arrays (detection, instance, semantic).
        settings: Resamples, seed, level, method (default 1000, 0, 95 %, percentile).

    Returns:
        ``{"settings", "resampled", "n_images", "metrics": {key: Interval.to_dict()}}``; ``metrics`` is
        empty when the record has no scored image.

    Raises:
        SamplesError: the per-image data cannot rebuild the aggregates.
    """
    return member_intervals(Member(str(record.get("run_id", "")), record, record_data(record, state)), settings)


def stored_intervals(record: Mapping[str, Any], settings: BootstrapSettings | None = None) -> dict[str, Interval]:
    """A record's stored intervals (empty when absent or computed with other settings than ``settings``).

    Example:
        >>> stored_intervals({"metrics": {}})
        {}
    """
    block = record.get("intervals") or {}
    if not block.get("metrics"):
        return {}
    if settings is not None and BootstrapSettings.from_dict(block.get("settings") or {}) != settings:
        return {}
    return {k: Interval.from_dict(v) for k, v in block["metrics"].items()}


@dataclass
class Comparison:
    """One paired difference ``a − b`` on the same images."""

    a: str
    b: str
    metric: str
    interval: Interval
    n_images: int
    per_image_sd: float | None = None  # SD of per-image differences (mean metrics only)


def common_ids(members: Sequence[Member]) -> list[str]:
    """Images scored in every member, in the first member's order.

    Example:
        >>> a = Member("a", {}, RecordData(["1", "2", "3"], [], {}))
        >>> b = Member("b", {}, RecordData(["3", "1"], [], {}))
        >>> common_ids([a, b])
        ['1', '3']
    """
    if not members:
        return []
    shared = set(members[0].data.ids)
    for m in members[1:]:
        shared &= set(m.data.ids)
    return [i for i in members[0].data.ids if i in shared]


def compare(
    members: Sequence[Member],
    metrics: Sequence[str],
    settings: BootstrapSettings | None = None,
    pairs: Sequence[tuple[int, int]] | None = None,
) -> list[Comparison]:
    """Paired differences between members' ``derained.<m>`` (or plain ``<m>``), each pair on the images both scored.

    Args:
        members: Records of one task on one dataset (their rows name the images).
        metrics: Metric names (``map50_95``, ``psnr_y`` …); the condition ``derained`` is used where the
            records split scores by condition.
        settings: Bootstrap settings (the seed fixes the resampled images: two pairs that share their images
            share their resamples).
        pairs: Index pairs ``(a, b)`` to compare (default: every pair, the later member minus the earlier one,
            so a derainer listed after the identity "rain input" row reads as its improvement).

    Returns:
        One :class:`Comparison` per pair and metric both records hold; pairs without a shared image have none.

    Example:
        >>> def member(name, ids, offset):
        ...     rows = [{"id": i, "psnr_y": offset + int(i)} for i in ids]
        ...     return Member(name, {}, record_data({"rows": rows, "metrics": {"psnr_y": 0.0}}, None))
        >>> m = [member("a", "123456", 20.0), member("b", "123456", 21.0), member("c", "12", 22.0)]
        >>> [(c.a, c.b, c.n_images, round(c.interval.estimate, 3)) for c in compare(m, ["psnr_y"])]
        [('b', 'a', 6, 1.0), ('c', 'a', 2, 2.0), ('c', 'b', 2, 1.0)]
    """
    settings = settings or BootstrapSettings()
    out: list[Comparison] = []
    default = [(j, i) for i, j in itertools.combinations(range(len(members)), 2)]
    jackknives: dict[tuple[int, tuple[str, ...]], dict[str, np.ndarray]] = {}
    for i, j in pairs if pairs is not None else default:
        ids = common_ids([members[i], members[j]])
        n = len(ids)
        if not n:
            continue
        (samples_i, point_i), (samples_j, point_j) = (
            members[i].resampled(ids, settings),
            members[j].resampled(ids, settings),
        )
        if settings.method == "bca" and n > 1:
            for k in (i, j):
                if (k, tuple(ids)) not in jackknives:
                    jackknives[(k, tuple(ids))] = members[k].jackknife(ids)
        for metric in metrics:
            key = next((k for k in (f"derained.{metric}", metric) if k in samples_i and k in samples_j), None)
            if key is None:
                continue
            diff = samples_i[key] - samples_j[key]
            estimate = point_i[key] - point_j[key]
            jack = None
            if settings.method == "bca" and n > 1:
                jack = jackknives[(i, tuple(ids))][key] - jackknives[(j, tuple(ids))][key]
            interval = summarize(diff, estimate, settings, jack)
            a, b = _per_image(members[i], key, ids), _per_image(members[j], key, ids)
            interval.p_value, interval.test = _paired_test(a, b, diff, estimate, settings.seed)
            sd = None
            if a is not None and b is not None:
                finite = (a - b)[np.isfinite(a - b)]
                sd = float(np.std(finite, ddof=1)) if finite.size > 1 else None
            out.append(
                Comparison(
                    members[i].label, members[j].label, metric, single_image(interval) if n < 2 else interval, n, sd
                )
            )
    return out


def per_image_change(
    new: Mapping[str, Mapping[str, float]],
    old: Mapping[str, Mapping[str, float]],
    metrics: Sequence[str],
    settings: BootstrapSettings | None = None,
) -> dict[str, Any] | None:
    """``new − old`` for two tables of per-image means (image id -> metric -> score), paired over the images both hold.

    For scores that are means over images (``psnr_y``, ``ssim_y``): the two tables become records of one task and
    go through :func:`compare` (one resampled set of images for both, a sign-flip test).

    Returns:
        ``None`` when no image is shared; else ``images`` (the shared count) and per metric the
        :class:`~bench.stats.bootstrap.Interval` of the mean difference as a dict.

    Example:
        >>> old = {str(i): {"psnr_y": 30.0 + i} for i in range(8)}
        >>> new = {str(i): {"psnr_y": 30.5 + i + 0.1 * (i % 2)} for i in range(8)}
        >>> change = per_image_change(new, old, ["psnr_y"])
        >>> change["images"], round(change["psnr_y"]["estimate"], 2), change["psnr_y"]["lo"] > 0
        (8, 0.55, True)
    """
    ids = [i for i in new if i in old]
    if not ids:
        return None

    def member(label: str, table: Mapping[str, Mapping[str, float]]) -> Member:
        rows = [{"id": i, **{m: float(table[i][m]) for m in metrics}} for i in ids]
        record = {"task": "restoration", "rows": rows, "metrics": {m: 0.0 for m in metrics}}
        return Member(label, record, record_data(record, None))

    out: dict[str, Any] = {"images": len(ids)}
    for c in compare([member("old", old), member("new", new)], metrics, settings, pairs=[(1, 0)]):
        out[c.metric] = c.interval.to_dict()
    return out


def _per_image(member: Member, key: str, ids: Sequence[str]) -> np.ndarray | None:
    """A member's per-image values of ``key`` on the images ``ids`` (None for set-level scores)."""
    values = member.data.per_image.get(key)
    if values is None:
        return None
    index = {item: k for k, item in enumerate(member.data.ids)}
    return values[[index[i] for i in ids]]


def gain_per_image_sd(data: RecordData, metric: str) -> float | None:
    """SD over images of ``derained − rainy`` for a per-image metric (None for set-level scores).

    Example:
        >>> d = RecordData(["a", "b"], [], {"derained.m": np.array([1.0, 3.0]), "rainy.m": np.array([0.0, 0.0])})
        >>> round(gain_per_image_sd(d, "m"), 4)
        1.4142
    """
    a, b = data.per_image.get(f"derained.{metric}"), data.per_image.get(f"rainy.{metric}")
    if a is None or b is None:
        return None
    diff = (a - b)[np.isfinite(a - b)]
    return float(np.std(diff, ddof=1)) if diff.size > 1 else None


def safe_record_intervals(
    record: Mapping[str, Any], state: Mapping[str, np.ndarray] | None, settings: BootstrapSettings | None = None
) -> dict[str, Any] | None:
    """:func:`record_intervals`, or None with a warning when the per-image data cannot rebuild the scores.

    A run's record is written either way: a problem with its per-image data costs the intervals, not the run.
    """
    try:
        return record_intervals(record, state, settings)
    except (SamplesError, ValueError, KeyError) as err:
        logger.warning("no confidence intervals for %s: %s", record.get("run_id", "record"), err)
        return None


def attach_intervals(
    record: RunRecord,
    state: Mapping[str, np.ndarray] | None,
    settings: BootstrapSettings | None = None,
) -> None:
    """Store a record's ``intervals`` block (and the seconds it took in ``timings.intervals``).

    Called by every task at the end of a run and of a merge, on the per-image data written beside the
    record. A record whose per-image data cannot rebuild its scores gets no block (and a warning).
    """
    started = time.perf_counter()
    block = safe_record_intervals(record, state, settings)
    if block is None:
        return
    record["intervals"] = block
    record.setdefault("timings", {})["intervals"] = time.perf_counter() - started


def finite_or_none(value: float | None) -> float | None:
    """``value`` when finite, else None (for table cells)."""
    return value if value is not None and math.isfinite(value) else None
