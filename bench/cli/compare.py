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

Then every run record under ``--runs`` (default: the output folder), i.e. the stored records of the
built-in derainers, is rendered with the new ones into the paper's Tables 4-6.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SUITE_TASKS: tuple[str, ...] = ("restoration", "noref", "detection", "semantic", "instance")
RESTORATION_METRICS: tuple[str, ...] = ("psnr_y", "ssim_y", "fsim")
NOREF_METRICS: tuple[str, ...] = ("niqe", "sseq")
QUICK_LIMIT = 2
#: The ESPNetv2 Cityscapes weights the default segmenter needs (relative to the weights root).
ESPNETV2_WEIGHTS = "semseg/espnetv2_s_2.0_city_1024x512.pth"


@dataclass
class SuiteRun:
    """One planned run of the suite.

    Attributes:
        task: Task name.
        dataset: Dataset name or folder.
        why: Why this run is in the suite (shown in the plan).
        metrics: Metric names (empty: the task's default).
        crop_multiple: Top-left crop multiple of the run.
        options: Task options (evaluator, ...).
        fallback: A dataset to use instead when this one cannot be built.
    """

    task: str
    dataset: str
    why: str
    metrics: list[str] = field(default_factory=list)
    crop_multiple: int = 1
    options: dict[str, Any] = field(default_factory=dict)
    fallback: str | None = None


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
    add(p, "runs", help="stored records to compare with (searched recursively; default: the output dir)")
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


# ---------------------------------------------------------------------------------------------- plan
def _paired_specs() -> list[Any]:
    from bench.data.catalog import DatasetSpec
    from bench.registries import DATASETS

    specs = []
    for entry in DATASETS.entries():
        spec = DATASETS.get(entry.name)
        if isinstance(spec, DatasetSpec):
            specs.append(spec)
    return specs


def plan_suite(args: argparse.Namespace) -> tuple[list[SuiteRun], list[str]]:
    """The runs of the standard suite for the configured data, and notes on what was skipped.

    Example:
        >>> ns = argparse.Namespace(data_root=None, tasks=["restoration", "detection"], detector="face_cascade",
        ...                         segmenter=None, crop_multiple=8)
        >>> runs, notes = plan_suite(ns)
        >>> [(r.task, r.dataset) for r in runs]
        [('detection', 'embedded')]
    """
    from bench.data.catalog import DatasetSpec
    from bench.paths import MissingDataError, data_root, weights_root

    runs: list[SuiteRun] = []
    notes: list[str] = []
    root = data_root(args.data_root)
    specs: list[DatasetSpec] = _paired_specs()

    def present(spec: DatasetSpec) -> bool:
        try:
            spec.resolve(args.data_root)
        except MissingDataError:
            return False
        return True

    by_name = {s.name: s for s in specs}
    weights = weights_root(args.data_root)
    has_espnet = weights is not None and (weights / ESPNETV2_WEIGHTS).is_file()
    if root is None and any(t in args.tasks for t in ("restoration", "noref", "semantic")):
        notes.append(
            "no data root configured (--data-root or BENCH_DATA): restoration, noref and semantic "
            "are skipped; detection runs on the embedded photos"
        )
    if "restoration" in args.tasks and root is not None:
        paired = [s for s in specs if s.kind == "paired"]
        found = [s for s in paired if present(s)]
        for spec in found:
            runs.append(
                SuiteRun(
                    "restoration",
                    spec.name,
                    f"paired set {spec.relpath}",
                    metrics=list(RESTORATION_METRICS),
                    crop_multiple=args.crop_multiple,
                )
            )
        missing = [s.name for s in paired if s not in found]
        if missing:
            notes.append(f"restoration: not found under {root}: {', '.join(missing)} (see docs/datasets.md)")
    if "noref" in args.tasks and root is not None:
        real = [s for s in specs if s.kind == "real"]
        for spec in real:
            if present(spec):
                runs.append(
                    SuiteRun("noref", spec.name, f"real rainy photos {spec.relpath}", metrics=list(NOREF_METRICS))
                )
            else:
                notes.append(f"noref: {spec.name} not found at {root / spec.relpath}")
    if "detection" in args.tasks:
        options = {"evaluator": args.detector} if args.detector else {}
        coco8 = by_name.get("coco8")
        if root is not None and coco8 is not None and present(coco8):
            runs.append(
                SuiteRun(
                    "detection",
                    "coco8",
                    "labelled coco8 with seeded synthetic rain",
                    options=options,
                    fallback="embedded",
                )
            )
        else:
            notes.append("detection: coco8 not found; using the embedded scikit-image photos (pseudo labels)")
            runs.append(
                SuiteRun("detection", "embedded", "embedded photos with seeded synthetic rain", options=options)
            )
    if "semantic" in args.tasks and root is not None:
        city = by_name.get("RainCityscapes")
        if city is None or not present(city):
            notes.append("semantic: RainCityscapes not found")
        elif args.segmenter is None and not has_espnet:
            notes.append(
                f"semantic: ESPNetv2 weights not found ({ESPNETV2_WEIGHTS} under the weights root); "
                "pass --segmenter NAME to use another segmenter"
            )
        else:
            options = {"evaluator": args.segmenter} if args.segmenter else {}
            runs.append(
                SuiteRun(
                    "semantic",
                    "RainCityscapes",
                    "RainCityscapes pairs, pseudo labels from the clean images",
                    options=options,
                )
            )
    for folder in getattr(args, "sets", None) or []:
        item = _set_run(Path(folder), args, has_segmenter=args.segmenter is not None or has_espnet)
        if isinstance(item, str):
            notes.append(item)
        else:
            runs.append(item)
    return runs, notes


def set_kind(folder: Path) -> str | None:
    """The downstream task of a built set: its manifest's ``kind``, else from its label folders.

    Example:
        >>> set_kind(Path("/nonexistent")) is None
        True
    """
    import json

    manifest = folder / "manifest.json"
    if manifest.is_file():
        try:
            kind = json.loads(manifest.read_text(encoding="utf-8")).get("kind")
        except (OSError, ValueError):
            kind = None
        if kind in ("detection", "instance", "semantic"):
            return str(kind)
    if (folder / "masks").is_dir():
        return "semantic"
    if (folder / "labels").is_dir() or (folder / "annotations.json").is_file():
        return "detection"
    return None


def _set_run(folder: Path, args: argparse.Namespace, *, has_segmenter: bool) -> SuiteRun | str:
    """A run for one ``--sets`` folder, or a note saying why it is skipped."""
    if not folder.is_dir():
        return f"set {folder}: not a folder"
    kind = set_kind(folder)
    if kind is None:
        return f"set {folder}: no manifest.json kind, masks/, labels/ or annotations.json; cannot tell its task"
    if kind not in args.tasks and not (kind == "instance" and "detection" in args.tasks):
        return f"set {folder}: a {kind} set, but --tasks excludes {kind}"
    options: dict[str, Any] = {}
    if kind == "detection" and args.detector:
        options["evaluator"] = args.detector
    if kind == "semantic":
        if not has_segmenter:
            return f"set {folder}: semantic, but no segmenter (ESPNetv2 weights missing; pass --segmenter NAME)"
        if args.segmenter:
            options["evaluator"] = args.segmenter
    return SuiteRun(kind, str(folder), f"built {kind} set {folder.name}", options=options)


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
