"""A small table model rendered by pandas as Markdown (``to_markdown``), CSV (``to_csv``), LaTeX and HTML (``Styler``).

Cells hold numbers (or ``None`` for a missing cell, shown as "—", never dropped). Columns know their
direction (↑ higher is better / ↓ lower is better); the best value of each column is bold. A row may carry
confidence intervals (``row["_ci"] = {column key: CellInterval}``): Markdown, LaTeX and HTML print them as
``value ± half-width`` (``*``: a difference whose interval excludes 0), CSV as ``[lo, hi]`` columns.
"""

from __future__ import annotations

import copy
import hashlib
import html
import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

MISSING = "—"


@dataclass(frozen=True)
class CellInterval:
    """A cell's confidence interval (in the cell's units) and whether the cell is marked as a real difference.

    Example:
        >>> CellInterval(1.0, 3.0).half_width
        1.0
    """

    lo: float
    hi: float
    marked: bool = False

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2.0


@dataclass
class Column:
    key: str
    title: str
    higher_is_better: bool | None = None  # None: no direction (not ranked)
    digits: int = 2

    @property
    def header(self) -> str:
        arrow = "" if self.higher_is_better is None else (" ↑" if self.higher_is_better else " ↓")
        return f"{self.title}{arrow}"


@dataclass
class Table:
    title: str
    columns: list[Column]
    rows: list[dict[str, object]] = field(default_factory=list)
    row_key: str = "name"
    row_title: str = "method"
    notes: list[str] = field(default_factory=list)
    #: The same numbers in a narrower layout for a terminal's Markdown (its title, columns and rows; the
    #: notes are this table's), e.g. the paper's cell style; ``--wide`` shows this table instead.
    terminal_form: Table | None = None

    def best(self) -> dict[str, float]:
        """Best finite value per ranked column."""
        out: dict[str, float] = {}
        for col in self.columns:
            if col.higher_is_better is None:
                continue
            values = [v for r in self.rows if isinstance(v := r.get(col.key), int | float) and math.isfinite(v)]
            if len(values) >= 2:
                out[col.key] = max(values) if col.higher_is_better else min(values)
        return out

    def cell(self, row: dict[str, object], col: Column) -> str:
        value = row.get(col.key)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return MISSING
        if isinstance(value, float):
            if math.isinf(value):
                return "∞" if value > 0 else "-∞"
            return self._number(value, self._digits(row, col)) + self._interval_suffix(row, col)
        return str(value)

    @staticmethod
    def _digits(row: dict[str, object], col: Column) -> int:
        """The column's decimals, unless the row overrides them (``row["_digits"] = {key: n}``)."""
        override = row.get("_digits")
        found = override.get(col.key) if isinstance(override, dict) else None
        return found if isinstance(found, int) else col.digits

    @staticmethod
    def _number(value: float, digits: int) -> str:
        text = f"{value:.{digits}f}"
        return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.00"

    @staticmethod
    def interval(row: dict[str, object], col: Column) -> CellInterval | None:
        """The row's interval for a column, when it has a finite one."""
        intervals = row.get("_ci")
        found = intervals.get(col.key) if isinstance(intervals, dict) else None
        if isinstance(found, CellInterval) and math.isfinite(found.lo) and math.isfinite(found.hi):
            return found
        return None

    def _interval_suffix(self, row: dict[str, object], col: Column) -> str:
        ci = self.interval(row, col)
        if ci is None:
            return ""
        return f" ± {self._number(ci.half_width, self._digits(row, col))}" + ("*" if ci.marked else "")

    def _interval_columns(self) -> list[Column]:
        return [c for c in self.columns if any(self.interval(r, c) is not None for r in self.rows)]

    def _is_best(self, row: dict[str, object], col: Column, best: dict[str, float]) -> bool:
        """Whether a cell shows the column's best value as printed: cells that read the same are all bold
        (``30.004`` and ``30.001`` both print ``30.00``); a bound row (``_unranked``) never is."""
        value = row.get(col.key)
        if col.key not in best or row.get("_unranked") or not isinstance(value, int | float) or isinstance(value, bool):
            return False
        if value == best[col.key]:
            return True
        if not (isinstance(value, float) and math.isfinite(value)):
            return False
        digits = self._digits(row, col)
        return self._number(value, digits) == self._number(float(best[col.key]), digits)

    # ------------------------------------------------------------------ formats (rendered by pandas)
    def _headers(self) -> list[str]:
        """Column headers, made unique (pandas and the Styler need unique labels)."""
        out: list[str] = [self.row_title]
        for col in self.columns:
            header, k = col.header, 2
            while header in out:
                header, k = f"{col.header} [{k}]", k + 1
            out.append(header)
        return out

    def display_frame(
        self, mark: Callable[[str], str] | None = None, escape: Callable[[str], str] = str
    ) -> pd.DataFrame:
        """The table as a DataFrame of cell texts (``escape`` applied, best cells wrapped by ``mark``)."""
        import pandas as pd

        best = self.best()
        body = []
        for row in self.rows:
            cells = [escape(str(row.get(self.row_key, "")))]
            for col in self.columns:
                text = escape(self.cell(row, col))
                cells.append(mark(text) if mark is not None and self._is_best(row, col, best) else text)
            body.append(cells)
        return pd.DataFrame(body, columns=[escape(h) for h in self._headers()])

    def value_frame(self) -> pd.DataFrame:
        """The table's numbers as a DataFrame (NaN for a missing cell), plus ``[lo, hi]`` interval columns."""
        import pandas as pd

        return pd.DataFrame(self._values())

    def _values(self) -> dict[str, list[object]]:
        with_ci = self._interval_columns()
        headers = self._headers()
        data: dict[str, list[object]] = {h: [] for h in headers}
        for c in with_ci:
            for part in ("95% lo", "95% hi"):
                data[f"{c.header} {part}"] = []
        for row in self.rows:
            data[headers[0]].append(row.get(self.row_key, ""))
            for header, c in zip(headers[1:], self.columns):
                v = row.get(c.key)
                data[header].append(math.nan if v is None else v)
            for c in with_ci:
                ci = self.interval(row, c)
                data[f"{c.header} 95% lo"].append(math.nan if ci is None else ci.lo)
                data[f"{c.header} 95% hi"].append(math.nan if ci is None else ci.hi)
        return data

    def interval_tooltips(self) -> pd.DataFrame | None:
        """Per cell the text of its 95 % interval (``95% interval [lo, hi]``, "" without one), shaped like
        :meth:`display_frame`; None when no cell has an interval. HTML shows it as the cell's ``title``.

        Example:
            >>> t = Table("t", [Column("x", "x")], rows=[{"name": "a", "x": 2.0, "_ci": {"x": CellInterval(1.0, 3.0)}}])
            >>> t.interval_tooltips().iloc[0].tolist()
            ['', '95% interval [1.00, 3.00]']
        """
        import pandas as pd

        if not self._interval_columns():
            return None
        body = []
        for row in self.rows:
            cells = [""]
            for col in self.columns:
                ci = self.interval(row, col)
                digits = self._digits(row, col)
                text = f"95% interval [{self._number(ci.lo, digits)}, {self._number(ci.hi, digits)}]" if ci else ""
                cells.append(text)
            body.append(cells)
        return pd.DataFrame(body, columns=self._headers())

    def to_markdown(self, width: int | None = None) -> str:
        """Markdown: the bold title, the table (tabulate's pipe format), the notes as paragraphs; with
        ``width`` the title and notes are wrapped at ``width`` characters (Markdown joins the lines again)."""
        frame = self.display_frame(mark=lambda t: f"**{t}**", escape=markdown_escape)
        align = ["left"] + ["right"] * len(self.columns)
        body = frame.to_markdown(index=False, colalign=align, disable_numparse=True) if self.columns else ""

        def wrap(text: str) -> str:
            return text if width is None else "\n".join(textwrap.wrap(text, width, break_on_hyphens=False))

        title = wrap(f"**{self.title}**")
        lines = [title, "", body] if body else [title]
        return "\n".join(lines + [f"\n{wrap(n)}" for n in self.notes])

    def to_csv(self) -> str:
        """CSV of the numbers (``repr`` precision; empty for a missing cell), the notes as ``# `` lines below."""
        import pandas as pd

        frame = pd.DataFrame(self._values(), dtype=object).map(_csv_cell)
        text = frame.to_csv(index=False, lineterminator="\n") if self.columns else ""
        return text + "".join(f"# {line}\n" for n in self.notes for line in n.splitlines() or [""])

    def to_latex(self) -> str:
        frame = self.display_frame(mark=lambda t: f"\\textbf{{{t}}}", escape=latex_escape)
        styler = frame.style.hide(axis="index")
        text = styler.to_latex(
            caption=latex_escape(self.title),
            hrules=True,
            position="t",
            position_float="centering",
            column_format="l" + "r" * len(self.columns),
        )
        notes = "".join(f"\\\\\\footnotesize{{{latex_escape(n)}}}\n" for n in self.notes)
        return text.replace("\\end{table}", notes + "\\end{table}").rstrip("\n")

    def to_html(self) -> str:
        frame = self.display_frame(mark=lambda t: f"<b>{t}</b>", escape=html.escape)
        styler = frame.style.hide(axis="index")
        styler.set_uuid("t" + hashlib.sha1(self.title.encode()).hexdigest()[:8])  # stable ids, one per table
        tips = self.interval_tooltips()
        if tips is not None:
            styler.set_tooltips(tips.set_axis(frame.columns, axis=1), as_title_attribute=True)
        text = styler.to_html(caption=html.escape(self.title), table_attributes="class='bench'")
        return text + "".join(f"<p class='note'>{html.escape(n)}</p>" for n in self.notes)

    def column_parts(self, max_columns: int) -> list[Table]:
        """The table cut into parts of at most ``max_columns`` columns, each with the row names (for pages
        that must not scroll sideways); the title says which columns a part has, the notes follow the last.

        Example:
            >>> t = Table("t", [Column(str(i), str(i)) for i in range(5)], rows=[{"name": "a"}], notes=["n"])
            >>> [(p.title, len(p.columns), p.notes) for p in t.column_parts(3)]
            [('t (columns 1–3 of 5)', 3, []), ('t (columns 4–5 of 5)', 2, ['n'])]
        """
        n = len(self.columns)
        if n <= max_columns:
            return [self]
        parts: list[Table] = []
        for start in range(0, n, max_columns):
            stop = min(n, start + max_columns)
            part = copy.copy(self)
            part.columns = self.columns[start:stop]
            part.title = f"{self.title} (columns {start + 1}–{stop} of {n})"
            part.notes = list(self.notes) if stop == n else []
            parts.append(part)
        return parts

    def width_parts(self, max_width: int) -> list[Table]:
        """The table cut into parts whose Markdown lines are at most ``max_width`` characters where the
        columns allow, each with the row names; a column stays in one part with the ``gain.*``,
        ``recovery.*``, ``paper.*`` and ``delta.*`` columns that follow it. Titles say which columns a part
        has; the notes follow the last part.

        Example:
            >>> cols = [Column(f"c{i}", "a long column header " + str(i)) for i in range(6)]
            >>> t = Table("t", cols, rows=[{"name": "a"}], notes=["n"])
            >>> [(p.title, len(p.columns)) for p in t.width_parts(80)]
            [('t (columns 1–2 of 6)', 2), ('t (columns 3–4 of 6)', 2), ('t (columns 5–6 of 6)', 2)]
        """
        units: list[list[Column]] = []
        for col in self.columns:
            if units and col.key.startswith(("gain.", "recovery.", "paper.", "delta.")):
                units[-1].append(col)
            else:
                units.append([col])
        spans: list[list[Column]] = []
        for unit in units:
            if spans and self._markdown_width(spans[-1] + unit) <= max_width:
                spans[-1] = spans[-1] + unit
            else:
                spans.append(list(unit))
        if len(spans) <= 1:
            return [self]
        parts: list[Table] = []
        start, n = 0, len(self.columns)
        for span in spans:
            part = copy.copy(self)
            part.columns = span
            part.title = f"{self.title} (columns {start + 1}–{start + len(span)} of {n})"
            start += len(span)
            part.notes = list(self.notes) if start == n else []
            parts.append(part)
        return parts

    def _markdown_width(self, columns: list[Column]) -> int:
        """The widest line of this table's Markdown body with only ``columns``."""
        part = copy.copy(self)
        part.columns, part.title, part.notes = columns, "", []
        return max(len(line) for line in part.to_markdown().splitlines()[2:])

    def render(self, fmt: str) -> str:
        renderers = {
            "markdown": self.to_markdown,
            "md": self.to_markdown,
            "csv": self.to_csv,
            "latex": self.to_latex,
            "tex": self.to_latex,
            "html": self.to_html,
        }
        if fmt not in renderers:
            raise ValueError(f"unknown format {fmt!r}; choose from markdown, csv, latex, html")
        return renderers[fmt]()


