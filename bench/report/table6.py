"""Table 6 of the paper beside measured downstream records: one block per homogeneous group.

A block shows the paper's cells and Δ only when its records were scored on the paper's set itself: the
record's manifest matches the dataset card (count, size, selection rule, rain recipe) and every image was
scored (:func:`paper_set_mismatch`). Otherwise the block is "measured only" and says why. Every block
states how many images were scored. Records of randomly initialised derainers are left out of Table 6
(a note says so; ``bench report`` without ``--table`` shows them, labelled "(random init)").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from bench.report.common import ArrowColumn, ReportTable, derainer_label, is_random_init
from bench.report.compact import cell_text
from bench.report.downstream import downstream_table
from bench.report.grouping import groups, select
from bench.report.paper_common import (
    TABLE_TASKS,
    Record,
    delta,
    method_name,
    paper_digits,
    random_init_note,
    row_label,
)
from bench.report.paper_tables import published_only_table
from bench.report.published import PaperTable, Published, load_published
from bench.report.table import Column, Table
from bench.report.tables import group_title
from bench.results.frames import n_images
from bench.results.record import stable_hash

_T6_KEYS: dict[str, str] = {"seconds_per_image": "sec"}  # paper metric -> column key of downstream_table


def paper_set_mismatch(record: Record, card_name: str) -> str | None:
    """Why a record's set is not the paper's ``card_name`` set (None when it is).

    The record's dataset folder must hold the manifest the run saw (same hash), built from the card: the
    card's count, frame size, selection rule and rain recipe (seed and preset mix); and the record must
    have scored every image of it.

    Example:
        >>> paper_set_mismatch({"dataset": {"name": "coco350", "path": "/nonexistent"}}, "COCO350")
        'no manifest.json in /nonexistent (not a set built by `bench synth --dataset coco350`)'
    """
    from bench.data.builders import RainMix, load_card

    name = card_name.lower()
    ds = record.get("dataset") or {}
    path = Path(str(ds.get("path") or ""))
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        return f"no manifest.json in {path} (not a set built by `bench synth --dataset {name}`)"
    text = manifest_path.read_text(encoding="utf-8")
    stored = ds.get("manifest_sha256")
    if stored and stable_hash(text, 64) != stored:
        return f"{manifest_path} changed since the run (manifest hash differs)"
    try:
        manifest: dict[str, Any] = json.loads(text)
        card = load_card(name)
    except (ValueError, OSError) as err:
        return f"cannot compare with the {name} card: {err}"
    config = manifest.get("config") or {}
    problems: list[str] = []
    if str(manifest.get("dataset", "")).lower() != name:
        problems.append(f"built as {manifest.get('dataset')!r}, not {name}")
    count = len(manifest.get("items") or [])
    want = int(card["selection"]["size"])
    if count != want:
        problems.append(f"{count} images, the card selects {want}")
    if list(config.get("size") or []) != list(card["size"]):
        problems.append(f"frame size {config.get('size')}, the card's is {card['size']}")
    rule = (config.get("selection") or {}).get("rule")
    if rule != card["selection"]["rule"]:
        problems.append(f"selection rule {rule!r}, the card's is {card['selection']['rule']!r}")
    if config.get("mix") != RainMix.from_card(card["rain"]).to_dict() or manifest.get("seed") != card["rain"]["seed"]:
        problems.append("rain recipe (preset mix or seed) differs from the card's")
    scored = n_images(record)
    if not problems and scored != count:
        problems.append(f"{scored} of its {count} images scored")
    return "; ".join(problems) or None


def table6(
    records: Sequence[Record], pub: Published | None = None, ci: bool = False, use_holm: bool = False
) -> list[Table]:
    """Table 6: one downstream block per homogeneous group (task, set identity, protocol, images), then the
    paper's blocks as published.

    Where a block's set is one of the paper's (COCO350, BDD350, BDD150) and :func:`paper_set_mismatch`
    finds nothing, the paper's value of the same method follows each of our columns, with the difference.
    """
    pub = pub or load_published()
    selection = select([r for r in records if r.get("task") in TABLE_TASKS["6"]])
    selection_notes = list(selection.notes)
    left_out = random_init_note(selection.records)  # a random network is never placed beside the paper
    if left_out:
        selection_notes.append(left_out)
    tables: list[Table] = []
    measured_sets: set[tuple[str, str]] = set()
    said_no_paper = False
    for group in groups([r for r in selection.records if not is_random_init(r)]):
        kept = sorted(group.records, key=lambda r: _t6_order(pub, r))
        dataset = pub.canonical_dataset(group.dataset) or group.dataset
        table = downstream_table(kept, title=f"Table 6 — {group_title(group)}", ci=ci, use_holm=use_holm)
        for row in table.rows:
            rec = row.get("_record")
            if row.get("_condition") == "derained" and isinstance(rec, dict):
                method = method_name(pub, "6:detection", cast(str | None, row.get("_derainer")))
                row["name"] = row_label(method, rec, str(row["name"]))  # the block's distinct label
        block = next((b for b in pub.table6_blocks() if b.task == group.task and dataset in b.datasets), None)
        reason = paper_set_mismatch(kept[0], dataset) if block is not None else None
        if block is not None and reason is None:
            _add_paper_columns(pub, table, block, dataset)
            measured_sets.add((group.task, dataset))
            table.title += f": ours vs {pub.short(block.source)} ({block.evaluator})"
        elif block is not None:
            table.title += " (measured only)"
            table.notes.insert(0, f"Measured only: not the paper's {dataset} set ({reason}); no paper cells or Δ.")
        elif not said_no_paper:
            table.notes.append("The paper reports no numbers on this set; its Table 6 blocks follow as published.")
            said_no_paper = True
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
            t.terminal_form = published_cells_table(pub, block, left, t.title)
            tables.append(t)
    if tables:
        tables[0].notes[:0] = selection_notes
    return tables


def published_cells_table(pub: Published, block: PaperTable, datasets: Sequence[str], title: str) -> Table:
    """The paper's Table 6 cells in its own layout: methods as rows, one column per dataset, all the block's
    metrics in one cell (``17.53/0.765/0.220/31.31/37.92/60.75``; their order in the title)."""
    digits = [paper_digits(v) for v in block.columns]
    columns = [Column(ds, ds, None) for ds in datasets]
    rows: list[dict[str, object]] = []
    for method, per_ds in block.rows.items():
        row: dict[str, object] = {"name": method + ("" if pub.derainer_of(method) else " (not in bench)")}
        for ds in datasets:
            if ds in per_ds:
                row[ds] = cell_text([block.value(method, ds, v.key) for v in block.columns], digits)
        rows.append(row)
    order = "/".join(v.title for v in block.columns)
    return ReportTable(title=f"{title}; cells: {order}", columns=columns, rows=rows)


def _t6_order(pub: Published, rec: Record) -> tuple[int, str]:
    method = method_name(pub, "6:detection", (rec.get("derainer") or {}).get("name"))
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
                else (method_name(pub, block.key, derainer) if cond == "derained" else None)
            )
            paper_value = block.value(method, dataset, variant.key) if method else None
            row[f"paper.{variant.key}"] = paper_value
            ours = row.get(col.key)
            row[f"delta.{variant.key}"] = delta(ours if isinstance(ours, int | float) else None, paper_value)
    table.columns = new_cols
    table.notes.append(f"Paper: {block.caption} Evaluator {block.evaluator}; ours as noted above.")
    table.notes.append(
        "Δ is context, not a reproduction: our rows score this project's rebuild of the set (rain synthesised "
        "and calibrated to the paper's rain-input PSNR/SSIM, so that Δ is near 0 by construction) with our "
        f"evaluator, not {block.evaluator}; the s/img Δ compares other hardware. Compare derainers within "
        "our rows (paired intervals: --ci)."
    )
    table.notes += list(block.notes)
    for row in table.rows:
        if row.get("_condition") == "clean":
            row["_unranked"] = True
