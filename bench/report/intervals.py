"""Confidence intervals in tables: cells from records' stored intervals, paired comparisons, power, the run summary.

A record's own aggregates carry the intervals computed at run time (``record["intervals"]``). Differences
between records (derainer A − derainer B on the same images) are computed here from the stored
per-image data (rows and ``.state.npz`` sidecars) with :mod:`bench.stats.intervals`; no model runs.

Example:
    >>> rec = {"intervals": {"metrics": {"gain.m": {"estimate": 0.02, "lo": 0.01, "hi": 0.03, "se": 0.005}}}}
    >>> record_cell_interval(rec, "gain.m", 100.0, difference=True)
    CellInterval(lo=1.0, hi=3.0, marked=True)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.report.table import CellInterval
from bench.stats.bootstrap import BootstrapSettings, Interval, holm, single_image

if TYPE_CHECKING:
    from bench.stats.intervals import Member

logger = logging.getLogger(__name__)

Record = dict[str, Any]


def record_interval(record: Mapping[str, Any], key: str) -> Interval | None:
    """A record's stored interval of ``key`` (None when absent); one stored over a single image (by a bench
    before :func:`~bench.stats.bootstrap.single_image`) is read as undefined, as it is computed now."""
    block = record.get("intervals") or {}
    metrics = block.get("metrics") or {}
    if key not in metrics:
        return None
    found = Interval.from_dict(metrics[key])
    n = block.get("n_images")
    return single_image(found) if isinstance(n, int) and n < 2 else found


def record_cell_interval(
    record: Mapping[str, Any], key: str, scale: float = 1.0, difference: bool = False
) -> CellInterval | None:
    """A table cell's interval from a record (scaled like the cell); a ``difference`` is marked when it excludes 0."""
    found = record_interval(record, key)
    if found is None or not (math.isfinite(found.lo) and math.isfinite(found.hi)):
        return None
    return CellInterval(found.lo * scale, found.hi * scale, marked=difference and found.excludes_zero())


def apply_holm(cells: Sequence[tuple[CellInterval, float | None]], level: float = 0.95) -> list[CellInterval]:
    """Re-mark difference cells by Holm-adjusted p-value < 1 − level over the family ``cells``.

    Example:
        >>> cells = [(CellInterval(1, 2, True), 0.01), (CellInterval(0.5, 2, True), 0.03), (CellInterval(0.2, 1), 0.04)]
        >>> [c.marked for c in apply_holm(cells)]  # Holm: 0.03, 0.06, 0.06
        [True, False, False]
    """
    adjusted = holm([p for _, p in cells])
    return [CellInterval(c.lo, c.hi, marked=p is not None and p < 1.0 - level) for (c, _), p in zip(cells, adjusted)]


def settings_of(records: Sequence[Mapping[str, Any]]) -> BootstrapSettings | None:
    """The bootstrap settings shared by the records' stored intervals (None when absent or mixed)."""
    found = {
        str(sorted(((r.get("intervals") or {}).get("settings") or {}).items()))
        for r in records
        if (r.get("intervals") or {}).get("metrics")
    }
    if len(found) != 1:
        return None
    first = next(r for r in records if (r.get("intervals") or {}).get("metrics"))
    return BootstrapSettings.from_dict(first["intervals"]["settings"])


def interval_note(records: Sequence[Mapping[str, Any]], n_differences: int, use_holm: bool = False) -> str:
    """The table note that says what ``±`` and ``*`` mean and how many comparisons the table holds."""
    settings = settings_of(records)
    ns = sorted({int((r.get("intervals") or {}).get("n_images", 0)) for r in records if r.get("intervals")})
    if settings is None:
        how = "paired bootstrap over images"
    else:
        how = (
            f"paired bootstrap over {', '.join(map(str, ns))} images, {settings.n_resamples} resamples, "
            f"seed {settings.seed}, {settings.method}"
        )
    if n_differences == 0:
        return f"± = half-width of the 95 % interval ({how})."
    mark = (
        "Holm-adjusted p < 0.05 over the table's gains" if use_holm else "a gain whose interval excludes 0 (unadjusted)"
    )
    return (
        f"± = half-width of the 95 % interval ({how}); * marks {mark}. This table holds {n_differences} "
        "paired comparison(s) (gains); with many comparisons some intervals exclude 0 by chance"
        + ("." if use_holm else " (bench report --ci --holm adjusts).")
    )


def missing_note(records: Sequence[Mapping[str, Any]]) -> str | None:
    """A note naming the records without intervals (older records; ``bench report --ci`` computes them)."""
    missing = [str(r.get("run_id", "?")) for r in records if not (r.get("intervals") or {}).get("metrics")]
    if not missing:
        return None
    return f"No intervals for {', '.join(missing)} (no per-image data to resample)."


