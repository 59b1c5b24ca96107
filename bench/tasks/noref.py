"""Task ``noref``: no-reference quality (NIQE, SSEQ) of rainy and derained real photos (paper Table 5)."""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.config import match_ids
from bench.data.catalog import resolve_dataset
from bench.data.images import crop_to_multiple, read_image
from bench.data.paired import ImageFolder, PairedDataset, Sample
from bench.registries import DATASETS
from bench.results.cache import ArrayCache, array_sha256
from bench.tasks.base import ROW_ISSUES, ItemRef, Task, TaskData, mean_over, row_issue

if TYPE_CHECKING:
    from bench.metrics.base import MetricSpec

DEFAULT_METRICS: tuple[str, ...] = ("niqe", "sseq")


def aggregate(rows: list[dict[str, Any]], names: list[str]) -> dict[str, float]:
    """Mean rainy and derained score of each metric and the gain, over the rows that have both scores.

    Rainy and derained means are taken over the same rows (natural order): a photo whose derained score
    failed counts in neither, so the gain compares like with like.
    """
    metrics: dict[str, float] = {}
    for n in names:
        both = [r for r in rows if f"rainy.{n}" in r and f"derained.{n}" in r]
        for cond in ("rainy", "derained"):
            metrics[f"{cond}.{n}"] = mean_over(both, f"{cond}.{n}")
        metrics[f"gain.{n}"] = metrics[f"derained.{n}"] - metrics[f"rainy.{n}"]
    return metrics


def _score_entry(spec: MetricSpec, image: np.ndarray) -> dict[str, np.ndarray]:
    """One no-reference score as a cache entry."""
    return {"v": np.array(spec(image))}


class NoRefTask(Task):
    """Score the rainy photo and the derained photo with each no-reference metric.

    Works on real sets (a folder of rainy photos, e.g. ``Real147``) and on the rainy side of paired sets.
    Rainy-image scores are cached by (metric, image content) and reused across derainers.
    """

    name = "noref"
    accepted_options = frozenset()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.names = list(self.config.metrics) or list(DEFAULT_METRICS)
        self.specs: dict[str, MetricSpec] = {}
        self.cache = ArrayCache("noref")

    def _specs(self) -> dict[str, MetricSpec]:
        from bench.registries import METRICS

        if not self.specs:
            self.specs = {n: METRICS.get(n) for n in self.names}
        return self.specs

    def open(self) -> TaskData:
        cfg = self.config
        for n, spec in self._specs().items():
            if spec.mode != "NR":
                raise ValueError(f"metric {n!r} needs a reference; the noref task takes no-reference metrics")
        ds_name, root, kind = resolve_dataset(cfg.dataset, cfg.data_root, registry=DATASETS)
        if kind == "paired" or (kind is None and not any(p.is_file() for p in root.iterdir())):
            paired = PairedDataset(root, limit=cfg.limit, crop_multiple=cfg.crop_multiple, ids=cfg.id_set())
            items = [ItemRef(p.id, p.rainy) for p in paired.pairs]
            issues = list(paired.issues)
        else:
            folder = ImageFolder(root, limit=cfg.limit, crop_multiple=cfg.crop_multiple)
            items = [ItemRef(folder.item_id(p), p) for p in folder.files]
            issues = list(folder.issues)
            if cfg.ids is not None:
                found, _ = match_ids([it.id for it in items], cfg.ids)
                items = [items[k] for k in found]
        return TaskData(
            name=ds_name,
            info={"name": ds_name, "path": str(root), "kind": kind or "folder"},
            items=items,
            load=functools.partial(_load_rainy, crop_multiple=cfg.crop_multiple),
            issues=issues,  # unpaired, duplicate and unlisted files: in the record, as in the paired tasks
        )

    def process(self, sample: Sample, derained: np.ndarray) -> dict[str, Any]:
        """Both scores of each metric, or neither: a metric that fails (or is undefined, NaN) on the rainy or
        the derained photo is left out of this row with an issue, so rainy and derained means always cover the
        same photos. The photo is skipped only when no metric could score it."""
        row: dict[str, Any] = {}
        issues = []
        rainy_sha = array_sha256(sample.rainy)  # once per photo, not per metric
        for n, spec in self._specs().items():
            try:
                key = self.cache.key({"metric": n, "image": rainy_sha})
                scores = {
                    "rainy": float(
                        self.cache.get_or_compute(key, functools.partial(_score_entry, spec, sample.rainy))["v"]
                    ),
                    "derained": float(spec(derained)),
                }
            except ValueError as err:
                issues.append(f"{n}: {err}")
                continue
            undefined = [cond for cond, value in scores.items() if math.isnan(value)]
            if undefined:
                issues.append(f"{n} is undefined (NaN) on the {' and '.join(undefined)} photo: left out of its means")
                continue
            row.update({f"{cond}.{n}": value for cond, value in scores.items()})
        if issues and not row:
            raise ValueError("; ".join(issues))
        if issues:
            row[ROW_ISSUES] = [row_issue(sample.rainy_path, reason) for reason in issues]
        return row

    def aggregate(self, rows: list[dict[str, Any]]) -> dict[str, float]:
        return aggregate(rows, self.names)

    def metric_info(self) -> dict[str, dict[str, Any]]:
        specs = self._specs()
        info: dict[str, dict[str, Any]] = {
            f"{c}.{n}": {"higher_is_better": specs[n].higher_is_better, "summary": specs[n].summary}
            for n in self.names
            for c in ("rainy", "derained")
        }
        for n in self.names:
            info[f"gain.{n}"] = {"higher_is_better": specs[n].higher_is_better}
        return info


def _load_rainy(item: ItemRef, *, crop_multiple: int) -> Sample:
    """A rainy photo alone (no reference), cropped to the multiple the derainer needs."""
    return Sample(item.id, crop_to_multiple(read_image(item.path), crop_multiple), None, Path(item.path))
