"""The paper's Tables 2–6 side by side with measured run records, and a free-form pivot.

Every table is built from stored records (never recomputed) and the published numbers of
:mod:`bench.report.published`. For each dataset the measured value of a method sits next to the paper's
value for the same method, dataset and metric variant, followed by the difference (ours − paper). Paper
cells without a measurement, and measurements without a paper cell, are shown with "—", never dropped.

Example:
    >>> from bench.results.record import find_records
    >>> records = [rec for _, rec in find_records("runs")]  # doctest: +SKIP
    >>> text, csv_text = render_requested(records, table="4", pivot=None, fmt="markdown")  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

from bench.report.downstream import RAIN_INPUT, downstream_table
from bench.report.published import PaperTable, Published, Variant, load_published, variant_name
from bench.report.table import Column, Table
from bench.report.tables import (
    ArrowColumn,
    ReportTable,
    derainer_label,
    digits_for,
    direction,
    is_random_init,
    issues_note,
    newest,
    records_table,
)
from bench.results.record import to_float

Record = dict[str, Any]
PAPER_TABLES: tuple[str, ...] = ("2", "3", "4", "5", "6")
TABLE_TASKS: dict[str, tuple[str, ...]] = {
    "2": ("restoration",),
    "3": ("restoration",),
    "4": ("restoration",),
    "5": ("noref",),
    "6": ("detection", "instance", "semantic"),
}


# ---------------------------------------------------------------------------------------------- helpers
def _finite(value: Any) -> float | None:
    if value is None:
        return None
    try:
        v = to_float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def measured(record: Record, metric: str) -> float | None:
    """A record's value for a paper variant's metric (``seconds_per_image``, ``params_m`` and NR metrics too).

    Example:
        >>> measured({"metrics": {"derained.niqe": 4.2}}, "niqe")
        4.2
        >>> measured({"derainer": {"params": 2500000}, "metrics": {}}, "params_m")
        2.5
    """
    metrics = record.get("metrics") or {}
    if metric == "seconds_per_image":
        return _finite((record.get("timings") or {}).get("seconds_per_image"))
    if metric == "params_m":
        params = (record.get("derainer") or {}).get("params")
        return None if params is None else float(params) / 1e6
    for key in (metric, f"derained.{metric}"):
        if key in metrics:
            return _finite(metrics[key])
    return None


def protocol_of(record: Record) -> tuple[str | None, int | None]:
    """(quantize, crop multiple) of a record."""
    cfg = record.get("config") or {}
    crop = cfg.get("crop_multiple")
    return cfg.get("quantize"), (int(crop) if crop is not None else None)


def dedupe(records: Sequence[Record]) -> tuple[list[Record], int]:
    """Keep the newest record per (derainer, weights, dataset, protocol); returns (kept, number superseded)."""
    groups: dict[tuple[Any, ...], list[Record]] = {}
    for rec in records:
        key = (
            derainer_label(rec),
            (rec.get("dataset") or {}).get("name"),
            rec.get("task"),
            protocol_of(rec),
            str(sorted(((rec.get("config") or {}).get("options") or {}).items())),
        )
        groups.setdefault(key, []).append(rec)
    kept = [newest(g) for g in groups.values()]
    return kept, len(records) - len(kept)


def paper_digits(v: Variant) -> int:
    """Decimals the paper prints for a variant (SSIM/FSIM 3, the rest as :func:`digits_for`)."""
    return 3 if v.metric.startswith(("ssim", "fsim")) else digits_for(v.metric)


def _delta(ours: float | None, paper: float | None) -> float | None:
    return None if ours is None or paper is None else ours - paper


def _method_name(pub: Published, table_key: str, derainer: str | None) -> str | None:
    """Row name of a derainer in a paper table, or any paper name mapped to it."""
    if derainer is None:
        return None
    in_table = pub.paper_method(table_key, derainer)
    if in_table:
        return in_table
    return next((m for m, d in pub.methods.items() if d == derainer), None)


def _dataset_groups(records: Sequence[Record], pub: Published) -> dict[str, list[Record]]:
    groups: dict[str, list[Record]] = {}
    for rec in records:
        name = pub.canonical_dataset((rec.get("dataset") or {}).get("name")) or "?"
        groups.setdefault(name, []).append(rec)
    return groups


# ---------------------------------------------------------------------------------------------- Tables 2-5
def comparison_table(
    pub: Published,
    paper: PaperTable,
    dataset: str,
    records: Sequence[Record],
    rainy_row: bool = False,
    ci: bool = False,
) -> Table:
    """Measured records of one dataset next to one paper table's cells for that dataset.

    Args:
        pub: The published numbers.
        paper: The paper table (its columns are the variants compared).
        dataset: The paper's dataset name (records' names already mapped through the aliases).
        records: Measured records on that dataset (restoration or noref).
        rainy_row: Add a "Rain input" row from the records' ``rainy.*`` scores (no-reference sets).
        ci: Show our cells' stored 95 % intervals (``± half-width``).

    Returns:
        One table: rows = paper methods (paper order) and extra measured derainers; for each variant the
        columns ours, paper and Δ (ours − paper), plus the weights' own published scores when known.
    """
    kept, superseded = dedupe(records)
    has_paper = dataset in {d for rows in paper.rows.values() for d in rows}
    protocols = sorted({protocol_of(r) for r in kept}, key=str)
    uniform = protocols[0] if len(protocols) == 1 else None
    info: dict[str, dict[str, Any]] = {}
    for rec in kept:
        info.update(rec.get("metric_info") or {})

    columns: list[Column] = []
    if len(protocols) > 1:
        columns.append(Column("protocol", "our protocol (quantize, crop)", None))
    for v in paper.columns:
        hib = v.higher_is_better
        ours_variant = _ours_variant(v, uniform)
        columns.append(Column(f"ours.{v.key}", f"{v.title} ours ({ours_variant})", hib, digits_for(v.metric)))
        if has_paper:
            columns.append(Column(f"paper.{v.key}", f"{v.title} paper ({v.spelled()})", hib, paper_digits(v)))
            columns.append(
                ArrowColumn(f"delta.{v.key}", f"Δ {v.title} (ours − paper)", None, digits_for(v.metric), arrow_up=hib)
            )

    rows: list[dict[str, object]] = []
    matched: set[int] = set()
    for method in paper.rows:
        derainer = pub.derainer_of(method)
        recs = [
            r
            for r in kept
            if derainer is not None and (r.get("derainer") or {}).get("name") == derainer and not is_random_init(r)
        ]  # a randomly initialised network is never placed beside the paper's numbers
        if not recs and not has_paper:
            continue
        candidates: list[Record | None] = list(recs) or [None]  # no record: the paper's row alone
        for found in candidates:
            label = method if found is None else f"{method} — {derainer_label(found)}"
            rows.append(_row(label, paper, method, dataset, found, uniform))
            if found is not None:
                matched.add(id(found))
    for rec in kept:
        if id(rec) in matched:
            continue
        name = None if is_random_init(rec) else _method_name(pub, paper.key, (rec.get("derainer") or {}).get("name"))
        label = f"{name} — {derainer_label(rec)}" if name else derainer_label(rec)
        rows.append(_row(label, paper, None, dataset, rec, uniform))
    if rainy_row and kept:
        ref = kept[0]
        row: dict[str, object] = {"name": RAIN_INPUT}
        for v in paper.columns:
            ours = _finite((ref.get("metrics") or {}).get(f"rainy.{v.metric}"))
            row[f"ours.{v.key}"] = ours
            if has_paper:
                published = paper.value("Rain input", dataset, v.key)
                row[f"paper.{v.key}"] = published
                row[f"delta.{v.key}"] = _delta(ours, published)
        rows.insert(0, row)
        row["_rainy_of"] = ref

    weights_cols = _add_weights_columns(pub, dataset, rows, columns)
    title = (
        f"Table {paper.key} — {dataset}: ours vs {pub.short(paper.source)}"
        if has_paper
        else f"Table {paper.key} metrics — {dataset} (measured only; the paper reports no {dataset} numbers)"
    )
    notes = [paper.caption]
    notes += list(paper.notes)
    if has_paper:
        notes += [f"Paper variant {v.title}: {v.describe}" for v in paper.columns if v.describe]
    if uniform is None and kept:
        notes.append(
            "Our records use different protocols (see the protocol column); compare rows of the same protocol."
        )
    elif (
        uniform is not None
        and has_paper
        and any(
            (v.quantize and v.quantize != uniform[0]) or (v.crop_multiple and v.crop_multiple != uniform[1])
            for v in paper.columns
        )
    ):
        notes.append(
            f"Our protocol (quantize={uniform[0]}, crop multiple={uniform[1]}) differs from the paper's "
            f"for some columns; Δ includes that effect (see ../shared/calibration/README.md: up to ~0.2 dB)."
        )
    for v in paper.columns:
        if kept and all(measured(r, v.metric) is None for r in kept):
            notes.append(
                f"{v.metric} was not measured in these records (ours column '—'); run with --metrics ... {v.metric}."
            )
    if weights_cols:
        notes.append(
            "Weights' published: the score the weights' own authors published on this test set, in their "
            "variant (column 'published variant'); its Δ uses our value of the same metric variant only."
        )
    if superseded:
        notes.append(
            f"{superseded} older record(s) of the same derainer, weights and protocol were superseded by "
            "the newest one."
        )
    if ci:
        notes += _ours_intervals(rows, paper, kept)
    unused = issues_note(kept)
    if unused:
        notes.append(unused)
    ns = sorted({int((r.get("dataset") or {}).get("n_scored", len(r.get("rows") or []))) for r in kept})
    if ns:
        notes.append(f"Images scored per record: {', '.join(map(str, ns))}.")
    notes.append(f"Source: {pub.citation(paper.source)}")
    return ReportTable(title=title, columns=columns, rows=rows, notes=notes)


def _ours_intervals(rows: list[dict[str, object]], paper: PaperTable, kept: Sequence[Record]) -> list[str]:
    """Our cells' stored intervals (``row["_ci"]``); returns the notes that explain them."""
    from bench.report.intervals import interval_note, missing_note, record_cell_interval
    from bench.report.table import CellInterval

    for row in rows:
        rainy = row.get("_rainy_of")
        rec = rainy if isinstance(rainy, dict) else row.get("_record")
        if not isinstance(rec, dict):
            continue
        metrics = rec.get("metrics") or {}
        cells: dict[str, CellInterval] = {}
        for v in paper.columns:
            keys = [f"rainy.{v.metric}"] if rainy is not None else [v.metric, f"derained.{v.metric}"]
            key = next((k for k in keys if k in metrics), None)
            cell = record_cell_interval(rec, key) if key else None
            if cell is not None:
                cells[f"ours.{v.key}"] = cell
        row["_ci"] = cells
    return [n for n in (interval_note(kept, 0), missing_note(kept)) if n] if kept else []


