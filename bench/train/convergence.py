"""Has a training run converged? The validation curve's rise over the last part of the run.

A 20-pair validation score moves by ±0.1–0.2 dB between neighbouring checkpoints, so "the curve rose less
than 0.05 dB over the last 20 % of steps" is read on the **trend**: the least-squares line through the
checkpoints in the window, its rise from the window's first step to its last. The difference between the
best checkpoint inside the window and the best before it is reported beside it (it is what shipping the
best checkpoint gains), but it is not the rule: the maximum of noisy scores keeps creeping up on a flat
curve.

Used by ``scripts/ship_weights.py`` (the card's ``training.convergence``) and ``python -m
bench.train.convergence RUN_DIR/metrics.csv`` (while a run is going).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["Plateau", "earlier_history", "history_from_metrics", "plateau", "trend_note"]


@dataclass(frozen=True)
class Plateau:
    """The last ``fraction`` of a run's validation history.

    Attributes:
        fraction: Share of the steps done that forms the window (0.2: the last 20 %).
        window: First and last step of the window (checkpoints with ``step >= (1 - fraction) * last``).
        checkpoints: Validation points inside the window.
        trend_db: Rise of the least-squares line over the window (negative: falling).
        best_gain_db: Best score inside the window minus the best before it (None: nothing before).
        tolerance_db: The rule's bound on ``trend_db``.
        converged: ``trend_db < tolerance_db`` with at least 3 checkpoints in the window.
    """

    fraction: float
    window: tuple[int, int]
    checkpoints: int
    trend_db: float
    best_gain_db: float | None
    tolerance_db: float
    converged: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, rounded to 4 decimals (the card's ``training.convergence``)."""
        out = asdict(self)
        out["window"] = list(self.window)
        out["trend_db"] = round(self.trend_db, 4)
        out["best_gain_db"] = None if self.best_gain_db is None else round(self.best_gain_db, 4)
        out["rule"] = (
            f"least-squares rise of val psnr_y over the last {self.fraction:.0%} of steps < {self.tolerance_db} dB"
        )
        return out


def plateau(
    history: Iterable[tuple[int, float]], fraction: float = 0.2, tolerance_db: float = 0.05, min_points: int = 3
) -> Plateau:
    """The trend of ``(step, psnr_y)`` validation points over the last ``fraction`` of the steps done.

    Raises:
        ValueError: no history, or ``fraction`` outside (0, 1].

    Example:
        >>> p = plateau([(1000, 30.0), (2000, 31.0), (8000, 33.0), (9000, 33.1), (10000, 33.0)])
        >>> p.window, p.checkpoints, round(p.trend_db, 3), p.converged
        ((8000, 10000), 3, 0.0, True)
        >>> plateau([(8000, 33.0), (9000, 33.2), (10000, 33.4)]).converged
        False
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    points = sorted((int(s), float(v)) for s, v in history)
    if not points:
        raise ValueError("no validation history")
    last = points[-1][0]
    start = (1 - fraction) * last
    inside = [(s, v) for s, v in points if s >= start]
    before = [v for s, v in points if s < start]
    trend = _least_squares_rise(inside)
    gain = max(v for _, v in inside) - max(before) if before else None
    converged = len(inside) >= min_points and trend < tolerance_db
    return Plateau(fraction, (inside[0][0], last), len(inside), trend, gain, tolerance_db, converged)


def _least_squares_rise(points: Sequence[tuple[int, float]]) -> float:
    """Slope of the least-squares line through ``points`` times their step span (0 for one point)."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_s = sum(s for s, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((s - mean_s) ** 2 for s, _ in points)
    slope = sum((s - mean_s) * (v - mean_v) for s, v in points) / var
    return slope * (points[-1][0] - points[0][0])


def trend_note(result: Plateau) -> str:
    """``"; trend over steps A-B: +x.xxx dB (not converged)"`` for the trainer's log line ("" under 3 points).

    Example:
        >>> trend_note(plateau((s, 30.0 + s / 1000) for s in range(1000, 11000, 1000)))
        '; trend over steps 8000-10000: +2.000 dB (not converged)'
    """
    if result.checkpoints < 3:
        return ""
    state = "converged" if result.converged else "not converged"
    return f"; trend over steps {result.window[0]}-{result.window[1]}: {result.trend_db:+.3f} dB ({state})"


def earlier_history(derainer: str, init_weights: str | None, start_step: int) -> list[dict[str, float]]:
    """Validation points before ``start_step`` of a run continued from ``derainer``'s shipped weights.

    A run started with ``--init-weights TAG --start-step N`` (``--continue-shipped``) has only its own
    validations; the card of the shipped weights ``TAG`` has those of the runs before it. The points up to
    step ``N`` are returned, so that the convergence window, which may reach back before ``N``, is judged
    on the whole lineage, as the card will be. Empty for a fresh run or weights that are not shipped.
    """
    if not start_step or not init_weights:
        return []
    from derainers.shipped import shipped_cards

    for card in shipped_cards(derainer):
        if str(card.get("tag")) == init_weights:
            history = (card.get("training") or {}).get("val_history") or []
            return [dict(v) for v in history if int(v["step"]) <= start_step]
    return []


def history_from_metrics(rows: Iterable[Mapping[str, str]]) -> list[tuple[int, float]]:
    """``(step, val_psnr_y)`` of the rows of a run's ``metrics.csv`` that carry a validation score."""
    return [(int(r["step"]), float(r["val_psnr_y"])) for r in rows if r.get("val_psnr_y")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Validation trend over the last part of a bench train run.")
    parser.add_argument("metrics", type=Path, nargs="+", help="metrics.csv of the run (several: concatenated)")
    parser.add_argument("--fraction", type=float, default=0.2, help="window: last share of the steps (0.2)")
    parser.add_argument("--tolerance", type=float, default=0.05, help="bound on the trend in dB (0.05)")
    args = parser.parse_args(argv)
    rows: list[dict[str, str]] = []
    for path in args.metrics:
        with path.open(newline="") as handle:
            rows.extend(csv.DictReader(handle))
    result = plateau(history_from_metrics(rows), args.fraction, args.tolerance)
    gain = "n/a" if result.best_gain_db is None else f"{result.best_gain_db:+.3f} dB"
    sys.stdout.write(
        f"steps {result.window[0]}-{result.window[1]} ({result.checkpoints} checkpoints): trend "
        f"{result.trend_db:+.3f} dB, best gain {gain}; "
        f"{'converged' if result.converged else 'not converged'} (trend < {result.tolerance_db} dB)\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
