"""Task ``psnr_only``: the worked example of a task in docs/architecture.md (PSNR on the Y channel only).

Everything else (read-ahead, resume journal, deraining through the engine, issues, timings, the record,
its state sidecar, intervals and ``bench merge``) comes from :class:`bench.tasks.base.Task`. Registered by
``TASKS.add("psnr_only", "bench.tasks.psnr_only:PsnrOnlyTask")`` (or a ``bench.tasks`` entry point).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.data.catalog import resolve_dataset
from bench.data.paired import PairedDataset, Sample
from bench.metrics.fidelity import psnr_y
from bench.registries import DATASETS
from bench.tasks.base import ItemRef, Task, TaskData, mean_over


class PsnrOnlyTask(Task):
    """Derain each pair and score PSNR (Y channel, dB) against the clean image; the metric is the mean."""

    name = "psnr_only"

    def open(self) -> TaskData:
        """The pairs of the set, in natural order."""
        cfg = self.config
        ds_name, root, _kind = resolve_dataset(cfg.dataset, cfg.data_root, registry=DATASETS)
        dataset = PairedDataset(root, limit=cfg.limit, crop_multiple=cfg.crop_multiple, ids=cfg.id_set())
        return TaskData(
            name=ds_name,
            info={"name": ds_name, "path": str(root), "layout": dataset.layout, "kind": "paired"},
            items=[ItemRef(p.id, p.rainy, p) for p in dataset.pairs],
            load=lambda item: dataset.load(item.ref),
            issues=list(dataset.issues),
        )

    def process(self, sample: Sample, derained: np.ndarray) -> dict[str, Any]:
        """One row: this image's PSNR."""
        assert sample.clean is not None
        return {"psnr_y": psnr_y(derained, sample.clean)}

    def aggregate(self, rows: list[dict[str, Any]]) -> dict[str, float]:
        """The mean over the rows (a merge of shards calls this too)."""
        return {"psnr_y": mean_over(rows, "psnr_y")}

    def metric_info(self) -> dict[str, dict[str, Any]]:
        return {"psnr_y": {"higher_is_better": True, "summary": "PSNR on Y (BT.601)", "unit": "dB"}}
