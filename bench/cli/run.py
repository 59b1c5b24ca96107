"""``bench run --derainer NAME [NAME...] --task TASK --dataset SET``: one run record per derainer."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bench.cli.options import add_run_arguments, parse_options


def add_parser(sub: argparse._SubParsersAction, help_text: str) -> None:
    p = sub.add_parser(
        "run",
        help=help_text,
        description=(
            "Derain a dataset with one or more derainers, evaluate (restoration metrics or a downstream task), "
            "print a table and write one run record (JSON) per derainer."
        ),
    )
    p.add_argument(
        "--task",
        default=None,
        help="restoration | detection | instance | semantic | noref (default: detection when no "
        "--dataset is given, else restoration for paired sets)",
    )
    add_run_arguments(p)
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace, derainer: str, task: str):  # -> RunConfig
    """The :class:`bench.tasks.config.RunConfig` of one derainer's run from parsed arguments."""
    from bench.tasks.config import RunConfig, parse_ids

    return RunConfig(
        task=task,
        derainer=derainer,
        dataset=args.dataset,
        data_root=args.data_root,
        weights=args.weights,
        limit=args.limit,
        ids=parse_ids(getattr(args, "ids", None)),
        output_dir=args.output_dir,
        device=args.device,
        seed=args.seed,
        quantize=args.quantize,
        crop_multiple=args.crop_multiple,
        metrics=list(args.metrics or []),
        tile=args.tile,
        overlap=args.overlap,
        batch_size=args.batch_size,
        precision=args.precision,
        channels_last=args.channels_last,
        save_images=args.save_images,
        workers=args.workers,
        shard=args.shard,
        resume=not args.no_resume,
        options=parse_options(args.option),
        optimize=args.optimize,
    )


def run(args: argparse.Namespace) -> int:
    """Check the arguments, then run each derainer through :func:`bench.api.run_config` (as ``bench.evaluate``)."""
    from bench.api import default_task_and_dataset, run_config
    from bench.cli.checks import check_dataset_path, check_output_dir
    from bench.factory import get_factory
    from bench.paths import runs_root
    from bench.report.tables import render_run_summary

    task, args.dataset = default_task_and_dataset(args.task, args.dataset)
    check_dataset_path(args.dataset)
    check_output_dir(runs_root(args.output_dir))

    for name in args.derainer:  # fail fast on a misspelt name, before any work
        get_factory(name)
    records: list[Any] = []  # RunRecord dicts
    for name in args.derainer:
        record = run_config(config_from_args(args, name, task))
        records.append(record)
        sys.stderr.write(f"record: {record.get('_path')}\n")
    sys.stdout.write(render_run_summary(records) + "\n")
    return 0
