"""Task ``noref``: no-reference quality (NIQE, SSEQ) of rainy and derained real photos (paper Table 5)."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.data.catalog import resolve_dataset
from bench.data.images import quantize, write_image
from bench.data.paired import ImageFolder, PairedDataset
from bench.results.cache import ArrayCache, array_sha256
from bench.results.record import RunRecord, stable_hash, write_record
from bench.results.state import item_arrays, state_path, write_state
from bench.stats.intervals import attach_intervals
from bench.tasks.common import Stopwatch, base_record, build_engine, output_dir, progress, record_name
from bench.tasks.config import RunConfig, select_shard

if TYPE_CHECKING:
    from bench.metrics.base import MetricSpec

DEFAULT_METRICS: tuple[str, ...] = ("niqe", "sseq")


def aggregate(rows: list[dict[str, Any]], names: list[str]) -> dict[str, float]:
    """Mean rainy and derained score of each metric over the rows (natural order), and the gain."""
    metrics: dict[str, float] = {}
    for n in names:
        for cond in ("rainy", "derained"):
            values = [r[f"{cond}.{n}"] for r in rows if f"{cond}.{n}" in r]
            metrics[f"{cond}.{n}"] = float(np.mean(values)) if values else math.nan
        metrics[f"gain.{n}"] = metrics[f"derained.{n}"] - metrics[f"rainy.{n}"]
    return metrics


def _score_entry(spec: MetricSpec, image: np.ndarray) -> dict[str, np.ndarray]:
    """One no-reference score as a cache entry."""
    return {"v": np.array(spec(image))}


class NoRefTask:
    """Score the rainy photo and the derained photo with each no-reference metric.

    Works on real sets (a folder of rainy photos, e.g. ``Real147``) and on the rainy side of paired sets.
    Rainy-image scores are cached by (metric, image content) and reused across derainers.
    """

    name = "noref"

    def __init__(self, config: RunConfig) -> None:
        self.config = config

    def run(self) -> RunRecord:
        from bench.registries import METRICS

        cfg = self.config
        names = list(cfg.metrics) or list(DEFAULT_METRICS)
        specs = {n: METRICS.get(n) for n in names}
        for n, spec in specs.items():
            if spec.mode != "NR":
                raise ValueError(f"metric {n!r} needs a reference; the noref task takes no-reference metrics")
        ds_name, root, kind = resolve_dataset(cfg.dataset, cfg.data_root)
        if kind == "paired" or (kind is None and not any(p.is_file() for p in root.iterdir())):
            paired = PairedDataset(root, limit=cfg.limit, crop_multiple=cfg.crop_multiple, ids=cfg.id_set())
            items = [(p.id, p.rainy) for p in paired.pairs]
        else:
            folder = ImageFolder(root, limit=cfg.limit, crop_multiple=cfg.crop_multiple)
            items = [(str(p.relative_to(root).with_suffix("")), p) for p in folder.files]
            if cfg.ids is not None:
                wanted = cfg.id_set() or set()
                items = [(i, p) for i, p in items if i in wanted]
        keep = set(select_shard([i for i, _ in items], cfg.shard))
        items = [(i, p) for i, p in items if i in keep]

        watch = Stopwatch()
        with watch.time("load_model"):
            _model, engine, dinfo = build_engine(cfg)
        record = base_record(
            cfg,
            dinfo,
            {
                "name": ds_name,
                "path": str(root),
                "kind": kind or "folder",
                "n_items": len(items),
                "ids_hash": stable_hash([i for i, _ in items]),
            },
        )
        cache = ArrayCache("noref")
        rows: list[dict[str, Any]] = []
        issues: list[dict[str, str]] = []
        image_dir = output_dir(cfg) / "images" / record_name(cfg, dinfo["name"], ds_name) if cfg.save_images else None
        started = time.perf_counter()
        from bench.data.images import ImageReadError, crop_to_multiple, read_image

        for item_id, path in progress(items, total=len(items), desc=f"{dinfo['name']} noref"):
            try:
                rainy = crop_to_multiple(read_image(path), cfg.crop_multiple)
            except ImageReadError as err:
                issues.append({"path": str(path), "reason": str(err)})
                continue
            t0 = time.perf_counter()
            with watch.time("derain"):
                derained = quantize(engine.derain([rainy])[0], cfg.quantize)
            row: dict[str, Any] = {"id": item_id, "file": path.name, "seconds": time.perf_counter() - t0}
            with watch.time("metrics"):
                for n, spec in specs.items():
                    key = cache.key({"metric": n, "image": array_sha256(rainy)})
                    value = cache.get_or_compute(key, functools.partial(_score_entry, spec, rainy))
                    row[f"rainy.{n}"] = float(value["v"])
                    try:
                        row[f"derained.{n}"] = float(spec(derained))
                    except ValueError as err:
                        issues.append({"path": str(path), "reason": f"{n}: {err}"})
            rows.append(row)
            if image_dir is not None:
                write_image(image_dir / f"{item_id}.png", derained)
        record["metrics"] = aggregate(rows, names)
        record["metric_info"] = {
            f"{c}.{n}": {"higher_is_better": specs[n].higher_is_better, "summary": specs[n].summary}
            for n in names
            for c in ("rainy", "derained")
        }
        for n in names:
            record["metric_info"][f"gain.{n}"] = {"higher_is_better": specs[n].higher_is_better}
        record["rows"] = rows
        record["issues"] = issues
        record["dataset"]["n_scored"] = len(rows)
        record["timings"] = {
            **watch.totals,
            "total": time.perf_counter() - started,
            "seconds_per_image": float(np.mean([r["seconds"] for r in rows])) if rows else math.nan,
        }
        if image_dir is not None:
            record["images_dir"] = str(image_dir)
        path = output_dir(cfg) / f"{record_name(cfg, dinfo['name'], ds_name)}.json"
        write_state(state_path(path), item_arrays([i for i, _ in items], [str(p) for _, p in items]))
        attach_intervals(record, None)  # paired-bootstrap intervals over the rows' images
        path = write_record(record, path)
        record["_path"] = str(path)
        return record

    def finish_merge(
        self, record: RunRecord, states: Sequence[Mapping[str, np.ndarray]], order: Mapping[str, int]
    ) -> None:
        """Metrics of a merged record: the same means over its rows (natural order) as :meth:`run`."""
        record["metrics"] = aggregate(record["rows"], list(self.config.metrics) or list(DEFAULT_METRICS))
        attach_intervals(record, None)
