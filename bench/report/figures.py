"""Plots for the HTML report (matplotlib, Agg), as PNG bytes, from stored records only.

Bar charts start at a stated baseline, the rainy input (for restoration: the identity record of the same
set and protocol; for downstream sets: the metric on the rainy images), so that the bars show what
deraining adds and the axis does not exaggerate differences; the value is printed on every bar. The
visual comparison grids are :mod:`bench.report.grids`.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.report.common import derainer_label
from bench.results.labels import distinct_labels

Record = dict[str, Any]


def _figure_png(fig: Any) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def _metric(record: Record, key: str) -> float | None:
    value = (record.get("metrics") or {}).get(key)
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


# ---------------------------------------------------------------------------------------------- plots
def headline_metric(records: Sequence[Record]) -> str | None:
    """The task's headline metric present in the records (mAP50-95, mask mAP, mIoU, recall ...)."""
    from bench.report.downstream import task_metrics

    names = task_metrics(records)
    return names[0] if names else None


def _error_bars(records: Sequence[Record], key: str, scale: float = 1.0) -> dict[str, list[list[float]]]:
    """``{derainer label: [[below], [above]]}`` from the records' stored 95 % intervals of ``key`` (matplotlib yerr)."""
    from bench.report.intervals import record_interval

    out: dict[str, list[list[float]]] = {}
    for rec, label in zip(records, distinct_labels(records)):  # one label per record: its own bars
        found = record_interval(rec, key)
        if found is None or not all(np.isfinite([found.lo, found.hi, found.estimate])):
            continue
        below = max(0.0, (found.estimate - found.lo) * scale)
        above = max(0.0, (found.hi - found.estimate) * scale)
        out[label] = [[below], [above]]
    return out


def psnr_vs_gain_plot(records: Sequence[Record], metric: str | None = None) -> bytes | None:
    """Scatter of deraining PSNR (derained vs clean) against the downstream gain, one point per derainer.

    Returns None when no record holds both numbers.

    Example:
        >>> psnr_vs_gain_plot([]) is None
        True
    """
    metric = metric or headline_metric(records)
    if metric is None:
        return None
    labels = distinct_labels(records)
    measured = [(n, _metric(r, "derained.psnr_y"), _metric(r, f"gain.{metric}")) for r, n in zip(records, labels)]
    points = [(n, x, y) for n, x, y in measured if x is not None and y is not None]
    if not points:
        return None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 4))
    ax = fig.add_subplot()
    from bench.report.downstream import PERCENT

    scale, unit = (100.0, "pp") if metric in PERCENT else (1.0, "")
    rainy = _metric(records[0], "rainy.psnr_y")
    bars = _error_bars(records, f"gain.{metric}", scale)
    for name, x, y in points:
        ax.scatter([x], [y * scale], s=40)
        if name in bars:  # the gain's stored 95 % interval
            ax.errorbar([x], [y * scale], yerr=bars[name], fmt="none", ecolor="grey", capsize=3, linewidth=1)
        ax.annotate(name, (x, y * scale), textcoords="offset points", xytext=(4, 4), fontsize=8)
    if rainy is not None:
        ax.axvline(rainy, color="grey", linestyle=":", label=f"rainy input {rainy:.2f} dB")
        ax.legend(fontsize=8, loc="best")
    ax.axhline(0, color="black", linewidth=0.8)
    ds = (records[0].get("dataset") or {}).get("name", "?")
    ax.set_xlabel("deraining PSNR (psnr_y, derained vs clean) [dB]")
    ax.set_ylabel(f"gain in {metric} (derained − rainy)" + (f" [{unit}]" if unit else ""))
    ax.set_title(f"{records[0].get('task')} on {ds}: restoration vs downstream gain", fontsize=10)
    ax.grid(alpha=0.3)
    return _figure_png(fig)


def _baseline_bars(ax: Any, names: Sequence[str], values: Sequence[float | None], baseline: float, digits: int) -> None:
    """Bars from ``baseline`` to each value, the value printed on each bar, the baseline drawn and named."""
    xs = np.arange(len(names))
    heights = [math.nan if v is None else v - baseline for v in values]
    colors = ["#4c72b0" if (h != h or h >= 0) else "#c44e52" for h in heights]
    bars = ax.bar(xs, heights, bottom=baseline, color=colors)
    ax.bar_label(bars, labels=["—" if v is None else f"{v:.{digits}f}" for v in values], fontsize=8, padding=2)
    ax.axhline(baseline, color="black", linewidth=0.8)
    ax.set_xticks(xs, names, rotation=30, ha="right", fontsize=8)
    finite = [v for v in values if v is not None] + [baseline]
    span = max(finite) - min(finite) or abs(baseline) * 0.05 or 1.0
    ax.set_ylim(min(finite) - 0.15 * span, max(finite) + 0.2 * span)


def conditions_plot(records: Sequence[Record], metric: str | None = None) -> bytes | None:
    """Bars of a downstream metric on each derainer's images, from the rainy input's value (the baseline),
    with the clean upper bound as a line and the value on every bar."""
    metric = metric or headline_metric(records)
    if metric is None or not records:
        return None
    names = distinct_labels(records)
    derained = [_metric(r, f"derained.{metric}") for r in records]
    rainy = _metric(records[0], f"rainy.{metric}")
    if all(v is None for v in derained) or rainy is None:
        return None
    clean = _metric(records[0], f"clean.{metric}")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(4.5, 1.0 + 0.9 * len(names)), 3.8))
    ax = fig.add_subplot()
    _baseline_bars(ax, names, derained, rainy, 3)
    if clean is not None:
        ax.axhline(clean, color="#55a868", linestyle="--", label=f"clean (upper bound) {clean:.3f}")
        ax.legend(fontsize=8)
    ax.set_ylabel(f"{metric} (bars from the rainy input {rainy:.3f})", fontsize=8)
    ds = (records[0].get("dataset") or {}).get("name", "?")
    ax.set_title(f"{records[0].get('task')} on {ds}: {metric}, baseline = rainy input", fontsize=10)
    return _figure_png(fig)


def restoration_plots(records: Sequence[Record], metric: str = "psnr_y") -> list[tuple[str, bytes]]:
    """One bar chart of a restoration metric per homogeneous group (set, protocol, images), bars from the
    rainy input (the group's identity record; when the group has none, from the lowest value, said so).

    Example:
        >>> restoration_plots([])
        []
    """
    from bench.report.grouping import groups, select

    recs = [r for r in records if r.get("task") == "restoration" and _metric(r, metric) is not None]
    out: list[tuple[str, bytes]] = []
    for group in groups(select(recs).records):
        identity = next((r for r in group.records if (r.get("derainer") or {}).get("name") == "identity"), None)
        others = sorted((r for r in group.records if r is not identity), key=derainer_label)
        if not others:
            continue
        values = [_metric(r, metric) for r in others]
        baseline = _metric(identity, metric) if identity is not None else None
        stated = "rainy input (identity)" if baseline is not None else "lowest value (no identity record)"
        base = baseline if baseline is not None else min(v for v in values if v is not None)
        from matplotlib.figure import Figure

        fig = Figure(figsize=(max(4.5, 1.0 + 0.9 * len(others)), 3.8))
        ax = fig.add_subplot()
        _baseline_bars(ax, distinct_labels(others), values, base, 2)
        ax.set_ylabel(f"{metric} (bars from the {stated} {base:.2f})", fontsize=8)
        title = f"restoration on {group.describe()}"
        ax.set_title(f"{metric}: {title}"[:110], fontsize=9)
        out.append((f"{metric} — {title}", _figure_png(fig)))
    return out
