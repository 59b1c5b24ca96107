"""Tables of paired comparisons (each gain, each derainer against each other) and of statistical power.

For one task on one dataset: every derainer's gain (derained − rainy, from its record's stored interval
and paired test) and every difference ``A − B`` between two derainers' derained scores on the images both
scored (computed here from the stored per-image data: the same resampled images for A and B). The power
table turns the observed per-image spread into the number of images needed to detect a 1 pp mAP or
0.1 dB PSNR difference (:mod:`bench.stats.power`).

Example:
    >>> computed = all_comparisons([])
    >>> comparison_tables(computed) == [] and power_tables(computed) == []
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.report.common import derainer_label, digits_for
from bench.report.downstream import FIDELITY, PERCENT, TITLES, task_metrics
from bench.report.intervals import load_members, record_interval
from bench.report.table import CellInterval, Column, Table
from bench.stats.bootstrap import BootstrapSettings, Interval, holm

Record = dict[str, Any]


@dataclass
class Line:
    """One comparison of one metric: ``a − b`` with its interval."""

    a: str
    b: str
    metric: str
    interval: Interval
    n_images: int
    per_image_sd: float | None = None


def _labels(records: Sequence[Record]) -> list[str]:
    labels = [derainer_label(r) for r in records]
    return [f"{lab} ({r.get('run_id')})" if labels.count(lab) > 1 else lab for lab, r in zip(labels, records)]


def group_metrics(records: Sequence[Record]) -> list[str]:
    """The metrics compared for records of one task: task scores, then the fidelity of the images fed on."""
    if not records:
        return []
    if str(records[0].get("task")) == "restoration":
        names: list[str] = []
        for rec in records:
            names += [k for k in rec.get("metrics") or {} if k not in names]
        return names
    return task_metrics(records) + [
        m for m in FIDELITY if any(f"derained.{m}" in (r.get("metrics") or {}) for r in records)
    ]


def _scale(metric: str) -> float:
    return 100.0 if metric in PERCENT else 1.0


def _title(metric: str) -> str:
    unit = " (pp)" if metric in PERCENT else (" (dB)" if metric.startswith("psnr") else "")
    return TITLES.get(metric, metric) + unit


def comparison_lines(
    records: Sequence[Record], settings: BootstrapSettings | None = None
) -> tuple[list[Line], list[Line]]:
    """(gains, differences between derainers) of records of one task on one dataset."""
    from bench.stats.intervals import compare, gain_per_image_sd, member_intervals, stored_intervals

    settings = settings or BootstrapSettings()
    metrics = group_metrics(records)
    labels = _labels(records)
    members = load_members(records, labels)
    by_id = {id(rec): rec for rec in records}
    for member in members:  # records without stored intervals of these settings: from the same per-image data
        if not stored_intervals(member.record, settings):
            by_id[id(member.record)]["intervals"] = member_intervals(member, settings)
    data = {id(member.record): member.data for member in members}
    gains: list[Line] = []
    for rec, label in zip(records, labels):
        n = int((rec.get("intervals") or {}).get("n_images", len(rec.get("rows") or [])))
        for m in metrics:
            found = record_interval(rec, f"gain.{m}")
            if found is not None:
                sd = gain_per_image_sd(data[id(rec)], m) if id(rec) in data else None
                gains.append(Line(label, "rainy", m, found, n, sd))
    pairs = [
        Line(c.a, c.b, c.metric, c.interval, c.n_images, c.per_image_sd) for c in compare(members, metrics, settings)
    ]
    return gains, pairs


Groups = dict[tuple[str, str], tuple[list[Line], list[Line]]]


def all_comparisons(records: Sequence[Record], settings: BootstrapSettings | None = None) -> Groups:
    """``{(task, set and protocol): (gains, differences)}`` for every homogeneous group of records (computed
    once, for both tables): only records of one set identity, protocol and images are compared, shards are
    left out and duplicates collapse to the newest (:mod:`bench.report.grouping`)."""
    from bench.report.grouping import titled_groups

    return {key: comparison_lines(recs, settings) for key, recs in titled_groups(records).items()}


def _fmt(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _table(title: str, lines: Sequence[Line], use_holm: bool, notes: list[str]) -> Table:
    adjusted = holm([ln.interval.p_value for ln in lines]) if use_holm else [None] * len(lines)
    columns = [
        Column("delta", "Δ (a − b)", None, 2),
        Column("ci", "95 % interval", None),
        Column("p", "p", None, 3),
    ]
    if use_holm:
        columns.append(Column("p_holm", "p (Holm)", None, 3))
    columns += [Column("test", "paired test", None), Column("n", "images", None)]
    rows: list[dict[str, object]] = []
    for line, p_holm in zip(lines, adjusted):
        s = _scale(line.metric)
        iv = line.interval
        digits = digits_for(line.metric)
        marked = (p_holm is not None and p_holm < 0.05) if use_holm else iv.excludes_zero()
        row: dict[str, object] = {
            "name": f"{line.a} − {line.b}: {_title(line.metric)}",
            "delta": iv.estimate * s if math.isfinite(iv.estimate) else None,
            "ci": f"[{_fmt(iv.lo * s, digits)}, {_fmt(iv.hi * s, digits)}]" if math.isfinite(iv.lo) else "—",
            "p": iv.p_value,
            "p_holm": p_holm,
            "test": iv.test or "—",
            "n": line.n_images,
            "_digits": {"delta": digits},
        }
        if math.isfinite(iv.lo) and math.isfinite(iv.hi):
            row["_ci"] = {"delta": CellInterval(iv.lo * s, iv.hi * s, marked=marked)}
        rows.append(row)
    mark = "Holm-adjusted p < 0.05" if use_holm else "an interval that excludes 0 (unadjusted)"
    notes = [
        f"{len(lines)} paired comparisons in this table; * marks {mark}."
        + ("" if use_holm else " Add --holm for Holm's correction over the table."),
        *notes,
    ]
    return Table(title=title, columns=columns, rows=rows, row_title="comparison", notes=notes)


def comparison_tables(
    computed: Groups, settings: BootstrapSettings | None = None, use_holm: bool = False
) -> list[Table]:
    """One table of paired comparisons per (task, dataset) with at least one gain or two derainers.

    Args:
        computed: :func:`all_comparisons` of the records.
        settings: The bootstrap settings used (named in the notes).
        use_holm: Add Holm-adjusted p-values and mark by them.
    """
    settings = settings or BootstrapSettings()
    tables = []
    for (task, dataset), (gains, pairs) in computed.items():
        lines = gains + pairs
        if not lines:
            continue
        notes = [
            "Gains (derained − rainy) are the records' stored intervals and tests; differences between derainers "
            f"are paired on the images both scored ({settings.n_resamples} bootstrap resamples, seed {settings.seed}, "
            f"{settings.method} interval). Tests: sign-flip on per-image differences for per-image metrics, "
            "the shifted bootstrap for set-level scores (mAP, mIoU, precision, recall, IoU). "
            "Units: pp for scores in %, dB for PSNR."
        ]
        tables.append(_table(f"Paired comparisons — {task} on {dataset}", lines, use_holm, notes))
    return tables


def power_tables(computed: Groups) -> list[Table]:
    """Images needed to detect each metric's target difference (1 pp mAP, 0.1 dB PSNR …), per comparison."""
    from bench.stats.power import detectable_difference, images_needed, per_image_sigma, power_at

    tables = []
    for (task, dataset), (gains, pairs) in computed.items():
        rows: list[dict[str, object]] = []
        for line in gains + pairs:
            delta = detectable_difference(line.metric)
            iv = line.interval
            if delta is None or not math.isfinite(iv.se) or line.n_images < 2:
                continue
            sigma = line.per_image_sd if line.per_image_sd is not None else per_image_sigma(iv.se, line.n_images)
            s = _scale(line.metric)
            d = digits_for(line.metric)
            rows.append(
                {
                    "_digits": {"delta": d, "se": d + 1, "sigma": d + 1, "target": d},
                    "name": f"{line.a} − {line.b}: {_title(line.metric)}",
                    "delta": iv.estimate * s if math.isfinite(iv.estimate) else None,
                    "se": iv.se * s,
                    "sigma": sigma * s,
                    "n": line.n_images,
                    "target": delta * s,
                    "needed": images_needed(sigma, delta),
                    "power": power_at(line.n_images, sigma, delta),
                }
            )
        if not rows:
            continue
        columns = [
            Column("delta", "observed Δ", None, 2),
            Column("se", "SE", None, 3),
            Column("sigma", "σ per image", None, 3),
            Column("n", "images", None),
            Column("target", "target Δ", None, 3),
            Column("needed", "images needed (80 % power, α 0.05)", None),
            Column("power", "power for the target now", None, 2),
        ]
        notes = [
            "σ per image: SD of per-image differences (per-image metrics) or bootstrap SE · √images (set-level "
            "scores). Images needed = ((z₀.₉₇₅ + z₀.₈) · σ / target)², a normal approximation; σ is estimated "
            "from the images at hand, so with few images the answer is rough. Targets: 1 pp for scores in %, "
            "0.1 dB PSNR, 0.001 SSIM/FSIM, 0.1 NIQE, 1 SSEQ/BRISQUE.",
        ]
        tables.append(
            Table(
                title=f"Power — {task} on {dataset}: images needed to detect the target difference",
                columns=columns,
                rows=rows,
                row_title="comparison",
                notes=notes,
            )
        )
    return tables
