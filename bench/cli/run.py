"""``bench run --derainer NAME [NAME...] --task TASK --dataset SET``: one run record per derainer."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from bench.cli.options import add_run_arguments, command_parser, parse_options

logger = logging.getLogger(__name__)

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
    """The complete record of an identical earlier run in the output folder: same protocol and same
    :func:`bench.tasks.common.run_identity` (weights sha256, resolved data root, bench version).

    A record is written only when its run has finished, together with its state file; both must be there.
    The protocol names the weights by path or tag, which a retrained file keeps, so the identity is compared
    too; a record of the same protocol that differs in it is not reused (the log says why once) and the run
    is done again. The identity is computed only when a record of the protocol is there (it may build the
    derainer to resolve its weights); when it cannot be (weights gone), nothing is reused and the run itself
    reports the error where its caller handles failures (``bench compare`` notes them and goes on).
    """
    from bench.paths import runs_root
    from bench.results.record import RecordError, read_record
    from bench.results.state import state_path
    from bench.tasks.common import identity_changes, record_identity, run_identity
    from bench.tasks.config import RunConfig

    folder = runs_root(config.output_dir)
    if not folder.is_dir():
        return None
    wanted = config.protocol()
    identity: dict[str, Any] | None = None
    fields = set(RunConfig.__dataclass_fields__)
    for path in sorted(folder.glob(f"{config.task}-*.json")):
        try:
            record = read_record(path)
            stored = record.get("config", {})
            old = RunConfig(**{k: v for k, v in stored.items() if k in fields})
        except (RecordError, TypeError, ValueError, OSError):
            continue
        if old.protocol() != wanted or not state_path(path).is_file() or record.get("partial"):
            continue  # a partial merge (bench merge --allow-partial) lacks images: never a finished run
        try:
            identity = run_identity(config) if identity is None else identity
        except Exception as err:  # the weights cannot be resolved now: nothing to reuse; the run says why
            logger.debug("%s: not reusable, the run's weights cannot be resolved (%s)", path, err)
            return None
        why = identity_changes(record_identity(record), identity)
        if why:
            logger.warning("%s: not reusing this record (%s): running again", path, why)
            continue
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
