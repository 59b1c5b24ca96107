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

Modules: ``params`` (:class:`RainParams`, presets read from ``bench/resources/rain/presets.yaml``),
``color`` (sRGB ↔ linear), ``layers`` (streaks, splashes, drops, night scene), ``render``
(:func:`render_rain`), ``calibration`` (measured degradation against the paper's rainy inputs).

Example:
    >>> import numpy as np
    >>> from bench.data.rain import render_rain
    >>> clean = np.full((480, 640, 3), 120, dtype=np.uint8)
    >>> result = render_rain(clean, "medium", np.random.default_rng(0))
    >>> result.rainy.shape, result.rainy.dtype
    ((480, 640, 3), dtype('uint8'))
"""

from bench.data.rain.color import linear_to_srgb, srgb_to_linear
from bench.data.rain.params import PRESETS, RainParams, preset_names, resolve_params
from bench.data.rain.render import REFERENCE_SHORT_SIDE, RENDERER_VERSION, RainResult, render_rain

__all__ = [
    "PRESETS",
    "REFERENCE_SHORT_SIDE",
    "RENDERER_VERSION",
    "RainParams",
    "RainResult",
    "linear_to_srgb",
    "preset_names",
    "render_rain",
    "resolve_params",
    "srgb_to_linear",
]
