"""Which images a set takes (a keyed hash of seed and id) and how each one's rain is drawn."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

SELECTION_RULE = "the size ids of smallest sha256('<seed>:<source id>'), kept in source order"


def selection_key(seed: int, source_id: str) -> str:
    """The keyed hash that orders items for selection: stable across numpy/Python versions and machines.

    Example:
        >>> selection_key(350, "000000000139.jpg")[:12]
        '487f087e276d'
    """
    return hashlib.sha256(f"{int(seed)}:{source_id}".encode()).hexdigest()


def select_ids(ids: Sequence[str], size: int | None, seed: int) -> list[int]:
    """Indices of the ``size`` ids with the smallest :func:`selection_key`, in the order of ``ids``.

    Unlike a generator's ``choice`` (whose stream numpy does not promise to keep across versions), the
    same source gives the same selection everywhere, and adding images to the source changes it only
    where a new image's key falls among the smallest.

    Example:
        >>> ids = ["a", "b", "c", "d", "e"]
        >>> [ids[i] for i in select_ids(ids, 2, 0)] == sorted(ids[::-1][i] for i in select_ids(ids[::-1], 2, 0))
        True

    Raises:
        ValueError: more images asked for than the source holds, or repeated ids.
    """
    count = len(ids)
    if len(set(ids)) != count:
        raise ValueError("source ids must be unique to select by id")
    if size is None or size >= count:
        if size is not None and size > count:
            raise ValueError(f"cannot select {size} images: the source holds only {count} eligible images")
        return list(range(count))
    ranked = sorted(range(count), key=lambda i: selection_key(seed, ids[i]))
    return sorted(ranked[:size])


@dataclass(frozen=True)
class RainMix:
    """How each image's rain is chosen: a preset drawn by weight, an angle drawn uniformly.

    Attributes:
        presets: Preset name → weight.
        angle_range: Streak angle range in degrees (uniform); ``None`` keeps the preset's angle.
        night_attribute: Use ``night_preset`` with ``night_gain = 1`` (the photo is already dark) for
            items whose attributes say ``timeofday: night`` (BDD100K).
        night_preset: The preset of those items.
        overrides: Extra :class:`~bench.data.rain.RainParams` fields applied to every image.
    """

    presets: tuple[tuple[str, float], ...] = (("medium", 1.0),)
    angle_range: tuple[float, float] | None = None
    night_attribute: bool = False
    overrides: tuple[tuple[str, Any], ...] = ()
    night_preset: str = "night"

    @classmethod
    def single(cls, preset: str) -> RainMix:
        return cls(presets=((preset, 1.0),))

    @classmethod
    def from_card(cls, card: Mapping[str, Any]) -> RainMix:
        presets = card.get("presets", {"medium": 1.0})
        rng_ = card.get("angle_range")
        return cls(
            presets=tuple((str(k), float(v)) for k, v in presets.items()),
            angle_range=(float(rng_[0]), float(rng_[1])) if rng_ else None,
            night_attribute=bool(card.get("night_from_attributes", False)),
            overrides=tuple(sorted((card.get("overrides") or {}).items())),
            night_preset=str(card.get("night_preset", "night")),
        )

    def to_dict(self) -> dict[str, Any]:
        """The mix as recorded in a manifest; ``presets_sha256`` pins the presets' fields, so two mixes
        compare equal only when their presets are also the same (a recalibrated preset is another recipe)."""
        from bench.fileio import stable_hash

        return {
            "presets": dict(self.presets),
            "angle_range": list(self.angle_range) if self.angle_range else None,
            "night_from_attributes": self.night_attribute,
            "overrides": dict(self.overrides),
            **({"night_preset": self.night_preset} if self.night_preset != "night" else {}),
            "presets_sha256": stable_hash(self.preset_params(), 64),
        }

    def preset_params(self) -> dict[str, dict[str, Any]]:
        """The fields of every preset this mix can draw (recorded so that a changed preset rebuilds)."""
        from bench.data.rain import resolve_params

        names = [n for n, _ in self.presets] + ([self.night_preset] if self.night_attribute else [])
        return {name: resolve_params(name).to_dict() for name in sorted(set(names))}

    def draw(self, rng: np.random.Generator, attributes: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """Draw ``(preset name, params mapping)`` for one image from its own generator."""
        names = [n for n, _ in self.presets]
        weights = np.asarray([w for _, w in self.presets], np.float64)
        preset = names[int(rng.choice(len(names), p=weights / weights.sum()))] if len(names) > 1 else names[0]
        params: dict[str, Any] = {"preset": preset, **dict(self.overrides)}
        if self.night_attribute and str(attributes.get("timeofday", "")).lower() == "night":
            preset = self.night_preset
            params.update({"preset": preset, "night_gain": 1.0, "night_contrast": 1.0})
        if self.angle_range is not None:
            params["angle"] = round(float(rng.uniform(*self.angle_range)), 4)
        return preset, params
