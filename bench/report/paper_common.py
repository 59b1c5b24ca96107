"""Helpers shared by the paper tables: measured values of a record, protocol, decimals, row labels, and the
notes every table beside the paper's numbers needs (records left out, partial runs)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from bench.report.common import derainer_label, digits_for, is_random_init
from bench.report.published import PaperTable, Published, Variant
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


def paper_protocol(paper: PaperTable) -> tuple[str | None, int | None]:
    """(quantize, crop multiple) the paper states for a table's columns (None for a part none states).

    Example:
        >>> from bench.report.published import load_published
        >>> paper_protocol(load_published().tables["4"]), paper_protocol(load_published().tables["5"])
        (('trunc', 8), (None, None))
    """
    quantize = next((v.quantize for v in paper.columns if v.quantize), None)
    crop = next((v.crop_multiple for v in paper.columns if v.crop_multiple is not None), None)
    return quantize, crop


def protocol_differs(paper: PaperTable, ours: tuple[str | None, int | None]) -> bool:
    """Whether our (quantize, crop multiple) differs from what the paper states for some column.

    Example:
        >>> from bench.report.published import load_published
        >>> protocol_differs(load_published().tables["4"], ("round", 1)), protocol_differs(load_published().tables["4"], ("trunc", 8))
        (True, False)
    """
    return any(
        (v.quantize and v.quantize != ours[0]) or (v.crop_multiple and v.crop_multiple != ours[1])
        for v in paper.columns
    )


def random_init_note(records: Sequence[Record]) -> str | None:
    """The note of a table beside the paper's numbers that left randomly initialised networks out.

    Example:
        >>> random_init_note([{"derainer": {"name": "mspfn", "random_init": True}}])[:60]
        '1 record(s) of randomly initialised networks left out (MSPFN'
    """
    left = [r for r in records if is_random_init(r)]
    if not left:
        return None
    labels = ", ".join(sorted({derainer_label(r) for r in left}))
    return (
        f"{len(left)} record(s) of randomly initialised networks left out ({labels}): their numbers are not "
        "the models' and never sit beside the paper's; `bench report` without `--table` shows them."
    )


def partial_note(dataset: str, records: Sequence[Record]) -> str | None:
    """A note when our records scored part of a paper test set: the paper's cells are whole-set means.

    The set's size is the dataset catalogue's (:data:`bench.data.catalog.BUILTIN_DATASETS`); for a set it
    does not know, a record run with ``--limit`` or ``--ids`` is partial.

    Example:
        >>> partial_note("Rain100L", [{"dataset": {"n_scored": 2}}])[:46]
        'Rain100L: our records scored 2 of its 100 imag'
    """
    from bench.data.catalog import BUILTIN_DATASETS
    from bench.results.frames import n_images

    if not records:
        return None
    size = next((s.size for s in BUILTIN_DATASETS if s.name.lower() == dataset.lower()), None)
    counts = sorted({n_images(r) for r in records})
    said = "/".join(map(str, counts))
    if size is not None and counts[0] < size:
        scored = f"{said} of its {size} images"
    elif size is None and any((r.get("config") or {}).get(k) for r in records for k in ("limit", "ids")):
        scored = f"a subset ({said} images, --limit/--ids)"
    else:
        return None
    return (
        f"{dataset}: our records scored {scored}; the paper's cells are means over the whole set, so a "
        "difference to them also reflects which images were scored (score the whole set to compare)."
    )


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


def row_label(method: str | None, record: Record | None, label: str | None = None) -> str:
    """The one label of a row: the model's label (``label`` when given, e.g. from
    :func:`bench.results.labels.distinct_labels`), with the paper's row name when it is spelled differently.

    Example:
        >>> rec = {"derainer": {"name": "prenet", "weights": {"tag": "Rain100L"}}}
        >>> row_label("PreNet", rec), row_label("MSPFN*", {"derainer": {"name": "mspfn_light"}})
        ('PReNet (Rain100L)', "MSPFN-light (paper's MSPFN*)")
    """
    if record is None:
        return method or "?"
    label = label or derainer_label(record)
    if method is None or label.lower().startswith(method.lower()) or method == "Rain input":
        return label
    return f"{label} (paper's {method})"
