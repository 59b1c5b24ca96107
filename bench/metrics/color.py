"""Colour conversions exactly as MATLAB computes them (inputs are RGB, never BGR)."""

from __future__ import annotations

import numpy as np

# MATLAB rgb2ycbcr (ITU-R BT.601, studio range): Y = 16 + (65.481 R + 128.553 G + 24.966 B) for R,G,B in [0, 1].
# For uint8 input it scales the coefficients as ``T = (1/255) * origT`` and calls ``imlincomb(T1, R, T2, G, T3, B, 16)``.
_Y_COEFFS = (1.0 / 255.0 * 65.481, 1.0 / 255.0 * 128.553, 1.0 / 255.0 * 24.966)


def rgb_to_y(image: np.ndarray, *, rounded: bool = True) -> np.ndarray:
    """MATLAB ``rgb2ycbcr`` luminance of a uint8 RGB image, on the 0–255 scale, as float64.

    ``rounded=True`` reproduces ``rgb2ycbcr(uint8_img)`` (uint8 output, rounded half away from
    zero); ``rounded=False`` reproduces ``255 * rgb2ycbcr(im2double(img))`` (PReNet's convention).

    Example:
        >>> rgb_to_y(np.array([[[255, 255, 255]]], dtype=np.uint8))
        array([[235.]])
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got {image.shape}")
    # Elementwise, in imlincomb's order ((T1·R + T2·G) + T3·B) + 16: every step is one correctly rounded
    # IEEE operation, so the result is the same for any memory layout and on any CPU. A matrix product
    # (``image @ T``) is not: its kernel depends on the strides and the SIMD width, and some pixels'
    # Y lie exactly on a rounding tie (65481 R + 128553 G + 24966 B ≡ 127500 mod 255000), where an
    # ulp decides the uint8 value; a planar (CHW-strided) image then scored differently from a copy.
    y = _weighted_channels(image, _Y_COEFFS)
    y += 16.0
    if rounded:
        y = np.floor(y + 0.5)  # MATLAB rounds half away from zero (values are positive)
    return y


def rgb_to_gray(image: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2gray`` of a uint8 RGB image: ``0.298936·R + 0.587043·G + 0.114021·B``, rounded.

    Returns float64 values that are whole numbers in 0..255 (MATLAB returns uint8).
    """
    gray = _weighted_channels(image, (0.298936021293776, 0.587043074451121, 0.114020904255103))
    return np.floor(gray + 0.5)


def _weighted_channels(image: np.ndarray, weights: tuple[float, float, float]) -> np.ndarray:
    """``(w0·R + w1·G) + w2·B`` in float64, one rounded operation at a time (layout- and CPU-independent)."""
    x = image.astype(np.float64)
    out = x[..., 0] * weights[0]
    out += x[..., 1] * weights[1]
    out += x[..., 2] * weights[2]
    return out


def rgb_to_yiq(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The Y, I, Q planes used by FSIMc (Zhang et al. 2011), on the 0–255 scale."""
    x = image.astype(np.float64)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    i = 0.596 * r - 0.274 * g - 0.322 * b
    q = 0.211 * r - 0.523 * g + 0.312 * b
    return y, i, q
