"""The paper's Tables 2–6 side by side with measured run records, and a free-form pivot: the entry point.

Every table is built from stored records (never recomputed) and the published numbers of
:mod:`bench.report.published`. Tables 4 and 5 come in the paper's compact layout by default (methods as
rows, datasets as columns, ``PSNR/SSIM/FSIM`` in one cell; :mod:`bench.report.compact`) and, with
``wide=True`` (``bench report --wide``), as one block per dataset with ours, paper and Δ columns
(:mod:`bench.report.paper_tables`). Table 6 is :mod:`bench.report.table6`, the pivot :mod:`bench.report.pivot`.

Example:
    >>> from bench.results.record import find_records
    >>> records = [rec for _, rec in find_records("runs")]  # doctest: +SKIP
    >>> text, csv_text = render_requested(records, table="4", pivot=None, fmt="markdown")  # doctest: +SKIP
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from bench.report.paper_common import PAPER_TABLES, Record, measured
from bench.report.paper_tables import comparison_table, paper_table, published_only_table
from bench.report.pivot import field_value, pivot_table
from bench.report.table import Table
from bench.report.table6 import table6
from bench.report.tables import group_tables

__all__ = [
    "comparison_table",
    "field_value",
    "measured",
    "paper_table",
    "pivot_table",
    "published_only_table",
    "render_requested",
    "requested_tables",
    "table6",
]


#: Widest Markdown line of a report table in a terminal (``--wide``: whole tables).
TERMINAL_WIDTH = 120


def requested_tables(
    records: Sequence[Record],
    table: str | None = None,
    pivot: str | None = None,
    ci: bool = False,
    use_holm: bool = False,
    wide: bool = False,
) -> list[Table]:
    """The tables asked for: ``table`` is 2–6, ``all`` (4, 5, 6) or a comma list; ``pivot`` ROWS:COLUMNS:VALUE.

    ``ci`` adds the records' stored 95 % intervals to our cells (``use_holm``: gains marked by Holm);
    ``wide`` gives Tables 4 and 5 as one block per dataset with paper and Δ columns instead of the compact layout.

    Example:
        >>> [t.title[:9] for t in requested_tables([], table="5", wide=True)]
        ['Table 5 a']
    """
    tables: list[Table] = []
    if table:
        keys = ["4", "5", "6"] if table.strip().lower() == "all" else [k.strip() for k in table.split(",")]
        for k in keys:
            if k not in PAPER_TABLES:
                raise ValueError(f"--table {k!r}: choose 2, 3, 4, 5, 6 or all")
            if k == "6":
                tables += table6(records, ci=ci, use_holm=use_holm)
            elif k in ("4", "5") and not wide:
                from bench.report.compact import compact_table

                tables += compact_table(records, k, ci=ci)
            else:
                tables += paper_table(records, k, ci=ci)
    if pivot:
        tables.append(pivot_table(records, pivot))
    return tables


def say_once(tables: Sequence[Table]) -> None:
    """Drop every note a table above already said (word for word): notes are said once per report.

    Example:
        >>> a, b = Table("a", [], notes=["x", "y"]), Table("b", [], notes=["x", "z"])
        >>> say_once([a, b]); b.notes
        ['z']
    """
    said: set[str] = set()
    for table in tables:
        kept = []
        for note in table.notes:
            if note not in said:
                kept.append(note)
                said.add(note)
        table.notes = kept


def render_requested(
    records: Sequence[Record],
    table: str | None = None,
    pivot: str | None = None,
    fmt: str = "markdown",
    ci: bool = False,
    use_holm: bool = False,
    extra: Sequence[Table] = (),
    wide: bool = False,
    allow_mixed: bool = False,
) -> tuple[str, str]:
    """Render the requested tables; returns (text in ``fmt``, CSV of the same tables).

    With ``fmt="html"`` the text is a self-contained HTML page (tables, comparison grids, plots).
    ``ci`` / ``use_holm`` / ``wide`` as :func:`requested_tables`; ``extra`` tables (paired comparisons,
    power) follow. Without ``table`` and ``pivot`` the tables are :func:`bench.report.tables.group_tables`.

    Example:
        >>> text, csv_text = render_requested([], table="5", fmt="markdown", wide=True)
        >>> text.startswith("**Table 5 as published")
        True
    """
    tables = requested_tables(records, table=table, pivot=pivot, ci=ci, use_holm=use_holm, wide=wide)
    if not tables:
        tables = group_tables(list(records), ci=ci, use_holm=use_holm, allow_mixed=allow_mixed)
    tables += list(extra)
    say_once(tables)
    csv_text = "\n".join(t.to_csv() for t in tables)
    if fmt == "html":
        from bench.report.html import render_page

        return render_page(records, tables), csv_text
    if fmt in ("markdown", "md") and not wide:  # a terminal: tables cut to fit (--wide: whole)
        return "\n\n".join(_terminal_markdown(t) for t in tables), csv_text
    return "\n\n".join(t.render(fmt) for t in tables), csv_text


def _terminal_markdown(table: Table) -> str:
    """Markdown of a table in its ``terminal_form`` when it has one, in parts of at most
    :data:`TERMINAL_WIDTH` characters a line where its columns allow, its title and notes wrapped."""
    if table.terminal_form is not None:
        narrow = copy.copy(table.terminal_form)
        narrow.notes = table.notes  # as said once by say_once
        table = narrow
    return "\n\n".join(p.to_markdown(width=TERMINAL_WIDTH) for p in table.width_parts(TERMINAL_WIDTH))