def _ours_variant(v: Variant, protocol: tuple[str | None, int | None] | None) -> str:
    if protocol is None:
        return variant_name(v.metric, None, None) + ", see protocol"
    from bench.report.published import CHANNELS

    if v.metric in CHANNELS:
        return variant_name(v.metric, protocol[0], protocol[1])
    return v.metric


def _row(
    label: str,
    paper: PaperTable,
    method: str | None,
    dataset: str,
    rec: Record | None,
    protocol: tuple[str | None, int | None] | None,
) -> dict[str, object]:
    row: dict[str, object] = {"name": label, "_record": rec}
    if protocol is None and rec is not None:
        q, c = protocol_of(rec)
        row["protocol"] = f"{q}, crop {c}"
    for v in paper.columns:
        ours = measured(rec, v.metric) if rec is not None else None
        published = paper.value(method, dataset, v.key) if method is not None else None
        row[f"ours.{v.key}"] = ours
        row[f"paper.{v.key}"] = published
        row[f"delta.{v.key}"] = _delta(ours, published)
    return row


def _weights_published(pub: Published, rec: Record, dataset: str) -> tuple[dict[str, float], str] | None:
    """The published scores of a record's weights on ``dataset``: from the record's card, else the YAML."""
    d = rec.get("derainer") or {}
    for name, scores in (d.get("reported") or {}).items():
        if pub.canonical_dataset(name) == dataset and scores:
            ws = pub.weights_scores(str(d.get("name")), (d.get("weights") or {}).get("tag"))
            return {k: float(v) for k, v in scores.items()}, (ws.protocol if ws else "as on the derainer's card")
    ws = pub.weights_scores(str(d.get("name")), (d.get("weights") or {}).get("tag"))
    if ws is None:
        return None
    for name, scores in ws.scores.items():
        if pub.canonical_dataset(name) == dataset:
            return {k: float(v) for k, v in scores.items()}, ws.protocol
    return None


