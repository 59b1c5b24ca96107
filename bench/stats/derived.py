"""Gain and recovery: the one definition of the derived downstream scores, for records and for resamples.

``gain.m`` = derained − rainy; ``recovery.m`` = (derained − rainy) / (clean − rainy), NaN unless rain hurts
(clean > rainy). Keys read ``<condition>.<metric>``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

CONDITIONS: tuple[str, ...] = ("clean", "rainy", "derained")


def derived_keys(metrics: Mapping[str, Any]) -> list[str]:
    """The record's ``gain.*`` and ``recovery.*`` keys (functions of two or three conditions)."""
    return [k for k in metrics if k.split(".", 1)[0] in ("gain", "recovery")]


def gain_and_recovery(scores: dict[str, dict[str, float]]) -> dict[str, float]:
    """Flatten per-condition scores into ``<condition>.<metric>`` keys plus gain and recovery.

    The dataset-level form of :func:`derive` (the same definitions); downstream tasks write it.

    Example:
        >>> flat = gain_and_recovery({"clean": {"m": 0.8}, "rainy": {"m": 0.4}, "derained": {"m": 0.5}})
        >>> round(flat["gain.m"], 6), round(flat["recovery.m"], 6)
        (0.1, 0.25)
    """
    flat: dict[str, float] = {}
    for cond in CONDITIONS:
        for key, value in scores[cond].items():
            flat[f"{cond}.{key}"] = float(value)
    for key in scores["derained"]:
        clean, rainy, derained = (float(scores[c].get(key, math.nan)) for c in CONDITIONS)
        flat[f"gain.{key}"] = derained - rainy
        span = clean - rainy
        # recovery is defined only when rain hurts (clean > rainy); otherwise it is not meaningful
        flat[f"recovery.{key}"] = (derained - rainy) / span if span > 0 and math.isfinite(span) else math.nan
    return flat


def derive(key: str, values: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """``gain.m`` = derained − rainy, ``recovery.m`` = (derained − rainy) / (clean − rainy) (NaN where clean ≤ rainy).

    Example:
        >>> derive("gain.m", {"derained.m": np.array([0.5]), "rainy.m": np.array([0.25])}).tolist()
        [0.25]
    """
    kind, _, name = key.partition(".")
    derained, rainy, clean = (values.get(f"{c}.{name}") for c in ("derained", "rainy", "clean"))
    if derained is None or rainy is None:
        return None
    if kind == "gain":
        return derained - rainy
    if kind == "recovery" and clean is not None:
        span = clean - rainy
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where((span > 0) & np.isfinite(span), (derained - rainy) / np.where(span > 0, span, 1), math.nan)
    return None
