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

Example:
    >>> from bench.data.builders import build_labelled
    >>> report = build_labelled("../shared/data/images/coco8", "out/coco8-rain", seed=0)  # doctest: +SKIP
    >>> report.built, len(report.manifest["items"])  # doctest: +SKIP
    (True, 8)
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from bench.data.cityscapes import CITYSCAPES_CLASSES, LABEL_ID_TO_TRAIN_ID
from bench.data.images import is_image_file, read_image
from bench.data.labels import COCO80_NAMES, coco80_to_coco91
from bench.data.manifest import (
    MANIFEST_NAME,
    MANIFEST_SCHEMA,
    ManifestError,
    is_up_to_date,
    item_seed,
    library_versions,
    read_manifest,
    seed_record,
    sha256_file,
    sha256_json,
    write_json_atomic,
)
from bench.data.paired import natural_key

logger = logging.getLogger(__name__)

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


class SourceFormatError(ValueError):
    """A labelled source folder is not in a recognised layout or its label files are malformed."""


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
    """One source image with its labels."""

    source_id: str
    image_path: Path
    stem: str
    image_id: int
    annotations: list[Annotation] = field(default_factory=list)
    mask_path: Path | None = None
    mask_is_label_ids: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)


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


def _image_id_for(stem: str, fallback: int) -> int:
    digits = re.sub(r"\D", "", stem)
    return int(digits) if digits and len(digits) <= 15 and stem.isdigit() else fallback


def _polygon_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


# ---------------------------------------------------------------------------------------------
# Readers