def _add_weights_columns(pub: Published, dataset: str, rows: list[dict[str, object]], columns: list[Column]) -> bool:
    found = False
    for row in rows:
        rec = row.get("_record")
        if not isinstance(rec, dict):
            continue
        got = _weights_published(pub, rec, dataset)
        if got is None:
            continue
        scores, protocol = got
        found = True
        row["wvariant"] = "; ".join(f"{k}" for k in scores) + f" ({protocol})"
        for group in ("psnr", "ssim"):
            key = next((k for k in scores if k.startswith(group)), None)
            if key is None:
                continue
            ours_key = key if key != group else f"{group}_y"  # a bare "psnr": variant not stated, compare psnr_y
            row[f"w.{group}"] = scores[key]
            row[f"wdelta.{group}"] = _delta(measured(rec, ours_key), scores[key])
    if found:
        columns += [
            Column("w.psnr", "PSNR weights' published", True, 2),
            ArrowColumn("wdelta.psnr", "Δ PSNR (ours − weights' published, same variant)", None, 2),
            Column("w.ssim", "SSIM weights' published", True, 4),
            ArrowColumn("wdelta.ssim", "Δ SSIM (ours − weights' published, same variant)", None, 4),
            Column("wvariant", "published variant", None),
        ]
    return found


def published_only_table(pub: Published, paper: PaperTable, datasets: Sequence[str]) -> Table:
    """The paper's cells for datasets that no record measured (rows: paper methods)."""
    columns: list[Column] = []
    for ds in datasets:
        for v in paper.columns:
            columns.append(
                Column(f"{ds}.{v.key}", f"{ds} {v.title} paper ({v.spelled()})", v.higher_is_better, paper_digits(v))
            )
    rows: list[dict[str, object]] = []
    for method, per_ds in paper.rows.items():
        derainer = pub.derainer_of(method)
        row: dict[str, object] = {"name": method + (f" ({derainer})" if derainer else " (not in bench)")}
        for ds in datasets:
            for v in paper.columns:
                row[f"{ds}.{v.key}"] = paper.value(method, ds, v.key) if ds in per_ds else None
        rows.append(row)
    title = f"Table {paper.key} as published ({pub.short(paper.source)}): no measured records on {', '.join(datasets)}"
    notes = [
        paper.caption,
        *paper.notes,
        *[f"{v.title}: {v.describe}" for v in paper.columns if v.describe],
        f"Source: {pub.citation(paper.source)}",
    ]
    return ReportTable(title=title, columns=columns, rows=rows, notes=notes)


