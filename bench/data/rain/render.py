"""The renderer: composite veil, streak layers and splashes over a scene in linear light."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.data.rain.color import linear_to_srgb, srgb_to_linear
from bench.data.rain.layers import _add_drops, _night_scene, _splash_map, _streak_layer
from bench.data.rain.params import RainParams, resolve_params

RENDERER_VERSION = "1"
REFERENCE_SHORT_SIDE = 480.0


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
