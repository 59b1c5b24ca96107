"""``bench merge SHARD_RECORD... [--output FILE]`` or ``bench merge --runs DIR``: combine shard records.

Each ``bench run --shard i/n`` writes a record and a ``.state.npz`` beside it. Merging the n records
gives the record of the unsharded run (same metrics to the last digit, rows in natural order); see
``docs/scaling.md`` for torchrun and SLURM recipes. Shards that do not cover their selection (one missing,
an item lost) are refused, since the merged record would read as the whole run; ``--allow-partial`` merges
them into a record marked ``partial`` (named ``...-partial.json``) and says what it lacks.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, cast

EXAMPLES = (
    "bench merge runs/restoration-Rain100L-mspfn-shard-1-of-2-*.json runs/restoration-Rain100L-mspfn-shard-2-of-2-*.json",
    "bench merge --runs runs            # every complete set of shards under runs/",
    "bench merge runs/*-shard-*-of-4-*.json --output merged/run.json",
)


def add_parser(sub: argparse._SubParsersAction, help_text: str) -> None:
    from bench.cli.options import add, add_deprecated, command_parser

    p = command_parser(
        sub,
        "merge",
        help_text,
        description=(
            "Each bench run --shard i/n writes a record and a .state.npz beside it. Merging the n records gives "
            "the record of the unsharded run (same metrics to the last digit, rows in natural order); see "
            "docs/scaling.md for torchrun and SLURM recipes."
        ),
        examples=EXAMPLES,
    )
    p.add_argument("records", nargs="*", metavar="SHARD_RECORD", help="the shard records (.json) of one run")
    add(p, "output", help="merged record file (default: beside the shards, named like the unsharded run)")
    add_deprecated(p, "-O", dest="output", new="--output")
    add(p, "runs", help="instead of listing records: merge every complete set of shard records under this folder")
    p.add_argument(
        "--allow-partial",
        action="store_true",
        help="merge shards that do not cover their selection (missing shards, lost items) into a record "
        "marked partial (named ...-partial.json) instead of refusing them",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench.report.tables import render_run_summary
    from bench.results.merge import MergeError, find_shard_groups, merge_shards
    from bench.results.record import RecordError
    from bench.results.state import StateError

    if bool(args.records) == bool(args.runs):
        raise ValueError("give either shard record files or --runs DIR")
    if args.runs:
        if args.output:
            raise ValueError("--output goes with explicit shard records, not with --runs")
        groups = list(find_shard_groups(args.runs).values())
        if not groups:
            raise ValueError(f"no shard records (config.shard set) under {args.runs}")
    else:
        groups = [list(args.records)]
        if args.output:
            from bench.cli.checks import check_output_file

            check_output_file(args.output)
    merged, failed = [], 0
    for paths in groups:
        try:
            path, record = merge_shards(paths, args.output, allow_partial=args.allow_partial)
        except (MergeError, StateError, RecordError) as err:  # --runs: one bad group does not stop the others
            if not args.runs:
                raise
            failed += 1
            sys.stderr.write(f"error: {err}\n")
            continue
        record["_path"] = str(path)
        merged.append(record)
        if record.get("partial"):
            sys.stderr.write(f"merged {len(paths)} shards into a record marked partial ({_lacks(record)}): {path}\n")
        else:
            sys.stderr.write(f"merged {len(paths)} shards: {path}\n")
    if merged:
        # the report layer reads records as plain dicts (which RunRecords are at run time)
        sys.stdout.write(render_run_summary(cast(list[dict[str, Any]], merged)) + "\n")
    return 1 if failed else 0


def _lacks(record: Any) -> str:
    """What a partial merged record lacks, in words: ``shard(s) 1/3 missing; 5 of 7 items``."""
    missing = record.get("missing_shards") or []
    lost = record.get("unaccounted_ids") or []
    expected = record.get("expected_items")
    merged = int(record["dataset"].get("n_items", 0)) - len(lost)
    parts = [f"shard(s) {', '.join(missing)} missing"] if missing else []
    parts += [f"{len(lost)} item(s) neither scored nor skipped"] if lost else []
    return "; ".join([*parts, f"{merged} of {expected} items" if expected is not None else f"{merged} items"])