def paper_table(records: Sequence[Record], key: str, pub: Published | None = None, ci: bool = False) -> list[Table]:
    """Tables 2–5: one comparison table per measured dataset, then the paper's unmeasured datasets.

    Example:
        >>> tables = paper_table([], "4")
        >>> tables[0].title.startswith("Table 4 as published")
        True
    """
    pub = pub or load_published()
    paper = pub.tables[key]
    tasks = TABLE_TASKS[key]
    recs = [r for r in records if r.get("task") in tasks]
    groups = _dataset_groups(recs, pub)
    if key in ("2", "3"):  # single-dataset ablations: only Test100 is comparable
        groups = {k: v for k, v in groups.items() if k in paper.datasets}
    tables = [
        comparison_table(pub, paper, ds, groups[ds], rainy_row=(key == "5"), ci=ci)
        for ds in sorted(groups, key=lambda d: (d not in paper.datasets, d))
    ]
    missing = [d for d in paper.datasets if d not in groups]
    if missing:
        tables.append(published_only_table(pub, paper, missing))
    return tables


# ---------------------------------------------------------------------------------------------- Table 6
_T6_KEYS: dict[str, str] = {"seconds_per_image": "sec"}  # paper metric -> column key of downstream_table


def table6(
    records: Sequence[Record], pub: Published | None = None, ci: bool = False, use_holm: bool = False
) -> list[Table]:
    """Table 6: one downstream block per (task, dataset, evaluator options), then the paper's blocks.

    Where a measured dataset is one of the paper's (COCO350, BDD350, BDD150), the paper's value of the same
    method follows each of our columns, with the difference. The paper's blocks are always printed as
    published, with the paper's evaluator, so that measured blocks on other sets can be read next to them.
    """
    pub = pub or load_published()
    recs = [r for r in records if r.get("task") in TABLE_TASKS["6"]]
    groups: dict[tuple[str, str, str], list[Record]] = {}
    for rec in recs:
        opts = (rec.get("config") or {}).get("options") or {}
        key = (
            str(rec.get("task")),
            pub.canonical_dataset((rec.get("dataset") or {}).get("name")) or "?",
            str(sorted(opts.items())),
        )
        groups.setdefault(key, []).append(rec)
    tables: list[Table] = []
    measured_sets: set[tuple[str, str]] = set()
    for (task, dataset, _), group in sorted(groups.items()):
        kept, superseded = dedupe(group)
        kept.sort(key=lambda r: _t6_order(pub, r))
        table = downstream_table(kept, title=f"Table 6 — {task} on {dataset}", ci=ci, use_holm=use_holm)
        for row in table.rows:
            derainer = row.get("_derainer")
            method = _method_name(pub, "6:detection", str(derainer)) if row.get("_condition") == "derained" else None
            if method:
                row["name"] = f"{method} — {row['name']}"
        block = next((b for b in pub.table6_blocks() if b.task == task and dataset in b.datasets), None)
        if block is not None:
            _add_paper_columns(pub, table, block, dataset)
            measured_sets.add((task, dataset))
            table.title += f": ours vs {pub.short(block.source)} ({block.evaluator})"
        else:
            table.notes.append("The paper reports no numbers on this set; its Table 6 blocks follow as published.")
        if superseded:
            table.notes.append(f"{superseded} older record(s) superseded by the newest of the same derainer/protocol.")
        tables.append(table)
    for block in pub.table6_blocks():
        left = [d for d in block.datasets if (block.task, d) not in measured_sets]
        if left:
            t = published_only_table(pub, block, left)
            t.title = (
                f"Table 6 ({block.task}) as published, {block.evaluator} ({pub.short(block.source)}): {', '.join(left)}"
            )
            t.notes.insert(
                1,
                f"Paper's evaluator: {block.evaluator}. Our blocks use the evaluator named in their "
                "notes; scores of different models and sets are not comparable cell by cell.",
            )
            tables.append(t)
    return tables


