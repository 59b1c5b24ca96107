"""The numbers of the rendered Tables 4, 5 and 6 are the pivot of ``bench.results.load`` (issue #21).

Each test pivots the tidy frame of the test records (shards left out, the newest of duplicates kept, as
the report does) and compares every measured cell of the rendered table with it: the compact cells as
the text the pivot's value formats to, the wide blocks and Table 6 through their CSV (full precision).
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import pandas as pd
import pytest

from bench.report.compact import compact_table
from bench.report.paper import paper_table, table6
from bench.report.published import load_published
from bench.results.frames import load
from bench.results.record import find_records

RECORDS = Path(__file__).resolve().parent / "data" / "records"


def _records() -> list[dict]:
    return [rec for _, rec in find_records(RECORDS)]


def _pivot() -> pd.DataFrame:
    """Value per (dataset, label) × (condition, metric), plus ``seconds_per_image``: the frame's pivot."""
    df = load(RECORDS)
    df = df[df.shard.isna()].sort_values("created")
    df = df.drop_duplicates(["label", "dataset_id", "protocol_id", "ids_hash", "condition", "metric"], keep="last")
    pivot = df.pivot_table(index=["dataset", "label"], columns=["condition", "metric"], values="value")
    seconds = df.groupby(["dataset", "label"])["seconds_per_image"].last()
    pivot[("derained", "seconds_per_image")] = seconds
    return pivot


def _value(pivot: pd.DataFrame, dataset: str, label: str, condition: str, metric: str) -> float:
    try:
        return float(pivot.loc[(dataset, label), (condition, metric)])
    except KeyError:
        return math.nan


def _csv(table) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(table.to_csv()), comment="#")


@pytest.mark.parametrize("key", ["4", "5"])
def test_compact_cells_are_the_pivot_of_load(key: str) -> None:
    pivot, paper = _pivot(), load_published().tables[key]
    compared = 0
    for table in compact_table(_records(), key):
        for col in table.columns:
            if " (ours: " not in col.title:
                continue
            dataset = col.title.split(" (ours: ")[0]
            for row in table.rows:
                name, cell = str(row["name"]), row.get(col.key)
                if name.endswith("(paper)") or cell is None:
                    continue
                if name == "Rain input (ours)":  # the rainy images of the set: the same for every record
                    labels, condition = list(pivot.loc[dataset].index), "rainy"
                else:
                    labels, condition = [name], "derained"
                for part, variant in zip(str(cell).split("/"), paper.columns, strict=True):
                    for label in labels:
                        value = _value(pivot, dataset, label, condition, variant.metric)
                        if part == "—":
                            assert math.isnan(value), (name, dataset, variant.metric)
                        else:
                            digits = len(part.partition(".")[2])
                            assert part == f"{value:.{digits}f}", (name, dataset, variant.metric)
                        compared += 1
    # Table 4: 3 models × 3 metrics on Rain100L, 1 on RainTrainL (its own protocol table);
    # Table 5: 2 models × 2 metrics on Real200 and the Rain input row's 2 (× the set's 2 records)
    assert compared == {"4": 4 * 3, "5": 2 * 2 + 2 * 2}[key]


@pytest.mark.parametrize("key", ["4", "5"])
def test_wide_blocks_are_the_pivot_of_load(key: str) -> None:
    pivot, paper = _pivot(), load_published().tables[key]
    compared = 0
    for table in paper_table(_records(), key):
        if "as published" in table.title:
            continue
        headers = {c.key: c.header for c in table.columns}
        for (_, cells), row in zip(_csv(table).iterrows(), table.rows, strict=True):
            rec = row.get("_record")
            if rec is None:
                continue
            dataset, label = str(rec["dataset"]["name"]), str(load([rec]).label.iloc[0])
            for variant in paper.columns:
                value = _value(pivot, dataset, label, "derained", variant.metric)
                shown = cells[headers[f"ours.{variant.key}"]]
                assert (math.isnan(value) and pd.isna(shown)) or shown == value, (table.title, row["name"])
                compared += 1
    assert compared == {"4": 4 * 3, "5": 2 * 2}[key]  # as in the compact layout, without the Rain input row


def test_table6_is_the_pivot_of_load() -> None:
    """Every measured Table 6 cell (scores in %, gains in pp, recovery in %, PSNR, SSIM, s/img)."""
    pivot = _pivot()
    compared = 0
    for table in table6(_records()):
        if "as published" in table.title:
            continue
        headers = {c.key: c.header for c in table.columns}
        dataset = str(table.rows[1]["_record"]["dataset"]["name"])
        for (_, cells), row in zip(_csv(table).iterrows(), table.rows, strict=True):
            rec, condition = row.get("_record"), str(row.get("_condition"))
            # the Rain input and Clean rows: the set's rainy / clean scores, the same in every record of it
            labels = [str(load([rec]).label.iloc[0])] if isinstance(rec, dict) else list(pivot.loc[dataset].index)
            for label in labels:
                for key, header in headers.items():
                    prefix, _, metric = key.rpartition(".")
                    cond = prefix or condition  # gain.* / recovery.* or the row's condition
                    if key == "sec":
                        cond, metric = "derained", "seconds_per_image"
                    value = _value(pivot, dataset, label, cond, metric)
                    if cond != condition and condition != "derained":  # Rain input / Clean: no gain, no s/img
                        value = math.nan
                    scale = 1.0 if metric in ("psnr_y", "ssim_y", "seconds_per_image") else 100.0
                    shown = cells[header]
                    if math.isnan(value):
                        assert pd.isna(shown), (table.title, row["name"], header)
                    else:
                        assert shown == pytest.approx(scale * value, rel=1e-12), (table.title, row["name"], header)
                        compared += 1
    # detection: 2 models × 18 cells, Rain input 7 and Clean 5 cells (× the 2 records of the set);
    # semantic: 2 models × 9 cells, Rain input 4 and Clean 2 cells (× 2)
    assert compared == 2 * 18 + 2 * (7 + 5) + 2 * 9 + 2 * (4 + 2)
