"""``bench merge SHARD_RECORD... [--output FILE]`` or ``bench merge --runs DIR``: combine shard records.

Each ``bench run --shard i/n`` writes a record and a ``.state.npz`` beside it. Merging the n records
gives the record of the unsharded run (same metrics to the last digit, rows in natural order); see
``docs/scaling.md`` for torchrun and SLURM recipes.
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
            path, record = merge_shards(paths, args.output)
        except (MergeError, StateError, RecordError) as err:  # --runs: one bad group does not stop the others
            if not args.runs:
                raise
            failed += 1
            sys.stderr.write(f"error: {err}\n")
            continue
        record["_path"] = str(path)
        merged.append(record)
        sys.stderr.write(f"merged {len(paths)} shards: {path}\n")
    if merged:
        # the report layer reads records as plain dicts (which RunRecords are at run time)
        sys.stdout.write(render_run_summary(cast(list[dict[str, Any]], merged)) + "\n")
    return 1 if failed else 0
