"""Calibration of the rain to stated degradations: mean rainy-input psnr_y / ssim_y on clean proxies.

The MSPFN paper's Table 6 gives the degradation of its (unreleased, Photoshop-painted) rain as the
mean psnr/ssim of the rainy inputs: COCO350 14.79 / 0.648, BDD350 14.13 / 0.470, BDD150 18.00 / 0.722.
Rain100H's rainy inputs average 13.56 / 0.379. The targets and their tolerances are data
(``calibration`` in ``bench/resources/rain/presets.yaml``); this module renders a target's presets
on clean proxy photos at the set's size and measures what they give, so that a test and the docs can
compare the two. Real COCO / BDD100K photos are not on the machines the presets were calibrated on:
the proxies are coco8, RainTrainL's clean backgrounds and RainCityscapes' ``norain`` frames, resized
to cover the set's size (none is 1280×720, so those are upscaled); re-check on the real photos.

Example:
    >>> from bench.data.rain.calibration import calibration_targets, measure_target
    >>> target = calibration_targets()["coco350"]
    >>> result = measure_target(target, "../shared/data", count=4)  # doctest: +SKIP
    >>> abs(result.psnr_y - target.psnr_y) <= target.tol_psnr_y  # doctest: +SKIP
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

ProxyPool = Literal["coco8", "raintrainl", "raincityscapes"]
PROXY_FOLDERS: dict[str, tuple[str, str]] = {
    "coco8": ("images/coco8/images", "*/*.jpg"),
    "raintrainl": ("rain/RainTrainL/norain", "*.png"),
    "raincityscapes": ("rain/RainCityscapes-test/norain", "*.png"),
}


@dataclass(frozen=True)
class CalibrationTarget:
    """A stated degradation and the presets that must reproduce it.

    Attributes:
        name: Target name (a dataset card's name, or e.g. ``rain100h``).
        psnr_y: Mean psnr_y (dB) of the rainy inputs vs their clean images.
        ssim_y: Mean ssim_y of the same.
        tol_psnr_y: Allowed |measured − stated| in dB.
        tol_ssim_y: Allowed |measured − stated| in SSIM.
        presets: Presets that must each land within tolerance (a set's whole mix).
        size: ``(W, H)`` the proxies are resized to (cover + centre crop); ``None``: their own size.
        proxies: Proxy pools to draw clean photos from, in order.
        count: How many proxies the calibration uses (the statistic varies with the photos: a few
            images can be 1 dB off the mean of many).
        night_photos: Presets rendered on proxies darkened to stand in for night photos (BDD frames
            marked ``timeofday: night`` get such a preset with the scene left as it is).
        angle_range: Streak angle range drawn per image (the card's).
        source: Where the stated numbers come from.
    """

    name: str
    psnr_y: float
    ssim_y: float
    tol_psnr_y: float
    tol_ssim_y: float
    presets: tuple[str, ...]
    size: tuple[int, int] | None
    proxies: tuple[str, ...]
    count: int = 24
    night_photos: tuple[str, ...] = ()
    angle_range: tuple[float, float] | None = None
    source: str = ""


@dataclass
class Measurement:
    """Mean psnr_y / ssim_y of one preset (or the mean over a target's presets) on ``count`` proxies."""

    psnr_y: float
    ssim_y: float
    count: int
    per_preset: dict[str, tuple[float, float]] = field(default_factory=dict)


def calibration_targets() -> dict[str, CalibrationTarget]:
    """The targets of ``presets.yaml`` (``calibration``), the cards' mixes filled in for set targets."""
    from bench.data.rain.params import preset_table

    section = preset_table().get("calibration") or {}
    tol = section.get("tolerance", {})
    out: dict[str, CalibrationTarget] = {}
    for name, raw in (section.get("targets") or {}).items():
        presets, night, angle = _target_presets(str(name), raw)
        size = raw.get("size")
        out[str(name)] = CalibrationTarget(
            name=str(name),
            psnr_y=float(raw["psnr_y"]),
            ssim_y=float(raw["ssim_y"]),
            tol_psnr_y=float(tol.get("psnr_y", 0.5)),
            tol_ssim_y=float(tol.get("ssim_y", 0.03)),
            presets=presets,
            size=(int(size[0]), int(size[1])) if size else None,
            proxies=tuple(str(p) for p in raw["proxies"]),
            count=int(raw.get("count", 24)),
            night_photos=night,
            angle_range=angle,
            source=str(raw.get("source", "")),
        )
    return out


def _target_presets(name: str, raw: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...], Any]:
    if raw.get("presets"):
        return tuple(raw["presets"]), (), None
    from bench.data.builders import load_card

    rain = load_card(name)["rain"]
    night = (str(rain["night_preset"]),) if rain.get("night_from_attributes") and rain.get("night_preset") else ()
    angle = tuple(float(a) for a in rain["angle_range"]) if rain.get("angle_range") else None
    return tuple(str(p) for p in rain["presets"]), night, angle


def proxy_images(
    data_root: str | Path, pools: Sequence[str], count: int, size: tuple[int, int] | None
) -> list[np.ndarray]:
    """``count`` clean proxies spread evenly over the pools (natural file order), resized to cover ``size``.

    Each pool gives an equal share, taken at evenly spaced positions; a pool smaller than its share gives
    all it holds and the next pool makes up the rest.

    Raises:
        FileNotFoundError: a pool's folder is missing or holds too few images.
    """
    from bench.data.builders import apply_geometry, cover_geometry
    from bench.data.images import read_image
    from bench.data.paired import natural_key

    root = Path(data_root)
    listed = []
    for pool in pools:
        folder, pattern = PROXY_FOLDERS[pool]
        files = sorted((root / folder).glob(pattern), key=lambda p: natural_key(str(p.relative_to(root))))
        if not files:
            raise FileNotFoundError(f"{root / folder}: no {pattern} images for the rain calibration")
        listed.append(files)
    out: list[np.ndarray] = []
    carry = 0  # a pool smaller than its share passes the rest on to the next pool
    for i, files in enumerate(listed):
        share = count // len(listed) + (1 if i < count % len(listed) else 0) + carry
        n = min(share, len(files))
        carry = share - n
        for index in np.linspace(0, len(files) - 1, n).round().astype(int) if n else []:
            image = read_image(files[int(index)])
            out.append(apply_geometry(image, cover_geometry(image.shape[1], image.shape[0], size)))
    if len(out) < count:
        raise FileNotFoundError(f"{root}: {len(out)} proxy images in {', '.join(pools)}, {count} needed")
    return out


def night_photo(image: np.ndarray) -> np.ndarray:
    """A day photo darkened by the ``night`` preset's scene transform: a stand-in for a real night frame."""
    from bench.data.rain.color import linear_to_srgb, srgb_to_linear
    from bench.data.rain.layers import _night_scene
    from bench.data.rain.params import resolve_params

    params = resolve_params("night")
    scale = min(image.shape[:2]) / 480.0
    scene, _ = _night_scene(srgb_to_linear(image), params, scale)
    return linear_to_srgb(scene)


def measure_preset(
    preset: str | dict[str, Any],
    images: Sequence[np.ndarray],
    *,
    seed: int = 0,
    angle_range: tuple[float, float] | None = None,
) -> tuple[float, float]:
    """Mean psnr_y / ssim_y of the rainy images vs their clean references (image ``i`` from seed ``seed + i``)."""
    from bench.data.rain.render import render_rain
    from bench.metrics.fidelity import psnr_y, ssim_y

    base: dict[str, Any] = {"preset": preset} if isinstance(preset, str) else dict(preset)
    psnrs, ssims = [], []
    for i, image in enumerate(images):
        rng = np.random.default_rng(seed + i)
        params = dict(base)
        if angle_range is not None:
            params["angle"] = float(rng.uniform(*angle_range))
        result = render_rain(image, params, rng)
        psnrs.append(psnr_y(result.rainy, result.clean))
        ssims.append(ssim_y(result.rainy, result.clean))
    return float(np.mean(psnrs)), float(np.mean(ssims))


def measure_target(
    target: CalibrationTarget,
    data_root: str | Path,
    *,
    count: int | None = None,
    scale: float = 1.0,
    seed: int = 0,
) -> Measurement:
    """Render each of the target's presets on ``count`` proxies and measure; the total is the presets' mean.

    Args:
        target: What to reproduce.
        data_root: Folder holding the proxy pools (``$BENCH_DATA``).
        count: Proxies per preset (default: the target's).
        scale: Resize the set's size by this factor (a faster, approximate check).
        seed: Seed of proxy ``i``'s rain: ``seed + i``.
    """
    size = target.size
    if size is not None and scale != 1.0:
        size = (round(size[0] * scale), round(size[1] * scale))
    images = proxy_images(data_root, target.proxies, target.count if count is None else count, size)
    per: dict[str, tuple[float, float]] = {}
    for preset in target.presets:
        per[preset] = measure_preset(preset, images, seed=seed, angle_range=target.angle_range)
    if target.night_photos:
        dark = [night_photo(im) for im in images]
        for preset in target.night_photos:  # as RainMix draws them: the scene is not darkened again
            params = {"preset": preset, "night_gain": 1.0, "night_contrast": 1.0}
            per[preset] = measure_preset(params, dark, seed=seed, angle_range=target.angle_range)
    return Measurement(
        psnr_y=float(np.mean([v[0] for v in per.values()])),
        ssim_y=float(np.mean([v[1] for v in per.values()])),
        count=len(images),
        per_preset=per,
    )
