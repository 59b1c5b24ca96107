"""How many images would detect a given difference: a normal-approximation power analysis of paired differences.

A paired difference over ``n`` images has standard error ``σ / √n``, where ``σ`` is the per-image
standard deviation of the difference: the SD of per-image differences for per-image metrics (PSNR), and
``SE_bootstrap · √n`` for set-level scores (mAP, mIoU), whose bootstrap SE scales as ``1/√n`` too. A
two-sided test at level ``α`` detects a true difference ``δ`` with probability ``1 − β`` once

``n ≥ ((z_{1−α/2} + z_{1−β}) · σ / δ)²``.

The estimate of ``σ`` comes from the images at hand, so the answer is itself uncertain with few images.

Example:
    >>> images_needed(sigma=1.0, delta=0.5)
    32
    >>> round(power_at(32, sigma=1.0, delta=0.5), 2)
    0.81
"""

from __future__ import annotations

import math

from bench.evaluators.base import RATIO_METRICS

#: The smallest difference worth detecting, per metric family (in the record's units: fractions for mAP).
DETECTABLE: dict[str, float] = {
    "percent": 0.01,  # 1 pp of mAP, mIoU, precision, recall, IoU, pixel accuracy
    "psnr": 0.1,  # dB
    "ssim": 0.001,
    "fsim": 0.001,
    "niqe": 0.1,
    "sseq": 1.0,
    "brisque": 1.0,
}

_PERCENT = RATIO_METRICS


def detectable_difference(metric: str) -> float | None:
    """The default target difference of a metric (None when bench has no default).

    Example:
        >>> detectable_difference("map50_95"), detectable_difference("psnr_y_float")
        (0.01, 0.1)
    """
    name = metric.split(".")[-1]
    if name in _PERCENT:
        return DETECTABLE["percent"]
    for family in ("psnr", "ssim", "fsim", "niqe", "sseq", "brisque"):
        if name.startswith(family):
            return DETECTABLE[family]
    return None


def per_image_sigma(se: float, n: int) -> float:
    """Per-image SD implied by a standard error over ``n`` images (``se · √n``).

    Example:
        >>> per_image_sigma(0.1, 100)
        1.0
    """
    return float(se) * math.sqrt(n)


def images_needed(sigma: float, delta: float, alpha: float = 0.05, power: float = 0.8) -> int | None:
    """Images for a two-sided level-``alpha`` paired test to detect ``delta`` with probability ``power``.

    None when ``sigma`` is not a positive finite number (no variation seen) or ``delta`` is 0.
    """
    from statistics import NormalDist

    if not (math.isfinite(sigma) and sigma > 1e-9 * abs(delta)) or delta == 0:  # no variation seen
        return None
    z = NormalDist().inv_cdf(1.0 - alpha / 2.0) + NormalDist().inv_cdf(power)
    return max(2, math.ceil((z * sigma / abs(delta)) ** 2))


def power_at(n: int, sigma: float, delta: float, alpha: float = 0.05) -> float:
    """Probability that a two-sided level-``alpha`` paired test on ``n`` images detects a true ``delta``.

    Example:
        >>> round(power_at(10, sigma=1.0, delta=0.0), 3)
        0.05
    """
    from statistics import NormalDist

    if not (math.isfinite(sigma) and sigma > 1e-9 * abs(delta)):
        return math.nan
    normal = NormalDist()
    shift = abs(delta) * math.sqrt(n) / sigma
    z = normal.inv_cdf(1.0 - alpha / 2.0)
    return normal.cdf(shift - z) + normal.cdf(-shift - z)
