"""Rain parameters: every knob of the renderer, and the named presets (data in ``bench/resources/rain``).

The presets live in ``bench/resources/rain/presets.yaml`` (a package resource), one mapping of
:class:`RainParams` fields per name, with how each was calibrated. Dataset cards name presets in their
``rain.presets`` mix.

Example:
    >>> from bench.data.rain.params import resolve_params
    >>> resolve_params({"preset": "heavy", "angle": -20}).angle
    -20
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

PRESETS_RESOURCE = "resources/rain/presets.yaml"


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
        for f in dataclasses.fields(self):  # a string from a hand-edited YAML fails here, naming the field
            value = getattr(self, f.name)
            if f.name not in ("tint", "night", "scale_with_size") and not isinstance(value, numbers.Real):
                raise ValueError(f"{f.name} must be a number, got {value!r}")
        for name in ("layers", "drops"):  # counts: 2.0 would fail deep in the renderer
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ValueError(f"{name} must be an integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.layers < 1:
            raise ValueError(f"layers must be >= 1, got {self.layers}")
        for name in (
            "density",
            "density_growth",
            "depth_scale",
            "depth_falloff",
            "angle_jitter",
            "streak_angle_jitter",
            "haze_gradient",
            "night_contrast",
            "light_boost",
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
        for name in ("opacity", "haze", "haze_gradient", "night_contrast"):  # alphas: > 1 gives negative light
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


@functools.lru_cache(maxsize=1)
def preset_table() -> dict[str, Any]:
    """The parsed ``presets.yaml`` (``presets`` and ``calibration`` sections), read once."""
    from importlib import resources

    import yaml

    text = resources.files("bench").joinpath(PRESETS_RESOURCE).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("presets"), dict):
        raise ValueError(f"bench/{PRESETS_RESOURCE}: expected a mapping with a 'presets' mapping")
    return data


@functools.lru_cache(maxsize=1)
def _presets() -> dict[str, RainParams]:
    out: dict[str, RainParams] = {}
    for name, fields in preset_table()["presets"].items():
        values = dict(fields or {})
        base = values.pop("base", None)
        try:
            if base is not None:  # a preset may start from one defined above it
                values = {**out[str(base)].to_dict(), **values}
            out[str(name)] = RainParams.from_dict(values)
        except KeyError:
            raise ValueError(
                f"bench/{PRESETS_RESOURCE}: preset {name!r}: base {base!r} is not defined above it"
            ) from None
        except (TypeError, ValueError) as err:
            raise ValueError(f"bench/{PRESETS_RESOURCE}: preset {name!r}: {err}") from err
    return out


class _PresetView(Mapping[str, RainParams]):
    """Read-only mapping name → :class:`RainParams`, loaded from the YAML resource on first use."""

    def __getitem__(self, name: str) -> RainParams:
        return _presets()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(_presets())

    def __len__(self) -> int:
        return len(_presets())


PRESETS: Mapping[str, RainParams] = _PresetView()


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
            return _presets()[params_or_preset.lower()]
        except KeyError:
            raise ValueError(f"unknown rain preset {params_or_preset!r}; choose from {', '.join(PRESETS)}") from None
    values = dict(params_or_preset)
    base_name = values.pop("preset", None)
    if base_name is None:
        return RainParams.from_dict(values)
    base = resolve_params(str(base_name)).to_dict()
    base.update(values)
    return RainParams.from_dict(base)
