"""sRGB ↔ linear light, exactly as IEC 61966-2-1, through lookup tables."""

from __future__ import annotations

import numpy as np


def _srgb_decode_table() -> np.ndarray:
    v = np.arange(256, dtype=np.float64) / 255.0
    lin = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    return lin.astype(np.float32)


def _srgb_encode_table(levels: int = 65536) -> np.ndarray:
    x = np.arange(levels, dtype=np.float64) / (levels - 1)
    v = np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1.0 / 2.4) - 0.055)
    return np.clip(np.floor(v * 255.0 + 0.5), 0, 255).astype(np.uint8)


_DECODE = _srgb_decode_table()
_ENCODE = _srgb_encode_table()


def srgb_to_linear(image: np.ndarray) -> np.ndarray:
    """uint8 sRGB → float32 linear light in [0, 1] (exact IEC 61966-2-1 curve, via a table)."""
    return np.take(_DECODE, image)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Float linear light → uint8 sRGB (clipped; 16-bit table lookup, rounded)."""
    scaled = np.multiply(linear, np.float32(65535.0), dtype=np.float32)
    scaled += np.float32(0.5)
    np.clip(scaled, 0.0, 65535.0, out=scaled)
    return np.take(_ENCODE, scaled.astype(np.uint16))
