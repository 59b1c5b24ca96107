"""``bench report``: tables from stored run records (nothing is recomputed)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, cast


def add_parser(sub: argparse._SubParsersAction, help_text: str) -> None:
    p = sub.add_parser(
        "report",
        help=help_text,
        description=("Render stored run records as tables (Markdown, CSV, LaTeX, HTML). Nothing is recomputed."),
    )
    p.add_argument(
        "--runs", default=None, help="folder (searched recursively) or record file (default $BENCH_RUNS or ./runs)"
    )
    p.add_argument(
        "--format",
        "-f",
        default="markdown",
        choices=("markdown", "csv", "latex", "html"),
        help="html: one self-contained page with the tables, comparison grids and plots",
    )
    p.add_argument("--output", "-O", default=None, help="write to this file instead of stdout")
    p.add_argument("--csv", default=None, help="also write the table(s) as CSV to this file")
    p.add_argument(
        "--table",
        default=None,
        help="paper table(s) to reproduce next to the records: 4, 5, 6, 2, 3, a comma list or 'all' "
        "(= 4,5,6; the default with --format html)",
    )
    p.add_argument("--pivot", default=None, help="free-form pivot: ROWS:COLUMNS:VALUE, e.g. derainer:dataset:psnr_y")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench.paths import runs_root
    from bench.report.downstream import downstream_table
    from bench.report.tables import records_table
    from bench.results.record import find_records

    root = Path(args.runs) if args.runs else runs_root()
    if not root.exists():
        raise FileNotFoundError(f"no run records: {root} does not exist (run `bench run ...` first)")
    found = [rec for _, rec in find_records(root)]
    if not found:
        raise FileNotFoundError(f"no run records found under {root}")
    if args.table or args.pivot or args.format == "html":
        from bench.report.paper import render_requested

        table = args.table or ("all" if args.format == "html" and not args.pivot else None)
        # the report layer reads records as plain dicts (which RunRecords are at run time)
        records = cast(list[dict[str, Any]], found)
        text, csv_text = render_requested(records, table=table, pivot=args.pivot, fmt=args.format)
    else:
        groups: dict[tuple[str, str], list] = {}
        for rec in found:
            groups.setdefault((rec["task"], rec["dataset"].get("name", "?")), []).append(rec)
        tables = [
            records_table(recs) if task == "restoration" else downstream_table(recs)
            for (task, _), recs in sorted(groups.items())
        ]
        text = "\n\n".join(t.render(args.format) for t in tables)
        csv_text = "\n".join(t.to_csv() for t in tables)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")
    if args.csv:
        Path(args.csv).write_text(csv_text, encoding="utf-8")
    return 0
