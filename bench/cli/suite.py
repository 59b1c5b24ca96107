"""The standard suite of ``bench compare``: which runs the configured data allows, and what is skipped (and why)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

    Example (with no data installed, only the embedded set runs):
        >>> import tempfile
        >>> ns = argparse.Namespace(data_root=tempfile.mkdtemp(), tasks=["restoration", "detection"],
        ...                         detector="face_cascade", segmenter=None, crop_multiple=8)
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
        return f"set {folder}: a {kind} set, but --task excludes {kind}"
    options: dict[str, Any] = {}
    if kind == "detection" and args.detector:
        options["evaluator"] = args.detector
    if kind == "semantic":
        if not has_segmenter:
            return f"set {folder}: semantic, but no segmenter (ESPNetv2 weights missing; pass --segmenter NAME)"
        if args.segmenter:
            options["evaluator"] = args.segmenter
    return SuiteRun(kind, str(folder), f"built {kind} set {folder.name}", options=options)
