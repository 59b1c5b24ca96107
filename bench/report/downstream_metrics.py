"""The vocabulary of downstream tables: conditions, task metrics in display order, their titles, which are
shown in percent, and the task metrics a set of records holds. Below ``report/downstream.py`` and
``report/intervals.py``, which both use it (neither imports the other).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.evaluators.base import RATIO_METRICS

CONDITIONS: tuple[str, ...] = ("clean", "rainy", "derained")
DERIVED: tuple[str, ...] = ("gain", "recovery")

#: Task metrics in display order (metrics found in records but not listed here follow, sorted).
TASK_METRICS: dict[str, tuple[str, ...]] = {
    "detection": ("map50_95", "map50", "precision", "recall", "iou"),
    "instance": ("mask_map50_95", "mask_map50", "box_map50_95", "box_map50"),
    "semantic": ("miou", "mpa", "pixel_acc"),
    "noref": ("niqe", "sseq", "brisque"),
}

TITLES: dict[str, str] = {
    "map50_95": "mAP50-95",
    "map50": "mAP50",
    "precision": "Precision",
    "recall": "Recall",
    "iou": "IoU",
    "mask_map50_95": "mask mAP50-95",
    "mask_map50": "mask mAP50",
    "box_map50_95": "box mAP50-95",
    "box_map50": "box mAP50",
    "miou": "mIoU",
    "mpa": "mPA",
    "pixel_acc": "pixel accuracy",
    "niqe": "NIQE",
    "sseq": "SSEQ",
    "brisque": "BRISQUE",
}

#: Ratios stored as fractions in records and shown in percent, as in the paper.
PERCENT: frozenset[str] = RATIO_METRICS

#: Restoration metrics of the images fed to the downstream model (Table 6's "Deraining" rows).
FIDELITY: tuple[str, ...] = ("psnr_y", "ssim_y")

RAIN_INPUT = "Rain input (rainy)"
CLEAN = "Clean (upper bound)"


def task_metrics(records: Sequence[dict[str, Any]]) -> list[str]:
    """The task metrics present in any record, in display order (fidelity metrics excluded)."""
    task = str(records[0].get("task", "")) if records else ""
    found: list[str] = []
    for rec in records:
        for key in rec.get("metrics", {}):
            cond, _, name = key.partition(".")
            if name and cond in (*CONDITIONS, *DERIVED) and name not in FIDELITY and name not in found:
                found.append(name)
    known = [m for m in TASK_METRICS.get(task, ()) if m in found]
    return known + sorted(m for m in found if m not in known)
