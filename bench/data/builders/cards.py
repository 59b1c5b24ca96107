"""Dataset cards (package resources ``bench/resources/datasets/*.yaml``)."""

from __future__ import annotations

from typing import Any

CARDS_RESOURCE = "resources/datasets"


def card_names() -> tuple[str, ...]:
    """Names of the dataset cards shipped in ``bench/resources/datasets``."""
    from importlib import resources

    folder = resources.files("bench").joinpath(CARDS_RESOURCE)
    return tuple(sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml")))


def load_card(name: str) -> dict[str, Any]:
    """The dataset card ``bench/resources/datasets/<name>.yaml`` (name, kind, size, selection, rain, class_map).

    Example:
        >>> load_card("coco350")["size"]
        [640, 480]

    Raises:
        ValueError: unknown card name.
    """
    from importlib import resources

    import yaml

    if name not in card_names():
        raise ValueError(f"unknown dataset card {name!r}; known: {', '.join(card_names())}")
    text = resources.files("bench").joinpath(f"{CARDS_RESOURCE}/{name}.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    card = {k: data[k] for k in ("name", "kind", "size", "rain")}
    card["selection"] = {k: data["selection"][k] for k in ("size", "seed", "rule")}
    if data.get("class_map"):
        card["class_map"] = dict(data["class_map"])
    return card
