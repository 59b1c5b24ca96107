"""``bench compare --derainer NAME [NAME...]``: run the standard suite for derainers, place them in Tables 4-6.

The suite adapts to the data that is configured and says what it skipped and why:

* ``restoration`` on every paired set of the catalogue found under the data root (RainTrainL,
  RainCityscapes, Rain100L/H, Test100, ...) with ``psnr_y``, ``ssim_y``, ``fsim`` and the paper's top-left
  crop to a multiple of 8 (``--quantize round`` like every command; pass ``--quantize trunc`` for the
  PReNet/MSPFN test scripts' ``uint8(255*x)``);
* ``noref`` (NIQE, SSEQ) on the real rainy photos (Real147) when present (Table 5);
* ``detection`` on rainy coco8 (rain rendered once, cached) when present, else on the embedded
  scikit-image photos, with the task's default detector unless ``--detector`` is given (Table 6);
* ``semantic`` on RainCityscapes when the ESPNetv2 Cityscapes weights exist (or ``--segmenter`` is given).

Then every run record under the output folder (and under ``--runs``, if given), i.e. the stored records of the
built-in derainers, is rendered with the new ones into the paper's Tables 4-6.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from bench.cli.suite import QUICK_LIMIT, SUITE_TASKS, SuiteRun, plan_suite, set_kind

logger = logging.getLogger(__name__)

__all__ = ["SUITE_TASKS", "SuiteRun", "plan_suite", "run", "run_suite", "set_kind"]

EXAMPLES = (
    "bench compare --derainer guided_residual --limit 20",
    "bench compare --derainer my_model.py:MyDerainer --quick --output-dir runs/try",
    "bench compare --derainer prenet mspfn_light --task restoration --quantize trunc",
    "bench compare --derainer mspfn_light --sets sets/coco350 --detector yolo",
)


def add_parser(sub: argparse._SubParsersAction, help_text: str) -> None:
    from bench.cli.options import add, add_deprecated, command_parser

    p = command_parser(
        sub,
        "compare",
        help_text,
        description=(
            "Run the standard suite for derainers on whatever data is configured (paired sets: restoration; "
            "real photos: no-reference quality; downstream sets: detection and semantic segmentation), skipping "
            "missing data with a note, then render their rows into the paper's Tables 4-6 next to the stored "
            "records of the other derainers. A part of the suite whose record is complete is recomputed only "
            "with --force."
        ),
        examples=EXAMPLES,
    )
    add(p, "derainer", nargs="+", required=True, help="derainer name(s) or path/to/file.py:Class (one suite each)")
    add(p, "weights")
    add(p, "data_root")
    add(p, "limit", help="only the first N items of every set")
    p.add_argument("--quick", action="store_true", help=f"--limit {QUICK_LIMIT} everywhere (smoke test)")
    add(p, "output_dir", help="where run records and the tables go (default $BENCH_RUNS or ./runs)")
    add(p, "runs", help="more stored records to compare with, besides the output dir's (searched recursively)")
    p.add_argument(
        "--task",
        nargs="+",
        dest="tasks",
        choices=SUITE_TASKS,
        default=list(SUITE_TASKS),
        help="the parts of the suite to run (instance: only from --sets)",
    )
    add_deprecated(p, "--tasks", dest="tasks", new="--task", nargs="+", choices=SUITE_TASKS)
    p.add_argument(
        "--sets",
        nargs="+",
        default=[],
        metavar="DIR",
        help="built downstream sets to add (e.g. the output of bench synth --dataset coco350); the task "
        "comes from the set's manifest.json 'kind', else masks/ = semantic, labels = detection",
    )
    p.add_argument(
        "--detector",
        default=None,
        help="detection evaluator (default: the task's, yolo; e.g. face_cascade, dummy_detector; see bench ls "
        "evaluators)",
    )
    p.add_argument(
        "--segmenter",
        default=None,
        help="semantic evaluator (default: espnetv2, only when its weights exist; e.g. dummy_segmenter)",
    )
    add(p, "quantize")
    add(p, "crop_multiple", default=8, help="restoration: crop pairs top-left to a multiple of K (paper protocol)")
    add(p, "device")
    add(p, "batch_size")
    add(p, "workers")
    add(p, "seed")
    add(p, "format")
    add(p, "output", help="write the tables to this file (default: <output-dir>/compare-<derainer>.<ext>)")
    add_deprecated(p, "-O", dest="output", new="--output")
    add(p, "force", help="recompute parts of the suite whose record is complete (default: reuse them)")
    add(p, "no_progress")
    p.set_defaults(func=run)


# ---------------------------------------------------------------------------------------------- run
def _config(args: argparse.Namespace, item: SuiteRun, dataset: str, limit: int | None, derainer: str) -> Any:
    from bench.tasks.config import RunConfig

    return RunConfig(
        task=item.task,
        derainer=derainer,
        dataset=dataset,
        data_root=args.data_root,
        weights=args.weights,
        limit=limit,
        output_dir=args.output_dir,
        device=args.device,
        seed=args.seed,
        quantize=args.quantize,
        crop_multiple=item.crop_multiple,
        metrics=list(item.metrics),
        batch_size=args.batch_size,
        workers=getattr(args, "workers", 2),
        options=dict(item.options),
    )


def run_suite(args: argparse.Namespace, plan: list[SuiteRun], derainer: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Run the planned runs of one derainer in order; a failing run becomes a note and the rest go on.

    Returns:
        The new records and the notes on failures.
    """
    from bench.api import run_config
    from bench.cli.run import finished_record

    limit = QUICK_LIMIT if args.quick else args.limit
    records: list[dict[str, Any]] = []
    failures: list[str] = []
    for item in plan:
        datasets = [item.dataset] + ([item.fallback] if item.fallback else [])
        for i, dataset in enumerate(datasets):
            sys.stderr.write(f"compare: {derainer}: {item.task} on {dataset} ({item.why})\n")
            config = _config(args, item, dataset, limit, derainer)
            found = None if getattr(args, "force", False) else finished_record(config)
            if found is not None:
                sys.stderr.write(f"compare: complete: reusing {found[0]} (--force recomputes)\n")
                records.append({**found[1], "_path": str(found[0])})
                break
            if getattr(args, "force", False):
                config.resume = False
            try:
                record = run_config(config)
            except Exception as err:
                logger.debug("run failed", exc_info=True)
                message = f"{derainer}: {item.task} on {dataset} failed: {type(err).__name__}: {err}"
                if i + 1 < len(datasets):
                    sys.stderr.write(f"compare: {message}; trying {datasets[i + 1]}\n")
                    continue
                failures.append(message)
                sys.stderr.write(f"compare: {message}\n")
                break
            records.append(dict(record))
            sys.stderr.write(f"record: {record.get('_path')}\n")
            break
    return records, failures


