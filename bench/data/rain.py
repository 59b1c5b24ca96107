"""Synthetic rain: depth-layered streaks, splashes, lens drops, veiling haze and a night mode.

The renderer is physically motivated rather than physically exact. The scene is decoded from sRGB
to linear light; a veil of rain accumulation (haze, denser towards the top of the frame, which is
usually farther away) is mixed in; then ``layers`` depth layers of streaks are composited from far to
near. Each layer holds more, shorter, thinner, fainter streaks than the one in front of it; streak
angles jitter per layer and per streak, streak ends fade over a ``motion_blur`` distance, and the
cross-streak profile is Gaussian with the layer's width. Optional ground splashes and lens drops
follow, and the result is encoded back to sRGB. In night mode the scene is darkened and its contrast
lowered while light sources keep their brightness, and streaks are lit by those light sources
(bright near lamps, dim elsewhere).

Sizes (lengths, widths, radii) are given at a reference short side of 480 px and scale with the
image (``scale_with_size``); densities are per 10⁴ px at that reference scale, so a preset looks the
same and degrades the image equally at any resolution.

All randomness comes from the ``numpy.random.Generator`` passed in: the same seed gives the same
bytes (on the same platform and library versions).

Example:
    >>> import numpy as np
    >>> from bench.data.rain import render_rain
    >>> clean = np.full((480, 640, 3), 120, dtype=np.uint8)
    >>> result = render_rain(clean, "medium", np.random.default_rng(0))
    >>> result.rainy.shape, result.rainy.dtype
    ((480, 640, 3), dtype('uint8'))
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

RENDERER_VERSION = "1"
REFERENCE_SHORT_SIDE = 480.0
_LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)  # Rec. 709 luminance of linear RGB


@dataclass(frozen=True)
class RainParams:
    """Every knob of :func:`render_rain`. Lengths/widths in px at a 480-px short side.

    Attributes:
        layers: Number of depth layers of streaks (≥ 1).
        density: Streaks per 10⁴ px in the nearest layer.
        density_growth: Each farther layer holds this many times more streaks.
        length: Mean streak length (px) in the nearest layer.
        length_spread: Log-normal sigma of per-streak length.
        width: Streak width (FWHM, px) in the nearest layer.
        depth_scale: Length and width multiplier per layer of depth.
        angle: Fall direction in degrees from vertical; positive leans to the right going down.
        angle_jitter: Standard deviation (degrees) of each layer's angle around ``angle``.
        streak_angle_jitter: Standard deviation (degrees) of each streak's angle around its layer's.
        motion_blur: Length (px) of the soft fade at each end of a streak.
        opacity: Peak opacity of a streak in the nearest layer (0..1).
        brightness: Linear-light radiance of streaks in the nearest layer (0..1).
        depth_falloff: Opacity and brightness multiplier per layer of depth.
        haze: Strength of the veiling rain accumulation at the top of the frame (0..1).
        haze_gradient: Fraction by which the veil weakens from top to bottom (0: uniform).
        airlight: Linear-light radiance of the veil (0..1).
        splashes: Ground splashes per 10⁴ px, in the lower 40 % of the frame (0: none).
        drops: Number of lens drops (0: none).
        drop_radius: Mean lens-drop radius (px).
        night: Night mode.
        night_gain: Linear-light gain of the scene in night mode (1: keep the scene's brightness, for
            photos that are already night scenes).
        night_contrast: Contrast kept in night mode (1: unchanged).
        light_threshold: Linear luminance above which a pixel counts as a light source (night mode).
        light_boost: How much brighter streaks become next to light sources (night mode).
        tint: Linear RGB tint of streaks and veil.
        scale_with_size: Scale px sizes by ``min(H, W) / 480`` (else sizes are in image px).
    """

    layers: int = 3
    density: float = 2.0
    density_growth: float = 1.7
    length: float = 32.0
    length_spread: float = 0.3
    width: float = 1.8
    depth_scale: float = 0.7
    angle: float = 8.0
    angle_jitter: float = 3.0
    streak_angle_jitter: float = 1.5
    motion_blur: float = 5.0
    opacity: float = 0.7
    brightness: float = 0.85
    depth_falloff: float = 0.7
    haze: float = 0.0
    haze_gradient: float = 0.5
    airlight: float = 0.7
    splashes: float = 0.0
    drops: int = 0
    drop_radius: float = 14.0
    night: bool = False
    night_gain: float = 0.2
    night_contrast: float = 0.8
    light_threshold: float = 0.6
    light_boost: float = 4.0
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)
    scale_with_size: bool = True

    def __post_init__(self) -> None:
        if self.layers < 1:
            raise ValueError(f"layers must be >= 1, got {self.layers}")
        for name in (
            "density",
            "length",
            "width",
            "opacity",
            "brightness",
            "haze",
            "splashes",
            "motion_blur",
            "drop_radius",
            "night_gain",
            "airlight",
            "length_spread",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("opacity", "haze", "night_contrast"):
            if getattr(self, name) > 1:
                raise ValueError(f"{name} must be <= 1, got {getattr(self, name)}")
        if self.drops < 0:
            raise ValueError(f"drops must be >= 0, got {self.drops}")
        if len(self.tint) != 3:
            raise ValueError(f"tint must have 3 values, got {self.tint}")
        object.__setattr__(self, "tint", tuple(float(t) for t in self.tint))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready field values (``tint`` as a list)."""
        out = dataclasses.asdict(self)
        out["tint"] = list(self.tint)
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> RainParams:
        """Build from a mapping; unknown keys raise ``ValueError`` naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown rain parameter(s) {unknown}; known: {sorted(known)}")
        kwargs = dict(values)
        if "tint" in kwargs:
            kwargs["tint"] = tuple(kwargs["tint"])
        return cls(**kwargs)


# Calibrated on all 200 clean images of RainTrainL (tests/test_rain.py::test_preset_calibration):
# light -> mean psnr_y 26.71 ± 1 dB (RainTrainL's own rainy/clean mean), heavy -> 13.56 ± 1 dB (Rain100H).
PRESETS: dict[str, RainParams] = {
    "light": RainParams(
        layers=3,
        density=2.2,
        density_growth=1.6,
        length=36.0,
        width=1.6,
        angle=8.0,
        opacity=0.8,
        brightness=0.85,
        depth_falloff=0.65,
        motion_blur=5.0,
        haze=0.0,
    ),
    "medium": RainParams(
        layers=3,
        density=1.6,
        density_growth=1.7,
        length=38.0,
        width=2.2,
        angle=10.0,
        opacity=0.7,
        brightness=0.85,
        depth_falloff=0.7,
        motion_blur=6.0,
        haze=0.12,
        airlight=0.65,
        splashes=0.15,
    ),
    "heavy": RainParams(
        layers=4,
        density=1.6,
        density_growth=1.6,
        length=60.0,
        width=3.4,
        angle=12.0,
        opacity=0.85,
        brightness=0.9,
        depth_falloff=0.75,
        motion_blur=8.0,
        haze=0.38,
        haze_gradient=0.4,
        airlight=0.7,
        splashes=0.4,
    ),
    "night": RainParams(
        layers=3,
        density=1.6,
        density_growth=1.7,
        length=40.0,
        width=2.2,
        angle=6.0,
        opacity=0.75,
        brightness=0.5,
        depth_falloff=0.7,
        motion_blur=6.0,
        haze=0.15,
        airlight=0.5,
        splashes=0.2,
        night=True,
        night_gain=0.2,
        night_contrast=0.8,
        light_threshold=0.6,
        light_boost=4.0,
    ),
    "drops": RainParams(
        layers=3, density=1.2, length=36.0, width=2.0, angle=10.0, opacity=0.65, haze=0.1, drops=12, drop_radius=16.0
    ),
}


def preset_names() -> tuple[str, ...]:
    """Names of the built-in presets."""
    return tuple(PRESETS)


def resolve_params(params_or_preset: RainParams | str | Mapping[str, Any]) -> RainParams:
    """A :class:`RainParams` from a preset name, a mapping of fields, or itself.

    A mapping may hold ``"preset"`` (the base) plus fields to override.

    Raises:
        ValueError: unknown preset or parameter name.
    """
    if isinstance(params_or_preset, RainParams):
        return params_or_preset
    if isinstance(params_or_preset, str):
        try:
            return PRESETS[params_or_preset.lower()]
        except KeyError:
            raise ValueError(f"unknown rain preset {params_or_preset!r}; choose from {', '.join(PRESETS)}") from None
    values = dict(params_or_preset)
    base_name = values.pop("preset", None)
    if base_name is None:
        return RainParams.from_dict(values)
    base = resolve_params(str(base_name)).to_dict()
    base.update(values)
    return RainParams.from_dict(base)


@dataclass
class RainResult:
    """Output of :func:`render_rain`.

    Attributes:
        rainy: ``(H, W, 3)`` uint8 RGB rainy image.
        params: Parameters used (all :class:`RainParams` fields) plus what was drawn at random
            (``"layers_drawn"``: per-layer angle, count, length, width, opacity) and the renderer version.
        clean: The rain-free image of the same scene: the input itself, or in night mode the darkened
            scene the rain was rendered onto (use it as the reference of a night pair).
    """

    rainy: np.ndarray
    params: dict[str, Any]
    clean: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0, 3), np.uint8))


# ---------------------------------------------------------------------------------------------
# sRGB <-> linear light


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


# ---------------------------------------------------------------------------------------------
# Drawing helpers


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
    lum = linear[..., 0] * _LUMA[0] + linear[..., 1] * _LUMA[1] + linear[..., 2] * _LUMA[2]
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


# ---------------------------------------------------------------------------------------------
# The renderer


def render_rain(
    image: np.ndarray, params_or_preset: RainParams | str | Mapping[str, Any], rng: np.random.Generator
) -> RainResult:
    """Render rain onto an ``(H, W, 3)`` uint8 RGB image.

    Args:
        image: The clean image.
        params_or_preset: A :class:`RainParams`, a preset name (``light``, ``medium``, ``heavy``,
            ``night``, ``drops``) or a mapping of fields (optionally with ``"preset"`` as the base).
        rng: The only source of randomness; the same state gives the same bytes.

    Returns:
        A :class:`RainResult` with the rainy image, the full parameters and the clean reference.

    Example:
        >>> rng = np.random.default_rng(7)
        >>> out = render_rain(np.zeros((64, 96, 3), np.uint8), {"preset": "heavy", "angle": -20}, rng)
        >>> out.params["angle"]
        -20
    """
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"render_rain expects an (H, W, 3) uint8 RGB image, got {image.dtype} {image.shape}")
    p = resolve_params(params_or_preset)
    h, w = image.shape[:2]
    scale = min(h, w) / REFERENCE_SHORT_SIDE if p.scale_with_size else 1.0
    tint = np.asarray(p.tint, np.float32)

    linear = srgb_to_linear(image)
    light_map: np.ndarray | None = None
    if p.night:
        linear, light_map = _night_scene(linear, p, scale)
    scene = linear if p.night else None

    # Everything in front of the scene is folded into one transmission map T and one (untinted)
    # radiance map Q, both single-channel: rainy = scene * T + Q * tint. Compositing order: veil, then
    # streak layers far to near, then splashes (each "over" what lies behind it).
    transmission = np.ones((h, w), np.float32)
    radiance_acc = np.zeros((h, w), np.float32)

    def over(alpha: np.ndarray, radiance: np.ndarray | np.float32 | float) -> None:
        nonlocal transmission, radiance_acc
        keep = 1.0 - alpha
        transmission *= keep
        radiance_acc *= keep
        radiance_acc += alpha * radiance

    if p.haze > 0:
        veil = np.broadcast_to(
            np.linspace(p.haze, p.haze * (1.0 - p.haze_gradient), h, dtype=np.float32)[:, None], (h, w)
        )
        air: np.ndarray | np.float32 = np.float32(p.airlight)
        if light_map is not None:
            air = np.minimum(
                np.float32(p.airlight * p.night_gain) + np.float32(0.5 * p.airlight * p.light_boost) * light_map, 1.0
            )
        over(veil, air)

    lit = (np.float32(p.night_gain) + np.float32(p.light_boost) * light_map) if light_map is not None else None
    drawn_layers: list[dict[str, float]] = []
    for k in reversed(range(p.layers)):  # far to near
        coverage, drawn = _streak_layer((h, w), p, k, scale, rng)
        drawn_layers.append(drawn)
        coverage *= np.float32(drawn["opacity"])
        radiance = np.float32(p.brightness * p.depth_falloff**k)
        over(coverage, np.minimum(radiance * lit, 1.0) if lit is not None else radiance)
    drawn_layers.reverse()

    splash_count = 0
    if p.splashes > 0:
        splash = _splash_map((h, w), p, scale, rng)
        splash_count = int(np.count_nonzero(splash > 0.5))
        radiance = np.float32(p.brightness)
        over(splash * np.float32(p.opacity), np.minimum(radiance * lit, 1.0) if lit is not None else radiance)

    linear = linear * transmission[..., None]
    linear += radiance_acc[..., None] * tint
    drop_count = _add_drops(linear, p, scale, rng)

    rainy = linear_to_srgb(linear)
    clean = linear_to_srgb(scene) if scene is not None else image
    info: dict[str, Any] = p.to_dict()
    info.update(
        {
            "renderer_version": RENDERER_VERSION,
            "scale": round(scale, 6),
            "layers_drawn": drawn_layers,
            "splash_pixels": splash_count,
            "drops_drawn": drop_count,
        }
    )
    return RainResult(rainy=rainy, params=info, clean=clean)