def columns_for(metric_names: Sequence[str], info: dict[str, dict[str, object]]) -> list[Column]:
    cols = []
    for name in metric_names:
        meta = info.get(name, {})
        hib = meta.get("higher_is_better")
        digits = 2 if str(meta.get("unit", "")) == "dB" or name.startswith("psnr") else 4
        cols.append(Column(name, name, bool(hib) if hib is not None else None, digits))
    return cols


#: Characters LaTeX reads as markup, and the symbols of the tables' titles and notes, in LaTeX.
_LATEX: dict[str, str] = {
    "\\": "\\textbackslash{}",
    "{": "\\{",
    "}": "\\}",
    "$": "\\$",
    "_": "\\_",
    "%": "\\%",
    "&": "\\&",
    "#": "\\#",
    "~": "\\textasciitilde{}",
    "^": "\\textasciicircum{}",
    "↑": "$\\uparrow$",
    "↓": "$\\downarrow$",
    "—": "--",
    "–": "--",
    "−": "$-$",
    "Δ": "$\\Delta$",
    "×": "$\\times$",
    "≤": "$\\leq$",
    "≥": "$\\geq$",
    "∞": "$\\infty$",
    "±": "$\\pm$",
}


def latex_escape(text: str) -> str:
    """LaTeX-safe text: markup characters escaped (``\\ { } $ _ % & # ~ ^``), arrows, Δ, the minus sign,
    ≤/≥, infinity and ± as math, dashes as ``--``.

    Example:
        >>> print(latex_escape("psnr_y ↑ 5%"))
        psnr\\_y $\\uparrow$ 5\\%
        >>> print(latex_escape("Δ PSNR (ours − paper) {x} $1"))
        $\\Delta$ PSNR (ours $-$ paper) \\{x\\} \\$1
    """
    return "".join(_LATEX.get(char, char) for char in text)


def markdown_escape(text: str) -> str:
    """A pipe-table cell: ``|`` escaped (it would end the cell), line breaks as spaces (they would end the row).

    Example:
        >>> print(markdown_escape("MSPFN (a|b.pt)"))
        MSPFN (a\\|b.pt)
    """
    return text.replace("|", "\\|").replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def _csv_cell(value: object) -> object:
    """A CSV cell: floats at full precision (``repr``), integers as integers, empty for a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return repr(float(value))
    return value