def _t6_order(pub: Published, rec: Record) -> tuple[int, str]:
    method = _method_name(pub, "6:detection", (rec.get("derainer") or {}).get("name"))
    order = list(pub.tables["6:detection"].rows)
    return (order.index(method) if method in order else len(order), derainer_label(rec))


def _add_paper_columns(pub: Published, table: Table, block: PaperTable, dataset: str) -> None:
    new_cols: list[Column] = []
    for col in table.columns:
        new_cols.append(col)
        variant = next((v for v in block.columns if _T6_KEYS.get(v.metric, v.metric) == col.key), None)
        if variant is None:
            continue
        new_cols.append(
            Column(f"paper.{variant.key}", f"{variant.title} paper", variant.higher_is_better, paper_digits(variant))
        )
        new_cols.append(
            ArrowColumn(
                f"delta.{variant.key}",
                f"Δ {variant.title} (ours − paper)",
                None,
                col.digits,
                arrow_up=variant.higher_is_better,
            )
        )
        for row in table.rows:
            cond = row.get("_condition")
            derainer = cast(str | None, row.get("_derainer"))  # the record's derainer name
            method = (
                "Rain input"
                if cond == "rainy"
                else (_method_name(pub, block.key, derainer) if cond == "derained" else None)
            )
            paper_value = block.value(method, dataset, variant.key) if method else None
            row[f"paper.{variant.key}"] = paper_value
            ours = row.get(col.key)
            row[f"delta.{variant.key}"] = _delta(ours if isinstance(ours, int | float) else None, paper_value)
    table.columns = new_cols
    table.notes.append(f"Paper: {block.caption} Evaluator {block.evaluator}; ours as noted above.")
    table.notes += list(block.notes)


