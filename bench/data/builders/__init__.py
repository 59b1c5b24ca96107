"""Builders of rainy downstream sets: COCO350, BDD350, BDD150 and any labelled folder.

A builder reads a labelled source (YOLO folder, COCO JSON, Cityscapes masks, BDD100K detection JSON
or BDD100K semantic masks), selects images deterministically, optionally resizes them
(shorter side to the target, then a centre crop), renders seeded rain onto each and writes::

    OUT/rain/<stem>.png        rainy image (lossless)
    OUT/norain/<stem>.png      clean image, same size (the reference)
    OUT/labels/<stem>.txt      YOLO labels (boxes, or polygons for instance sets)  [detection/instance]
    OUT/annotations.json       COCO JSON of just these images                     [detection/instance]
    OUT/masks/<stem>.png       labelTrainIds, uint8, 255 = ignore                 [semantic]
    OUT/manifest.json          kind, class names, seeds, parameters, sha256 of every file

Labels follow the geometry: boxes and polygons are scaled, shifted, clipped to the frame (polygons
with Sutherland–Hodgman), and dropped when a clipped box is narrower or lower than ``min_box`` px;
crowd RLE masks and semantic masks are resized with nearest neighbour.

Modules: ``source`` (the in-memory labelled source), ``readers`` (YOLO, COCO, BDD100K, Cityscapes;
label files through :mod:`bench.data.labels`, errors :class:`~bench.data.labels.LabelFormatError`),
``geometry`` (resize + crop of images and labels), ``mix`` (selection and rain mix), ``write`` (one set
on disk), ``cards`` (dataset cards), ``named`` (COCO350 / BDD350 / BDD150 and any folder).

Example:
    >>> from bench.data.builders import build_labelled
    >>> report = build_labelled("../shared/data/images/coco8", "out/coco8-rain", seed=0)  # doctest: +SKIP
    >>> report.built, len(report.manifest["items"])  # doctest: +SKIP
    (True, 8)
"""

from bench.data.builders.cards import CARDS_RESOURCE, card_names, load_card
from bench.data.builders.geometry import Geometry, apply_geometry, cover_geometry, transform_annotation
from bench.data.builders.mix import SELECTION_RULE, RainMix, select_ids, selection_key
from bench.data.builders.named import build_labelled, build_named
from bench.data.builders.readers import (
    read_bdd_det,
    read_bdd_sem,
    read_cityscapes,
    read_coco,
    read_labelled,
    read_yolo,
)
from bench.data.builders.source import (
    BDD_TO_COCO,
    CITYSCAPES_ID_TO_TRAIN,
    CITYSCAPES_TRAIN_NAMES,
    COCO80_TO_91,
    Annotation,
    LabelledSource,
    SetKind,
    SourceItem,
    coco80_categories,
)
from bench.data.builders.write import BuildReport, build_set, prepare_output, write_manifest
from bench.data.labels import LabelFormatError

__all__ = [
    "BDD_TO_COCO",
    "CARDS_RESOURCE",
    "CITYSCAPES_ID_TO_TRAIN",
    "CITYSCAPES_TRAIN_NAMES",
    "COCO80_TO_91",
    "SELECTION_RULE",
    "Annotation",
    "BuildReport",
    "Geometry",
    "LabelFormatError",
    "LabelledSource",
    "RainMix",
    "SetKind",
    "SourceItem",
    "apply_geometry",
    "build_labelled",
    "build_named",
    "build_set",
    "card_names",
    "coco80_categories",
    "cover_geometry",
    "load_card",
    "prepare_output",
    "read_bdd_det",
    "read_bdd_sem",
    "read_cityscapes",
    "read_coco",
    "read_labelled",
    "read_yolo",
    "select_ids",
    "selection_key",
    "transform_annotation",
    "write_manifest",
]
