"""The free-form pivot of ``bench report --pivot ROWS:COLUMNS:VALUE``: a pandas pivot of the records' fields."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.report.common import ReportTable, derainer_label, digits_for, direction, is_random_init
from bench.report.grouping import is_shard
from bench.report.paper_common import Record, finite, protocol_of
from bench.report.published import variant_name
from bench.report.table import Column, Table

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
    """A record field by alias, dotted path, ``label`` (the model's one label) or metric name (None when absent).

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
        return finite(metrics[name])
    obj: Any = record
    for part in FIELD_ALIASES.get(name, name).split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def _is_num(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def pivot_table(records: Sequence[Record], spec: str) -> Table:
    """Free-form pivot ``ROWS:COLUMNS:VALUE`` (comma-separated fields allowed in ROWS and COLUMNS).

    Example:
        >>> recs = [{"derainer": {"name": "a"}, "dataset": {"name": "X"}, "metrics": {"psnr_y": 30.0}},
        ...         {"derainer": {"name": "b"}, "dataset": {"name": "Y"}, "metrics": {"psnr_y": 31.0}}]
        >>> t = pivot_table(recs, "derainer:dataset:psnr_y")
        >>> [(r["name"], r.get("X"), r.get("Y")) for r in t.rows]
        [('a', 30.0, None), ('b', None, 31.0)]
    """
    import pandas as pd

    parts = spec.split(":")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"--pivot wants ROWS:COLUMNS:VALUE (e.g. derainer:dataset:psnr_y), got {spec!r}")
    row_fields, col_fields, value = parts[0].split(","), parts[1].split(","), parts[2]
    shards = sum(1 for r in records if is_shard(r))
    records = [r for r in records if not is_shard(r)]  # one shard is not the run (as in every table)
    shard_note = (
        [f"{shards} shard record(s) not shown (one shard is not the run): merge first with `bench merge --runs DIR`."]
        if shards
        else []
    )
    if not records:
        return ReportTable(title=f"{value} by {parts[0]} × {parts[1]}", columns=[], notes=shard_note)
    labelled = "label" in row_fields or "label" in col_fields

    def key(rec: Record, fields: list[str], row: bool = False) -> str:
        text = " / ".join("—" if (v := field_value(rec, f)) is None else str(v) for f in fields)
        # a random network never shares a row with (or replaces) the trained model of the same name
        return text + " (random init)" if row and not labelled and is_random_init(rec) else text

    def number(v: Any) -> Any:
        return finite(v) if isinstance(v, int | float | str) and not isinstance(v, bool) and _is_num(v) else v

    # the records' fields as a tidy frame, then a pandas pivot of the newest record per cell
    tidy = pd.DataFrame(
        {
            "row": [key(r, row_fields, row=True) for r in records],
            "col": [key(r, col_fields) for r in records],
            "value": [number(field_value(r, value)) for r in records],
            "created": [str(r.get("created", "")) for r in records],
        }
    )
    newest = tidy.sort_values("created", ascending=False, kind="stable").drop_duplicates(["row", "col"])
    from bench.data.paired import natural_key

    row_keys = sorted(dict.fromkeys(tidy["row"]), key=natural_key)
    col_keys = sorted(dict.fromkeys(tidy["col"]), key=natural_key)
    wide = newest.pivot(index="row", columns="col", values="value").reindex(index=row_keys, columns=col_keys)
    present = newest.assign(seen=True).pivot(index="row", columns="col", values="seen")
    present = present.reindex(index=row_keys, columns=col_keys).notna()
    several = int((tidy.groupby(["row", "col"]).size() > 1).sum())
    missing_value = int(newest["value"].isna().sum())
    info: dict[str, dict[str, Any]] = {}
    for rec in records:
        info.update(rec.get("metric_info") or {})
    protocols = sorted({protocol_of(r) for r in records}, key=str)
    resolved = value if value in info or "." in value else FIELD_ALIASES.get(value, value).split(".")[-1]
    variant = variant_name(value, *protocols[0]) if len(protocols) == 1 else value
    hib = direction(resolved, info)
    columns = [Column(c, f"{c}", hib, digits_for(resolved)) for c in col_keys]
    rows: list[dict[str, object]] = []
    for r in row_keys:
        row: dict[str, object] = {"name": r}
        for c in col_keys:
            if present.at[r, c]:
                v: Any = wide.at[r, c]
                v = v.item() if hasattr(v, "item") else v  # numpy scalar -> Python
                row[c] = None if v is None or (isinstance(v, float) and v != v) else v
        rows.append(row)
    notes = list(shard_note)
    if len(protocols) > 1:
        notes.append("Records use different protocols (quantize, crop): " + ", ".join(map(str, protocols)) + ".")
        for col in columns:
            col.higher_is_better = None  # never rank values measured under different protocols
    if several:
        notes.append(f"{several} cell(s) had several records; the newest is shown.")
    if missing_value:
        notes.append(f"{missing_value} record(s) have no field {value!r} (shown as —).")
    described = f"{value} ({variant})" if variant != value else value
    return ReportTable(
        title=f"{described} by {parts[0]} × {parts[1]}", columns=columns, rows=rows, row_title=parts[0], notes=notes
    )
