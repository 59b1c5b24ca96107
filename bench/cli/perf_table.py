"""The Markdown tables of ``bench perf``: the measurements as a pandas DataFrame, rendered by ``to_markdown``.

One row per measurement; a numeric column has its decimals and, when ranked, its direction (↑ higher is
better, ↓ lower is better: the arrow is in the header and the best value of two or more is bold). A
missing value is "—".

Example:
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"derainer": ["a", "b"], "size": ["64x64", "64x64"], "images/s": [1.0, 2.5]})
    >>> print(perf_markdown("perf", frame, {"images/s": (3, True)}, ["a note"]))
    **perf**
    <BLANKLINE>
    | derainer   |   size |   images/s ↑ |
    |:-----------|-------:|-------------:|
    | a          |  64x64 |        1.000 |
    | b          |  64x64 |    **2.500** |
    <BLANKLINE>
    a note
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

MISSING = "—"

#: Per numeric column: (decimals, higher is better: True / False, None for a column that is not ranked).
ColumnFormat = tuple[int, bool | None]


def perf_markdown(title: str, frame: pd.DataFrame, formats: Mapping[str, ColumnFormat], notes: Sequence[str]) -> str:
    """``frame`` as Markdown: the bold title, the table (the first column left, the others right), the notes."""
    shown = frame.astype(object).copy()
    headers: dict[str, str] = {}
    for name, (digits, higher) in formats.items():
        values = [_finite(v) for v in frame[name]]
        ranked = [v for v in values if v is not None]
        best = None if higher is None or len(ranked) < 2 else (max(ranked) if higher else min(ranked))
        shown[name] = [_cell(raw, digits, best is not None and v == best) for raw, v in zip(frame[name], values)]
        headers[name] = name if higher is None else f"{name} {'↑' if higher else '↓'}"
    shown = shown.rename(columns=headers)
    align = ["left"] + ["right"] * (len(frame.columns) - 1)
    body = shown.to_markdown(index=False, colalign=align, disable_numparse=True)
    return "\n".join([f"**{title}**", "", body, *[f"\n{n}" for n in notes]])


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _cell(value: Any, digits: int, bold: bool) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, float) and math.isinf(value):
        text = "∞" if value > 0 else "-∞"
    elif isinstance(value, float):
        text = f"{value:.{digits}f}"
        text = text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.00"
    else:
        text = str(value)
    return f"**{text}**" if bold else text
