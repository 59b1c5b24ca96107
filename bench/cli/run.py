"""``bench run --derainer NAME [NAME...] --task TASK --dataset SET``: one run record per derainer."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from bench.cli.options import add_run_arguments, command_parser, parse_options

EXAMPLES = (
    "bench run --derainer identity mspfn_light --dataset RainTrainL --limit 20",
    "bench run --derainer prenet --dataset Rain100L --quantize trunc --crop-multiple 8 > table.md",
    "bench run --derainer mspfn_light --task detection --dataset coco8 -o evaluator=yolo",
    "bench run --derainer mspfn --dataset sets/coco350 --task detection --device cuda --shard auto",
)


def add_parser(sub: argparse._SubParsersAction, help_text: str) -> None:
    p = command_parser(
        sub,
        "run",
        help_text,
        description=(
            "Derain a dataset with one or more derainers, evaluate (restoration metrics or a downstream task), "
            "print a table on stdout and write one run record (JSON) per derainer. An identical run whose "
            "record is complete is reused (--force recomputes it); an interrupted one resumes."
        ),
        examples=EXAMPLES,
    )
    p.add_argument(
        "--task",
        default=None,
        help="restoration | detection | instance | semantic | noref (default: the named set's own task, "
        "shown by 'bench ls datasets': restoration for paired sets and folders, noref for real photos, "
        "detection for coco8; with no --dataset, detection on the embedded photos)",
    )
    add_run_arguments(p)
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace, derainer: str, task: str):  # -> RunConfig
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


def finished_record(config: Any) -> tuple[Path, dict[str, Any]] | None:
    """The complete record of an identical earlier run in the output folder (same protocol, same data root).

    A record is written only when its run has finished, together with its state file; both must be there.
    """
    from bench.paths import data_root, runs_root
    from bench.results.record import RecordError, read_record
    from bench.results.state import state_path
    from bench.tasks.config import RunConfig

    folder = runs_root(config.output_dir)
    if not folder.is_dir():
        return None
    wanted = config.protocol()
    root = data_root(config.data_root)
    fields = set(RunConfig.__dataclass_fields__)
    for path in sorted(folder.glob(f"{config.task}-*.json")):
        try:
            record = read_record(path)
            stored = record.get("config", {})
            old = RunConfig(**{k: v for k, v in stored.items() if k in fields})
        except (RecordError, TypeError, ValueError, OSError):
            continue
        if old.protocol() == wanted and data_root(old.data_root) == root and state_path(path).is_file():
            return path, dict(record)
    return None


def run(args: argparse.Namespace) -> int:
    from bench.api import default_task_and_dataset, run_config
    from bench.cli.checks import check_dataset_path, check_output_dir
    from bench.factory import get_factory
    from bench.paths import runs_root
    from bench.registries import TASKS
    from bench.report.tables import render_run_summary

    task, args.dataset = default_task_and_dataset(args.task, args.dataset)  # unknown task names raise here
    # every name and path is checked before the output folder is made or a model loaded
    for name in args.derainer:
        get_factory(name)
    check_dataset_path(args.dataset, args.data_root)
    check_output_dir(runs_root(args.output_dir))
    if args.no_progress:
        os.environ["BENCH_PROGRESS"] = "0"  # read by bench.progress in the task loops
    records: list[dict[str, Any]] = []
    for name in args.derainer:
        config = config_from_args(args, name, TASKS.canonical(task))
        found = None if args.force else finished_record(config)
        if found is not None and config.save_images and not (found[0].parent / "images" / found[0].stem).is_dir():
            found, config.resume = None, False  # the record is there, its images are not: run again to write them
        if found is not None:
            path, record = found
            record["_path"] = str(path)
            sys.stderr.write(f"complete: {path} is this run's record; reusing it (--force recomputes)\n")
        else:
            if args.force:
                config.resume = False
            record = dict(run_config(config))
            sys.stderr.write(f"record: {record.get('_path')}\n")
        records.append(record)
    sys.stdout.write(render_run_summary(records) + "\n")
    from bench.report.common import issues_note

    note = issues_note(records)  # files left out while listing the set (unpaired, ...) get said too
    if note:
        sys.stderr.write(f"warning: {note}\n")
    return 0
