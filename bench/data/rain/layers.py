"""What the renderer draws: streak layers, splashes, lens drops, the night scene (all in linear light)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from bench.data.rain.params import RainParams

LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)  # Rec. 709 luminance of linear RGB


def _splat_lines(
    shape: tuple[int, int],
    cx: np.ndarray,
    cy: np.ndarray,
    lengths: np.ndarray,
    angles: np.ndarray,
    strengths: np.ndarray,
    fade: float,
) -> np.ndarray:
    """Accumulate anti-aliased lines (bilinear splats, ~1 unit per px of length) into an (H, W) map."""
    h, w = shape
    if cx.size == 0:
        return np.zeros(shape, np.float32)
    total = lengths + 2.0 * fade
    samples = max(2, math.ceil(float(total.max())) + 1)
    t = np.linspace(-0.5, 0.5, samples, dtype=np.float32)[None, :]
    u = t * total[:, None].astype(np.float32)  # position along each streak (px from its centre)
    # soft ends: linear fade over ``fade`` px (motion blur); hard ends when fade is 0
    profile = np.clip((total[:, None] * 0.5 - np.abs(u)) / np.float32(max(fade, 1e-3)), 0.0, 1.0)
    step = (total / (samples - 1)).astype(np.float32)
    weight = profile * (strengths * step).astype(np.float32)[:, None]
    dx = np.sin(angles).astype(np.float32)[:, None]
    dy = np.cos(angles).astype(np.float32)[:, None]
    x = (cx.astype(np.float32)[:, None] + u * dx).ravel()
    y = (cy.astype(np.float32)[:, None] + u * dy).ravel()
    weight = weight.ravel()
    keep = (x > -1.0) & (x < w) & (y > -1.0) & (y < h) & (weight > 0)
    x, y, weight = x[keep], y[keep], weight[keep]
    x0 = np.floor(x)
    y0 = np.floor(y)
    fx = x - x0
    fy = y - y0
    x0 = x0.astype(np.int64)
    y0 = y0.astype(np.int64)
    acc = np.zeros(h * w, np.float64)
    for ox, oy, wgt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xi = x0 + ox
        yi = y0 + oy
        ok = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        acc += np.bincount(yi[ok] * w + xi[ok], weights=(weight * wgt)[ok], minlength=h * w)
    return acc.reshape(h, w).astype(np.float32)


def _blur(image: np.ndarray, sigma: float | Sequence[float]) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(image, sigma=sigma, mode="nearest", truncate=3.0)


def _upsample_axis(small: np.ndarray, factor: int, size: int, axis: int) -> np.ndarray:
    """Linear interpolation along ``axis`` from block means of ``factor`` px back to ``size`` px."""
    pos = (np.arange(size, dtype=np.float32) + np.float32(0.5)) / np.float32(factor) - np.float32(0.5)
    pos = np.clip(pos, 0.0, small.shape[axis] - 1)
    i0 = np.floor(pos).astype(np.intp)
    i1 = np.minimum(i0 + 1, small.shape[axis] - 1)
    frac = pos - i0
    shape = [1] * small.ndim
    shape[axis] = size
    frac = frac.reshape(shape)
    a = np.take(small, i0, axis=axis)
    b = np.take(small, i1, axis=axis)
    return a + (b - a) * frac


def _smooth_large(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with a large sigma, computed at reduced resolution (fast, for glows and drops)."""
    h, w = image.shape[:2]
    factor = max(1, int(sigma // 2))
    spatial = (sigma, sigma, 0) if image.ndim == 3 else sigma
    if factor == 1:
        return _blur(image, spatial)
    hh, ww = -(-h // factor), -(-w // factor)
    pad = ((0, hh * factor - h), (0, ww * factor - w)) + (((0, 0),) if image.ndim == 3 else ())
    padded = np.pad(image, pad, mode="edge")
    small = padded.reshape(hh, factor, ww, factor, *image.shape[2:]).mean(axis=(1, 3), dtype=np.float32)
    small_sigma = sigma / factor
    small = _blur(small, (small_sigma, small_sigma, 0) if image.ndim == 3 else small_sigma)
    out = _upsample_axis(_upsample_axis(small, factor, h, 0), factor, w, 1)
    return np.ascontiguousarray(out, dtype=np.float32)


def _streak_layer(
    shape: tuple[int, int],
    p: RainParams,
    k: int,
    scale: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict[str, float]]:
    """Coverage map in [0, 1] of depth layer ``k`` (0 = nearest) and what was drawn for it."""
    h, w = shape
    size_mult = p.depth_scale**k
    length = p.length * scale * size_mult
    width = max(p.width * scale * size_mult, 0.3)
    fade = p.motion_blur * scale * size_mult
    angle = p.angle + float(rng.normal(0.0, p.angle_jitter)) if p.angle_jitter > 0 else p.angle
    margin = length * 1.5 + 2 * fade
    area = (w + 2 * margin) * (h + 2 * margin)
    expected = p.density * p.density_growth**k * area / 1e4 / (scale * scale) if scale > 0 else 0.0
    count = int(rng.poisson(expected)) if expected > 0 else 0
    cx = rng.uniform(-margin, w + margin, count)
    cy = rng.uniform(-margin, h + margin, count)
    lengths = np.minimum(length * rng.lognormal(0.0, p.length_spread, count), 3.0 * length)
    angles = np.deg2rad(angle + rng.normal(0.0, p.streak_angle_jitter, count))
    strengths = rng.uniform(0.55, 1.0, count)
    sigma = width / 2.3548
    # A bilinear line has a tent profile (variance 1/6); the Gaussian spreads it further. Rescale so an
    # isolated streak's core reaches its strength.
    blur = sigma > 0.5  # below that, the bilinear splat's own spread (sigma ~0.41 px) is the profile
    gain = math.sqrt(2.0 * math.pi * (sigma * sigma + 1.0 / 6.0)) if blur else 1.0
    coverage = _splat_lines(shape, cx, cy, lengths, angles, strengths * gain, fade)
    if blur:
        coverage = _blur(coverage, sigma)
    np.minimum(coverage, 1.0, out=coverage)
    drawn = {
        "angle": round(angle, 6),
        "count": count,
        "length": round(length, 6),
        "width": round(width, 6),
        "opacity": round(p.opacity * p.depth_falloff**k, 6),
    }
    return coverage, drawn


def _splash_map(shape: tuple[int, int], p: RainParams, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Small bright flattened blobs (ground splashes) in the lower 40 % of the frame."""
    h, w = shape
    top = int(h * 0.6)
    expected = p.splashes * w * (h - top) / 1e4 / (scale * scale)
    count = int(rng.poisson(expected)) if expected > 0 else 0
    x = rng.integers(0, w, count)
    y = rng.integers(top, h, count)
    strength = rng.uniform(0.5, 1.0, count)
    sy, sx = 0.7 * scale, 1.8 * scale
    ry, rx = max(1, math.ceil(2.5 * sy)), max(1, math.ceil(2.5 * sx))
    oy, ox = np.mgrid[-ry : ry + 1, -rx : rx + 1]
    sprite = np.exp(-0.5 * ((oy / sy) ** 2 + (ox / sx) ** 2)).ravel()
    yy = (y[:, None] + oy.ravel()[None, :]).ravel()
    xx = (x[:, None] + ox.ravel()[None, :]).ravel()
    weights = (strength[:, None] * sprite[None, :]).ravel()
    ok = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
    acc = np.bincount(yy[ok] * w + xx[ok], weights=weights[ok], minlength=h * w)
    return np.minimum(acc, 1.0).reshape(h, w).astype(np.float32)


def _add_drops(linear: np.ndarray, p: RainParams, scale: float, rng: np.random.Generator) -> int:
    """Lens drops: discs showing a blurred, slightly brighter view of the scene; returns the count."""
    h, w = linear.shape[:2]
    count = p.drops
    if count == 0:
        return 0
    mean_r = p.drop_radius * scale
    blurred = _smooth_large(linear, max(mean_r * 0.5, 1.0))
    cxs = rng.uniform(0, w, count)
    cys = rng.uniform(0, h, count)
    radii = mean_r * rng.uniform(0.5, 1.5, count)
    squash = rng.uniform(0.8, 1.0, count)
    for cx, cy, r, sq in zip(cxs, cys, radii, squash):
        x0, x1 = max(int(cx - r - 2), 0), min(int(cx + r + 3), w)
        y0, y1 = max(int(cy - r - 2), 0), min(int(cy + r + 3), h)
        if x0 >= x1 or y0 >= y1:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        d = np.sqrt(((xx - cx) / r) ** 2 + ((yy - cy) / (r * sq)) ** 2)
        mask = np.clip((1.0 - d) * r / 1.5, 0.0, 1.0)[..., None]  # ~1.5 px soft edge
        rim = np.clip(1.0 - np.abs(d - 0.8) * 8.0, 0.0, 1.0)[..., None] * np.float32(0.08)
        patch = linear[y0:y1, x0:x1]
        inner = blurred[y0:y1, x0:x1] * np.float32(0.9) + np.float32(0.05) + rim
        linear[y0:y1, x0:x1] = patch * (1.0 - mask) + inner * mask
    return count


def _channel_mean(image: np.ndarray) -> np.ndarray:
    """Per-channel mean of an (H, W, 3) array in float64 (row sums first: fast and deterministic)."""
    return image.sum(axis=0, dtype=np.float64).sum(axis=0) / (image.shape[0] * image.shape[1])


def _night_scene(linear: np.ndarray, p: RainParams, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Darken the scene and lower its contrast, keeping light sources; returns (scene, light map in [0, 1])."""
    lum = linear[..., 0] * LUMA[0] + linear[..., 1] * LUMA[1] + linear[..., 2] * LUMA[2]
    lights = np.clip((lum - p.light_threshold) / max(1.0 - p.light_threshold, 1e-6), 0.0, 1.0)
    # dark = gain * (contrast * x + (1 - contrast) * mean); lamps keep their light:
    # scene = dark + (x - dark) * lights = (x - c) * m + c with m = a + (1 - a) * lights,
    # a = gain * contrast and c = gain * (1 - contrast) * mean / (1 - a)
    a = p.night_gain * p.night_contrast
    m = np.float32(a) + np.float32(1.0 - a) * lights
    if a < 1.0:
        c = (p.night_gain * (1.0 - p.night_contrast) * _channel_mean(linear) / (1.0 - a)).astype(np.float32)
        scene = linear - c
        scene *= m[..., None]
        scene += c
    else:  # gain * contrast >= 1 (e.g. gain = contrast = 1 for photos that are already night scenes)
        dark = p.night_gain * (p.night_contrast * linear + (1.0 - p.night_contrast) * _channel_mean(linear))
        scene = (dark + (linear - dark) * lights[..., None]).astype(np.float32)
    glow = _smooth_large(lights, 40.0 * max(scale, 0.1))  # lamps light the rain over tens of px
    peak = float(glow.max())
    light_map = (glow / peak if peak > 0 else glow).astype(np.float32)
    return scene, light_map
