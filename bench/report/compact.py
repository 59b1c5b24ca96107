"""The paper's own compact layout of Tables 4 and 5: methods as rows, datasets as columns, one cell per
(method, dataset) holding all the table's metrics (``PSNR/SSIM/FSIM`` in Table 4, ``NIQE/SSEQ`` in Table 5).

The paper's rows come first (its numbers as published), then one row per measured model (its one
label; records of different weights that share a label are told apart by the weights file or a short
sha256, :func:`bench.results.labels.distinct_labels`). A measured column states how many images were
scored; one compact table holds records of one protocol only. The paper's rows go with the protocol the
paper states (quantize, crop); the other protocols get tables of their own, without the paper's rows, and
when no record has the paper's protocol a note under the paper's rows says ours differs. Records of
randomly initialised networks are left out (a note says so). Nothing is bold: the cells of paper and ours
come from different models and images. Differences to the paper: ``--wide``. Our cells are read from the
pivot of :func:`bench.results.load` (:class:`bench.report.values.RecordValues`).

Example:
    >>> [t.title for t in compact_table([], "5")]
    ['Table 5 (NIQE/SSEQ) as published (Jiang et al., CVPR 2020)']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bench.report.common import ReportTable, digits_for, issues_note
from bench.report.grouping import Group
from bench.report.paper_common import Record, finite, paper_digits, partial_note, protocol_differs, protocol_of
from bench.report.paper_tables import group_labels, paper_groups
from bench.report.published import PaperTable, Published, load_published
from bench.report.table import Column, Table
from bench.report.values import RecordValues
from bench.results.frames import protocol_text


def cell_text(values: Sequence[float | None], digits: Sequence[int]) -> str | None:
    """``32.44/0.950/0.956`` (— for a missing part; None when every part is missing).

    Example:
        >>> cell_text([32.44, None, 0.9561], [2, 3, 3])
        '32.44/—/0.956'
    """
    if all(v is None for v in values):
        return None
    return "/".join("—" if v is None else f"{v:.{d}f}" for v, d in zip(values, digits))


def _metric_titles(paper: PaperTable) -> str:
    return "/".join(v.title for v in paper.columns)


def compact_table(records: Sequence[Record], key: str, pub: Published | None = None, ci: bool = False) -> list[Table]:
    """Table 4 or 5 in the paper's layout: one table per protocol of the measured records.

    Args:
        records: Run records (those of the table's task are used; shards left out, duplicates merged,
            random initialisations left out).
        key: ``"4"`` or ``"5"``.
        pub: Published numbers (default: the shipped YAML).
        ci: Accepted for symmetry; intervals are shown by the wide layout only (a note says so).

    Returns:
        The tables; the first carries the paper's rows (beside our records of the paper's protocol when
        there are any), caption and notes (said once).
    """
    pub = pub or load_published()
    paper = pub.tables[key]
    found, selection_notes = paper_groups(records, key, pub)
    labels = group_labels(found)
    by_protocol: dict[str, list[tuple[str, Group]]] = {}
    for ds, group in found:
        by_protocol.setdefault(group.protocol, []).append((ds, group))
    metrics = _metric_titles(paper)
    tables: list[Table] = []
    protocols = list(by_protocol.items()) or [("", [])]
    # the paper's rows go with our records of the paper's protocol (first such protocol; else the first)
    protocols.sort(key=lambda pm: bool(pm[1]) and protocol_differs(paper, protocol_of(pm[1][0][1].records[0])))
    for i, (protocol, members) in enumerate(protocols):
        with_paper = i == 0
        table = _one_table(pub, paper, members, with_paper, labels)
        ours = protocol_of(members[0][1].records[0]) if members else None
        if with_paper and ours is not None and protocol_differs(paper, ours):
            table.notes.append(
                f"No record has the paper's protocol: ours (quantize={ours[0]}, crop multiple={ours[1]}) differs "
                "from the paper's for some columns, and the cells side by side include that effect (see "
                "../shared/calibration/README.md: up to ~0.2 dB)."
            )
        if not members:
            table.title = f"Table {key} ({metrics}) as published ({pub.short(paper.source)})"
        else:
            table.title = f"Table {key} ({metrics}) — ours: {protocol}" + (
                f"; paper rows: {pub.short(paper.source)}" if with_paper else ""
            )
        if with_paper:
            table.notes = [paper.caption, *paper.notes, *table.notes]
            table.notes += [f"Paper {v.title}: {v.describe}" for v in paper.columns if v.describe]
            table.notes.append(f"Source: {pub.citation(paper.source)}")
        if ci and members:
            table.notes.append("Intervals are shown by the wide layout: `bench report --table N --wide --ci`.")
        tables.append(table)
    tables[0].notes[:0] = selection_notes
    return tables


def _one_table(
    pub: Published,
    paper: PaperTable,
    members: Sequence[tuple[str, Group]],
    with_paper: bool,
    label_of: Mapping[int, str],
) -> Table:
    digits = [paper_digits(v) for v in paper.columns]
    ours_digits = [digits_for(v.metric) if not v.metric.startswith(("ssim", "fsim")) else 4 for v in paper.columns]
    count: dict[str, int] = {}
    for ds, _member in members:
        count[ds] = count.get(ds, 0) + 1
    columns: list[Column] = []
    keys: list[tuple[str, Group | None]] = []
    if with_paper:
        for ds in paper.datasets:
            keys.append((ds, next((g for d, g in members if d == ds and count[ds] == 1), None)))
    for ds, member in members:
        if not any(g is member for _, g in keys):
            keys.append((ds, member))
    for ds, slot in keys:
        title = ds if slot is None else f"{ds} (ours: {'/'.join(map(str, slot.n_images))} img)"
        columns.append(Column(f"{ds}|{id(slot)}", title, None))
    rows: list[dict[str, object]] = []
    if with_paper:
        for method, per_ds in paper.rows.items():
            row: dict[str, object] = {"name": f"{method} (paper)"}
            for (ds, _slot), col in zip(keys, columns):
                if ds in per_ds:
                    row[col.key] = cell_text([paper.value(method, ds, v.key) for v in paper.columns], digits)
            rows.append(row)
    records = [rec for _ds, member in members for rec in member.records]
    labels = list(dict.fromkeys(label_of[id(rec)] for rec in records))  # one row per model (and weights)
    values = {id(slot): RecordValues(slot.records) for _ds, slot in keys if slot is not None}
    if key_has_rainy(paper):
        rainy: dict[str, object] = {"name": "Rain input (ours)"}
        for (_ds, slot), col in zip(keys, columns):
            if slot is not None:
                ref = slot.records[0]  # the rainy images are the set's: any record's scores
                parts = [finite(values[id(slot)].get(ref, f"rainy.{v.metric}")) for v in paper.columns]
                rainy[col.key] = cell_text(parts, ours_digits)
        if len(rainy) > 1:
            rows.append(rainy)
    for label in labels:
        row = {"name": label}
        for (_ds, slot), col in zip(keys, columns):
            if slot is None:
                continue
            found = next((r for r in slot.records if label_of[id(r)] == label), None)  # one per slot
            if found is not None:
                parts = [finite(values[id(slot)].get(found, v.metric)) for v in paper.columns]
                row[col.key] = cell_text(parts, ours_digits)
        rows.append(row)
    notes = []
    for row in rows:
        rec_of = [r for r in records if label_of[id(r)] == row["name"]]
        if rec_of and all(v is None for k, v in row.items() if k != "name"):  # none of the table's metrics
            other = sorted({str(k) for r in rec_of for k in r.get("metrics") or {}})
            notes.append(
                f"{row['name']}: its record has none of {_metric_titles(paper)} in this table's variants "
                f"(it measured {', '.join(other)}); see `bench report`."
            )
    if members:
        notes.append(
            "Rows marked (paper) are the paper's numbers; the other rows are our records ("
            + ("; ".join(sorted({protocol_text(g.records[0]) for _, g in members})))
            + "). Differences to the paper: `bench report --table N --wide`."
        )
    if with_paper:
        notes += [n for ds, g in members if ds in paper.datasets and (n := partial_note(ds, g.records))]
    unused = issues_note(records)
    if unused:
        notes.append(unused)
    return ReportTable(title="", columns=columns, rows=rows, notes=notes)


def key_has_rainy(paper: PaperTable) -> bool:
    """Whether the table's records carry rainy-input scores worth a row (no-reference Table 5)."""
    return paper.key == "5"
