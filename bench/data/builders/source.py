"""The in-memory labelled source every reader produces: items, annotations, categories, class tables."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from bench.data.cityscapes import CITYSCAPES_CLASSES, LABEL_ID_TO_TRAIN_ID
from bench.data.labels import COCO80_NAMES, coco80_to_coco91

SetKind = Literal["detection", "instance", "semantic"]

# Class tables are shared with the label readers (one definition each).
COCO80_TO_91: tuple[int, ...] = tuple(coco80_to_coco91())
CITYSCAPES_TRAIN_NAMES: tuple[str, ...] = CITYSCAPES_CLASSES
CITYSCAPES_ID_TO_TRAIN: dict[int, int] = {k: v for k, v in LABEL_ID_TO_TRAIN_ID.items() if v != 255}
# BDD100K detection categories (2018 labels and det_20) -> COCO names; unmapped categories are dropped.
BDD_TO_COCO: dict[str, str] = {
    "person": "person",
    "pedestrian": "person",
    "rider": "person",
    "car": "car",
    "bus": "bus",
    "truck": "truck",
    "train": "train",
    "bike": "bicycle",
    "bicycle": "bicycle",
    "motor": "motorcycle",
    "motorcycle": "motorcycle",
    "traffic light": "traffic light",
}


# ---------------------------------------------------------------------------------------------
# In-memory labelled source


@dataclass
class Annotation:
    """One object in source pixel coordinates.

    Attributes:
        category_id: Category id in the output COCO JSON.
        bbox: ``(x1, y1, x2, y2)`` in pixels.
        iscrowd: COCO crowd flag.
        polygons: Polygons as ``(N, 2)`` arrays of pixel coordinates (instance outlines), if any.
        rle: A COCO RLE mask (crowd regions), if any.
        extra: Fields kept in the COCO annotation (e.g. ``bdd_category``).
    """

    category_id: int
    bbox: tuple[float, float, float, float]
    iscrowd: int = 0
    polygons: list[np.ndarray] = field(default_factory=list)
    rle: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class SourceItem:
    """One source image with its labels.

    ``size`` is the ``(W, H)`` the labels are relative to (the COCO JSON's ``width``/``height``, or the
    EXIF-oriented size a YOLO folder's labels are normalised to); the builder checks the decoded image
    against it. ``None`` when the source does not say.
    """

    source_id: str
    image_path: Path
    stem: str
    image_id: int
    annotations: list[Annotation] = field(default_factory=list)
    mask_path: Path | None = None
    mask_is_label_ids: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)
    size: tuple[int, int] | None = None


@dataclass
class LabelledSource:
    """A parsed labelled source: its kind, categories and items (natural order)."""

    format: str
    kind: SetKind
    categories: list[dict[str, Any]]
    items: list[SourceItem]
    dropped: dict[str, int] = field(default_factory=dict)

    def coco_indexed(self) -> bool:
        """True when every category is a COCO category (id and name): YOLO labels use the 80-class index."""
        coco = dict(zip(COCO80_TO_91, COCO80_NAMES))
        return bool(self.categories) and all(coco.get(c["id"]) == c["name"] for c in self.categories)

    @property
    def class_names(self) -> list[str]:
        """Names in YOLO class-index order (all 80 COCO names for COCO-indexed sets)."""
        if self.kind == "semantic":
            return [c["name"] for c in self.categories]
        if self.coco_indexed():
            return list(COCO80_NAMES)
        return [c["name"] for c in sorted(self.categories, key=lambda c: c["id"])]

    def yolo_index(self) -> dict[int, int]:
        """Category id → YOLO class index (COCO's 80-class index for COCO categories, else id order)."""
        if self.coco_indexed():
            return {c["id"]: COCO80_TO_91.index(c["id"]) for c in self.categories}
        return {c["id"]: i for i, c in enumerate(sorted(self.categories, key=lambda c: c["id"]))}


def coco80_categories() -> list[dict[str, Any]]:
    """The 80 COCO categories with their official ids."""
    return [{"id": cid, "name": name} for cid, name in zip(COCO80_TO_91, COCO80_NAMES)]


def image_ids_for(stems: Sequence[str]) -> list[int]:
    """COCO image ids for items with these file stems, in order; always unique.

    When every stem is all digits (at most 15, as COCO's ``000000000139``) and no two stems give the same
    number, the ids are those numbers (a COCO-named folder keeps its ids); otherwise they are ``1..n`` in
    order: a digit stem repeated across splits (``train/1.jpg``, ``val/1.jpg``), equal numbers spelt
    differently (``1``, ``01``) or digit and other names mixed (``2.jpg`` and ``bus.jpg`` as item 2) would
    otherwise give two images one id.

    Example:
        >>> image_ids_for(["000000000139", "285"]), image_ids_for(["1", "1"]), image_ids_for(["2", "bus"])
        ([139, 285], [1, 2], [1, 2])
    """
    numbers = [int(s) if re.fullmatch(r"[0-9]{1,15}", s) else None for s in stems]
    if all(n is not None for n in numbers) and len(set(numbers)) == len(numbers):
        return [int(n) for n in numbers if n is not None]
    return list(range(1, len(stems) + 1))


def polygon_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)
