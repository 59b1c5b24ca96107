"""Shared pieces of the report tables: ranked tables whose upper bound is never bold, arrow columns,
decimals and directions of metrics, notes on unusable files."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.report.table import Column, Table
from bench.results.frames import derainer_label

__all__ = [
    "LOWER_IS_BETTER",
    "ArrowColumn",
    "ReportTable",
    "derainer_label",
    "digits_for",
    "direction",
    "is_random_init",
    "issues_note",
]

#: Metrics where a smaller value is better (used when a record's ``metric_info`` does not say).
LOWER_IS_BETTER: frozenset[str] = frozenset({"niqe", "sseq", "brisque", "seconds_per_image", "params_m", "sec"})


@dataclass
class ArrowColumn(Column):
    """A column shown with a direction arrow but never ranked (no bold): differences to published values.

    Example:
        >>> ArrowColumn("d", "Δ PSNR (ours − paper)", arrow_up=True).header
        'Δ PSNR (ours − paper) ↑'
    """

    arrow_up: bool = True

    @property
    def header(self) -> str:
        return f"{self.title} {'↑' if self.arrow_up else '↓'}"


@dataclass
class ReportTable(Table):
    """A :class:`Table` whose rows flagged ``"_unranked": True`` (e.g. the Clean upper bound) are never bold.

    Example:
        >>> t = ReportTable("t", [Column("v", "v", True)], rows=[{"name": "a", "v": 1.0},
        ...                  {"name": "b", "v": 2.0}, {"name": "clean", "v": 9.0, "_unranked": True}])
        >>> t.best()
        {'v': 2.0}
    """

    def best(self) -> dict[str, float]:
        out: dict[str, float] = {}
        ranked = [r for r in self.rows if not r.get("_unranked")]
        for col in self.columns:
            if col.higher_is_better is None:
                continue
            values = [
                v
                for r in ranked
                if isinstance(v := r.get(col.key), int | float) and not isinstance(v, bool) and math.isfinite(v)
            ]
            if len(values) >= 2:
                out[col.key] = max(values) if col.higher_is_better else min(values)
        return out


def issues_note(records: Sequence[dict[str, Any]], limit: int = 10) -> str | None:
    """One note listing the files the records could not use, and apart from them the scored images with a
    note of their own (a score undefined on that image, a derainer output with NaN), up to ``limit`` each.

    Example:
        >>> issues_note([{"issues": [{"path": "/d/rain/7.png", "reason": "/d/rain/7.png: empty file (0 bytes)"}]}])
        '1 file(s) could not be used: 7.png (empty file (0 bytes)).'
        >>> issues_note([{"rows": [{"id": "2", "file": "2.png"}], "issues": [{"path": "/d/2.png", "reason": "fsim is NaN"}]}])
        '1 scored image(s) with a note: 2.png (fsim is NaN).'
    """
    unused: dict[str, str] = {}
    noted: dict[str, str] = {}
    for rec in records:
        scored = {str(row.get("file")) for row in rec.get("rows") or []}
        for issue in rec.get("issues") or []:
            path = str(issue.get("path", "?"))
            reason = str(issue.get("reason", "")).replace(f"{path}: ", "").replace(path, Path(path).name)
            (noted if Path(path).name in scored else unused).setdefault(path, reason)
    parts = [
        _listed(found, limit, heading)
        for found, heading in ((unused, "file(s) could not be used"), (noted, "scored image(s) with a note"))
        if found
    ]
    return "; ".join(parts) + "." if parts else None


def _listed(found: dict[str, str], limit: int, heading: str) -> str:
    shown = [f"{Path(path).name} ({reason})" for path, reason in list(found.items())[:limit]]
    more = f"; {len(found) - limit} more in the records' 'issues'" if len(found) > limit else ""
    return f"{len(found)} {heading}: {'; '.join(shown)}{more}"


def is_random_init(record: dict[str, Any]) -> bool:
    """Whether the record's derainer was a randomly initialised trainable network (never the model's numbers).

    Example:
        >>> is_random_init({"derainer": {"name": "mspfn", "random_init": True}})
        True
    """
    return bool((record.get("derainer") or {}).get("random_init"))


def digits_for(metric: str) -> int:
    """Decimals shown for a metric (PSNR 2, SSIM/FSIM 4, NIQE 3, seconds 3, percentages 2)."""
    base = metric.split(".")[-1]
    if base.startswith("psnr") or base in ("sseq", "brisque", "params_m"):
        return 2
    if base in ("niqe", "seconds_per_image", "sec"):
        return 3
    if base.startswith(("ssim", "fsim")):
        return 4
    return 2


def direction(metric: str, info: dict[str, dict[str, Any]] | None = None) -> bool | None:
    """Whether higher is better for ``metric`` (``derained.niqe`` → False), from ``metric_info`` or defaults."""
    info = info or {}
    for key in (metric, metric.split(".", 1)[-1]):
        meta = info.get(key)
        if meta and meta.get("higher_is_better") is not None:
            return bool(meta["higher_is_better"])
    return metric.split(".")[-1] not in LOWER_IS_BETTER
