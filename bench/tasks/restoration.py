"""Task ``restoration``: derain paired rainy/clean sets and score full-reference metrics."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.catalog import resolve_dataset
from bench.data.images import quantize, write_image
from bench.data.paired import DataIssue, PairedDataset
from bench.data.prefetch import prefetch
from bench.metrics.base import StreamingMetric
from bench.results.record import RunRecord, stable_hash, write_record
from bench.results.state import item_arrays, state_path, write_state
from bench.stats.intervals import attach_intervals
from bench.tasks.common import (
    Stopwatch,
    base_record,
    build_engine,
    open_journal,
    output_dir,
    progress,
    record_name,
)
from bench.tasks.config import RunConfig, select_shard

logger = logging.getLogger(__name__)

DEFAULT_METRICS: tuple[str, ...] = ("psnr_y", "ssim_y", "psnr_rgb", "psnr_y_float", "ssim_y_float")


def aggregate(rows: list[dict[str, Any]], names: list[str]) -> dict[str, float]:
    """Mean of each metric over the rows (rows in natural order; NaN when there are none)."""
    out: dict[str, float] = {}
    for name in names:
        values = [float(r[name]) for r in rows if name in r]
        out[name] = float(np.mean(values)) if values else math.nan
    return out


class RestorationTask:
    """Derain every pair, quantise (round or trunc), score each metric per image, average.

    Example:
        >>> from bench.tasks.config import RunConfig
        >>> task = RestorationTask(RunConfig(derainer="identity", dataset="RainTrainL", limit=2))
        >>> record = task.run()  # doctest: +SKIP
        >>> record["metrics"]["psnr_y"]  # doctest: +SKIP
    """

    name = "restoration"

    def __init__(self, config: RunConfig) -> None:
        self.config = config

    def run(self) -> RunRecord:
        from bench.registries import METRICS

        cfg = self.config
        metric_names = list(cfg.metrics) or list(DEFAULT_METRICS)
        specs = {name: METRICS.get(name) for name in metric_names}
        for name, spec in specs.items():
            if spec.mode != "FR":
                raise ValueError(
                    f"metric {name!r} is no-reference; the restoration task scores pairs "
                    "(use --task noref for no-reference metrics)"
                )
        ds_name, root, kind = resolve_dataset(cfg.dataset, cfg.data_root)
        if kind not in (None, "paired"):
            raise ValueError(f"dataset {ds_name!r} is a {kind} set; the restoration task needs rainy/clean pairs")
        dataset = PairedDataset(root, limit=cfg.limit, crop_multiple=cfg.crop_multiple, ids=cfg.id_set())
        keep = set(select_shard([p.id for p in dataset.pairs], cfg.shard))
        dataset.pairs = [p for p in dataset.pairs if p.id in keep]

        watch = Stopwatch()
        with watch.time("load_model"):
            _model, engine, dinfo = build_engine(cfg)
        dataset_info = {
            "name": ds_name,
            "path": str(root),
            "layout": dataset.layout,
            "kind": "paired",
            "n_items": len(dataset),
            "ids_hash": stable_hash([p.id for p in dataset.pairs]),
        }
        record = base_record(cfg, dinfo, dataset_info)
        stem = record_name(cfg, dinfo["name"], ds_name)
        journal = open_journal(cfg, stem)
        image_dir = output_dir(cfg) / "images" / stem if cfg.save_images else None
        issues: list[dict[str, str]] = [{"path": i.path, "reason": i.reason} for i in dataset.issues]

        started = time.perf_counter()
        todo = [p for p in dataset.pairs if p.id not in journal]
        resumed = len(dataset.pairs) - len(todo)
        if resumed:
            logger.warning(
                "resuming %s: %d of %d items already done, %d to go", stem, resumed, len(dataset.pairs), len(todo)
            )
        loaded = prefetch(todo, dataset.load, workers=cfg.workers)  # decode ahead while the model runs
        for pair, item in progress(loaded, total=len(todo), desc=f"{dinfo['name']} on {ds_name}"):
            if isinstance(item, ValueError):
                item = DataIssue(str(pair.rainy), str(item))
            if isinstance(item, DataIssue):
                logger.warning("skipped %s: %s", item.path, item.reason)
                journal.append({"id": pair.id, "_issue": item.reason, "_path": item.path})
                continue
            t0 = time.perf_counter()
            with watch.time("derain"):
                derained = engine.derain([item.rainy])[0]
            out = quantize(derained, cfg.quantize)
            row: dict[str, Any] = {"id": item.id, "file": item.rainy_path.name}
            try:
                with watch.time("metrics"):
                    for name, spec in specs.items():
                        row[name] = StreamingMetric(spec).update(out, item.clean)[0]
            except ValueError as err:  # e.g. an image smaller than the SSIM window: this image only
                reason = f"{name}: {err}"
                logger.warning("skipped %s: %s", item.rainy_path, reason)
                journal.append({"id": pair.id, "_issue": reason, "_path": str(pair.rainy)})
                continue
            row["seconds"] = time.perf_counter() - t0
            if image_dir is not None:
                write_image(Path(image_dir) / f"{item.id}.png", out)
            journal.append(row)

        rows, skipped = [], []
        for pair in dataset.pairs:
            entry = journal.get(pair.id)
            if entry is None:
                continue
            if "_issue" in entry:
                skipped.append({"path": entry["_path"], "reason": entry["_issue"]})
            else:
                rows.append(entry)
        issues.extend(skipped)
        record["rows"] = rows
        record["issues"] = issues
        record["metrics"] = aggregate(rows, metric_names)
        record["metric_info"] = {
            n: {"higher_is_better": s.higher_is_better, "summary": s.summary, "unit": s.unit} for n, s in specs.items()
        }
        record["dataset"]["n_scored"] = len(rows)
        record["dataset"]["n_skipped"] = len(skipped)
        record["timings"] = {
            **watch.totals,
            "total": time.perf_counter() - started,
            "seconds_per_image": float(np.mean([r["seconds"] for r in rows])) if rows else math.nan,
            "resumed_items": resumed,
            "computed_items": len(todo),
        }
        if image_dir is not None:
            record["images_dir"] = str(image_dir)
        path = output_dir(cfg) / f"{stem}.json"
        write_state(state_path(path), item_arrays([p.id for p in dataset.pairs], [str(p.rainy) for p in dataset.pairs]))
        attach_intervals(record, None)  # paired-bootstrap intervals over the rows' images
        path = write_record(record, path)
        journal.remove()
        record["_path"] = str(path)
        return record

    def finish_merge(
        self, record: RunRecord, states: Sequence[Mapping[str, np.ndarray]], order: Mapping[str, int]
    ) -> None:
        """Metrics of a merged record: the same means over its rows (natural order) as :meth:`run`."""
        record["metrics"] = aggregate(record["rows"], list(self.config.metrics) or list(DEFAULT_METRICS))
        attach_intervals(record, None)
