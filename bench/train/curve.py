"""The training curve of a run: validation psnr_y vs step, as CSV and PNG (``reports/training/``).

The plot marks where a ``step`` schedule lowers the rate, where a run continued from exported weights
(Adam restarted) and the checkpoint that was shipped. Used by ``scripts/ship_weights.py``.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["rate_drops", "write_curve"]


def rate_drops(config: Mapping[str, Any], first: int, last: int) -> list[tuple[int, float]]:
    """``(step, new rate)`` where a ``step`` schedule lowers the rate within ``(first, last]``.

    Example:
        >>> rate_drops({"schedule": "step", "lr": 2e-4, "lr_step": 10000, "lr_gamma": 0.5}, 1000, 30000)
        [(10000, 0.0001), (20000, 5e-05), (30000, 2.5e-05)]
        >>> rate_drops({"schedule": "exp"}, 0, 10**6)
        []
    """
    from bench.train.config import TrainConfig

    schedule = TrainConfig.from_dict(config).lr_schedule()  # the run's own schedule, defaults filled in
    if schedule.kind != "step":
        return []  # the release's exponential schedule has no steps to mark
    size = schedule.step_size
    drops = range((first // size + 1) * size, last + 1, size)
    return [(s, schedule(s)) for s in drops if schedule(s) < schedule(s - 1)]


def write_curve(
    rows: Sequence[Mapping[str, str]],
    csv_path: Path,
    png_path: Path,
    *,
    title: str,
    config: Mapping[str, Any],
    shipped_step: int | None = None,
    restarts: Sequence[int] = (),
) -> None:
    """Validation psnr_y vs step as CSV and PNG, with the rate drops, the restarts and the shipped checkpoint.

    Args:
        rows: ``metrics.csv`` rows (those with ``val_psnr_y`` are plotted).
        csv_path: Where the validation rows go (step, val_psnr_y, val_ssim_y, train_loss, seconds).
        png_path: Where the plot goes.
        title: The plot's title.
        config: The run's :class:`~bench.train.TrainConfig` as a dict (schedule, batch size).
        shipped_step: Mark this checkpoint as the shipped one.
        restarts: Steps where a run continued from exported weights (Adam restarted there).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    csv_path.parent.mkdir(parents=True, exist_ok=True)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    val = [r for r in rows if r.get("val_psnr_y")]
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "val_psnr_y", "val_ssim_y", "train_loss", "seconds"])
        for r in val:
            writer.writerow([r["step"], r["val_psnr_y"], r["val_ssim_y"], r.get("loss", ""), r.get("seconds", "")])
    steps, scores = [int(r["step"]) for r in val], [float(r["val_psnr_y"]) for r in val]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    ax.plot(steps, scores, marker="o", ms=3, label="val psnr_y")
    if steps:
        for at, rate in rate_drops(config, steps[0], steps[-1]):
            ax.axvline(at, color="0.6", ls=":", lw=1)
            ax.annotate(f"lr {rate:.3g}", (at, 0.02), xycoords=("data", "axes fraction"), fontsize=7, rotation=90)
    for i, at in enumerate(restarts):
        ax.axvline(
            at, color="tab:red", ls="--", lw=1, label="continued from weights (Adam restarted)" if not i else None
        )
    if shipped_step in steps:
        ax.plot([shipped_step], [scores[steps.index(shipped_step)]], "*", ms=11, color="tab:orange", label="shipped")
    ax.set_xlabel(f"optimiser step (batch {config.get('batch_size', '?')})")
    ax.set_ylabel("val psnr_y (dB)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center right")
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)
