"""Paired bootstrap over images: resample weights, percentile / BCa intervals, paired tests, Holm.

A resample of ``n`` images is represented by its **weights**: how often each image was drawn (``n`` draws
with replacement), a row of non-negative integers summing to ``n``. Every set-level score (a mean, a
ratio of sums, mAP, mIoU) is a function of these weights, so one ``(B, n)`` weight matrix resamples
every method and condition compared *with the same images* (paired). The matrix is a function of
``(n, B, seed)`` only: the same seed and image list give the same intervals, bit for bit.

Example:
    >>> w = resample_counts(4, 3, seed=0)
    >>> w.shape, w.sum(axis=1).tolist()
    ((3, 4), [4.0, 4.0, 4.0])
    >>> values = np.array([1.0, 2.0, 3.0, 4.0])
    >>> lo, hi = percentile_interval(w @ values / 4, 0.95)
    >>> bool(lo <= 2.5 <= hi)
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

IntervalMethod = Literal["percentile", "bca"]
TestName = Literal["sign-flip", "sign-flip (exact)", "bootstrap"]

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
DEFAULT_LEVEL = 0.95


@dataclass(frozen=True)
class BootstrapSettings:
    """How intervals are computed; written into every record's ``intervals`` block.

    Example:
        >>> BootstrapSettings().describe()["n_resamples"]
        1000
    """

    n_resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED
    level: float = DEFAULT_LEVEL
    method: IntervalMethod = "percentile"

    def __post_init__(self) -> None:
        if self.n_resamples < 1:
            raise ValueError(f"n_resamples must be >= 1, got {self.n_resamples}")
        if not 0.0 < self.level < 1.0:
            raise ValueError(f"level must be in (0, 1), got {self.level}")
        if self.method not in ("percentile", "bca"):
            raise ValueError(f"method must be 'percentile' or 'bca', got {self.method!r}")

    def describe(self) -> dict[str, Any]:
        """The settings as plain JSON values."""
        return {"method": self.method, "level": self.level, "n_resamples": self.n_resamples, "seed": self.seed}

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> BootstrapSettings:
        """Settings back from :meth:`describe` (missing keys take the defaults).

        Example:
            >>> BootstrapSettings.from_dict({"seed": 3}).seed
            3
        """
        default = cls()
        return cls(
            n_resamples=int(obj.get("n_resamples", default.n_resamples)),
            seed=int(obj.get("seed", default.seed)),
            level=float(obj.get("level", default.level)),
            method=obj.get("method", default.method),
        )


@dataclass
class Interval:
    """A point estimate with its bootstrap interval, standard error and (for differences) a paired test.

    ``defined`` is the fraction of resamples where the statistic exists (a recovery ratio is undefined
    where clean ≤ rainy); the interval uses those only.
    """

    estimate: float
    lo: float
    hi: float
    se: float
    defined: float = 1.0
    p_value: float | None = None
    test: str | None = None

    @property
    def half_width(self) -> float:
        """Half the interval's width (what tables print as ``±``).

        Example:
            >>> Interval(1.0, 0.0, 3.0, 1.0).half_width
            1.5
        """
        return (self.hi - self.lo) / 2.0

    def excludes_zero(self, tol: float = 1e-12) -> bool:
        """Whether 0 lies outside the (closed) interval; ends within ``tol`` of 0 (rounding of equal scores) count as 0.

        Example:
            >>> Interval(0.0, 0.0, 0.0, 0.0).excludes_zero(), Interval(2.0, 0.5, 3.0, 1.0).excludes_zero()
            (False, True)
        """
        return bool(math.isfinite(self.lo) and math.isfinite(self.hi) and (self.lo > tol or self.hi < -tol))

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``p_value``/``test`` only when tested)."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> Interval:
        """Read back :meth:`to_dict` (non-finite values may be stored as strings)."""

        def num(key: str, default: float = math.nan) -> float:
            value = obj.get(key, default)
            return float(value) if value is not None else math.nan

        p = obj.get("p_value")
        return cls(
            estimate=num("estimate"),
            lo=num("lo"),
            hi=num("hi"),
            se=num("se"),
            defined=num("defined", 1.0),
            p_value=None if p is None else float(p),
            test=obj.get("test"),
        )


def single_image(interval: Interval) -> Interval:
    """``interval`` as it stands on one image: every resample draws that image, so there is no spread.

    The ``[Δ, Δ]`` the bootstrap gives would read as certainty, and the shifted bootstrap test as
    ``p = 1 / (1 + B)``; neither says anything about other images. The estimate stays; the interval and
    SE become undefined (NaN) and a bootstrap test is dropped (an exact sign-flip test, ``p = 1``, stays).

    Example:
        >>> single_image(Interval(2.0, 2.0, 2.0, 0.0, p_value=0.001, test="bootstrap")).to_dict()
        {'estimate': 2.0, 'lo': nan, 'hi': nan, 'se': nan, 'defined': 1.0}
    """
    interval.lo = interval.hi = interval.se = math.nan
    if interval.test == "bootstrap":
        interval.p_value, interval.test = None, None
    return interval


def resample_counts(n: int, n_resamples: int, seed: int) -> np.ndarray:
    """``(n_resamples, n)`` bootstrap weights: how often each of ``n`` images is drawn in each resample.

    Row ``b`` comes from ``n`` uniform draws with replacement of a ``numpy.random.Generator`` seeded with
    ``seed`` (no global state). Float64, so scores are matrix products.

    Example:
        >>> resample_counts(3, 2, seed=1).tolist() == resample_counts(3, 2, seed=1).tolist()
        True
    """
    if n < 1:
        raise ValueError("the bootstrap needs at least one image")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(n_resamples, n))
    flat = (draws + np.arange(n_resamples)[:, None] * n).ravel()
    return np.bincount(flat, minlength=n_resamples * n).reshape(n_resamples, n).astype(np.float64)


def jackknife_weights(n: int) -> np.ndarray:
    """``(n, n)`` leave-one-out weights (row ``i`` drops image ``i``), for the BCa acceleration.

    Example:
        >>> jackknife_weights(3).tolist()
        [[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]]
    """
    return np.ones((n, n)) - np.eye(n)


def _defined(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples, dtype=np.float64).reshape(-1)
    return samples[np.isfinite(samples)]


def percentile_interval(samples: np.ndarray, level: float = DEFAULT_LEVEL) -> tuple[float, float]:
    """Equal-tailed percentile interval of the defined (finite) bootstrap values.

    Example:
        >>> percentile_interval(np.zeros(10))
        (0.0, 0.0)
    """
    values = _defined(samples)
    if values.size == 0:
        return math.nan, math.nan
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
    return float(lo) + 0.0, float(hi) + 0.0  # + 0.0: no "-0.0" from interpolating zeros


def bca_interval(
    samples: np.ndarray, estimate: float, jackknife: np.ndarray, level: float = DEFAULT_LEVEL
) -> tuple[float, float]:
    """Bias-corrected and accelerated interval (Efron 1987) from bootstrap and leave-one-out values.

    Falls back to the percentile interval where the correction is undefined (all resamples equal, or
    every resample on one side of the estimate).

    Example:
        >>> rng = np.random.default_rng(0); x = rng.normal(size=30); w = resample_counts(30, 500, 0)
        >>> lo, hi = bca_interval(w @ x / 30, float(x.mean()), jackknife_weights(30) @ x / 29)
        >>> bool(lo < x.mean() < hi)
        True
    """
    from statistics import NormalDist

    values = _defined(samples)
    if values.size == 0 or not math.isfinite(estimate):
        return math.nan, math.nan
    below = float(np.mean(values < estimate) + 0.5 * np.mean(values == estimate))
    if values.min() == values.max() or below <= 0.0 or below >= 1.0:
        return percentile_interval(values, level)
    normal = NormalDist()
    z0 = normal.inv_cdf(below)
    jack = _defined(jackknife)
    diff = jack.mean() - jack if jack.size else np.zeros(1)
    denom = 6.0 * float(np.sum(diff**2)) ** 1.5
    accel = float(np.sum(diff**3)) / denom if denom > 0 else 0.0
    alpha = (1.0 - level) / 2.0
    quantiles = []
    for z in (normal.inv_cdf(alpha), normal.inv_cdf(1.0 - alpha)):
        adjusted = z0 + (z0 + z) / (1.0 - accel * (z0 + z))
        quantiles.append(min(max(normal.cdf(adjusted), 0.0), 1.0))
    lo, hi = np.quantile(values, quantiles)
    return float(lo) + 0.0, float(hi) + 0.0


def summarize(
    samples: np.ndarray,
    estimate: float,
    settings: BootstrapSettings,
    jackknife: np.ndarray | None = None,
) -> Interval:
    """An :class:`Interval` from bootstrap values of one statistic.

    Example:
        >>> summarize(np.zeros(100), 0.0, BootstrapSettings()).to_dict()
        {'estimate': 0.0, 'lo': 0.0, 'hi': 0.0, 'se': 0.0, 'defined': 1.0}
    """
    samples = np.asarray(samples, dtype=np.float64).reshape(-1)
    values = _defined(samples)
    if settings.method == "bca" and jackknife is not None:
        lo, hi = bca_interval(samples, estimate, jackknife, settings.level)
    else:
        lo, hi = percentile_interval(samples, settings.level)
    if not math.isfinite(estimate):  # an undefined (or infinite) score has no interval
        lo = hi = math.nan
    se = float(np.std(values, ddof=1)) if values.size > 1 else (0.0 if values.size else math.nan)
    defined = float(values.size / samples.size) if samples.size else 0.0
    return Interval(estimate=float(estimate), lo=lo, hi=hi, se=se, defined=defined)


def bootstrap_p_value(samples: np.ndarray, estimate: float) -> float:
    """Two-sided bootstrap p-value of "no difference" for a difference whose resampled values are given.

    The bootstrap distribution is shifted to mean zero under the null (Efron & Tibshirani 1993, §16.4):
    ``p = (1 + #{|Δ*_b − Δ̂| ≥ |Δ̂|}) / (1 + B)``. Identical methods (``Δ* ≡ 0``) give ``p = 1``.

    Example:
        >>> bootstrap_p_value(np.zeros(50), 0.0)
        1.0
    """
    values = _defined(samples)
    if values.size == 0 or not math.isfinite(estimate):
        return math.nan
    extreme = int(np.sum(np.abs(values - estimate) >= abs(estimate)))
    return (1.0 + extreme) / (1.0 + values.size)


def sign_flip_test(differences: np.ndarray, n_flips: int, seed: int) -> tuple[float, TestName]:
    """Paired sign-flip (permutation) test of mean per-image difference 0; returns ``(p, test name)``.

    Under the null each image's difference is as likely ``+d`` as ``−d``. Exact over all ``2^n`` sign
    patterns when ``n <= 12``, or ``n <= 20`` and ``2^n <= n_flips``; otherwise ``n_flips`` random patterns from a generator seeded with
    ``(seed, 1)``, ``p = (1 + #{|mean(s·d)| ≥ |mean(d)|}) / (1 + n_flips)``.

    Example:
        >>> sign_flip_test(np.zeros(5), 1000, 0)
        (1.0, 'sign-flip (exact)')
        >>> p, _ = sign_flip_test(np.full(12, 0.5), 1000, 0); bool(p < 0.01)
        True
    """
    d = np.asarray(differences, dtype=np.float64).reshape(-1)
    d = d[np.isfinite(d)]
    n = d.size
    if n == 0:
        return math.nan, "sign-flip"
    observed = abs(float(d.mean()))
    tol = 1e-12 * max(1.0, float(np.abs(d).max()))  # flips of equal |d| tie with the observed mean
    if n <= 12 or (n <= 20 and 2**n <= n_flips):
        patterns = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1) * 2.0 - 1.0
        means = np.abs(patterns @ d) / n
        return float(np.mean(means >= observed - tol)), "sign-flip (exact)"
    rng = np.random.default_rng([seed, 1])
    extreme = 0
    for start in range(0, n_flips, 256):
        signs = rng.integers(0, 2, size=(min(256, n_flips - start), n)) * 2.0 - 1.0
        extreme += int(np.sum(np.abs(signs @ d) / n >= observed - tol))
    return (1.0 + extreme) / (1.0 + n_flips), "sign-flip"


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm–Bonferroni adjusted p-values (step-down, monotone); ``None`` / NaN entries are left out.

    Example:
        >>> holm([0.01, 0.04, 0.03, None])
        [0.03, 0.06, 0.06, None]
    """
    indexed = [(p, i) for i, p in enumerate(p_values) if p is not None and math.isfinite(p)]
    indexed.sort()
    m = len(indexed)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = round(running, 15)
    return adjusted
