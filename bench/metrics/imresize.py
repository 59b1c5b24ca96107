"""A faithful port of MATLAB ``imresize`` (bicubic, antialiased), the resizer of NIQE, SSEQ and BRISQUE.

Hand-written on purpose: NIQE/SSEQ/BRISQUE are exact against MATLAB only with MATLAB's resizer.


What MATLAB does, and this module reproduces:

* **Kernel**: Keys' cubic convolution with ``a = -0.5`` and support ``[-2, 2]``.
* **Antialiasing**: when shrinking (``scale < 1``) the kernel is stretched, ``h(x) = scale·cubic(scale·x)``,
  and its width becomes ``4 / scale``.
* **Contributions**: output pixel ``x`` (1-based) maps to input coordinate
  ``u = x / scale + 0.5·(1 − 1/scale)``; its taps are ``floor(u − width/2) + (0 … ceil(width) + 1)``,
  weighted by ``h(u − index)`` and normalised to sum 1. Out-of-range taps are mirrored
  (``[1 … n, n … 1]`` repeated, i.e. symmetric padding that repeats the edge pixel), and tap columns whose
  weights are all zero are dropped.
* **Output size**: ``ceil(scale · size)`` when a scale factor is given (the scale itself, not the size
  ratio, then enters the contributions).
* **Order**: one dimension at a time, the dimension with the smaller scale first (rows first on ties).
* **Types**: ``uint8`` input is rounded (half away from zero) and saturated to ``uint8`` after *each*
  one-dimensional pass; floating-point input stays float64 with no rounding or clipping.

Weights are applied tap by tap in MATLAB's order so that sums (and hence the uint8 rounding) follow
the same floating-point sequence.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import cast

import numpy as np

KERNEL_WIDTH = 4.0


def cubic(x: np.ndarray) -> np.ndarray:
    """MATLAB ``imresize``'s bicubic kernel (Keys, ``a = -0.5``).

    Example:
        >>> cubic(np.array([0.0, 1.0, 2.0, 0.5]))
        array([1.    , 0.    , 0.    , 0.5625])
    """
    absx = np.abs(x)
    absx2 = absx * absx
    absx3 = absx2 * absx
    inner = (1.5 * absx3 - 2.5 * absx2 + 1.0) * (absx <= 1)
    outer = (-0.5 * absx3 + 2.5 * absx2 - 4.0 * absx + 2.0) * ((absx > 1) & (absx <= 2))
    return inner + outer


def contributions(
    in_length: int, out_length: int, scale: float, *, antialiasing: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Weights and 0-based input indices of each output pixel along one dimension (MATLAB's ``contributions``).

    Args:
        in_length: Input length along the dimension.
        out_length: Output length.
        scale: Scale factor along the dimension (output/input).
        antialiasing: Stretch the kernel when ``scale < 1`` (MATLAB's default).

    Returns:
        ``(weights, indices)``, both ``(out_length, taps)``; each weight row sums to 1.

    Example:
        >>> w, idx = contributions(4, 2, 0.5)
        >>> w.shape, bool(np.allclose(w.sum(1), 1.0))
        ((2, 8), True)
    """
    if in_length < 1 or out_length < 1:
        raise ValueError(f"lengths must be positive, got in={in_length}, out={out_length}")
    h: Callable[[np.ndarray], np.ndarray]
    if scale < 1 and antialiasing:
        kernel_width = KERNEL_WIDTH / scale

        def h(v: np.ndarray) -> np.ndarray:
            return scale * cubic(scale * v)
    else:
        kernel_width = KERNEL_WIDTH
        h = cubic
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - kernel_width / 2.0)
    taps = math.ceil(kernel_width) + 2
    indices = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    weights = h(u[:, None] - indices)
    total = np.zeros(out_length)
    for k in range(taps):  # MATLAB's sum(weights, 2): sequential along the row
        total = total + weights[:, k]
    weights = weights / total[:, None]
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    idx = mirror[np.mod(indices.astype(np.int64) - 1, 2 * in_length)]
    keep = np.any(weights != 0, axis=0)
    return weights[:, keep], idx[:, keep]


