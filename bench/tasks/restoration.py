"""Task ``restoration``: derain paired rainy/clean sets and score full-reference metrics."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.data.paired import Sample
from bench.metrics.base import MetricSpec, StreamingMetric
from bench.tasks.base import Task, TaskData, mean_over, open_paired

DEFAULT_METRICS: tuple[str, ...] = ("psnr_y", "ssim_y", "psnr_rgb", "psnr_y_float", "ssim_y_float")


def aggregate(rows: list[dict[str, Any]], names: list[str]) -> dict[str, float]:
    """Mean of each metric over the rows (rows in natural order; NaN when there are none)."""
    return {name: mean_over(rows, name) for name in names}


class RestorationTask(Task):
    """Derain every pair, quantise (round or trunc), score each metric per image, average.

    Example:
        >>> from bench.config import RunConfig
        >>> task = RestorationTask(RunConfig(derainer="identity", dataset="RainTrainL", limit=2))
        >>> record = task.run()  # doctest: +SKIP
        >>> record["metrics"]["psnr_y"]  # doctest: +SKIP
    """

    name = "restoration"
    accepted_options = frozenset()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.metric_names = list(self.config.metrics) or list(DEFAULT_METRICS)
        self.specs: dict[str, MetricSpec] = {}

    def open(self) -> TaskData:
        from bench.registries import METRICS

        cfg = self.config
        self.specs = {name: METRICS.get(name) for name in self.metric_names}
        for name, spec in self.specs.items():
            if spec.mode != "FR":
                raise ValueError(
                    f"metric {name!r} is no-reference; the restoration task scores pairs "
                    "(use --task noref for no-reference metrics)"
                )
        return open_paired(cfg, self.name)

    def process(self, sample: Sample, derained: np.ndarray) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for name, spec in self.specs.items():
            try:
                row[name] = StreamingMetric(spec).update(derained, sample.clean)[0]
            except ValueError as err:  # e.g. an image smaller than the SSIM window: this image only
                raise ValueError(f"{name}: {err}") from err
        return row

    def aggregate(self, rows: list[dict[str, Any]]) -> dict[str, float]:
        return aggregate(rows, self.metric_names)

    def metric_info(self) -> dict[str, dict[str, Any]]:
        if not self.specs:  # a merge: the specs were never opened
            from bench.registries import METRICS

            self.specs = {name: METRICS.get(name) for name in self.metric_names}
        return {
            n: {"higher_is_better": s.higher_is_better, "summary": s.summary, "unit": s.unit}
            for n, s in self.specs.items()
        }
