"""NIQE (Mittal, Soundararajan & Bovik 2013) exactly as the LIVE ``niqe_release`` MATLAB code computes it.

Hand-written on purpose: no library reproduces the MATLAB release's numbers (tested against them).


``computequality(im, 96, 96, 0, 0, mu_prisparam, cov_prisparam)`` with the release's pristine model
(``modelparameters.mat``, shipped as ``weights/iqa/niqe_pris_params.npz``) — *not* the different
model built into MATLAB's Image Processing Toolbox ``niqe()``:

1. ``rgb2gray`` (uint8, rounded), then ``double``; crop to a multiple of the 96×96 block size.
2. Two scales; the second is ``imresize(im, 0.5)`` of the *double* image (bicubic, antialiased,
   no uint8 rounding).
3. MSCN coefficients ``(im − μ) / (σ + 1)`` with a normalised 7×7 Gaussian (σ = 7/6) through
   ``imfilter(..., 'replicate')``; ``σ = sqrt(|E[im²] − μ²|)``.
4. Per block (96×96, then 48×48 at the second scale): an AGGD fit (``estimateaggdparam``: grid
   ``0.2:0.001:10``) of the coefficients → ``[α, (βl + βr)/2]`` and of the products with the four
   ``circshift``-ed neighbours (wrapping *inside the block*) → ``[α, (βr − βl)·Γ(2/α)/Γ(1/α), βl, βr]``:
   18 features per scale, 36 per block.
5. ``nanmean`` / ``nancov`` (complete rows) of the block features and the distance
   ``sqrt((μp − μd) · pinv((Σp + Σd)/2) · (μp − μd)ᵀ)`` with MATLAB's ``pinv`` tolerance.

Exactly flat image regions make the MSCN coefficients ±1e-14 floating-point noise whose sign MATLAB's
summation order decides; on such images the score is reproducible to about 1–2 %, elsewhere to 1e-6.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.metrics.base import MetricSpec, check_image, same_shape_chunks
from bench.metrics.color import rgb_to_gray
from bench.metrics.imresize import imresize_batch

logger = logging.getLogger(__name__)

MODEL_FILE = "iqa/niqe_pris_params.npz"
BLOCK = 96
SHIFTS: tuple[tuple[int, int], ...] = ((0, 1), (1, 0), (1, 1), (1, -1))
_CHUNK_PIXELS = 12_000_000  # images of one size processed together, bounded memory


def matlab_colon(start: float, step: float, stop: float) -> np.ndarray:
    """MATLAB's ``start:step:stop`` (first half counted up from ``start``, second half down from the end).

    Example:
        >>> matlab_colon(0.2, 0.001, 10.0).size
        9801
    """
    n = math.floor((stop - start) / step + 1e-10)
    k = np.arange(n + 1, dtype=np.float64)
    end = start + n * step
    values = start + k * step
    upper = k > n / 2
    values[upper] = end - (n - k[upper]) * step
    return values


@functools.lru_cache(maxsize=1)
def _gamma_table() -> tuple[np.ndarray, np.ndarray]:
    from scipy.special import gamma

    gam = matlab_colon(0.2, 0.001, 10.0)
    r_gam = gamma(2.0 / gam) ** 2 / (gamma(1.0 / gam) * gamma(3.0 / gam))
    return gam, r_gam


def gaussian_window(size: int = 7, sigma: float = 7.0 / 6.0) -> np.ndarray:
    """MATLAB ``fspecial('gaussian', size, sigma)``, normalised again as ``computequality`` does."""
    half = (size - 1) / 2.0
    y, x = np.meshgrid(np.arange(-half, half + 1), np.arange(-half, half + 1), indexing="ij")
    h = np.exp(-(x * x + y * y) / (2.0 * sigma * sigma))
    h[h < np.finfo(np.float64).eps * h.max()] = 0.0
    h = h / h.sum()
    return h / h.sum()


def _grid_argmin(r_gam: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``[~, i] = min((r_gam - target).^2)`` per target: first index of the minimum, 0 for NaN targets.

    ``r_gam`` is strictly increasing, so the squared difference is unimodal along the grid and the
    minimum is one of the two grid points around ``target`` (the lower one on a tie), exactly as an
    exhaustive search finds it.
    """
    j = np.searchsorted(r_gam, target, side="left")
    lo = np.clip(j - 1, 0, r_gam.size - 1)
    hi = np.clip(j, 0, r_gam.size - 1)
    with np.errstate(invalid="ignore"):
        take_hi = (r_gam[hi] - target) ** 2 < (r_gam[lo] - target) ** 2
    position = np.where(take_hi, hi, lo)
    position[np.isnan(target)] = 0
    return position


