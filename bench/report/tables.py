"""Views over run records: the run summary printed by ``bench run`` and the generic records table."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.report.table import Column, Table, columns_for
from bench.results.record import to_float

#: Metrics where a smaller value is better (used when a record's ``metric_info`` does not say).
LOWER_IS_BETTER: frozenset[str] = frozenset({"niqe", "sseq", "brisque", "seconds_per_image", "params_m", "sec"})


@dataclass
class ArrowColumn(Column):
    """A column shown with a direction arrow but never ranked (no bold): differences to published values.

    Example:
        >>> ArrowColumn("d", "Δ PSNR (ours − paper)", arrow_up=True).header
        'Δ PSNR (ours − paper) ↑'
    """

    arrow_up: bool = True

    @property
    def header(self) -> str:
        return f"{self.title} {'↑' if self.arrow_up else '↓'}"


@dataclass
class ReportTable(Table):
    """A :class:`Table` whose rows flagged ``"_unranked": True`` (e.g. the Clean upper bound) are never bold.

    Example:
        >>> t = ReportTable("t", [Column("v", "v", True)], rows=[{"name": "a", "v": 1.0},
        ...                  {"name": "b", "v": 2.0}, {"name": "clean", "v": 9.0, "_unranked": True}])
        >>> t.best()
        {'v': 2.0}
    """

    def best(self) -> dict[str, float]:
        out: dict[str, float] = {}
        ranked = [r for r in self.rows if not r.get("_unranked")]
        for col in self.columns:
            if col.higher_is_better is None:
                continue
            values = [
                v
                for r in ranked
                if isinstance(v := r.get(col.key), int | float) and not isinstance(v, bool) and math.isfinite(v)
            ]
            if len(values) >= 2:
                out[col.key] = max(values) if col.higher_is_better else min(values)
        return out


def derainer_label(record: dict[str, Any]) -> str:
    """``name`` or ``name@weights-tag`` of a record's derainer.

    Example:
        >>> derainer_label({"derainer": {"name": "prenet", "weights": {"tag": "Rain100L"}}})
        'prenet@Rain100L'
    """
    d = record.get("derainer", {}) or {}
    if is_random_init(record):
        return f"{d.get('name', '?')} (random init)"
    tag = (d.get("weights") or {}).get("tag")
    return f"{d.get('name', '?')}" + (f"@{tag}" if tag else "")


def is_random_init(record: dict[str, Any]) -> bool:
    """Whether the record's derainer was a randomly initialised trainable network (never the model's numbers).

    Example:
        >>> is_random_init({"derainer": {"name": "mspfn", "random_init": True}})
        True
    """
    return bool((record.get("derainer") or {}).get("random_init"))


def digits_for(metric: str) -> int:
    """Decimals shown for a metric (PSNR 2, SSIM/FSIM 4, NIQE 3, seconds 3, percentages 2)."""
    base = metric.split(".")[-1]
    if base.startswith("psnr") or base in ("sseq", "brisque", "params_m"):
        return 2
    if base in ("niqe", "seconds_per_image", "sec"):
        return 3
    if base.startswith(("ssim", "fsim")):
        return 4
    return 2


def direction(metric: str, info: dict[str, dict[str, Any]] | None = None) -> bool | None:
    """Whether higher is better for ``metric`` (``derained.niqe`` → False), from ``metric_info`` or defaults."""
    info = info or {}
    for key in (metric, metric.split(".", 1)[-1]):
        meta = info.get(key)
        if meta and meta.get("higher_is_better") is not None:
            return bool(meta["higher_is_better"])
    return metric.split(".")[-1] not in LOWER_IS_BETTER


def newest(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The most recently created record (ISO timestamps compare as strings)."""
    return max(records, key=lambda r: str(r.get("created", "")))


def _label(record: dict[str, Any]) -> str:
    d = record.get("derainer", {})
    if is_random_init(record):
        return f"{d.get('name', '?')} (random init)"
    weights = (d.get("weights") or {}).get("tag")
    return f"{d.get('name', '?')}" + (f" ({weights})" if weights else "")


def records_table(records: Sequence[dict[str, Any]], title: str | None = None) -> Table:
    """One row per record, one column per metric found in any record (missing cells marked)."""
    names: list[str] = []
    info: dict[str, dict[str, object]] = {}
    for rec in records:
        for name in rec.get("metrics", {}):
            if name not in names:
                names.append(name)
        info.update(rec.get("metric_info", {}))
    cols = columns_for(names, info)
    cols += [Column("n", "images", None, 0), Column("sec", "s/img", False, 3)]
    rows = []
    for rec in records:
        row: dict[str, object] = {"name": _label(rec)}
        for name in names:
            if name in rec.get("metrics", {}):
                row[name] = to_float(rec["metrics"][name])
        row["n"] = rec.get("dataset", {}).get("n_scored", len(rec.get("rows", [])))
        spi = rec.get("timings", {}).get("seconds_per_image")
        row["sec"] = to_float(spi) if spi is not None else None
        rows.append(row)
    first = records[0] if records else {}
    cfg = first.get("config", {})
    title = title or (
        f"{first.get('task', '?')} on {first.get('dataset', {}).get('name', '?')}"
        f" (quantize={cfg.get('quantize')}, crop multiple={cfg.get('crop_multiple')})"
    )
    notes = []
    issues = sum(len(r.get("issues", [])) for r in records)
    if issues:
        notes.append(f"{issues} file(s) could not be used; see the records' 'issues'.")
    return Table(title=title, columns=cols, rows=rows, notes=notes)


def render_run_summary(records: Sequence[dict[str, Any]], fmt: str = "markdown") -> str:
    """The table ``bench run`` prints: one row per derainer of this invocation."""
    if not records:
        return "(no records)"
    renderer = None
    task = records[0].get("task")
    if task in ("detection", "instance", "semantic", "noref"):
        from bench.report.downstream import downstream_table

        renderer = downstream_table
    table = renderer(records) if renderer else records_table(records)
    return table.render(fmt)
