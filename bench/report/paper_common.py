"""Helpers shared by the paper tables: measured values of a record, protocol, decimals, row labels."""

from __future__ import annotations

import math
from typing import Any

from bench.report.common import derainer_label, digits_for
from bench.report.published import Published, Variant
from bench.report.values import RecordValues
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

#: Paper rows that are bounds, not methods: never bold.
UNRANKED_METHODS: frozenset[str] = frozenset({"Clean", "Rain input", "Clean (upper bound)"})


def finite(value: Any) -> float | None:
    """A stored value as a float, None when absent, unreadable or NaN."""
    if value is None:
        return None
    try:
        v = to_float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def measured(record: Record, metric: str) -> float | None:
    """A record's value for a paper variant's metric (``seconds_per_image``, ``params_m`` and NR metrics too),
    from the pivot of :func:`bench.results.load` (:class:`bench.report.values.RecordValues`); None when absent
    or not finite.

    Example:
        >>> measured({"metrics": {"derained.niqe": 4.2}}, "niqe")
        4.2
        >>> measured({"derainer": {"params": 2500000}, "metrics": {}}, "params_m")
        2.5
    """
    return finite(RecordValues([record]).get(record, metric))


def protocol_of(record: Record) -> tuple[str | None, int | None]:
    """(quantize, crop multiple) of a record."""
    cfg = record.get("config") or {}
    crop = cfg.get("crop_multiple")
    return cfg.get("quantize"), (int(crop) if crop is not None else None)


def paper_digits(v: Variant) -> int:
    """Decimals the paper prints for a variant (SSIM/FSIM 3, the rest as :func:`digits_for`)."""
    return 3 if v.metric.startswith(("ssim", "fsim")) else digits_for(v.metric)


def delta(ours: float | None, paper: float | None) -> float | None:
    return None if ours is None or paper is None else ours - paper


def method_name(pub: Published, table_key: str, derainer: str | None) -> str | None:
    """Row name of a derainer in a paper table, or any paper name mapped to it."""
    if derainer is None:
        return None
    in_table = pub.paper_method(table_key, derainer)
    if in_table:
        return in_table
    return next((m for m, d in pub.methods.items() if d == derainer), None)


def row_label(method: str | None, record: Record | None) -> str:
    """The one label of a row: the model's label, with the paper's row name when it is spelled differently.

    Example:
        >>> rec = {"derainer": {"name": "prenet", "weights": {"tag": "Rain100L"}}}
        >>> row_label("PreNet", rec), row_label("MSPFN*", {"derainer": {"name": "mspfn_light"}})
        ('PReNet (Rain100L)', "MSPFN-light (paper's MSPFN*)")
    """
    if record is None:
        return method or "?"
    label = derainer_label(record)
    if method is None or label.lower().startswith(method.lower()) or method == "Rain input":
        return label
    return f"{label} (paper's {method})"