def _grid_argmin_exhaustive(r_gam: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The literal MATLAB search, for tests and for tables that are not strictly increasing."""
    position = np.empty(target.shape[0], dtype=np.int64)
    for start in range(0, target.shape[0], 256):  # bounded (rows x 9801) work array
        diff = (r_gam[None, :] - target[start : start + 256, None]) ** 2
        position[start : start + 256] = np.argmin(diff, axis=1)  # first NaN (index 0) when all NaN, as MATLAB
    return position


def estimate_aggd(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``estimateaggdparam`` for each row of ``values`` (vectorised search on the grid ``0.2:0.001:10``).

    Rows without negative (or positive) values give NaN betas and ``α = 0.2``, as MATLAB's ``min``
    over an all-NaN vector returns index 1.

    Returns:
        ``(alpha, beta_left, beta_right)``, each of shape ``(rows,)``.

    Example:
        >>> a, bl, br = estimate_aggd(np.random.default_rng(0).standard_normal((1, 20000)))
        >>> bool(abs(a[0] - 2.0) < 0.1)
        True
    """
    from scipy.special import gamma

    gam, r_gam = _gamma_table()
    values = np.asarray(values, dtype=np.float64)
    n = values.shape[1]
    sq = values * values
    negsq = np.minimum(values, 0.0)
    negsq *= negsq
    possq = np.maximum(values, 0.0)
    possq *= possq
    with np.errstate(invalid="ignore", divide="ignore"):
        leftstd = np.sqrt(negsq.sum(axis=1) / (values < 0).sum(axis=1))
        rightstd = np.sqrt(possq.sum(axis=1) / (values > 0).sum(axis=1))
        gammahat = leftstd / rightstd
        rhat = (np.abs(values).sum(axis=1) / n) ** 2 / (sq.sum(axis=1) / n)
        rhatnorm = (rhat * (gammahat**3 + 1) * (gammahat + 1)) / ((gammahat**2 + 1) ** 2)
    if _strictly_increasing(r_gam):
        position = _grid_argmin(r_gam, rhatnorm)
    else:  # pragma: no cover - the gamma ratio table is increasing
        position = _grid_argmin_exhaustive(r_gam, rhatnorm)
    alpha = gam[position]
    ratio = np.sqrt(gamma(1.0 / alpha) / gamma(3.0 / alpha))
    return alpha, leftstd * ratio, rightstd * ratio


@functools.lru_cache(maxsize=1)
def _increasing_flag() -> bool:
    return bool(np.all(np.diff(_gamma_table()[1]) > 0))


def _strictly_increasing(r_gam: np.ndarray) -> bool:
    return _increasing_flag() if r_gam is _gamma_table()[1] else bool(np.all(np.diff(r_gam) > 0))


def block_features(blocks: np.ndarray) -> np.ndarray:
    """``computefeature`` for a stack of MSCN blocks ``(B, h, w)`` → ``(B, 18)``.

    Example:
        >>> block_features(np.random.default_rng(0).standard_normal((2, 48, 48))).shape
        (2, 18)
    """
    from scipy.special import gamma

    count = blocks.shape[0]
    flat = blocks.reshape(count, -1)  # the order of the values only affects rounding of the sums
    feats = np.empty((count, 18), dtype=np.float64)
    alpha, betal, betar = estimate_aggd(flat)
    feats[:, 0] = alpha
    feats[:, 1] = (betal + betar) / 2.0
    for i, shift in enumerate(SHIFTS):
        shifted = np.roll(blocks, shift, axis=(1, 2))  # circshift inside the block
        pair = (blocks * shifted).reshape(count, -1)
        alpha, betal, betar = estimate_aggd(pair)
        with np.errstate(invalid="ignore"):
            meanparam = (betar - betal) * (gamma(2.0 / alpha) / gamma(1.0 / alpha))
        feats[:, 2 + 4 * i] = alpha
        feats[:, 3 + 4 * i] = meanparam
        feats[:, 4 + 4 * i] = betal
        feats[:, 5 + 4 * i] = betar
    return feats


def mscn(stack: np.ndarray) -> np.ndarray:
    """MSCN coefficients of an ``(N, H, W)`` float64 stack (``imfilter`` with ``'replicate'`` borders)."""
    from scipy.ndimage import correlate1d

    window = gaussian_window()
    # The window is the outer product of its (normalised) row sums; filter separably.
    w1 = window.sum(axis=1)

    def blur(x: np.ndarray) -> np.ndarray:
        return correlate1d(correlate1d(x, w1, axis=1, mode="nearest"), w1, axis=2, mode="nearest")

    mu = blur(stack)
    mu_sq = mu * mu
    sigma = np.sqrt(np.abs(blur(stack * stack) - mu_sq))
    return (stack - mu) / (sigma + 1.0)


def _blocks(stack: np.ndarray, size: int) -> np.ndarray:
    """Split ``(N, H, W)`` into blocks ``(N, nblocks, size, size)`` in ``blkproc``'s column-major order."""
    n, h, w = stack.shape
    rows, cols = h // size, w // size
    b = stack.reshape(n, rows, size, cols, size).transpose(0, 3, 1, 2, 4)  # (n, cols, rows, size, size)
    return b.reshape(n, cols * rows, size, size)


def niqe_features(gray_stack: np.ndarray) -> np.ndarray:
    """Per-block NIQE features ``(N, blocks, 36)`` of an ``(N, H, W)`` stack of cropped gray images."""
    n = gray_stack.shape[0]
    im = gray_stack.astype(np.float64)
    parts = []
    for scale in (1, 2):
        size = BLOCK // scale
        blocks = _blocks(mscn(im), size)
        nb = blocks.shape[1]
        parts.append(block_features(blocks.reshape(n * nb, size, size)).reshape(n, nb, 18))
        if scale == 1:
            im = imresize_batch(im, 0.5)
    return np.concatenate(parts, axis=2)


def _nanmean_nancov(feat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB ``nanmean`` (per column) and ``nancov`` (complete rows, N − 1) of ``(blocks, 36)``.

    A single block is a row *vector* to MATLAB: both then reduce over its 36 values (scalars).
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        if feat.shape[0] == 1:
            row = feat[0][~np.isnan(feat[0])]
            mean = np.full(feat.shape[1], row.mean() if row.size else np.nan)
            var = row.var(ddof=1) if row.size > 1 else (0.0 if row.size == 1 else np.nan)
            return mean, np.full((feat.shape[1], feat.shape[1]), var)
        valid = ~np.isnan(feat)
        mean = np.where(valid, feat, 0.0).sum(axis=0) / valid.sum(axis=0)
        complete = feat[valid.all(axis=1)]
        if complete.shape[0] == 0:
            return mean, np.full((feat.shape[1], feat.shape[1]), np.nan)
        if complete.shape[0] == 1:
            return mean, np.zeros((feat.shape[1], feat.shape[1]))
        centred = complete - complete.mean(axis=0)
        return mean, centred.T @ centred / (complete.shape[0] - 1)


def matlab_pinv(matrix: np.ndarray) -> np.ndarray:
    """MATLAB ``pinv`` with its default tolerance ``max(size(A)) · eps(norm(A))``; NaN for a non-finite matrix."""
    if matrix.size == 0 or not np.isfinite(matrix).all():  # numpy's svd raises LinAlgError on NaN
        return np.full(matrix.T.shape, np.nan)
    u, s, vt = np.linalg.svd(matrix)
    if not np.isfinite(s).all():
        return np.full(matrix.T.shape, np.nan)
    tol = max(matrix.shape) * np.spacing(s[0])
    r = int((s > tol).sum())
    return (vt[:r].T / s[:r]) @ u[:, :r].T


def niqe_distance(feat: np.ndarray, mu_pris: np.ndarray, cov_pris: np.ndarray) -> float:
    """The NIQE score from per-block features ``(blocks, 36)`` and the pristine model.

    Raises:
        ValueError: no block has a complete set of finite features (a flat image): the covariance is NaN,
            which MATLAB's ``pinv`` (``svd``) refuses too.
    """
    mu_dist, cov_dist = _nanmean_nancov(feat)
    if not np.isfinite(cov_dist).all():
        raise ValueError(
            f"NIQE is undefined for this image: none of its {feat.shape[0]} blocks has finite features "
            "(flat image regions)"
        )
    diff = (mu_pris - mu_dist)[None, :]
    invcov = matlab_pinv((cov_pris + cov_dist) / 2.0)
    value = float((diff @ invcov @ diff.T)[0, 0])
    return math.sqrt(value) if value >= 0 else math.nan


@functools.lru_cache(maxsize=4)
def _load_model(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as data:
        mu = np.asarray(data["mu_pris_param"], dtype=np.float64).reshape(-1)
        cov = np.asarray(data["cov_pris_param"], dtype=np.float64)
    if mu.shape != (36,) or cov.shape != (36, 36):
        raise ValueError(f"{path}: expected mu (1, 36) and cov (36, 36), got {mu.shape} and {cov.shape}")
    logger.debug("loaded NIQE pristine model %s", path)
    return mu, cov


def load_pristine_model() -> tuple[np.ndarray, np.ndarray]:
    """The LIVE release's pristine MVG model ``(mu (36,), cov (36, 36))``, cached per process.

    Raises:
        MissingDataError: ``iqa/niqe_pris_params.npz`` is not under the weights root.
    """
    from bench.paths import resolve_weights_file

    return _load_model(resolve_weights_file(MODEL_FILE, what="NIQE pristine model"))


def _prepare(image: np.ndarray) -> np.ndarray:
    check_image(image)
    gray = rgb_to_gray(image)
    rows, cols = (gray.shape[0] // BLOCK) * BLOCK, (gray.shape[1] // BLOCK) * BLOCK
    if rows == 0 or cols == 0:
        raise ValueError(f"NIQE needs an image of at least {BLOCK}x{BLOCK} pixels, got {image.shape[:2]}")
    return gray[:rows, :cols]


def niqe_batch(images: Sequence[np.ndarray], references: Sequence[np.ndarray] | None = None) -> list[float]:
    """NIQE of many ``(H, W, 3)`` uint8 RGB images; images of equal size are processed together.

    Example:
        >>> niqe_batch([np.zeros((96, 96, 3), np.uint8)] * 2)  # doctest: +SKIP
    """
    del references  # no-reference metric
    mu_pris, cov_pris = load_pristine_model()
    grays = [_prepare(img) for img in images]
    scores: list[float] = [math.nan] * len(grays)
    for idx in same_shape_chunks(grays, _CHUNK_PIXELS):
        feats = niqe_features(np.stack([grays[i] for i in idx]))
        for j, i in enumerate(idx):
            scores[i] = niqe_distance(feats[j], mu_pris, cov_pris)
    return scores


def niqe(image: np.ndarray) -> float:
    """NIQE of one ``(H, W, 3)`` uint8 RGB image (lower is better).

    Example:
        >>> niqe(read_image("images/iqa-calibration/ref_dir/I04.bmp"))  # doctest: +SKIP
        3.6463170...
    """
    return niqe_batch([image])[0]


NIQE = MetricSpec(
    name="niqe",
    fn=niqe,
    mode="NR",
    higher_is_better=False,
    summary="NIQE (Mittal et al. 2013), LIVE pristine model, MATLAB-faithful.",
    reference_impl=(
        "LIVE niqe_release computequality(im, 96, 96, 0, 0, mu_prisparam, cov_prisparam) with the release's "
        "pristine model modelparameters.mat (weights/iqa/niqe_pris_params.npz), NOT MATLAB's built-in niqe() "
        "model; rgb2gray, MATLAB imresize port; matches Octave runs of the original code to 1e-6 "
        "(about 1-2% on images with exactly flat regions)"
    ),
    batch_fn=niqe_batch,
)
