"""Task ``psnr_only``: the worked example of a task in docs/architecture.md (PSNR on the Y channel only).

Everything else (read-ahead, resume journal, deraining through the engine, issues, timings, the record,
its state sidecar, intervals and ``bench merge``) comes from :class:`bench.tasks.base.Task`. Registered by
``TASKS.add("psnr_only", "bench.tasks.psnr_only:PsnrOnlyTask")`` (or a ``bench.tasks`` entry point).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.data.paired import Sample
from bench.metrics.fidelity import psnr_y
from bench.tasks.base import Task, TaskData, mean_over, open_paired


class PsnrOnlyTask(Task):
    """Derain each pair and score PSNR (Y channel, dB) against the clean image; the metric is the mean."""

    name = "psnr_only"

    def open(self) -> TaskData:
        """The pairs of the set, in natural order."""
        return open_paired(self.config, self.name)

    def process(self, sample: Sample, derained: np.ndarray) -> dict[str, Any]:
        """One row: this image's PSNR."""
        assert sample.clean is not None
        return {"psnr_y": psnr_y(derained, sample.clean)}

    def aggregate(self, rows: list[dict[str, Any]]) -> dict[str, float]:
        """The mean over the rows (a merge of shards calls this too)."""
        return {"psnr_y": mean_over(rows, "psnr_y")}

    def metric_info(self) -> dict[str, dict[str, Any]]:
        return {"psnr_y": {"higher_is_better": True, "summary": "PSNR on Y (BT.601)", "unit": "dB"}}