def _read_class_names(root: Path) -> list[str] | None:
    import yaml

    for yml in sorted(root.glob("*.yaml")) + sorted(root.glob("*.yml")):
        try:
            data = yaml.safe_load(yml.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        names = data.get("names") if isinstance(data, dict) else None
        if isinstance(names, dict):
            return [str(names[k]) for k in sorted(names, key=int)]
        if isinstance(names, list):
            return [str(n) for n in names]
    return None


def read_yolo(root: str | Path, *, splits: Sequence[str] | None = None) -> LabelledSource:
    """Read an ultralytics-layout folder: ``images/<split>/*`` + ``labels/<split>/<stem>.txt``.

    Box lines are ``cls cx cy w h``; longer lines are polygons ``cls x1 y1 x2 y2 …`` (all normalised).
    Class names come from a ``*.yaml`` beside ``images/`` (``names:``); with COCO's 80 names, category
    ids are COCO's (80-class index → id 1..90), else ``index + 1``.

    Raises:
        SourceFormatError: no ``images/`` folder, or a malformed label line.
    """
    from PIL import Image

    root = Path(root)
    images_dir = root / "images"
    if not images_dir.is_dir():
        raise SourceFormatError(f"{root}: no images/ folder (YOLO layout: images/<split>/*.jpg + labels/<split>/*.txt)")
    split_dirs = [d for d in sorted(images_dir.iterdir()) if d.is_dir()] or [images_dir]
    if splits:
        split_dirs = [d for d in split_dirs if d.name in splits]
    names = _read_class_names(root)
    coco_like = names is not None and tuple(names) == COCO80_NAMES
    items: list[SourceItem] = []
    polygons_seen = False
    max_cls = -1
    for split_dir in split_dirs:
        label_dir = root / "labels" / split_dir.relative_to(images_dir)
        for path in sorted((p for p in split_dir.iterdir() if is_image_file(p)), key=lambda p: natural_key(p.name)):
            with Image.open(path) as im:
                width, height = im.size
            rows: list[Annotation] = []
            label_file = label_dir / f"{path.stem}.txt"
            if label_file.is_file():
                for line_no, line in enumerate(label_file.read_text(encoding="utf-8").splitlines(), 1):
                    parts = line.split()
                    if not parts:
                        continue
                    try:
                        cls = int(parts[0])
                        vals = [float(v) for v in parts[1:]]
                    except ValueError as err:
                        raise SourceFormatError(f"{label_file}:{line_no}: not a YOLO label line ({err})") from err
                    max_cls = max(max_cls, cls)
                    if len(vals) == 4:
                        cx, cy, bw, bh = vals
                        box = (
                            (cx - bw / 2) * width,
                            (cy - bh / 2) * height,
                            (cx + bw / 2) * width,
                            (cy + bh / 2) * height,
                        )
                        rows.append(Annotation(cls, box))
                    elif len(vals) >= 6 and len(vals) % 2 == 0:
                        poly = np.asarray(vals, np.float64).reshape(-1, 2) * (width, height)
                        polygons_seen = True
                        x1, y1 = float(poly[:, 0].min()), float(poly[:, 1].min())
                        x2, y2 = float(poly[:, 0].max()), float(poly[:, 1].max())
                        rows.append(Annotation(cls, (x1, y1, x2, y2), polygons=[poly]))
                    else:
                        raise SourceFormatError(
                            f"{label_file}:{line_no}: expected 4 box values or an even number ≥ 6 "
                            f"of polygon values after the class, got {len(vals)}"
                        )
            items.append(
                SourceItem(
                    source_id=str(path.relative_to(root)),
                    image_path=path,
                    stem=path.stem,
                    image_id=_image_id_for(path.stem, len(items) + 1),
                    annotations=rows,
                )
            )
    if not items:
        raise SourceFormatError(f"{images_dir}: no images")
    if names is None:
        names = [str(i) for i in range(max_cls + 1)]
    if coco_like:
        categories = coco80_categories()
        to_id = dict(enumerate(COCO80_TO_91))
    else:
        categories = [{"id": i + 1, "name": n} for i, n in enumerate(names)]
        to_id = {i: i + 1 for i in range(len(names))}
    for item in items:
        for ann in item.annotations:
            if ann.category_id not in to_id:
                raise SourceFormatError(f"{item.source_id}: class {ann.category_id} outside the {len(names)} names")
            ann.category_id = to_id[ann.category_id]
    return LabelledSource("yolo", "instance" if polygons_seen else "detection", categories, items)


def read_coco(images_dir: str | Path, annotation_file: str | Path) -> LabelledSource:
    """Read a COCO instances JSON (``images``, ``annotations``, ``categories``) and its image folder.

    Polygon segmentations become polygons, RLE segmentations (crowd regions) stay RLE.

    Raises:
        SourceFormatError: the JSON lacks the COCO keys.
    """
    images_dir, annotation_file = Path(images_dir), Path(annotation_file)
    try:
        data = json.loads(annotation_file.read_text(encoding="utf-8"))
        images, anns, cats = data["images"], data.get("annotations", []), data["categories"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise SourceFormatError(f"{annotation_file}: not a COCO instances file ({type(err).__name__}: {err})") from err
    by_image: dict[int, list[Annotation]] = {}
    has_polygons = False
    for ann in sorted(anns, key=lambda a: a["id"]):
        x, y, w, h = (float(v) for v in ann["bbox"])
        seg = ann.get("segmentation")
        polys: list[np.ndarray] = []
        rle = None
        if isinstance(seg, list):
            polys = [np.asarray(p, np.float64).reshape(-1, 2) for p in seg if len(p) >= 6]
            has_polygons = has_polygons or bool(polys)
        elif isinstance(seg, dict):
            rle = seg
        by_image.setdefault(int(ann["image_id"]), []).append(
            Annotation(
                int(ann["category_id"]),
                (x, y, x + w, y + h),
                int(ann.get("iscrowd", 0)),
                polys,
                rle,
                {"source_annotation_id": ann["id"]},
            )
        )
    items = []
    for img in sorted(images, key=lambda im: int(im["id"])):
        path = images_dir / img["file_name"]
        items.append(
            SourceItem(
                source_id=str(img["id"]),
                image_path=path,
                stem=Path(img["file_name"]).stem,
                image_id=int(img["id"]),
                annotations=by_image.get(int(img["id"]), []),
            )
        )
    categories = [
        {
            "id": int(c["id"]),
            "name": str(c["name"]),
            **({"supercategory": c["supercategory"]} if "supercategory" in c else {}),
        }
        for c in sorted(cats, key=lambda c: int(c["id"]))
    ]
    return LabelledSource("coco", "instance" if has_polygons else "detection", categories, items)


def read_bdd_det(
    images_dir: str | Path, labels_file: str | Path, class_map: Mapping[str, str] | None = None
) -> LabelledSource:
    """Read BDD100K detection labels (``bdd100k_labels_images_val.json`` or det_20 ``det_val.json``).

    Both are a JSON list of ``{"name", "attributes", "labels": [{"category", "box2d": {x1, y1, x2, y2}}]}``.
    Categories are mapped to COCO (``class_map``, default :data:`BDD_TO_COCO`) so COCO-trained
    detectors can be scored; unmapped categories and labels without ``box2d`` are dropped (counted).
    """
    images_dir, labels_file = Path(images_dir), Path(labels_file)
    class_map = dict(BDD_TO_COCO if class_map is None else class_map)
    try:
        frames = json.loads(labels_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise SourceFormatError(f"{labels_file}: not a BDD100K label file ({err})") from err
    if not isinstance(frames, list):
        raise SourceFormatError(f"{labels_file}: expected a JSON list of frames")
    name_to_id = {name: cid for cid, name in zip(COCO80_TO_91, COCO80_NAMES)}
    dropped: dict[str, int] = {}
    items = []
    for index, frame in enumerate(sorted(frames, key=lambda f: f["name"])):
        rows = []
        for label in frame.get("labels") or []:
            box = label.get("box2d")
            category = label.get("category", "")
            if box is None or category not in class_map:
                dropped[category] = dropped.get(category, 0) + 1
                continue
            bbox = (float(box["x1"]), float(box["y1"]), float(box["x2"]), float(box["y2"]))
            crowd = int(bool((label.get("attributes") or {}).get("crowd", False)))
            rows.append(Annotation(name_to_id[class_map[category]], bbox, crowd, extra={"bdd_category": category}))
        items.append(
            SourceItem(
                source_id=frame["name"],
                image_path=images_dir / frame["name"],
                stem=Path(frame["name"]).stem,
                image_id=index + 1,
                annotations=rows,
                attributes=dict(frame.get("attributes") or {}),
            )
        )
    used = sorted({class_map[c] for c in class_map}, key=lambda n: name_to_id[n])
    categories = [{"id": name_to_id[n], "name": n} for n in used]
    return LabelledSource("bdd-det", "detection", categories, items, dropped)


def _semantic_categories() -> list[dict[str, Any]]:
    return [{"id": i, "name": n} for i, n in enumerate(CITYSCAPES_TRAIN_NAMES)]


def read_bdd_sem(images_dir: str | Path, masks_dir: str | Path) -> LabelledSource:
    """Read BDD100K semantic segmentation: ``images/10k/<split>/*.jpg`` + ``labels/sem_seg/masks/<split>/<stem>.png``."""
    images_dir, masks_dir = Path(images_dir), Path(masks_dir)
    items: list[SourceItem] = []
    for path in sorted((p for p in images_dir.iterdir() if is_image_file(p)), key=lambda p: p.name):
        mask = masks_dir / f"{path.stem}.png"
        if not mask.is_file():
            continue
        items.append(
            SourceItem(source_id=path.name, image_path=path, stem=path.stem, image_id=len(items) + 1, mask_path=mask)
        )
    if not items:
        raise SourceFormatError(f"{images_dir}: no image with a mask in {masks_dir}")
    return LabelledSource("bdd-sem", "semantic", _semantic_categories(), items)


def read_cityscapes(root: str | Path, *, split: str | None = None) -> LabelledSource:
    """Read ``leftImg8bit/<split>/<city>/*_leftImg8bit.png`` + ``gtFine/…/*_gtFine_labelTrainIds.png``.

    Falls back to ``*_gtFine_labelIds.png`` (converted to trainIds) when trainIds are absent.
    """
    root = Path(root)
    left = root / "leftImg8bit"
    items: list[SourceItem] = []
    for path in sorted(left.rglob("*_leftImg8bit.png"), key=lambda p: str(p)):
        rel = path.relative_to(left)
        if split is not None and rel.parts[0] != split:
            continue
        base = path.name[: -len("_leftImg8bit.png")]
        gt_dir = root / "gtFine" / rel.parent
        train_ids = gt_dir / f"{base}_gtFine_labelTrainIds.png"
        label_ids = gt_dir / f"{base}_gtFine_labelIds.png"
        if train_ids.is_file():
            mask, is_ids = train_ids, False
        elif label_ids.is_file():
            mask, is_ids = label_ids, True
        else:
            continue
        items.append(
            SourceItem(
                source_id=str(rel),
                image_path=path,
                stem=path.stem,
                image_id=len(items) + 1,
                mask_path=mask,
                mask_is_label_ids=is_ids,
            )
        )
    if not items:
        raise SourceFormatError(f"{root}: no leftImg8bit/*/*/*_leftImg8bit.png with gtFine labels")
    return LabelledSource("cityscapes", "semantic", _semantic_categories(), items)


def read_labelled(source: str | Path, *, annotations: str | Path | None = None) -> LabelledSource:
    """Detect the layout of a labelled folder and read it (YOLO, COCO JSON or Cityscapes).

    Raises:
        SourceFormatError: the layout is not recognised.
    """
    source = Path(source)
    if not source.is_dir():
        raise FileNotFoundError(f"labelled source folder {source} does not exist")
    if (source / "leftImg8bit").is_dir():
        return read_cityscapes(source)
    if annotations is not None:
        ann = Path(annotations)
        images = next((source / d for d in ("val2017", "images", "train2017") if (source / d).is_dir()), source)
        return read_coco(images, ann)
    jsons = (
        sorted((source / "annotations").glob("instances_*.json"), key=lambda p: ("val" not in p.name, p.name))
        if (source / "annotations").is_dir()
        else []
    )
    if jsons:
        ann = jsons[0]
        split = ann.stem[len("instances_") :]
        images = source / split if (source / split).is_dir() else source / "images"
        return read_coco(images, ann)
    if (source / "images").is_dir():
        return read_yolo(source)
    raise SourceFormatError(
        f"{source}: not a recognised labelled layout (YOLO images/+labels/, COCO annotations/instances_*.json, "
        "or Cityscapes leftImg8bit/+gtFine/)"
    )


# ---------------------------------------------------------------------------------------------
# Geometry


@dataclass(frozen=True)
class Geometry:
    """Resize by ``(sx, sy)`` to ``resized``, then crop ``size`` at ``(ox, oy)``."""

    source: tuple[int, int]
    resized: tuple[int, int]
    offset: tuple[int, int]
    size: tuple[int, int]

    @property
    def scale(self) -> tuple[float, float]:
        return self.resized[0] / self.source[0], self.resized[1] / self.source[1]

    @property
    def identity(self) -> bool:
        return self.source == self.resized == self.size


def cover_geometry(width: int, height: int, target: tuple[int, int] | None) -> Geometry:
    """Scale so the image covers ``target`` (W, H) (the shorter side relative to the target fits), then centre-crop.

    Example:
        >>> cover_geometry(640, 427, (640, 480))
        Geometry(source=(640, 427), resized=(719, 480), offset=(39, 0), size=(640, 480))
    """
    if target is None or (width, height) == tuple(target):
        return Geometry((width, height), (width, height), (0, 0), (width, height))
    tw, th = target
    s = max(tw / width, th / height)
    rw, rh = max(tw, round(width * s)), max(th, round(height * s))
    return Geometry((width, height), (rw, rh), ((rw - tw) // 2, (rh - th) // 2), (tw, th))


def apply_geometry(image: np.ndarray, geo: Geometry, *, nearest: bool = False) -> np.ndarray:
    """Resize (bicubic, or nearest for label maps) and crop an image array."""
    from PIL import Image

    if geo.identity:
        return image
    pil = Image.fromarray(image)
    if geo.resized != geo.source:
        pil = pil.resize(geo.resized, Image.Resampling.NEAREST if nearest else Image.Resampling.BICUBIC)
    ox, oy = geo.offset
    pil = pil.crop((ox, oy, ox + geo.size[0], oy + geo.size[1]))
    return np.asarray(pil)


def _clip_polygon(poly: np.ndarray, width: float, height: float) -> np.ndarray:
    """Sutherland–Hodgman clip of a polygon to ``[0, width] × [0, height]``."""
    pts = [tuple(p) for p in poly]
    for axis, limit, keep_less in ((0, 0.0, False), (0, width, True), (1, 0.0, False), (1, height, True)):
        if not pts:
            break
        out: list[tuple[float, float]] = []
        for i, cur in enumerate(pts):
            prev = pts[i - 1]
            cur_in = cur[axis] <= limit if keep_less else cur[axis] >= limit
            prev_in = prev[axis] <= limit if keep_less else prev[axis] >= limit
            if cur_in != prev_in:
                t = (limit - prev[axis]) / (cur[axis] - prev[axis])
                cross = (prev[0] + t * (cur[0] - prev[0]), prev[1] + t * (cur[1] - prev[1]))
                out.append(cross)
            if cur_in:
                out.append(cur)
        pts = out
    return np.asarray(pts, np.float64).reshape(-1, 2)


def transform_annotation(ann: Annotation, geo: Geometry, *, min_box: float = 2.0) -> Annotation | None:
    """Move an annotation through a resize + crop; None when it leaves the frame or becomes tiny."""
    sx, sy = geo.scale
    ox, oy = geo.offset
    w, h = geo.size
    x1, y1, x2, y2 = ann.bbox
    polys: list[np.ndarray] = []
    for poly in ann.polygons:
        moved = poly * (sx, sy) - (ox, oy)
        clipped = _clip_polygon(moved, w, h)
        if len(clipped) >= 3 and _polygon_area(clipped) > 0:
            polys.append(clipped)
    if ann.polygons and polys:
        allp = np.concatenate(polys)
        box = (allp[:, 0].min(), allp[:, 1].min(), allp[:, 0].max(), allp[:, 1].max())
    else:
        box = (x1 * sx - ox, y1 * sy - oy, x2 * sx - ox, y2 * sy - oy)
    bx1, by1 = min(max(box[0], 0.0), w), min(max(box[1], 0.0), h)
    bx2, by2 = min(max(box[2], 0.0), w), min(max(box[3], 0.0), h)
    if bx2 - bx1 < min_box or by2 - by1 < min_box:
        return None
    if ann.polygons and not polys:
        return None
    rle = ann.rle
    if rle is not None and not geo.identity:
        rle = _transform_rle(rle, geo)
    return Annotation(
        ann.category_id, (float(bx1), float(by1), float(bx2), float(by2)), ann.iscrowd, polys, rle, dict(ann.extra)
    )


def _transform_rle(rle: dict[str, Any], geo: Geometry) -> dict[str, Any]:
    from pycocotools import mask as mask_utils

    if isinstance(rle.get("counts"), list):  # uncompressed RLE
        rle = mask_utils.frPyObjects(rle, *rle["size"])
    decoded = mask_utils.decode(rle)
    moved = apply_geometry(decoded * np.uint8(255), geo, nearest=True) > 127
    encoded = mask_utils.encode(np.asfortranarray(moved.astype(np.uint8)))
    return {"size": [int(v) for v in encoded["size"]], "counts": encoded["counts"].decode("ascii")}


# ---------------------------------------------------------------------------------------------
# Selection and rain mix


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
        return {
            "presets": dict(self.presets),
            "angle_range": list(self.angle_range) if self.angle_range else None,
            "night_from_attributes": self.night_attribute,
            "overrides": dict(self.overrides),
            **({"night_preset": self.night_preset} if self.night_preset != "night" else {}),
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


# ---------------------------------------------------------------------------------------------
# Writing a set


@dataclass
class BuildReport:
    """What a build did."""

    out: Path
    built: bool
    manifest: dict[str, Any]
    dropped: dict[str, int] = field(default_factory=dict)


def _yolo_lines(anns: Iterable[Annotation], index: Mapping[int, int], size: tuple[int, int], kind: SetKind) -> str:
    w, h = size
    lines = []
    for ann in anns:
        if ann.iscrowd:
            continue  # as ultralytics' COCO converter: crowd regions are not training targets
        cls = index[ann.category_id]
        if kind == "instance" and ann.polygons:
            poly = max(ann.polygons, key=_polygon_area)
            coords = " ".join(f"{x / w:.6f} {y / h:.6f}" for x, y in poly)
            lines.append(f"{cls} {coords}")
        else:
            x1, y1, x2, y2 = ann.bbox
            lines.append(
                f"{cls} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}"
            )
    return "".join(line + "\n" for line in lines)


def _coco_annotation(ann: Annotation, ann_id: int, image_id: int) -> dict[str, Any]:
    x1, y1, x2, y2 = ann.bbox
    out: dict[str, Any] = {
        "id": ann_id,
        "image_id": image_id,
        "category_id": ann.category_id,
        "bbox": [round(x1, 3), round(y1, 3), round(x2 - x1, 3), round(y2 - y1, 3)],
        "iscrowd": ann.iscrowd,
    }
    if ann.polygons:
        out["segmentation"] = [[round(float(v), 3) for v in poly.ravel()] for poly in ann.polygons]
        out["area"] = round(sum(_polygon_area(p) for p in ann.polygons), 3)
    elif ann.rle is not None:
        from pycocotools import mask as mask_utils

        rle = ann.rle
        if isinstance(rle.get("counts"), list):
            rle = mask_utils.frPyObjects(rle, *rle["size"])
        counts = rle["counts"].decode("ascii") if isinstance(rle["counts"], bytes) else rle["counts"]
        out["segmentation"] = {"size": list(rle["size"]), "counts": counts}
        out["area"] = float(mask_utils.area({"size": list(rle["size"]), "counts": counts.encode("ascii")}))
    else:
        out["area"] = round((x2 - x1) * (y2 - y1), 3)
    out.update(ann.extra)
    return out


def _write_png(path: Path, image: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, format="PNG", compress_level=3)


def prepare_output(out: Path, config_sha: str, force: bool) -> bool:
    """True when ``out`` already holds this build (skip); clears our own outputs when rebuilding."""
    if is_up_to_date(out, config_sha):
        logger.info("%s is up to date (config %s…); nothing to do", out, config_sha[:12])
        return True
    if (out / MANIFEST_NAME).is_file() and not force:
        try:
            old = read_manifest(out).get("config_sha256")
        except ManifestError:
            old = None
        why = "a different configuration" if old != config_sha else "files that do not match its manifest"
        raise ManifestError(f"{out} holds a built set with {why}; pass --force (force=True) to rebuild it")
    if out.exists() and not (out / MANIFEST_NAME).is_file() and any(out.iterdir()) and not force:
        raise ManifestError(f"{out} is not empty and holds no manifest; choose an empty folder or pass --force")
    for sub in ("rain", "norain", "labels", "masks"):
        if (out / sub).is_dir():
            shutil.rmtree(out / sub)
    for name in ("annotations.json", MANIFEST_NAME):
        (out / name).unlink(missing_ok=True)
    return False


def build_set(
    source: LabelledSource,
    out: str | Path,
    *,
    dataset: str,
    seed: int,
    mix: RainMix,
    size: tuple[int, int] | None = None,
    selection: Mapping[str, Any] | None = None,
    min_box: float = 2.0,
    force: bool = False,
    progress: bool = True,
    kind: SetKind | None = None,
) -> BuildReport:
    """Render rain onto every item of ``source`` and write the set (layout in the module docstring).

    Args:
        source: The parsed labelled source, already restricted to the selected items.
        out: Output folder.
        dataset: Name written into the manifest.
        seed: Rain seed; item ``i`` renders from ``SeedSequence(seed, spawn_key=hash(source_id))``.
        mix: How presets and angles are drawn per image.
        size: Output ``(W, H)``; ``None`` keeps each image's size.
        selection: How the items were selected (recorded in the manifest).
        min_box: Boxes narrower or lower than this (px, after clipping) are dropped.
        force: Rebuild over an existing set built with another configuration.
        progress: Show a progress bar.
        kind: Override the set kind (e.g. ``detection`` for a COCO source that has polygons).

    Returns:
        A :class:`BuildReport`; ``built`` is False when the folder already held this build.
    """
    from PIL import Image

    from bench.data.rain import RENDERER_VERSION, render_rain

    out = Path(out)
    kind = kind or source.kind
    plan = []
    names_seen: set[str] = set()
    for item in source.items:
        name = item.stem if item.stem not in names_seen else f"{item.stem}_{item.image_id}"
        names_seen.add(name)
        seq = item_seed(seed, item.source_id)
        plan.append(
            {
                "name": f"{name}.png",
                "stem": name,
                "source_id": item.source_id,
                "source_sha256": sha256_file(item.image_path),
                "label_sha256": sha256_file(item.mask_path) if item.mask_path else None,
                "seed": seed_record(seq),
                **({"attributes": dict(item.attributes)} if item.attributes else {}),
            }
        )
    config = {
        "dataset": dataset,
        "kind": kind,
        "format": source.format,
        "seed": int(seed),
        "size": list(size) if size else None,
        "mix": mix.to_dict(),
        "preset_params": mix.preset_params(),  # a recalibrated preset rebuilds the set
        "min_box": min_box,
        "renderer_version": RENDERER_VERSION,
        "selection": dict(selection or {}),
        "categories": source.categories,
        "annotations_sha256": sha256_json([[_ann_key(a) for a in it.annotations] for it in source.items]),
        "items": [{k: v for k, v in p.items() if k != "stem"} for p in plan],
    }
    config_sha = sha256_json(config)
    out.mkdir(parents=True, exist_ok=True)
    if prepare_output(out, config_sha, force):
        return BuildReport(out, False, read_manifest(out), dict(source.dropped))

    from tqdm import tqdm

    index = source.yolo_index()
    dropped = dict(source.dropped)
    images_json: list[dict[str, Any]] = []
    anns_json: list[dict[str, Any]] = []
    items_out: list[dict[str, Any]] = []
    bar = tqdm(
        list(zip(source.items, plan)), desc=f"synth {dataset}", unit="img", disable=not progress or len(plan) < 2
    )
    for item, entry in bar:
        clean = read_image(item.image_path)
        geo = cover_geometry(clean.shape[1], clean.shape[0], size)
        clean = apply_geometry(clean, geo)
        rng = np.random.default_rng(item_seed(seed, item.source_id))
        preset, params = mix.draw(rng, item.attributes)
        result = render_rain(clean, params, rng)
        name, stem = entry["name"], entry["stem"]
        files: dict[str, Path] = {f"rain/{name}": out / "rain" / name, f"norain/{name}": out / "norain" / name}
        _write_png(files[f"rain/{name}"], result.rainy)
        _write_png(files[f"norain/{name}"], result.clean)
        height, width = clean.shape[:2]
        if kind == "semantic":
            assert item.mask_path is not None
            with Image.open(item.mask_path) as im:
                mask = np.asarray(im)
            if mask.ndim == 3:
                mask = mask[..., 0]
            mask = mask.astype(np.uint8)
            if item.mask_is_label_ids:
                lut = np.full(256, 255, np.uint8)
                for label_id, train_id in CITYSCAPES_ID_TO_TRAIN.items():
                    lut[label_id] = train_id
                mask = lut[mask]
            if mask.shape != (geo.source[1], geo.source[0]):
                raise SourceFormatError(
                    f"{item.mask_path}: mask size {mask.shape[::-1]} differs from its image {geo.source}"
                )
            mask = apply_geometry(mask, geo, nearest=True)
            files[f"masks/{stem}.png"] = out / "masks" / f"{stem}.png"
            _write_png(files[f"masks/{stem}.png"], mask)
        else:
            moved = []
            for ann in item.annotations:
                new = transform_annotation(ann, geo, min_box=min_box)
                if new is None:
                    dropped["tiny_or_outside"] = dropped.get("tiny_or_outside", 0) + 1
                else:
                    moved.append(new)
            label_path = out / "labels" / f"{stem}.txt"
            label_path.parent.mkdir(parents=True, exist_ok=True)
            label_path.write_text(_yolo_lines(moved, index, (width, height), kind), encoding="utf-8")
            files[f"labels/{stem}.txt"] = label_path
            images_json.append(
                {"id": item.image_id, "file_name": name, "width": width, "height": height, "source_id": item.source_id}
            )
            for ann in moved:
                anns_json.append(_coco_annotation(ann, len(anns_json) + 1, item.image_id))
        items_out.append(
            {
                "name": name,
                "source_id": item.source_id,
                "source_sha256": entry["source_sha256"],
                "seed": entry["seed"],
                "preset": preset,
                **({"attributes": entry["attributes"]} if "attributes" in entry else {}),
                "params": result.params,
                "geometry": {"resized": list(geo.resized), "offset": list(geo.offset)},
                "files": {rel: sha256_file(path) for rel, path in files.items()},
            }
        )
    top_files: dict[str, str] = {}
    if kind != "semantic":
        write_json_atomic(
            out / "annotations.json",
            {
                "info": {"description": f"{dataset}: rainy set built by bench synth", "seed": int(seed)},
                "images": images_json,
                "annotations": anns_json,
                "categories": source.categories,
            },
        )
        top_files["annotations.json"] = sha256_file(out / "annotations.json")
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "kind": kind,
        "dataset": dataset,
        "config_sha256": config_sha,
        "class_names": source.class_names,
        "categories": source.categories,
        "yolo_index": {str(k): v for k, v in sorted(index.items())} if kind != "semantic" else None,
        "seed": int(seed),
        "preset": mix.to_dict(),
        "dropped": dropped,
        "config": config,
        "items": items_out,
        "files": top_files,
        "versions": library_versions(),
    }
    write_json_atomic(out / MANIFEST_NAME, manifest)
    return BuildReport(out, True, manifest, dropped)


def _ann_key(ann: Annotation) -> list[Any]:
    return [
        ann.category_id,
        [round(v, 4) for v in ann.bbox],
        ann.iscrowd,
        [[round(float(v), 4) for v in p.ravel()] for p in ann.polygons],
        ann.rle and str(ann.rle.get("counts"))[:64],
    ]


# ---------------------------------------------------------------------------------------------
# Dataset cards and the named builders


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


def _find_first(root: Path, candidates: Sequence[str], what: str) -> Path:
    for rel in candidates:
        if (root / rel).exists():
            return root / rel
    raise FileNotFoundError(f"{root}: {what} not found; looked for {', '.join(candidates)}")


def _restrict(
    source: LabelledSource, eligible: Callable[[SourceItem], bool], size: int | None, seed: int
) -> tuple[LabelledSource, dict[str, Any]]:
    pool = [it for it in source.items if eligible(it)]
    chosen = [pool[i] for i in select_ids([it.source_id for it in pool], size, seed)]
    selection = {
        "eligible": len(pool),
        "size": len(chosen),
        "seed": int(seed),
        "rule": SELECTION_RULE,
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
        source, selection = _restrict(source, lambda it: any(a.iscrowd == 0 for a in it.annotations), size, sel["seed"])
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
        source, selection = _restrict(source, lambda it: bool(it.annotations), size, sel["seed"])
    elif name == "bdd150":
        images = _find_first(root, ["images/10k/val", "10k/val"], "BDD100K images/10k/val")
        masks = _find_first(root, ["labels/sem_seg/masks/val", "sem_seg/masks/val"], "BDD100K sem_seg masks (val)")
        source = read_bdd_sem(images, masks)
        source, selection = _restrict(source, lambda it: True, size, sel["seed"])
    else:
        raise ValueError(f"unknown dataset {name!r}; choose coco350, bdd350, bdd150 or 'labelled'")
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

    Example:
        >>> build_labelled("../shared/data/images/coco8-seg", "out/coco8-seg-rain", seed=1)  # doctest: +SKIP
    """
    source = read_labelled(source_root, annotations=annotations)
    source, selection = _restrict(source, lambda it: True, select, seed)
    selection["rule"] = "all" if select is None else "random"
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
