"""A small table model rendered as Markdown, CSV, LaTeX (booktabs) or HTML.

Cells hold numbers (or ``None`` for a missing cell, shown as "—", never dropped). Columns know their
direction (↑ higher is better / ↓ lower is better); the best value of each column is bold. A row may carry
confidence intervals (``row["_ci"] = {column key: CellInterval}``): Markdown, LaTeX and HTML print them as
``value ± half-width`` (``*``: a difference whose interval excludes 0), CSV as ``[lo, hi]`` columns.
"""

from __future__ import annotations

import csv
import html
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

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
        value = row.get(col.key)
        return col.key in best and isinstance(value, int | float) and value == best[col.key]

    # ------------------------------------------------------------------ formats
    def to_markdown(self) -> str:
        best = self.best()
        head = [self.row_title] + [c.header for c in self.columns]
        lines = [
            f"**{self.title}**",
            "",
            "| " + " | ".join(head) + " |",
            "|" + "|".join(["---"] + ["---:"] * len(self.columns)) + "|",
        ]
        for row in self.rows:
            cells = [str(row.get(self.row_key, ""))]
            for col in self.columns:
                text = self.cell(row, col)
                cells.append(f"**{text}**" if self._is_best(row, col, best) else text)
            lines.append("| " + " | ".join(cells) + " |")
        lines.extend(f"\n{n}" for n in self.notes)
        return "\n".join(lines)

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        with_ci = self._interval_columns()
        writer.writerow(
            [self.row_title]
            + [c.header for c in self.columns]
            + [f"{c.header} {part}" for c in with_ci for part in ("95% lo", "95% hi")]
        )
        for row in self.rows:
            bounds: list[object] = []
            for c in with_ci:
                ci = self.interval(row, c)
                bounds += ["", ""] if ci is None else [repr(ci.lo), repr(ci.hi)]
            writer.writerow(
                [row.get(self.row_key, "")]
                + [
                    ""
                    if (v := row.get(c.key)) is None or (isinstance(v, float) and math.isnan(v))
                    else (repr(v) if isinstance(v, float) else v)
                    for c in self.columns
                ]
                + bounds
            )
        return buf.getvalue()

    def to_latex(self) -> str:
        best = self.best()

        def esc(text: str) -> str:
            return (
                text.replace("\\", "\\textbackslash{}")
                .replace("_", "\\_")
                .replace("%", "\\%")
                .replace("&", "\\&")
                .replace("#", "\\#")
                .replace("↑", "$\\uparrow$")
                .replace("↓", "$\\downarrow$")
                .replace("—", "--")
                .replace("∞", "$\\infty$")
                .replace("±", "$\\pm$")
            )

        lines = [
            "\\begin{table}[t]",
            "\\centering",
            f"\\caption{{{esc(self.title)}}}",
            "\\begin{tabular}{l" + "r" * len(self.columns) + "}",
            "\\toprule",
            " & ".join([esc(self.row_title)] + [esc(c.header) for c in self.columns]) + " \\\\",
            "\\midrule",
        ]
        for row in self.rows:
            cells = [esc(str(row.get(self.row_key, "")))]
            for col in self.columns:
                text = esc(self.cell(row, col))
                cells.append(f"\\textbf{{{text}}}" if self._is_best(row, col, best) else text)
            lines.append(" & ".join(cells) + " \\\\")
        lines += ["\\bottomrule", "\\end{tabular}"]
        lines += [f"\\\\\\footnotesize{{{esc(n)}}}" for n in self.notes]
        lines.append("\\end{table}")
        return "\n".join(lines)

    def to_html(self) -> str:
        best = self.best()
        parts = [
            f"<table class='bench'><caption>{html.escape(self.title)}</caption><thead><tr>",
            f"<th>{html.escape(self.row_title)}</th>",
        ]
        parts += [f"<th>{html.escape(c.header)}</th>" for c in self.columns]
        parts.append("</tr></thead><tbody>")
        for row in self.rows:
            parts.append(f"<tr><th>{html.escape(str(row.get(self.row_key, '')))}</th>")
            for col in self.columns:
                text = html.escape(self.cell(row, col))
                ci = self.interval(row, col)
                title = "" if ci is None else f" title='95% interval [{ci.lo:.{col.digits}f}, {ci.hi:.{col.digits}f}]'"
                parts.append(
                    f"<td{title}><b>{text}</b></td>" if self._is_best(row, col, best) else f"<td{title}>{text}</td>"
                )
            parts.append("</tr>")
        parts.append("</tbody></table>")
        parts += [f"<p class='note'>{html.escape(n)}</p>" for n in self.notes]
        return "".join(parts)

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
