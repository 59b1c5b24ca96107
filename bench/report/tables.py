"""Views over run records: the generic records tables of ``bench report`` and the summary of ``bench run``.

:func:`group_tables` is the dispatcher: records are selected (shards left out, duplicates collapsed) and
grouped so that one table never mixes datasets, protocols or image subsets (:mod:`bench.report.grouping`);
each group becomes a restoration table or a Table-6-style downstream table. :func:`render_run_summary`
is the compact end-of-run table (fits 120 columns; the rest is in the record and ``bench report --wide``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.report.common import ReportTable, derainer_label, digits_for, direction, issues_note
from bench.report.downstream import CLEAN, PERCENT, RAIN_INPUT, TITLES, downstream_table, task_metrics
from bench.report.grouping import Group, groups, select
from bench.report.table import CellInterval, Column, Table, columns_for
from bench.results.frames import RECORD_COLUMNS, n_images, protocol_text, record_metric_rows
from bench.results.labels import distinct_labels
from bench.results.record import to_float

DOWNSTREAM_TASKS: frozenset[str] = frozenset({"detection", "instance", "semantic", "noref"})


def records_table(
    records: Sequence[dict[str, Any]], title: str | None = None, ci: bool = False, mixed: bool = False
) -> Table:
    """One row per record, one column per metric found in any record (missing cells marked): the pivot
    ``record × metric → value`` of the records' tidy frame (:func:`bench.results.frames.record_metric_rows`).

    With ``ci`` the cells carry the records' stored 95 % intervals (``value ± half-width``). ``mixed``
    (``--allow-mixed``): the records may differ in protocol or images; a column says which, nothing is bold.
    """
    import pandas as pd

    tidy = pd.DataFrame(
        [{**m, "row": i} for i, rec in enumerate(records) for m in record_metric_rows(rec)],
        columns=[*RECORD_COLUMNS, "row"],
    )
    names = list(dict.fromkeys(str(k) for rec in records for k in rec.get("metrics", {})))  # first-seen order
    tidy["key"] = [k for rec in records for k in rec.get("metrics", {})]
    wide = tidy.pivot(index="row", columns="key", values="value").reindex(index=range(len(records)), columns=names)
    info: dict[str, dict[str, object]] = {}
    for rec in records:
        info.update(rec.get("metric_info", {}))
    cols = columns_for(names, info)
    cols += [Column("n", "images", None, 0), Column("sec", "s/img", False, 3)]
    if mixed:
        cols = [Column("protocol", "protocol", None), *[Column(c.key, c.title, None, c.digits) for c in cols]]
    rows = []
    labels = distinct_labels(records)  # records of different weights that share a label are told apart
    for i, rec in enumerate(records):
        row: dict[str, object] = {"name": labels[i], "_record": rec}
        if mixed:
            row["protocol"] = protocol_text(rec)
        for name in names:
            if name in rec.get("metrics", {}):
                row[name] = to_float(wide.at[i, name])
        row["n"] = n_images(rec)
        spi = rec.get("timings", {}).get("seconds_per_image")
        row["sec"] = to_float(spi) if spi is not None else None
        if ci:
            from bench.report.intervals import record_cell_interval

            cells = {name: record_cell_interval(rec, name) for name in names}
            row["_ci"] = {k: v for k, v in cells.items() if v is not None}
        rows.append(row)
    first = records[0] if records else {}
    title = title or f"{first.get('task', '?')} on {first.get('dataset', {}).get('name', '?')} ({protocol_text(first)})"
    notes = []
    unused = issues_note(records)
    if unused:
        notes.append(unused)
    if ci:
        from bench.report.intervals import interval_note, missing_note

        notes += [n for n in (interval_note(records, 0), missing_note(records)) if n]
    return ReportTable(title=title, columns=cols, rows=rows, notes=notes)


def group_title(group: Group) -> str:
    """``restoration on Rain100L, 100 images, quantize=round, crop 1``."""
    return f"{group.task} on {group.describe()}"


def group_tables(
    records: Sequence[dict[str, Any]], ci: bool = False, use_holm: bool = False, allow_mixed: bool = False
) -> list[Table]:
    """``bench report`` without ``--table``: one homogeneous table per (task, dataset, protocol, images).

    Shard records are left out and duplicates collapse to the newest; the notes say so in every format.
    ``allow_mixed`` puts records of one dataset in one table whatever their protocol or images (a
    protocol/images column says which; nothing is ranked).
    """
    selection = select(records)
    tables: list[Table] = []
    for group in groups(selection.records, allow_mixed=allow_mixed):
        mixed = allow_mixed and group.mixed
        if group.task == "restoration":
            table = records_table(group.records, title=group_title(group), ci=ci, mixed=mixed)
        else:
            table = downstream_table(group.records, title=group_title(group), ci=ci, use_holm=use_holm)
            if mixed:
                table.notes.insert(0, "MIXED protocols or images (--allow-mixed): rows are not comparable.")
        if mixed:
            for col in table.columns:
                col.higher_is_better = None  # never rank rows that were not measured alike
        tables.append(table)
    if tables:
        tables[0].notes[:0] = selection.notes
    elif selection.notes:
        tables.append(ReportTable(title="(no table: every record was left out)", columns=[], notes=selection.notes))
    return tables


# ---------------------------------------------------------------------------------------------- run summary
#: Most metric columns in the end-of-run summary of a restoration run (the rest: ``bench report --wide``).
SUMMARY_METRICS = 4


def _fmt(value: float | None, digits: int, ci: CellInterval | None = None, signed: bool = False) -> str:
    if value is None or value != value:
        return "—"
    text = _signed(value, digits) if signed else f"{value:.{digits}f}"
    if ci is not None:
        text += f" [{_signed(ci.lo, digits)}, {_signed(ci.hi, digits)}]" if signed else f" ± {ci.half_width:.{digits}f}"
    return text


def _signed(value: float, digits: int) -> str:
    """``+1.23`` / ``-1.23``, and ``+0.00`` for a value that rounds to zero (never ``-0.00``)."""
    text = f"{value:+.{digits}f}"
    return "+" + text[1:] if float(text) == 0 else text


def _summary_downstream(records: Sequence[dict[str, Any]]) -> Table:
    from bench.report.intervals import record_cell_interval

    metrics = task_metrics(records)
    metric = metrics[0] if metrics else None
    ref = records[0]
    pct = metric in PERCENT
    scale = 100.0 if pct else 1.0
    name = TITLES.get(metric or "", metric or "?")
    unit = " %" if pct else ""
    digits = digits_for(metric or "")
    cols = [
        Column("n", "images", None),
        Column("psnr", "PSNR_y dB", None),
        Column("m", f"{name}{unit}", None),
        Column("gain", f"gain{' pp' if pct else ''} [95% CI]", None),
        Column("rec", "recovery %", None),
        Column("sec", "s/img", None),
    ]

    def value(rec: dict[str, Any], key: str, factor: float = 1.0) -> float | None:
        raw = (rec.get("metrics") or {}).get(key)
        return None if raw is None else to_float(raw) * factor

    rows: list[dict[str, object]] = [
        {
            "name": RAIN_INPUT,
            "n": str(n_images(ref)),
            "psnr": _fmt(value(ref, "rainy.psnr_y"), 2),
            "m": _fmt(value(ref, f"rainy.{metric}", scale), digits),
        }
    ]
    for rec in records:
        spi = (rec.get("timings") or {}).get("seconds_per_image")
        rows.append(
            {
                "name": derainer_label(rec),
                "n": str(n_images(rec)),
                "psnr": _fmt(value(rec, "derained.psnr_y"), 2),
                "m": _fmt(value(rec, f"derained.{metric}", scale), digits),
                "gain": _fmt(
                    value(rec, f"gain.{metric}", scale),
                    digits,
                    record_cell_interval(rec, f"gain.{metric}", scale, difference=True),
                    signed=True,
                ),
                "rec": _fmt(value(rec, f"recovery.{metric}", 100.0), 1),
                "sec": _fmt(to_float(spi) if spi is not None else None, 3),
            }
        )
    if value(ref, f"clean.{metric}") is not None:
        rows.append({"name": CLEAN, "n": str(n_images(ref)), "m": _fmt(value(ref, f"clean.{metric}", scale), digits)})
    title = f"{ref.get('task')} on {(ref.get('dataset') or {}).get('name', '?')}: does deraining help {name}?"
    return ReportTable(title=title, columns=cols, rows=rows)


def _summary_restoration(records: Sequence[dict[str, Any]]) -> Table:
    from bench.report.intervals import record_cell_interval

    names: list[str] = []
    for rec in records:
        names += [m for m in rec.get("metrics") or {} if m not in names]
    shown = names[:SUMMARY_METRICS]
    info: dict[str, Any] = {}
    for rec in records:
        info.update(rec.get("metric_info") or {})
    arrows = {m: "" if direction(m, info) is None else (" ↑" if direction(m, info) else " ↓") for m in shown}
    cols = [Column("n", "images", None), *[Column(m, f"{m}{arrows[m]}", None) for m in shown]]
    cols.append(Column("sec", "s/img", None))
    rows: list[dict[str, object]] = []
    for rec in records:
        row: dict[str, object] = {"name": derainer_label(rec), "n": str(n_images(rec))}
        for m in shown:
            raw = (rec.get("metrics") or {}).get(m)
            row[m] = _fmt(None if raw is None else to_float(raw), digits_for(m), record_cell_interval(rec, m))
        spi = (rec.get("timings") or {}).get("seconds_per_image")
        row["sec"] = _fmt(to_float(spi) if spi is not None else None, 3)
        rows.append(row)
    first = records[0]
    notes = []
    if len(names) > len(shown):
        notes.append(f"Also measured: {', '.join(names[len(shown) :])} (in the record; `bench report --wide`).")
    title = f"restoration on {(first.get('dataset') or {}).get('name', '?')} ({protocol_text(first)})"
    return ReportTable(title=title, columns=cols, rows=rows, notes=notes)


def render_run_summary(records: Sequence[dict[str, Any]], fmt: str = "markdown") -> str:
    """The table ``bench run`` prints: one row per derainer of this invocation, at most 120 columns wide.

    Downstream runs show the five numbers that answer the question (PSNR of the derained images, the
    headline task metric, its gain with the 95 % interval, the recovery, the time); restoration runs at
    most four metrics with their intervals. Below the table, each derainer's headline gain in words.
    Everything else is in the record (``bench report --wide``).
    """
    if not records:
        return "(no records)"
    from bench.report.intervals import summary_lines

    task = records[0].get("task")
    table = _summary_downstream(records) if task in DOWNSTREAM_TASKS else _summary_restoration(records)
    from bench.report.intervals import missing_note

    _fit(table, SUMMARY_WIDTH)
    missing = missing_note(records)
    if missing:
        table.notes.append(missing)
    lines = summary_lines(records)
    text = table.render(fmt) + ("\n\n" + "\n".join(lines) if lines else "")
    return _wrap(text, SUMMARY_WIDTH) if fmt in ("markdown", "md") else text


def _wrap(text: str, width: int) -> str:
    """Wrap the prose lines (not the table rows) at ``width``, continuation lines indented."""
    import textwrap

    out: list[str] = []
    for line in text.splitlines():
        if len(line) <= width or line.startswith("|"):
            out.append(line)
            continue
        indent = " " * (len(line) - len(line.lstrip()))
        out += textwrap.wrap(line, width, initial_indent="", subsequent_indent=indent + "  ", break_long_words=False)
    return "\n".join(out)


#: Widest line of the run summary (a terminal of 120 columns never wraps it).
SUMMARY_WIDTH = 120

#: Columns the summary gives up first when it is too wide (the last listed goes first).
_OPTIONAL = ("sec", "psnr", "rec")


def _fit(table: Table, width: int) -> None:
    """Make ``table``'s Markdown fit ``width``: empty columns go, equal image counts move into the title,
    then optional columns (restoration: the last metrics) go, each named in a note."""
    table.columns = [c for c in table.columns if any(r.get(c.key) not in (None, "—") for r in table.rows)]
    counts = {r.get("n") for r in table.rows if r.get("n") is not None}
    if len(counts) == 1:
        table.columns = [c for c in table.columns if c.key != "n"]
        table.title += f" ({counts.pop()} images)"
    dropped: list[str] = []
    optional = [c.key for c in table.columns if c.key in _OPTIONAL] or [c.key for c in table.columns[2:-1]]
    while optional and max(len(line) for line in table.to_markdown().splitlines()) > width:
        key = optional.pop()
        dropped += [c.title for c in table.columns if c.key == key]
        table.columns = [c for c in table.columns if c.key != key]
    if dropped:
        table.notes.append(f"Not shown (width): {', '.join(dropped)}; in the record and `bench report --wide`.")
