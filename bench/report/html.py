"""A self-contained HTML report page: tables, visual comparison grids and plots (base64 PNG, no links out).

Example:
    >>> from bench.report.paper import requested_tables
    >>> page = render_page([], requested_tables([], table="5"))
    >>> page.startswith("<!DOCTYPE html>") and "<table" in page
    True
"""

from __future__ import annotations

import base64
import html
import logging
from collections.abc import Sequence
from typing import Any

from bench.report.grouping import titled_groups
from bench.report.table import Table

logger = logging.getLogger(__name__)

Record = dict[str, Any]

#: Most data columns of one HTML table (Table 6 with the paper's columns has ~35): more go into a second part.
MAX_COLUMNS = 16

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1800px}
h1{font-size:1.6em}h2{font-size:1.3em;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:2em}
h3{font-size:1.05em}
table.bench{border-collapse:collapse;margin:12px 0;font-size:12px}
table.bench caption{caption-side:top;text-align:left;font-weight:600;padding:4px 0}
table.bench th,table.bench td{border:1px solid #ddd;padding:3px 5px}
table.bench thead th{background:#f3f3f3;vertical-align:bottom;max-width:96px;overflow-wrap:anywhere;font-weight:600}
table.bench td{text-align:right;font-variant-numeric:tabular-nums}
table.bench tbody th,table.bench td.col0{text-align:left;font-weight:500;white-space:nowrap}
table.bench b{color:#0b5394}
p.note{font-size:12px;color:#555;margin:2px 0}
.scroll{overflow-x:auto}
table.grid{border-collapse:collapse}table.grid td{padding:3px;text-align:center;font-size:11px;vertical-align:top}
table.grid th{font-size:12px;padding:3px}
img.plot{margin:8px 16px 8px 0;border:1px solid #eee}
"""


def data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for embedding."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _img(png: bytes, alt: str, cls: str = "") -> str:
    cls_attr = f" class='{cls}'" if cls else ""
    return f"<img{cls_attr} alt='{html.escape(alt, quote=True)}' src='{data_uri(png)}'>"


def grids_html(records: Sequence[Record], n_examples: int = 3) -> str:
    """The visual comparison section (empty string when no record saved images)."""
    from bench.report.grids import comparison_grid

    parts: list[str] = []
    for (task, dataset), recs in titled_groups(records).items():
        try:
            grid = comparison_grid(recs, n_examples=n_examples)
        except (OSError, ValueError) as err:  # a broken image folder must not lose the whole report
            logger.warning("comparison grid for %s/%s failed: %s", task, dataset, err)
            parts.append(f"<p class='note'>{html.escape(f'{task} on {dataset}: grid failed: {err}')}</p>")
            continue
        if grid is None:
            continue
        parts.append(f"<h3>{html.escape(grid.title)}</h3>")
        if grid.rows:
            header = "".join(f"<th>{html.escape(label)}</th>" for label, _, _ in grid.rows[0].cells)
            parts.append(f"<div class='scroll'><table class='grid'><thead><tr><th>id</th>{header}</tr></thead><tbody>")
            for row in grid.rows:
                parts.append(f"<tr><th>{html.escape(row.item_id)}</th>")
                for label, png, caption in row.cells:
                    body = _img(png, f"{label} {row.item_id}") if png else "—"
                    parts.append(f"<td>{body}<br>{html.escape(caption)}</td>")
                parts.append("</tr>")
            parts.append("</tbody></table></div>")
        parts += [f"<p class='note'>{html.escape(n)}</p>" for n in grid.notes]
    return "".join(parts)


def plots_html(records: Sequence[Record]) -> str:
    """The plots section: restoration bars, and per downstream set PSNR-vs-gain and per-condition bars."""
    from bench.report.figures import conditions_plot, psnr_vs_gain_plot, restoration_plots

    parts: list[str] = []
    for alt, image in restoration_plots(records):
        parts.append(_img(image, alt, "plot"))
    for (task, dataset), recs in titled_groups(records).items():
        if task not in ("detection", "instance", "semantic", "noref"):
            continue
        for fn, what in ((psnr_vs_gain_plot, "PSNR vs downstream gain"), (conditions_plot, "metric by condition")):
            png = fn(recs)
            if png:
                parts.append(_img(png, f"{task} on {dataset}: {what}", "plot"))
    from bench.report.conditions import condition_figures

    for alt, image in condition_figures(records):  # precision-recall by time of day / rain preset
        parts.append(_img(image, alt, "plot"))
    return "".join(parts)


def render_page(
    records: Sequence[Record], tables: Sequence[Table], title: str = "bench report", n_examples: int = 3
) -> str:
    """A self-contained HTML page with ``tables``, comparison grids and plots from ``records``.

    Args:
        records: The run records (for grids and plots).
        tables: Tables already built (e.g. by :func:`bench.report.paper.requested_tables`).
        title: Page title.
        n_examples: Example images per grid.

    Returns:
        The HTML document as a string.
    """
    from bench.report.published import load_published

    pub = load_published()
    created = sorted({str(r.get("created", ""))[:10] for r in records if r.get("created")})
    gits = sorted({str((r.get("env") or {}).get("git") or "?")[:10] for r in records})
    summary = (
        f"{len(records)} run record(s)"
        + (f", created {created[0]} … {created[-1]}" if created else "")
        + (f", bench git {', '.join(gits)}" if records else "")
        + ". Nothing on this page was recomputed: "
        "tables are views of the stored records; published numbers are from "
        f"{pub.citation('mspfn')}"
    )
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p>{html.escape(summary)}</p>",
        "<p class='note'>Bold: best per column (the Clean upper bound is never bold). ↑ higher is better, "
        "↓ lower is better; Δ columns carry the metric's arrow and are not ranked. — marks a missing cell.</p>",
        "<h2 id='tables'>Tables</h2>",
    ]
    for table in tables:  # wide tables in parts of MAX_COLUMNS, so that a 1400 px window never scrolls sideways
        parts += [f"<div class='scroll'>{part.to_html()}</div>" for part in table.column_parts(MAX_COLUMNS)]
    from bench.report.breakdown import ap_tables

    breakdown = ap_tables(records)
    if breakdown:
        parts.append("<h2 id='ap-breakdown'>Per-class AP and AP by object size</h2>")
        parts += [f"<div class='scroll'>{t.to_html()}</div>" for t in breakdown]
    grids = grids_html(records, n_examples=n_examples)
    parts.append("<h2 id='examples'>Visual comparison</h2>")
    parts.append(grids or "<p class='note'>No record saved derained images (run with --save-images).</p>")
    plots = plots_html(records)
    parts.append("<h2 id='plots'>Plots</h2>")
    parts.append(plots or "<p class='note'>No plottable records.</p>")
    parts.append("</body></html>")
    return "".join(parts)
