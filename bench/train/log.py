"""The training metrics log: ``metrics.csv`` and TensorBoard scalars when installed (rank 0 only)."""

from __future__ import annotations

import csv
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

METRICS_COLUMNS: tuple[str, ...] = ("step", "loss", "lr", "val_psnr_y", "val_ssim_y", "seconds")


class MetricsLog:
    """``metrics.csv`` (and TensorBoard scalars when available), written by rank 0 only."""

    def __init__(self, folder: Path, *, resume_step: int | None, tensorboard: bool) -> None:
        self.path = folder / "metrics.csv"
        rows: list[dict[str, str]] = []
        if resume_step is not None and self.path.is_file():
            with open(self.path, newline="") as f:
                rows = [r for r in csv.DictReader(f) if r.get("step") and int(r["step"]) <= resume_step]
        self._file = open(self.path, "w", newline="")  # noqa: SIM115 - kept open for the run
        self._writer = csv.DictWriter(self._file, fieldnames=METRICS_COLUMNS)
        self._writer.writeheader()
        self._writer.writerows(rows)
        self._file.flush()
        self._tb: Any = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                logger.debug("tensorboard not installed: logging to metrics.csv only")
            else:
                self._tb = SummaryWriter(log_dir=str(folder / "tensorboard"))

    def write(
        self, step: int, loss: float | None, lr: float, seconds: float, val: Mapping[str, float] | None = None
    ) -> None:
        row = {
            "step": step,
            "loss": "" if loss is None else f"{loss:.8g}",
            "lr": f"{lr:.8g}",
            "val_psnr_y": f"{val['psnr_y']:.6f}" if val else "",
            "val_ssim_y": f"{val['ssim_y']:.6f}" if val else "",
            "seconds": f"{seconds:.3f}",
        }
        self._writer.writerow(row)
        self._file.flush()
        if self._tb is not None:
            if loss is not None:
                self._tb.add_scalar("train/loss", loss, step)
            self._tb.add_scalar("train/lr", lr, step)
            if val:
                self._tb.add_scalar("val/psnr_y", val["psnr_y"], step)
                self._tb.add_scalar("val/ssim_y", val["ssim_y"], step)

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()