def resize_along_axis(array: np.ndarray, axis: int, weights: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """One MATLAB ``resizeAlongDim`` pass: ``out[i] = Σ_k weights[i, k] · in[indices[i, k]]`` along ``axis``.

    ``uint8`` arrays are rounded half away from zero and saturated after the pass; other types
    are computed and returned as float64.

    Example:
        >>> w, idx = contributions(4, 2, 0.5)
        >>> resize_along_axis(np.arange(4.0), 0, w, idx).round(4)
        array([0.4609, 2.5391])
    """
    moved = np.moveaxis(array, axis, 0)
    src = np.ascontiguousarray(moved, dtype=np.float64).reshape(moved.shape[0], -1)
    out = np.zeros((weights.shape[0], src.shape[1]), dtype=np.float64)
    for k in range(weights.shape[1]):  # tap by tap, MATLAB's summation order
        out += weights[:, k, None] * src[indices[:, k]]
    out = out.reshape(weights.shape[0], *moved.shape[1:])
    if array.dtype == np.uint8:
        out = np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)
    return np.moveaxis(out, 0, axis)


def _output_plan(
    in_shape: tuple[int, int], scale: float | Sequence[float] | None, output_shape: Sequence[int] | None
) -> tuple[tuple[float, float], tuple[int, int]]:
    if (scale is None) == (output_shape is None):
        raise ValueError("pass exactly one of scale and output_shape")
    if scale is not None:
        scales: tuple[float, ...]
        if np.isscalar(scale):
            value = float(cast(float, scale))  # np.isscalar: a Python or NumPy number
            scales = (value, value)
        else:
            scales = tuple(float(s) for s in cast(Sequence[float], scale))
        if len(scales) != 2 or min(scales) <= 0:
            raise ValueError(f"scale must be positive (one value or two), got {scale}")
        out = (math.ceil(scales[0] * in_shape[0]), math.ceil(scales[1] * in_shape[1]))
        return (scales[0], scales[1]), out
    assert output_shape is not None
    if len(output_shape) != 2 or min(output_shape) < 1:
        raise ValueError(f"output_shape must be two positive sizes, got {output_shape}")
    out = (int(output_shape[0]), int(output_shape[1]))
    return (out[0] / in_shape[0], out[1] / in_shape[1]), out


def imresize(
    image: np.ndarray,
    scale: float | Sequence[float] | None = None,
    *,
    output_shape: Sequence[int] | None = None,
    antialiasing: bool = True,
) -> np.ndarray:
    """MATLAB ``imresize(image, scale)`` / ``imresize(image, [rows cols])`` with the bicubic kernel.

    Works on ``(H, W)`` and ``(H, W, C)`` arrays; for ``(N, H, W)`` stacks use :func:`imresize_batch`.

    Args:
        image: ``uint8`` (rounded and saturated after each pass, as MATLAB) or floating-point array.
        scale: One scale factor or ``(row_scale, col_scale)``; output size is ``ceil(scale · size)``.
        output_shape: ``(rows, cols)`` instead of ``scale``.
        antialiasing: MATLAB's ``'Antialiasing'`` option (default true).

    Returns:
        The resized array: ``uint8`` for ``uint8`` input, float64 otherwise.

    Example:
        >>> img = np.arange(64, dtype=np.uint8).reshape(8, 8)
        >>> imresize(img, 0.5).shape
        (4, 4)
    """
    if image.ndim not in (2, 3):
        raise ValueError(f"expected an (H, W) or (H, W, C) array, got shape {image.shape}")
    scales, out_shape = _output_plan((image.shape[0], image.shape[1]), scale, output_shape)
    order = sorted(range(2), key=lambda d: scales[d])  # stable: rows first on equal scales
    result = image if image.dtype == np.uint8 else image.astype(np.float64)
    for dim in order:
        weights, indices = contributions(image.shape[dim], out_shape[dim], scales[dim], antialiasing=antialiasing)
        result = resize_along_axis(result, dim, weights, indices)
    return result


def imresize_batch(stack: np.ndarray, scale: float) -> np.ndarray:
    """:func:`imresize` applied to every image of an ``(N, H, W)`` stack at once (same semantics).

    Example:
        >>> imresize_batch(np.zeros((2, 6, 6), dtype=np.uint8), 0.5).shape
        (2, 3, 3)
    """
    if stack.ndim != 3:
        raise ValueError(f"expected an (N, H, W) stack, got shape {stack.shape}")
    scales, out_shape = _output_plan((stack.shape[1], stack.shape[2]), scale, None)
    order = sorted(range(2), key=lambda d: scales[d])
    result = stack if stack.dtype == np.uint8 else stack.astype(np.float64)
    for dim in order:
        weights, indices = contributions(stack.shape[dim + 1], out_shape[dim], scales[dim])
        result = resize_along_axis(result, dim + 1, weights, indices)
    return result