def collect_records(folders: list[Path]) -> list[dict[str, Any]]:
    """Every valid run record under the folders, each file once."""
    from bench.results.record import find_records

    seen: set[Path] = set()
    records: list[dict[str, Any]] = []
    for folder in folders:
        if not folder.exists():
            continue
        for path, rec in find_records(folder):
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                records.append(dict(rec))
    return records


def render_tables(records: list[dict[str, Any]], fmt: str) -> str:
    """Tables 4–6 from the records (``bench.report.paper``)."""
    from bench.report.paper import render_requested

    text, _csv = render_requested(records, table="4,5,6", fmt=fmt)
    return text


def run(args: argparse.Namespace) -> int:

    from bench.cli.checks import check_output_dir, check_output_file
    from bench.factory import get_factory
    from bench.paths import runs_root

    for name in args.derainer:
        get_factory(name)  # fail fast on a misspelt name
    out_dir = runs_root(args.output_dir)
    check_output_dir(out_dir)
    ext = {"markdown": "md", "csv": "csv", "latex": "tex", "html": "html"}[args.format]
    stem = "+".join(_safe(name) for name in args.derainer)
    target = Path(args.output) if args.output else out_dir / f"compare-{stem}.{ext}"
    check_output_file(target)
    if args.no_progress:
        os.environ["BENCH_PROGRESS"] = "0"  # read by bench.progress in the task loops
    plan, notes = plan_suite(args)
    for note in notes:
        sys.stderr.write(f"compare: skipped: {note}\n")
    records: list[dict[str, Any]] = []
    failures: list[str] = []
    for name in args.derainer:
        new, failed = run_suite(args, plan, name)
        records += new
        failures += failed
    folders = [out_dir] + ([Path(args.runs)] if args.runs else [])
    all_records = collect_records(folders)
    if not all_records:
        all_records = records
    names = sorted({str((r.get("derainer") or {}).get("name")) for r in all_records})
    done = ", ".join(f"{r.get('task')} on {(r.get('dataset') or {}).get('name')}" for r in records) or "none"
    lines = [f"Standard suite for {', '.join(args.derainer)}: {len(records)} run(s) ({done})."]
    lines += [f"Skipped: {n}." for n in notes]
    lines += [f"Failed: {f}." for f in failures]
    lines.append(f"Derainers in these tables: {', '.join(names)} (records under {', '.join(map(str, folders))}).")
    text = render_tables(all_records, args.format)
    if args.format == "markdown":
        text = "\n".join(f"> {line}" for line in lines) + "\n\n" + text
    target.write_text(text + "\n", encoding="utf-8")
    sys.stdout.write(text + "\n")
    sys.stderr.write(f"tables: {target}\n")
    return 1 if failures else 0


def _safe(name: str) -> str:
    stem = Path(name.partition(":")[2] or name).name if ".py" in name else name
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in stem)