def ensure_intervals(records: Sequence[Record], settings: BootstrapSettings | None = None) -> None:
    """Give every record in memory an ``intervals`` block with ``settings`` (stored when they match, else
    recomputed from its rows and state sidecar, found through ``record["_path"]``)."""
    from bench.results.state import StateError, read_state, state_path
    from bench.stats.intervals import safe_record_intervals

    settings = settings or BootstrapSettings()
    for rec in records:
        stored = (rec.get("intervals") or {}).get("settings")
        if stored is not None and BootstrapSettings.from_dict(stored) == settings and rec["intervals"].get("metrics"):
            continue
        state = None
        if rec.get("_path"):
            try:
                state = read_state(state_path(str(rec["_path"])))
            except StateError as err:
                logger.info("%s", err)
        block = safe_record_intervals(rec, state, settings)
        if block is not None:
            rec["intervals"] = block


def load_members(records: Sequence[Record], labels: Sequence[str]) -> list[Member]:
    """:class:`~bench.stats.intervals.Member` objects of records whose per-image data can be read."""
    from bench.results.state import StateError, read_state, state_path
    from bench.stats.intervals import Member
    from bench.stats.samples import SamplesError, StatisticsCache, record_data

    members: list[Member] = []
    cache: StatisticsCache = {}  # the clean / rainy conditions shared by the records are built once

    for rec, label in zip(records, labels):
        state = None
        path = rec.get("_path")
        if path and Path(str(path)).is_file():
            try:
                state = read_state(state_path(str(path)))
            except StateError as err:
                logger.info("%s", err)
        try:
            members.append(Member(label, rec, record_data(rec, state, cache)))
        except SamplesError as err:
            logger.warning("%s left out of the paired comparisons: %s", rec.get("run_id", label), err)
    return members


def _signed(value: float, digits: int) -> str:
    text = f"{value:+.{digits}f}"
    return "+" + text[1:] if float(text) == 0 else text  # no "-0.00"


def summary_lines(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Plain-language statements of each record's headline gain with its interval (the ``bench run`` summary).

    Example:
        >>> rec = {"task": "detection", "derainer": {"name": "x"}, "metrics": {"gain.map50_95": 0.02},
        ...        "intervals": {"n_images": 5, "settings": {"n_resamples": 1000, "seed": 0},
        ...                      "metrics": {"gain.map50_95": {"estimate": 0.02, "lo": 0.0, "hi": 0.05, "se": 0.01,
        ...                                                    "p_value": 0.44}}}}
        >>> print("\\n".join(summary_lines([rec])))
        Gain in mAP50-95 (derained − rainy) with its 95 % paired-bootstrap interval over images (1000 resamples, seed 0):
          x: +2.00 pp [+0.00, +5.00], p = 0.440 — not distinguishable from zero on 5 images.
    """
    from bench.report.common import derainer_label, digits_for, direction
    from bench.report.downstream_metrics import PERCENT, TITLES, task_metrics

    dicts = [dict(r) for r in records]
    metrics = task_metrics(dicts)
    if not metrics or not any(f"gain.{metrics[0]}" in (r.get("metrics") or {}) for r in dicts):
        return []
    metric = metrics[0]
    settings = settings_of(dicts) or BootstrapSettings()
    lines = [
        f"Gain in {TITLES.get(metric, metric)} (derained − rainy) with its 95 % paired-bootstrap interval over "
        f"images ({settings.n_resamples} resamples, seed {settings.seed}):"
    ]
    scale, unit = (100.0, " pp") if metric in PERCENT else (1.0, "")
    digits = digits_for(metric)
    for rec in dicts:
        label = derainer_label(rec)
        found = record_interval(rec, f"gain.{metric}")
        n = int((rec.get("intervals") or {}).get("n_images", len(rec.get("rows") or [])))
        if found is None or not math.isfinite(found.lo):
            value = (rec.get("metrics") or {}).get(f"gain.{metric}")
            shown = "—"
            if isinstance(value, int | float) and math.isfinite(value):
                shown = _signed(float(value) * scale, digits) + unit
            why = (
                f"{n} image cannot show how the gain varies over images"
                if found is not None and n < 2
                else "the record holds no per-image data to resample"
            )
            lines.append(f"  {label}: {shown} (no interval: {why}).")
            continue
        text = (
            f"  {label}: {_signed(found.estimate * scale, digits)}{unit} "
            f"[{_signed(found.lo * scale, digits)}, {_signed(found.hi * scale, digits)}]"
        )
        if found.p_value is not None:
            text += f", p = {found.p_value:.3f}" if found.p_value >= 0.001 else ", p < 0.001"
        if not found.excludes_zero() and found.p_value is not None and found.p_value < 0.05:
            text += f" — paired test rejects 0, interval does not: too few images ({n}) to say."
        elif not found.excludes_zero():
            text += f" — not distinguishable from zero on {n} images."
        elif found.p_value is not None and found.p_value >= 0.05:  # few images: the percentile interval is too narrow
            text += f" — interval excludes 0, paired test does not: too few images ({n})."
        else:
            better = (found.estimate > 0) == bool(direction(f"derained.{metric}", rec.get("metric_info")))
            text += f" — {'an improvement' if better else 'a loss'}: interval excludes 0 ({n} images)."
        lines.append(text)
    return lines
