"""RainParams refuses values the renderer would silently misuse (review of bench/data/rain/params.py)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.data.rain import PRESETS, RainParams, render_rain, resolve_params


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("haze_gradient", 3.0, "haze_gradient must be <= 1"),  # the veil's alpha went negative at the bottom
        ("haze_gradient", -0.5, "haze_gradient must be >= 0"),
        ("angle_jitter", -1.0, "angle_jitter must be >= 0"),  # was ignored without a word
        ("streak_angle_jitter", -1.0, "streak_angle_jitter must be >= 0"),  # was numpy's "scale < 0"
        ("depth_falloff", -0.5, "depth_falloff must be >= 0"),  # negative opacity: streaks brightened nothing
        ("depth_scale", -0.7, "depth_scale must be >= 0"),
        ("density_growth", -1.0, "density_growth must be >= 0"),
        ("light_boost", -4.0, "light_boost must be >= 0"),
        ("layers", 2.0, "layers must be an integer"),  # was a TypeError inside the renderer
        ("drops", 2.5, "drops must be an integer"),
        ("density", "2", "density must be a number"),
    ],
)
def test_bad_values_are_refused_naming_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_params({"preset": "medium", field: value})


def test_every_preset_still_valid_and_counts_stay_ints() -> None:
    for name in PRESETS:
        params = PRESETS[name]
        assert type(params.layers) is int and type(params.drops) is int
    p = RainParams(layers=np.int64(2), drops=np.int64(1))  # numpy integers are counts too
    assert type(p.layers) is int and type(p.drops) is int and p.to_dict()["layers"] == 2
    out = render_rain(np.full((48, 64, 3), 90, np.uint8), p, np.random.default_rng(0))
    assert out.params["layers"] == 2 and out.params["drops_drawn"] == 1
