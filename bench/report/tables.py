"""Views over run records: the run summary printed by ``bench run`` and the generic records table."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
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


def issues_note(records: Sequence[dict[str, Any]], limit: int = 10) -> str | None:
    """One note listing the files the records could not use (up to ``limit``, each with its reason).

    Example:
        >>> issues_note([{"issues": [{"path": "/d/rain/7.png", "reason": "/d/rain/7.png: empty file (0 bytes)"}]}])
        '1 file(s) could not be used: 7.png (empty file (0 bytes)).'
    """
    seen: dict[str, str] = {}
    for rec in records:
        for issue in rec.get("issues") or []:
            path = str(issue.get("path", "?"))
            reason = str(issue.get("reason", "")).replace(f"{path}: ", "").replace(path, Path(path).name)
            seen.setdefault(path, reason)
    if not seen:
        return None
    shown = [f"{Path(path).name} ({reason})" for path, reason in list(seen.items())[:limit]]
    more = f"; {len(seen) - limit} more in the records' 'issues'" if len(seen) > limit else ""
    return f"{len(seen)} file(s) could not be used: {'; '.join(shown)}{more}."


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


def records_table(records: Sequence[dict[str, Any]], title: str | None = None, ci: bool = False) -> Table:
    """One row per record, one column per metric found in any record (missing cells marked).

    With ``ci`` the cells carry the records' stored 95 % intervals (``value ± half-width``).
    """
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
        if ci:
            from bench.report.intervals import record_cell_interval

            cells = {name: record_cell_interval(rec, name) for name in names}
            row["_ci"] = {k: v for k, v in cells.items() if v is not None}
        rows.append(row)
    first = records[0] if records else {}
    cfg = first.get("config", {})
    title = title or (
        f"{first.get('task', '?')} on {first.get('dataset', {}).get('name', '?')}"
        f" (quantize={cfg.get('quantize')}, crop multiple={cfg.get('crop_multiple')})"
    )
    notes = []
    unused = issues_note(records)
    if unused:
        notes.append(unused)
    if ci:
        from bench.report.intervals import interval_note, missing_note

        notes += [n for n in (interval_note(records, 0), missing_note(records)) if n]
    return Table(title=title, columns=cols, rows=rows, notes=notes)


def render_run_summary(records: Sequence[dict[str, Any]], fmt: str = "markdown") -> str:
    """The table ``bench run`` prints: one row per derainer of this invocation, with 95 % intervals.

    Below the table, each derainer's headline gain with its interval, and whether it is distinguishable
    from zero on this many images.
    """
    if not records:
        return "(no records)"
    from bench.report.intervals import summary_lines

    task = records[0].get("task")
    if task in ("detection", "instance", "semantic", "noref"):
        from bench.report.downstream import downstream_table

        table = downstream_table(records, ci=True)
    else:
        table = records_table(records, ci=True)
    lines = summary_lines(records)
    return table.render(fmt) + ("\n\n" + "\n".join(lines) if lines else "")
