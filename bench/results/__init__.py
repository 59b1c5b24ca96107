"""Run records: schema-versioned JSON written atomically, and the per-image journal used to resume.

``bench.results.load(paths_or_dir)`` and ``bench.results.load_rows(...)`` read records as tidy pandas
frames (:mod:`bench.results.frames`; pandas is imported only when they are called).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["load", "load_rows"]


def load(paths_or_dir: Any) -> pd.DataFrame:
    """One row per record × metric (see :func:`bench.results.frames.load`)."""
    from bench.results.frames import load as _load

    return _load(paths_or_dir)


def load_rows(paths_or_dir: Any) -> pd.DataFrame:
    """One row per record × image × metric (see :func:`bench.results.frames.load_rows`)."""
    from bench.results.frames import load_rows as _load_rows

    return _load_rows(paths_or_dir)
