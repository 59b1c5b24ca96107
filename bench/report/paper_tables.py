"""The paper's Tables 2–5 beside measured records, one block per homogeneous group (``--wide`` layout).

For each group of records (same dataset identity, protocol and scored images; :mod:`bench.report.grouping`)
the measured value of a method sits next to the paper's value for the same method, dataset and metric
variant, followed by the difference (ours − paper). Paper cells without a measurement, and measurements
without a paper cell, are shown with "—", never dropped. The compact layout is :mod:`bench.report.compact`.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.report.common import ArrowColumn, ReportTable, digits_for, is_random_init, issues_note
from bench.report.downstream import RAIN_INPUT
from bench.report.grouping import Group, groups, select
from bench.report.paper_common import (
    TABLE_TASKS,
    UNRANKED_METHODS,
    Record,
    delta,
    finite,
    method_name,
    paper_digits,
    protocol_of,
    row_label,
)
from bench.report.published import PaperTable, Published, Variant, load_published, variant_name
from bench.report.table import Column, Table
from bench.report.values import RecordValues


def comparison_table(
    pub: Published,
    paper: PaperTable,
    dataset: str,
    group: Group,
    rainy_row: bool = False,
    ci: bool = False,
    paper_notes: bool = True,
) -> Table:
    """Measured records of one homogeneous group next to one paper table's cells for that dataset.

    Args:
        pub: The published numbers.
        paper: The paper table (its columns are the variants compared).
        dataset: The paper's dataset name (the group's name mapped through the aliases).
        group: Records of one dataset identity, protocol and image subset (restoration or noref).
        rainy_row: Add a "Rain input" row from the records' ``rainy.*`` scores (no-reference sets).
        ci: Show our cells' stored 95 % intervals (``± half-width``).
        paper_notes: Add the paper's caption and notes (once per paper table, on its first block).

    Returns:
        One table: rows = paper methods (paper order) and extra measured derainers; for each variant the
        columns ours, paper and Δ (ours − paper), plus the weights' own published scores when known.
    """
    kept = list(group.records)
    values = RecordValues(kept)  # every measured cell: the pivot of bench.results.load
    has_paper = dataset in {d for rows in paper.rows.values() for d in rows}
    uniform = protocol_of(kept[0]) if kept else None
    columns: list[Column] = []
    for v in paper.columns:
        hib = v.higher_is_better
        columns.append(
            Column(f"ours.{v.key}", f"{v.title} ours ({_ours_variant(v, uniform)})", hib, digits_for(v.metric))
        )
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
            row = _row(row_label(method, found), paper, method, dataset, found, uniform, values)
            if method in UNRANKED_METHODS:
                row["_unranked"] = True
            rows.append(row)
            if found is not None:
                matched.add(id(found))
    for rec in kept:
        if id(rec) in matched:
            continue
        name = None if is_random_init(rec) else method_name(pub, paper.key, (rec.get("derainer") or {}).get("name"))
        rows.append(_row(row_label(name, rec), paper, None, dataset, rec, uniform, values))
    if rainy_row and kept:
        ref = kept[0]
        rainy: dict[str, object] = {"name": RAIN_INPUT, "_unranked": True}
        for v in paper.columns:
            ours = finite(values.get(ref, f"rainy.{v.metric}"))
            rainy[f"ours.{v.key}"] = ours
            if has_paper:
                published = paper.value("Rain input", dataset, v.key)
                rainy[f"paper.{v.key}"] = published
                rainy[f"delta.{v.key}"] = delta(ours, published)
        rows.insert(0, rainy)
        rainy["_rainy_of"] = ref

    weights_cols = _add_weights_columns(pub, dataset, rows, columns, values)
    title = (
        f"Table {paper.key} — {group.describe()}: ours vs {pub.short(paper.source)}"
        if has_paper
        else f"Table {paper.key} metrics — {group.describe()} (measured only: the paper reports no {dataset} numbers)"
    )
    notes: list[str] = []
    if has_paper and paper_notes:
        notes += [paper.caption, *paper.notes]
        notes += [f"Paper variant {v.title}: {v.describe}" for v in paper.columns if v.describe]
    if (
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
        if kept and all(finite(values.get(r, v.metric)) is None for r in kept):
            notes.append(
                f"{v.metric} was not measured in these records (ours column '—'); run with --metrics ... {v.metric}."
            )
    if weights_cols:
        notes.append(
            "Weights' published: the score the weights' own authors published on this test set, in their "
            "variant (column 'published variant'); its Δ uses our value of the same metric variant only."
        )
    if ci:
        notes += _ours_intervals(rows, paper, kept)
    unused = issues_note(kept)
    if unused:
        notes.append(unused)
    if has_paper and paper_notes:
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
    values: RecordValues,
) -> dict[str, object]:
    row: dict[str, object] = {"name": label, "_record": rec}
    if protocol is None and rec is not None:
        q, c = protocol_of(rec)
        row["protocol"] = f"{q}, crop {c}"
    for v in paper.columns:
        ours = finite(values.get(rec, v.metric)) if rec is not None else None
        published = paper.value(method, dataset, v.key) if method is not None else None
        row[f"ours.{v.key}"] = ours
        row[f"paper.{v.key}"] = published
        row[f"delta.{v.key}"] = delta(ours, published)
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


def _add_weights_columns(
    pub: Published, dataset: str, rows: list[dict[str, object]], columns: list[Column], values: RecordValues
) -> bool:
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
            row[f"wdelta.{group}"] = delta(finite(values.get(rec, ours_key)), scores[key])
    if found:
        columns += [
            Column("w.psnr", "PSNR weights' published", True, 2),
            ArrowColumn("wdelta.psnr", "Δ PSNR (ours − weights' published, same variant)", None, 2),
            Column("w.ssim", "SSIM weights' published", True, 4),
            ArrowColumn("wdelta.ssim", "Δ SSIM (ours − weights' published, same variant)", None, 4),
            Column("wvariant", "published variant", None),
        ]
    return found


def published_only_table(pub: Published, paper: PaperTable, datasets: Sequence[str], notes: bool = True) -> Table:
    """The paper's cells for datasets that no record measured (rows: paper methods; bounds never bold)."""
    columns: list[Column] = []
    for ds in datasets:
        for v in paper.columns:
            columns.append(
                Column(f"{ds}.{v.key}", f"{ds} {v.title} paper ({v.spelled()})", v.higher_is_better, paper_digits(v))
            )
    rows: list[dict[str, object]] = []
    for method, per_ds in paper.rows.items():
        derainer = pub.derainer_of(method)
        row: dict[str, object] = {"name": method + ("" if derainer else " (not in bench)")}
        if method in UNRANKED_METHODS:
            row["_unranked"] = True
        for ds in datasets:
            for v in paper.columns:
                row[f"{ds}.{v.key}"] = paper.value(method, ds, v.key) if ds in per_ds else None
        rows.append(row)
    title = f"Table {paper.key} as published ({pub.short(paper.source)}): no measured records on {', '.join(datasets)}"
    said = [
        paper.caption,
        *paper.notes,
        *[f"{v.title}: {v.describe}" for v in paper.columns if v.describe],
        f"Source: {pub.citation(paper.source)}",
    ]
    return ReportTable(title=title, columns=columns, rows=rows, notes=said if notes else [])


