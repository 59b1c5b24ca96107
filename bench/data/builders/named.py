"""The named builders (COCO350, BDD350, BDD150 from their official files) and the any-folder builder."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.data.builders.cards import load_card
from bench.data.builders.mix import SELECTION_RULE, RainMix, select_ids
from bench.data.builders.readers import read_bdd_det, read_bdd_sem, read_coco, read_labelled
from bench.data.builders.source import LabelledSource, SetKind, SourceItem
from bench.data.builders.write import BuildReport, build_set


def _find_first(root: Path, candidates: Sequence[str], what: str) -> Path:
    for rel in candidates:
        if (root / rel).exists():
            return root / rel
    raise FileNotFoundError(f"{root}: {what} not found; looked for {', '.join(candidates)}")


ALL_RULE = "all eligible items, in source order"


def _restrict(
    source: LabelledSource, eligible: Callable[[SourceItem], bool], size: int | None, seed: int, eligibility: str
) -> tuple[LabelledSource, dict[str, Any]]:
    """Keep the eligible items, then :func:`select_ids`' ``size`` of them; and the record of that.

    The record's ``rule`` says how the items were chosen among the eligible ones: :data:`ALL_RULE` when
    every one is kept, else :data:`SELECTION_RULE` (the keyed hash); ``eligibility`` says which are eligible.
    """
    pool = [it for it in source.items if eligible(it)]
    chosen = [pool[i] for i in select_ids([it.source_id for it in pool], size, seed)]
    selection = {
        "eligible": len(pool),
        "eligibility": eligibility,
        "size": len(chosen),
        "seed": int(seed),
        "rule": ALL_RULE if len(chosen) == len(pool) else SELECTION_RULE,
        "source_ids": [it.source_id for it in chosen],
    }
    return LabelledSource(source.format, source.kind, source.categories, chosen, dict(source.dropped)), selection


def build_named(
    name: str,
    source_root: str | Path,
    out: str | Path,
    *,
    seed: int | None = None,
    select: int | None = None,
    annotations: str | Path | None = None,
    force: bool = False,
    progress: bool = True,
) -> BuildReport:
    """Build ``coco350``, ``bdd350`` or ``bdd150`` from the user's copy of COCO / BDD100K.

    Args:
        name: Card name.
        source_root: COCO root (``val2017/`` + ``annotations/instances_val2017.json``) or BDD100K root
            (``images/100k/val`` + ``labels/…``; ``images/10k/val`` + ``labels/sem_seg/masks/val``).
        out: Output folder.
        seed: Rain seed (default: the card's ``rain.seed``).
        select: Selection size (default: the card's; smaller for tests).
        annotations: Explicit label file (COCO JSON or BDD JSON) instead of the default location.
        force: Rebuild over a different existing build.
        progress: Show a progress bar.

    Example:
        >>> build_named("coco350", "/data/coco", "sets/coco350")  # doctest: +SKIP
    """
    card = load_card(name)
    root = Path(source_root)
    sel = card["selection"]
    size = select if select is not None else sel.get("size")
    if name == "coco350":
        ann = (
            Path(annotations)
            if annotations
            else _find_first(
                root, ["annotations/instances_val2017.json", "instances_val2017.json"], "COCO val2017 annotations"
            )
        )
        images = _find_first(root, ["val2017", "images/val2017", "images"], "COCO val2017 images folder")
        source = read_coco(images, ann)
        source, selection = _restrict(
            source,
            lambda it: any(a.iscrowd == 0 for a in it.annotations),
            size,
            sel["seed"],
            "images with at least one annotation with iscrowd == 0",
        )
    elif name == "bdd350":
        labels = (
            Path(annotations)
            if annotations
            else _find_first(
                root,
                [
                    "labels/det_20/det_val.json",
                    "labels/bdd100k_labels_images_val.json",
                    "bdd100k_labels_images_val.json",
                    "det_val.json",
                ],
                "BDD100K detection labels (val)",
            )
        )
        images = _find_first(root, ["images/100k/val", "100k/val"], "BDD100K images/100k/val")
        source = read_bdd_det(images, labels, card.get("class_map"))
        source, selection = _restrict(
            source,
            lambda it: bool(it.annotations),
            size,
            sel["seed"],
            "frames with at least one box2d label whose category maps to COCO",
        )
    elif name == "bdd150":
        images = _find_first(root, ["images/10k/val", "10k/val"], "BDD100K images/10k/val")
        masks = _find_first(root, ["labels/sem_seg/masks/val", "sem_seg/masks/val"], "BDD100K sem_seg masks (val)")
        source = read_bdd_sem(images, masks)
        source, selection = _restrict(source, lambda it: True, size, sel["seed"], "images that have a mask")
    else:
        raise ValueError(f"unknown dataset {name!r}; choose coco350, bdd350, bdd150 or 'labelled'")
    # ``rule`` is the card's name for its selection (the Table 6 report checks a set against its card by
    # it; bdd150's card calls its rule "all", meaning all images with a mask are eligible), so what was
    # done is recorded beside it: ``eligibility`` and ``procedure`` (the keyed hash, or every eligible item).
    selection["procedure"] = selection["rule"]
    selection["rule"] = sel.get("rule")
    rain = card["rain"]
    return build_set(
        source,
        out,
        dataset=name,
        seed=int(rain["seed"] if seed is None else seed),
        mix=RainMix.from_card(rain),
        size=tuple(card["size"]),
        selection=selection,
        force=force,
        progress=progress,
        kind=card["kind"],
    )


def build_labelled(
    source_root: str | Path,
    out: str | Path,
    *,
    seed: int,
    mix: RainMix | None = None,
    size: tuple[int, int] | None = None,
    select: int | None = None,
    annotations: str | Path | None = None,
    kind: SetKind | None = None,
    force: bool = False,
    progress: bool = True,
    dataset: str | None = None,
) -> BuildReport:
    """Build a rainy set from any labelled folder (YOLO, COCO JSON or Cityscapes masks).

    ``select`` images are chosen by the keyed hash of ``seed`` and source id (:func:`select_ids`; the
    manifest's ``config.selection.rule`` says so), all of them when ``select`` is ``None``.

    Example:
        >>> build_labelled("../shared/data/images/coco8-seg", "out/coco8-seg-rain", seed=1)  # doctest: +SKIP
    """
    source = read_labelled(source_root, annotations=annotations)
    source, selection = _restrict(source, lambda it: True, select, seed, "every image of the source")
    mix = mix or RainMix(
        presets=(("light", 1.0), ("medium", 1.0), ("heavy", 1.0), ("night", 1.0)), angle_range=(-30.0, 30.0)
    )
    return build_set(
        source,
        out,
        dataset=dataset or Path(source_root).name,
        seed=seed,
        mix=mix,
        size=size,
        selection=selection,
        force=force,
        progress=progress,
        kind=kind,
    )