# ---------------------------------------------------------------------------------------------- pivot
FIELD_ALIASES: dict[str, str] = {
    "derainer": "derainer.name",
    "weights": "derainer.weights.tag",
    "dataset": "dataset.name",
    "task": "task",
    "quantize": "config.quantize",
    "crop": "config.crop_multiple",
    "crop_multiple": "config.crop_multiple",
    "evaluator": "config.options.evaluator",
    "device": "env.device",
    "precision": "config.precision",
    "seconds": "timings.seconds_per_image",
    "seconds_per_image": "timings.seconds_per_image",
    "params": "derainer.params",
    "run": "run_id",
}


def field_value(record: Record, name: str) -> Any:
    """A record field by alias, dotted path, ``label`` (derainer@weights) or metric name (None when absent).

    Example:
        >>> field_value({"derainer": {"name": "prenet"}, "metrics": {"derained.map50": 0.5}}, "derained.map50")
        0.5
        >>> field_value({"config": {"quantize": "round"}}, "quantize")
        'round'
    """
    if name == "label":
        return derainer_label(record)
    metrics = record.get("metrics") or {}
    if name in metrics:
        return _finite(metrics[name])
    obj: Any = record
    for part in FIELD_ALIASES.get(name, name).split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def pivot_table(records: Sequence[Record], spec: str) -> Table:
    """Free-form pivot ``ROWS:COLUMNS:VALUE`` (comma-separated fields allowed in ROWS and COLUMNS).

    Example:
        >>> recs = [{"derainer": {"name": "a"}, "dataset": {"name": "X"}, "metrics": {"psnr_y": 30.0}},
        ...         {"derainer": {"name": "b"}, "dataset": {"name": "Y"}, "metrics": {"psnr_y": 31.0}}]
        >>> t = pivot_table(recs, "derainer:dataset:psnr_y")
        >>> [(r["name"], r.get("X"), r.get("Y")) for r in t.rows]
        [('a', 30.0, None), ('b', None, 31.0)]
    """
    parts = spec.split(":")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"--pivot wants ROWS:COLUMNS:VALUE (e.g. derainer:dataset:psnr_y), got {spec!r}")
    row_fields, col_fields, value = parts[0].split(","), parts[1].split(","), parts[2]

    def key(rec: Record, fields: list[str]) -> str:
        return " / ".join("—" if (v := field_value(rec, f)) is None else str(v) for f in fields)

    cells: dict[tuple[str, str], list[Record]] = {}
    row_keys: list[str] = []
    col_keys: list[str] = []
    for rec in records:
        r, c = key(rec, row_fields), key(rec, col_fields)
        cells.setdefault((r, c), []).append(rec)
        if r not in row_keys:
            row_keys.append(r)
        if c not in col_keys:
            col_keys.append(c)
    from bench.data.paired import natural_key

    row_keys.sort(key=natural_key)
    col_keys.sort(key=natural_key)
    info: dict[str, dict[str, Any]] = {}
    for rec in records:
        info.update(rec.get("metric_info") or {})
    protocols = sorted({protocol_of(r) for r in records}, key=str)
    resolved = value if value in info or "." in value else FIELD_ALIASES.get(value, value).split(".")[-1]
    variant = variant_name(value, *protocols[0]) if len(protocols) == 1 else value
    hib = direction(resolved, info)
    columns = [Column(c, f"{c}", hib, digits_for(resolved)) for c in col_keys]
    rows: list[dict[str, object]] = []
    several = 0
    missing_value = 0
    for r in row_keys:
        row: dict[str, object] = {"name": r}
        for c in col_keys:
            recs = cells.get((r, c))
            if not recs:
                continue
            several += len(recs) > 1
            v = field_value(newest(recs), value)
            if v is None:
                missing_value += 1
            row[c] = _finite(v) if isinstance(v, int | float | str) and not isinstance(v, bool) and _is_num(v) else v
        rows.append(row)
    notes = []
    if len(protocols) > 1:
        notes.append("Records use different protocols (quantize, crop): " + ", ".join(map(str, protocols)) + ".")
    if several:
        notes.append(f"{several} cell(s) had several records; the newest is shown.")
    if missing_value:
        notes.append(f"{missing_value} record(s) have no field {value!r} (shown as —).")
    described = f"{value} ({variant})" if variant != value else value
    return ReportTable(
        title=f"{described} by {parts[0]} × {parts[1]}", columns=columns, rows=rows, row_title=parts[0], notes=notes
    )


