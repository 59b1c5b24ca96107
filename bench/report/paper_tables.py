"""The paper's Tables 2–5 beside measured records, one block per homogeneous group (``--wide`` layout).

For each group of records (same dataset identity, protocol and scored images; :mod:`bench.report.grouping`)
the measured value of a method sits next to the paper's value for the same method, dataset and metric
variant, followed by the difference (ours − paper). Paper cells without a measurement, and measurements
without a paper cell, are shown with "—", never dropped. Records of randomly initialised networks are left
out (a note says so; ``bench report`` without ``--table`` shows them), and records of different weights
that share a label are told apart (:func:`bench.results.labels.distinct_labels`). The compact layout is
:mod:`bench.report.compact`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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
    partial_note,
    protocol_differs,
    protocol_of,
    random_init_note,
    row_label,
)
from bench.report.published import PaperTable, Published, Variant, load_published, variant_name
from bench.report.table import Column, Table
from bench.report.values import RecordValues
from bench.results.labels import distinct_labels


def comparison_table(
    pub: Published,
    paper: PaperTable,
    dataset: str,
    group: Group,
    rainy_row: bool = False,
    ci: bool = False,
    paper_notes: bool = True,
    labels: Mapping[int, str] | None = None,
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
        labels: Row label of each record (by ``id``), to keep labels the same across blocks; default
            :func:`~bench.results.labels.distinct_labels` of the group's records.

    Returns:
        One table: rows = paper methods (paper order) and extra measured derainers; for each variant the
        columns ours, paper and Δ (ours − paper), plus the weights' own published scores when known.
    """
    kept = list(group.records)
    values = RecordValues(kept)  # every measured cell: the pivot of bench.results.load
    names = dict(labels) if labels is not None else {id(r): n for r, n in zip(kept, distinct_labels(kept))}
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
            label = row_label(method, found, names.get(id(found)) if found is not None else None)
            row = _row(label, paper, method, dataset, found, uniform, values)
            if method in UNRANKED_METHODS:
                row["_unranked"] = True
            rows.append(row)
            if found is not None:
                matched.add(id(found))
    for rec in kept:
        if id(rec) in matched:
            continue
        name = None if is_random_init(rec) else method_name(pub, paper.key, (rec.get("derainer") or {}).get("name"))
        rows.append(_row(row_label(name, rec, names.get(id(rec))), paper, None, dataset, rec, uniform, values))
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

    weights_cols, unmatched = _add_weights_columns(pub, dataset, rows, columns, values)
    title = (
        f"Table {paper.key} — {group.describe()}: ours vs {pub.short(paper.source)}"
        if has_paper
        else f"Table {paper.key} metrics — {group.describe()} (measured only: the paper reports no {dataset} numbers)"
    )
    notes: list[str] = []
    if has_paper and paper_notes:
        notes += [paper.caption, *paper.notes]
        notes += [f"Paper variant {v.title}: {v.describe}" for v in paper.columns if v.describe]
    if has_paper:
        partial = partial_note(dataset, kept)
        if partial:
            notes.append(partial)
    if uniform is not None and has_paper and protocol_differs(paper, uniform):
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
    if unmatched:
        notes.append(
            f"No Δ to the weights' published {', '.join(sorted(unmatched))}: the records hold no value of that "
            "variant (run with --metrics to measure it; a score of the float output before any 8-bit step, like "
            "DDN's psnr_rgb_float, bench does not measure: `bench reproduce` sets it beside psnr_rgb and psnr_y)."
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
) -> tuple[bool, set[str]]:
    """Add the weights' published scores and Δ (same variant only); returns (any added, published variants
    the records have no value of, whose Δ is therefore "—")."""
    found = False
    unmatched: set[str] = set()
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
            ours = finite(values.get(rec, key)) if key != group else None  # a bare "psnr" states no variant
            row[f"w.{group}"] = scores[key]
            row[f"wdelta.{group}"] = delta(ours, scores[key])
            if ours is None:
                unmatched.add(key)
    if found:
        columns += [
            Column("w.psnr", "PSNR weights' published", True, 2),
            ArrowColumn("wdelta.psnr", "Δ PSNR (ours − weights' published, same variant)", None, 2),
            Column("w.ssim", "SSIM weights' published", True, 4),
            ArrowColumn("wdelta.ssim", "Δ SSIM (ours − weights' published, same variant)", None, 4),
            Column("wvariant", "published variant", None),
        ]
    return found, unmatched


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
    """The homogeneous groups of a paper table's records with their paper dataset names, and the selection
    notes. Records of randomly initialised networks are left out (a note says so): a table that carries the
    paper's numbers never shows them."""
    paper = pub.tables[key]
    selection = select([r for r in records if r.get("task") in TABLE_TASKS[key]])
    notes = list(selection.notes)
    left_out = random_init_note(selection.records)
    if left_out:
        notes.append(left_out)
    kept = [r for r in selection.records if not is_random_init(r)]
    found = [(pub.canonical_dataset(g.dataset) or g.dataset, g) for g in groups(kept)]
    if key in ("2", "3"):  # single-dataset ablations: only Test100 is comparable
        found = [(d, g) for d, g in found if d in paper.datasets]
    found.sort(key=lambda dg: (dg[0] not in paper.datasets, dg[0]))
    return found, notes


def group_labels(found: Sequence[tuple[str, Group]]) -> dict[int, str]:
    """Row label of every record of a paper table's groups (by ``id``): one model, one label across blocks;
    records of different weights that share a label are told apart (:func:`distinct_labels`)."""
    records = [rec for _ds, g in found for rec in g.records]
    slots = [id(g) for _ds, g in found for _rec in g.records]
    return {id(rec): label for rec, label in zip(records, distinct_labels(records, slots))}


def paper_table(records: Sequence[Record], key: str, pub: Published | None = None, ci: bool = False) -> list[Table]:
    """Tables 2–5 (``--wide``): one comparison table per homogeneous group, then the paper's unmeasured datasets.

    The paper's caption and notes are said once, under the first block that has paper cells; the selection
    notes (shards, duplicates, random initialisations left out) under the first table.

    Example:
        >>> tables = paper_table([], "4")
        >>> tables[0].title.startswith("Table 4 as published")
        True
    """
    pub = pub or load_published()
    paper = pub.tables[key]
    found, selection_notes = paper_groups(records, key, pub)
    labels = group_labels(found)
    tables: list[Table] = []
    said = False
    for ds, group in found:
        has_paper = ds in paper.datasets
        tables.append(
            comparison_table(
                pub,
                paper,
                ds,
                group,
                rainy_row=(key == "5"),
                ci=ci,
                paper_notes=has_paper and not said,
                labels=labels,
            )
        )
        said = said or has_paper
    measured_sets = {ds for ds, _ in found}
    missing = [d for d in paper.datasets if d not in measured_sets]
    if missing:
        tables.append(published_only_table(pub, paper, missing, notes=not said))
    if tables:
        tables[0].notes[:0] = selection_notes
    return tables