def paper_groups(records: Sequence[Record], key: str, pub: Published) -> tuple[list[tuple[str, Group]], list[str]]:
    """The homogeneous groups of a paper table's records with their paper dataset names, and the selection notes."""
    paper = pub.tables[key]
    selection = select([r for r in records if r.get("task") in TABLE_TASKS[key]])
    found = [(pub.canonical_dataset(g.dataset) or g.dataset, g) for g in groups(selection.records)]
    if key in ("2", "3"):  # single-dataset ablations: only Test100 is comparable
        found = [(d, g) for d, g in found if d in paper.datasets]
    found.sort(key=lambda dg: (dg[0] not in paper.datasets, dg[0]))
    return found, selection.notes


def paper_table(records: Sequence[Record], key: str, pub: Published | None = None, ci: bool = False) -> list[Table]:
    """Tables 2–5 (``--wide``): one comparison table per homogeneous group, then the paper's unmeasured datasets.

    The paper's caption and notes are said once, under the first block that has paper cells.

    Example:
        >>> tables = paper_table([], "4")
        >>> tables[0].title.startswith("Table 4 as published")
        True
    """
    pub = pub or load_published()
    paper = pub.tables[key]
    found, selection_notes = paper_groups(records, key, pub)
    tables: list[Table] = []
    said = False
    for ds, group in found:
        has_paper = ds in paper.datasets
        tables.append(
            comparison_table(pub, paper, ds, group, rainy_row=(key == "5"), ci=ci, paper_notes=has_paper and not said)
        )
        said = said or has_paper
    if tables:
        tables[0].notes[:0] = selection_notes
    measured_sets = {ds for ds, _ in found}
    missing = [d for d in paper.datasets if d not in measured_sets]
    if missing:
        tables.append(published_only_table(pub, paper, missing, notes=not said))
    return tables