def _is_num(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


# ---------------------------------------------------------------------------------------------- entry point
def requested_tables(
    records: Sequence[Record],
    table: str | None = None,
    pivot: str | None = None,
    ci: bool = False,
    use_holm: bool = False,
) -> list[Table]:
    """The tables asked for: ``table`` is 2–6, ``all`` (4, 5, 6) or a comma list; ``pivot`` ROWS:COLUMNS:VALUE.

    ``ci`` adds the records' stored 95 % intervals to our cells (``use_holm``: gains marked by Holm).

    Example:
        >>> [t.title[:9] for t in requested_tables([], table="5")]
        ['Table 5 a']
    """
    tables: list[Table] = []
    if table:
        keys = ["4", "5", "6"] if table.strip().lower() == "all" else [k.strip() for k in table.split(",")]
        for k in keys:
            if k not in PAPER_TABLES:
                raise ValueError(f"--table {k!r}: choose 2, 3, 4, 5, 6 or all")
            tables += table6(records, ci=ci, use_holm=use_holm) if k == "6" else paper_table(records, k, ci=ci)
    if pivot:
        tables.append(pivot_table(records, pivot))
    return tables


def render_requested(
    records: Sequence[Record],
    table: str | None = None,
    pivot: str | None = None,
    fmt: str = "markdown",
    ci: bool = False,
    use_holm: bool = False,
    extra: Sequence[Table] = (),
) -> tuple[str, str]:
    """Render the requested tables; returns (text in ``fmt``, CSV of the same tables).

    With ``fmt="html"`` the text is a self-contained HTML page (tables, comparison grids, plots).
    ``ci`` / ``use_holm`` as :func:`requested_tables`; ``extra`` tables (paired comparisons, power) follow.

    Example:
        >>> text, csv_text = render_requested([], table="5", fmt="markdown")
        >>> text.startswith("**Table 5 as published")
        True
    """
    tables = requested_tables(records, table=table, pivot=pivot, ci=ci, use_holm=use_holm)
    if not tables:
        tables = [records_table(list(records), ci=ci)]
    tables += list(extra)
    csv_text = "\n".join(t.to_csv() for t in tables)
    if fmt == "html":
        from bench.report.html import render_page

        return render_page(records, tables), csv_text
    return "\n\n".join(t.render(fmt) for t in tables), csv_text
