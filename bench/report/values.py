"""The numbers of the report's tables: the pivot of :func:`bench.results.load`, one row per record.

Every measured cell of Tables 2–6 and of the downstream tables is read from here: the records' tidy
frame (the rows :func:`bench.results.load` gives, plus the record's position) pivoted to record ×
(condition, metric), with the per-record columns ``seconds_per_image`` and ``params``.

Example:
    >>> rec = {"task": "detection", "metrics": {"rainy.map50": 0.5, "derained.map50": 0.75},
    ...        "timings": {"seconds_per_image": 0.2}, "derainer": {"name": "prenet", "params": 2000000}}
    >>> values = RecordValues([rec])
    >>> values.get(rec, "derained.map50", 100.0), values.get(rec, "rainy.map50"), values.get(rec, "gain.map50")
    (75.0, 0.5, None)
    >>> values.get(rec, "seconds_per_image"), values.get(rec, "params_m")
    (0.2, 2.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bench.results.frames import RECORD_COLUMNS, frame, record_fields, record_metric_rows, split_metric

if TYPE_CHECKING:
    import pandas as pd

Record = dict[str, Any]


def record_pivot(records: Sequence[Record]) -> pd.DataFrame:
    """Records × (condition, metric) → value: the pivot of their :func:`bench.results.load` rows, indexed by
    the record's position in ``records`` (a record without metrics has no row)."""
    rows = [{**row, "position": i} for i, rec in enumerate(records) for row in record_metric_rows(rec)]
    tidy = frame(rows, (*RECORD_COLUMNS, "position"))
    return tidy.pivot_table(
        index="position", columns=["condition", "metric"], values="value", aggfunc="first", dropna=False
    )


class RecordValues:
    """The numbers of a set of records, looked up by record and stored key (``rainy.map50``, ``psnr_y``),
    or ``seconds_per_image`` / ``params_m`` (the record's timing and its parameters in millions)."""

    def __init__(self, records: Sequence[Record]) -> None:
        self._position = {id(rec): i for i, rec in enumerate(records)}
        self._pivot = record_pivot(records)
        self._fields = [record_fields(rec) for rec in records]

    def get(self, record: Record, key: str, scale: float = 1.0) -> float | None:
        """The value (times ``scale``); None when the record has none or it is NaN (infinities are kept)."""
        i = self._position[id(record)]
        if key == "seconds_per_image":
            value = float(self._fields[i]["seconds_per_image"])
        elif key == "params_m":
            params = self._fields[i]["params"]
            value = math.nan if params is None else float(params) / 1e6
        else:
            column = split_metric(key)
            if column not in self._pivot.columns or i not in self._pivot.index:
                return None
            cell: Any = self._pivot.at[i, column]
            value = float(cell)
        return None if math.isnan(value) else value * scale
