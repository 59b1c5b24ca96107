"""PSNR and SSIM variants of the deraining literature, MATLAB-exact.

Hand-written on purpose: MATLAB-exact SSIM/PSNR (rgb2ycbcr rounding, 'valid' filtering) is the protocol.


* ``psnr_y``/``ssim_y``: MATLAB ``rgb2ycbcr`` on uint8 (rounded Y), PSNR peak 255, no border crop;
  Z. Wang's 2003 ``ssim_index`` (11×11 Gaussian σ = 1.5, K = (0.01, 0.03), L = 255,
  ``filter2(..., 'valid')``, mean of the map, no down-sampling) — the MSPFN / MPRNet protocol.
* ``psnr_y_float``/``ssim_y_float``: the same on unrounded Y (PReNet's ``statistic/`` scripts).
* ``psnr_rgb``: PSNR over the three RGB channels; ``ssim_rgb``: ``ssim_index`` per channel, averaged.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bench.metrics.base import MetricSpec, check_pair
from bench.metrics.color import rgb_to_y


def gaussian_window_1d(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """The 1-D factor of MATLAB ``fspecial('gaussian', size, sigma)`` (normalised)."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    w = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return w / w.sum()


def _filter_valid(image: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``filter2(w' * w, image, 'valid')`` with a separable symmetric window."""
    rows = sliding_window_view(image, w.size, axis=1) @ w
    return sliding_window_view(rows, w.size, axis=0) @ w


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """PSNR in dB between two arrays on the same scale; ``inf`` when they are identical."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(peak * peak / mse)


def ssim_index(
    a: np.ndarray,
    b: np.ndarray,
    *,
    k1: float = 0.01,
    k2: float = 0.03,
    peak: float = 255.0,
    window: int = 11,
    sigma: float = 1.5,
) -> float:
    """Z. Wang's 2003 ``ssim_index`` on two single-channel images (float, 0–peak scale).

    Raises:
        ValueError: the images are smaller than the window.
    """
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"ssim_index needs two equal 2-D images, got {a.shape} and {b.shape}")
    if min(a.shape) < window:
        raise ValueError(f"image {a.shape} is smaller than the {window}x{window} SSIM window")
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    w = gaussian_window_1d(window, sigma)
    c1 = (k1 * peak) ** 2
    c2 = (k2 * peak) ** 2
    mu1 = _filter_valid(a, w)
    mu2 = _filter_valid(b, w)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    s1 = _filter_valid(a * a, w) - mu1_sq
    s2 = _filter_valid(b * b, w) - mu2_sq
    s12 = _filter_valid(a * b, w) - mu12
    ssim_map = ((2 * mu12 + c1) * (2 * s12 + c2)) / ((mu1_sq + mu2_sq + c1) * (s1 + s2 + c2))
    return float(ssim_map.mean())


def psnr_y(image: np.ndarray, reference: np.ndarray) -> float:
    check_pair(image, reference)
    return psnr(rgb_to_y(image), rgb_to_y(reference))


def ssim_y(image: np.ndarray, reference: np.ndarray) -> float:
    check_pair(image, reference)
    return ssim_index(rgb_to_y(image), rgb_to_y(reference))


def psnr_y_float(image: np.ndarray, reference: np.ndarray) -> float:
    check_pair(image, reference)
    return psnr(rgb_to_y(image, rounded=False), rgb_to_y(reference, rounded=False))


def ssim_y_float(image: np.ndarray, reference: np.ndarray) -> float:
    check_pair(image, reference)
    return ssim_index(rgb_to_y(image, rounded=False), rgb_to_y(reference, rounded=False))


def psnr_rgb(image: np.ndarray, reference: np.ndarray) -> float:
    check_pair(image, reference)
    return psnr(image, reference)


def ssim_rgb(image: np.ndarray, reference: np.ndarray) -> float:
    check_pair(image, reference)
    return float(np.mean([ssim_index(image[..., c], reference[..., c]) for c in range(3)]))


_MATLAB = "MATLAB rgb2ycbcr + Wang 2003 ssim_index (MPRNet evaluate_PSNR_SSIM.m); calibrated to 1e-10"
PSNR_Y = MetricSpec("psnr_y", psnr_y, "FR", True, "PSNR on rounded MATLAB Y (BT.601 studio), peak 255.", _MATLAB, "dB")
SSIM_Y = MetricSpec("ssim_y", ssim_y, "FR", True, "Wang 2003 SSIM on rounded MATLAB Y.", _MATLAB)
PSNR_Y_FLOAT = MetricSpec(
    "psnr_y_float",
    psnr_y_float,
    "FR",
    True,
    "PSNR on unrounded Y (PReNet statistic/ scripts).",
    "rgb2ycbcr(im2double(x))",
    "dB",
)
SSIM_Y_FLOAT = MetricSpec(
    "ssim_y_float",
    ssim_y_float,
    "FR",
    True,
    "SSIM on unrounded Y (PReNet statistic/ scripts).",
    "rgb2ycbcr(im2double(x))",
)
PSNR_RGB = MetricSpec(
    "psnr_rgb", psnr_rgb, "FR", True, "PSNR over RGB channels, peak 255.", "MATLAB psnr on uint8 RGB", "dB"
)
SSIM_RGB = MetricSpec(
    "ssim_rgb", ssim_rgb, "FR", True, "Wang 2003 SSIM per RGB channel, averaged.", "ssim_index per channel"
)
