"""``bench report``: tables from stored run records (no model is rerun).

``--ci`` adds 95 % paired-bootstrap intervals (the records' stored ones) and a table of paired comparisons
between derainers computed from the stored per-image data; ``--power`` the images needed to detect a
1 pp mAP / 0.1 dB PSNR difference (docs/statistics.md). ``--conditions`` (always on in HTML) splits
detection/instance records by the images' time of day and rain preset, with confidence sweeps, rescored
from the stored detections (bench.report.conditions).

A table only ever holds records of one dataset identity, protocol and image subset (shards left out,
duplicates collapsed, each with a note; ``--allow-mixed`` overrides); Tables 4 and 5 use the paper's compact
layout, and every table's Markdown is cut into parts that fit 120 columns, unless ``--wide``. ``--format html``
to a terminal is refused: give ``--output FILE`` (docs/results.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, cast

EXAMPLES = (
    "bench report --runs runs > tables.md",
    "bench report --runs runs --table 4,5,6 --format latex --output tables.tex",
    "bench report --runs runs --table 6 --conditions --ci --holm",
    "bench report --runs runs --format html --output report.html",
)


def add_parser(sub: argparse._SubParsersAction, help_text: str) -> None:
    from bench.cli.options import add, add_deprecated, command_parser

    p = command_parser(
        sub,
        "report",
        help_text,
        description="Render stored run records as tables (Markdown, CSV, LaTeX, HTML). Nothing is recomputed.",
        examples=EXAMPLES,
    )
    add(p, "runs", help="folder (searched recursively) or record file (default $BENCH_RUNS or ./runs)")
    add(p, "format", help="html: one self-contained page with the tables, comparison grids and plots")
    add(p, "output", help="write to this file instead of stdout")
    add_deprecated(p, "-O", dest="output", new="--output")
    p.add_argument("--csv", default=None, metavar="FILE", help="also write the table(s) as CSV to this file")
    p.add_argument(
        "--table",
        default=None,
        help="paper table(s) to reproduce next to the records: 4, 5, 6, 2, 3, a comma list or 'all' "
        "(= 4,5,6; the default with --format html)",
    )
    p.add_argument("--pivot", default=None, help="free-form pivot: ROWS:COLUMNS:VALUE, e.g. derainer:dataset:psnr_y")
    p.add_argument(
        "--wide",
        action="store_true",
        help="Tables 4 and 5 as one block per dataset with ours, paper and Δ columns (default: the paper's compact "
        "layout); Markdown tables whole (default: cut into parts that fit 120 columns)",
    )
    p.add_argument(
        "--conditions",
        action="store_true",
        help="detection/instance records whose rows name image conditions (built sets): P, R, IoU and mAP "
        "per time of day and rain preset, and confidence sweeps, rescored from the stored detections "
        "(always on with --format html, which also draws precision-recall curves)",
    )
    p.add_argument(
        "--allow-mixed",
        action="store_true",
        help="put records of one dataset in one table even when their protocol or scored images differ "
        "(a column says which; nothing is ranked). Default: one table per protocol and image subset",
    )
    stats = p.add_argument_group("statistics (docs/statistics.md)")
    stats.add_argument(
        "--ci",
        action="store_true",
        help="95%% paired-bootstrap intervals: value ± half-width (CSV: [lo, hi] columns), gains whose interval "
        "excludes 0 marked *, and a table of paired comparisons between derainers",
    )
    stats.add_argument("--holm", action="store_true", help="with --ci: mark gains by Holm-adjusted p-values")
    stats.add_argument(
        "--power",
        action="store_true",
        help="images needed to detect a 1 pp mAP / 0.1 dB PSNR difference, from the observed per-image variance",
    )
    stats.add_argument("--ci-resamples", type=int, default=None, help="bootstrap resamples (default 1000)")
    stats.add_argument("--ci-seed", type=int, default=None, help="seed of the resampled images (default 0)")
    stats.add_argument("--ci-method", choices=("percentile", "bca"), default=None, help="interval (default percentile)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench.cli.checks import check_output_file
    from bench.paths import runs_root
    from bench.results.record import find_records

    for flag, target in (("--output", args.output), ("--csv", args.csv)):
        if target:
            check_output_file(target, flag)
    root = Path(args.runs) if args.runs else runs_root()
    if not root.exists():
        raise FileNotFoundError(f"no run records: {root} does not exist (run `bench run ...` first)")
    found = []
    for path, rec in find_records(root):
        rec["_path"] = str(path)  # where the per-image data (state sidecar) lies
        found.append(rec)
    if not found:
        raise FileNotFoundError(f"no run records found under {root}")
    # the report layer reads records as plain dicts (which RunRecords are at run time)
    records = cast(list[dict[str, Any]], found)
    if args.format == "html" and not args.output and sys.stdout.isatty():
        raise ValueError(
            "--format html writes a whole page (hundreds of kB): give --output FILE, e.g. "
            "`bench report --format html --output report.html`, or redirect stdout"
        )
    extra = _statistics_tables(records, args)
    if args.conditions or args.format == "html":
        from bench.report.conditions import condition_tables

        extra += condition_tables(records)
    from bench.report.paper import render_requested

    table = args.table or ("all" if args.format == "html" and not args.pivot else None)
    text, csv_text = render_requested(
        records,
        table=table,
        pivot=args.pivot,
        fmt=args.format,
        ci=args.ci,
        use_holm=args.holm,
        extra=extra,
        wide=args.wide,
        allow_mixed=args.allow_mixed,
    )
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")
    if args.csv:
        Path(args.csv).write_text(csv_text, encoding="utf-8")
    return 0


def _statistics_tables(records: list[dict[str, Any]], args: argparse.Namespace) -> list[Any]:
    """With --ci or --power: intervals for every record (stored, else from its per-image data) and the
    paired-comparison / power tables."""
    if not (args.ci or args.power):
        return []
    from bench.report.comparisons import all_comparisons, comparison_tables, power_tables
    from bench.report.intervals import ensure_intervals
    from bench.stats.bootstrap import BootstrapSettings

    default = BootstrapSettings()
    settings = BootstrapSettings(
        n_resamples=args.ci_resamples if args.ci_resamples is not None else default.n_resamples,
        seed=args.ci_seed if args.ci_seed is not None else default.seed,
        method=args.ci_method or default.method,
    )
    computed = all_comparisons(records, settings)  # fills in missing intervals from the same per-image data
    ensure_intervals(records, settings)  # records left out of the comparisons (no per-image data) keep what they have
    tables: list[Any] = comparison_tables(computed, settings, use_holm=args.holm) if args.ci else []
    return tables + (power_tables(computed) if args.power else [])
