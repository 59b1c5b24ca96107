"""A small table model rendered as Markdown, CSV, LaTeX (booktabs) or HTML.

Cells hold numbers (or ``None`` for a missing cell, shown as "—", never dropped). Columns know their
direction (↑ higher is better / ↓ lower is better); the best value of each column is bold.
"""

from __future__ import annotations

import csv
import html
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

MISSING = "—"


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
            text = f"{value:.{col.digits}f}"
            return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.00"
        return str(value)

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
        writer.writerow([self.row_title] + [c.header for c in self.columns])
        for row in self.rows:
            writer.writerow(
                [row.get(self.row_key, "")]
                + [
                    ""
                    if (v := row.get(c.key)) is None or (isinstance(v, float) and math.isnan(v))
                    else (repr(v) if isinstance(v, float) else v)
                    for c in self.columns
                ]
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
                parts.append(f"<td><b>{text}</b></td>" if self._is_best(row, col, best) else f"<td>{text}</td>")
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
