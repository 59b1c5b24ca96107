"""Weights trained by this project and shipped inside the package, described by one JSON card each.

``derainers/weights/<derainer>-<tag>.json`` names the weights file beside it, its sha256, what it was
trained on, how (the exact ``bench train`` command, steps, schedule, precision, hardware, wall time)
and the validation scores measured with the shipped file itself. A derainer's card lists these as
packaged :class:`~derainers.base.WeightsSource` entries; the one marked ``"default": true`` loads
when no ``--weights`` is given. ``scripts/ship_weights.py`` writes both files from a training run.

Example:
    >>> [s.tag for s in shipped_weights("no_such_derainer")]
    []
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from derainers.base import WeightsSource

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
CARD_SUFFIX = ".json"


@functools.cache
def shipped_cards(derainer: str) -> tuple[dict[str, Any], ...]:
    """The JSON cards of ``derainer``'s shipped weights (sorted by tag); empty when there are none."""
    cards = []
    for path in sorted(WEIGHTS_DIR.glob(f"{derainer}-*{CARD_SUFFIX}")):
        card = json.loads(path.read_text(encoding="utf-8"))
        if card.get("derainer") == derainer:
            cards.append(card)
    return tuple(cards)


def _matches(card: dict[str, Any], architecture: dict[str, Any] | None) -> bool:
    """Whether weights trained for ``card["architecture"]`` fit a model built with ``architecture``."""
    if architecture is None or "architecture" not in card:
        return True
    return bool(json.loads(json.dumps(architecture, default=str)) == card["architecture"])


def shipped_weights(derainer: str, architecture: dict[str, Any] | None = None) -> tuple[WeightsSource, ...]:
    """``derainer``'s shipped weights as packaged weights sources (those that fit ``architecture``)."""
    sources = []
    for card in shipped_cards(derainer):
        if not _matches(card, architecture):
            continue
        validation = card.get("validation") or {}
        reported = {}
        if validation.get("dataset") and validation.get("metrics"):
            reported = {f"{validation['dataset']} {validation.get('ids', '')}".strip(): dict(validation["metrics"])}
        sources.append(
            WeightsSource(
                tag=str(card["tag"]),
                path=str(card["file"]),
                sha256=str(card["sha256"]),
                trained_on=str(card.get("trained_on", "")),
                source=str(card.get("source", "trained by this project: bench train")),
                licence=str(card.get("licence", "MIT (this project)")),
                reported=reported,
                protocol=str(validation.get("protocol", "")),
                packaged=True,
            )
        )
    return tuple(sources)


def default_shipped_tag(derainer: str, architecture: dict[str, Any] | None = None) -> str | None:
    """The tag of ``derainer``'s default shipped weights that fit ``architecture``, if any."""
    for card in shipped_cards(derainer):
        if card.get("default") and _matches(card, architecture):
            return str(card["tag"])
    return None
