"""What a published-number check is: :class:`Check`, the published values (:class:`Expected`), where it
runs (:class:`Context`), what it measured (:class:`Measurement`); and where the MATLAB reference values
are (:func:`calibration_dir`). The catalogue is :mod:`bench.reproduce.checks`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = ["Check", "CheckError", "Context", "Expected", "Group", "Measure", "Measurement", "calibration_dir"]

Group = Literal["weights", "metric", "params", "downstream", "paper"]


class CheckError(RuntimeError):
    """A check ran but its result cannot be trusted (e.g. the weights it names were not loaded)."""


@dataclass(frozen=True)
class Expected:
    """One published number.

    Attributes:
        metric: The measured key it is compared with (a bench metric, or ``params_m``).
        published: The published value.
        label: What the source called it, when that differs from ``metric`` (``psnr_rgb_float`` for DDN).
    """

    metric: str
    published: float
    label: str = ""


@dataclass(frozen=True)
class Context:
    """Where and how checks run: limits, folders, device."""

    limit: int | None = None
    output_dir: str | None = None
    data_root: str | None = None
    calibration_dir: Path | None = None
    device: str = "cpu"
    workers: int = 2


@dataclass
class Measurement:
    """What a check measured: one value per compared key, over ``n_items`` images."""

    values: dict[str, float]
    n_items: int
    notes: dict[str, str] = field(default_factory=dict)
    record: str | None = None
    published: dict[str, float] = field(default_factory=dict)  # reference values over the same images


Measure = Callable[[Context], Measurement]


@dataclass(frozen=True)
class Check:
    """One published-number check.

    Attributes:
        name: Lower-case identifier for ``--only`` (``prenet-rain100l``).
        group: ``weights`` (a weights' authors' score), ``metric`` (MATLAB reference code),
            ``params`` (a paper's parameter count), ``downstream`` (a downstream model's score),
            ``paper`` (paper tables that no released weights can reproduce).
        subject: The model and weights, e.g. ``prenet (weights Rain100L)``.
        dataset: The test set of the published numbers.
        protocol: The protocol in a few words (``Y unrounded, trunc, no crop``).
        source: Who published the numbers.
        expected: The published numbers.
        measure: Runs the bench side; ``None`` when the check cannot run here.
        skip_reason: Why a check without ``measure`` is skipped.
        command: The ``bench run`` command that measures the same thing, when there is one.
    """

    name: str
    group: Group
    subject: str
    dataset: str
    protocol: str
    source: str
    expected: tuple[Expected, ...]
    measure: Measure | None = None
    skip_reason: str = ""
    command: str = ""


def calibration_dir(data_root: str | os.PathLike[str] | None = None) -> Path | None:
    """The MATLAB reference values: ``$BENCH_CALIBRATION``, else ``calibration/`` beside the data root."""
    from bench.paths import data_root as resolve_root

    explicit = os.environ.get("BENCH_CALIBRATION")
    if explicit:
        return Path(explicit).expanduser()
    root = resolve_root(data_root)
    return None if root is None else root.parent / "calibration"
