"""Readers of labelled sources: YOLO folders, COCO JSON, BDD100K detection / semantic, Cityscapes."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.data.builders.source import (
    BDD_TO_COCO,
    CITYSCAPES_TRAIN_NAMES,
    COCO80_TO_91,
    Annotation,
    LabelledSource,
    SourceItem,
    coco80_categories,
    image_ids_for,
)
from bench.data.images import is_image_file
from bench.data.labels import COCO80_NAMES, LabelFormatError, load_coco_json, parse_yolo_file
from bench.data.paired import natural_key

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from PIL import Image

EXIF_ORIENTATION = 0x0112  # the EXIF Orientation tag


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


def oriented_size(im: Image.Image) -> tuple[int, int]:
    """``(W, H)`` of an opened image as displayed: W and H swapped when its EXIF orientation (5–8) turns it
    a quarter, as :func:`PIL.ImageOps.exif_transpose` (which :func:`~bench.data.images.read_image`
    applies) does. Reads the header only.

    Example:
        >>> from PIL import Image
        >>> im = Image.new("RGB", (80, 40))
        >>> im.getexif()[0x0112] = 6  # rotate 90° on display
        >>> oriented_size(im)
        (40, 80)
    """
    orientation = im.getexif().get(EXIF_ORIENTATION, 1)
    return (im.height, im.width) if orientation in (5, 6, 7, 8) else (im.width, im.height)


def read_yolo(root: str | Path, *, splits: Sequence[str] | None = None) -> LabelledSource:
    """Read an ultralytics-layout folder: ``images/<split>/*`` + ``labels/<split>/<stem>.txt``.

    Box lines are ``cls cx cy w h``; longer lines are polygons ``cls x1 y1 x2 y2 …`` (all normalised to
    the image as displayed, i.e. after its EXIF orientation, as ultralytics' ``exif_size``). Image ids are
    the file stems when all are distinct numbers, else ``1..n`` (:func:`image_ids_for`).
    Class names come from a ``*.yaml`` beside ``images/`` (``names:``); with COCO's 80 names, category
    ids are COCO's (80-class index → id 1..90), else ``index + 1``.

    Raises:
        LabelFormatError: no ``images/`` folder, or a malformed label line.
    """
    from PIL import Image

    root = Path(root)
    images_dir = root / "images"
    if not images_dir.is_dir():
        raise LabelFormatError(f"{root}: no images/ folder (YOLO layout: images/<split>/*.jpg + labels/<split>/*.txt)")
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
                width, height = oriented_size(im)
            rows: list[Annotation] = []
            for obj in parse_yolo_file(label_dir / f"{path.stem}.txt"):  # the package's one YOLO parser
                max_cls = max(max_cls, obj.cls)
                if obj.polygon is None:
                    cx, cy, bw, bh = obj.box
                    box = ((cx - bw / 2) * width, (cy - bh / 2) * height, (cx + bw / 2) * width, (cy + bh / 2) * height)
                    rows.append(Annotation(obj.cls, box))
                else:
                    poly = obj.polygon * (width, height)
                    polygons_seen = True
                    x1, y1 = float(poly[:, 0].min()), float(poly[:, 1].min())
                    x2, y2 = float(poly[:, 0].max()), float(poly[:, 1].max())
                    rows.append(Annotation(obj.cls, (x1, y1, x2, y2), polygons=[poly]))
            items.append(
                SourceItem(
                    source_id=str(path.relative_to(root)),
                    image_path=path,
                    stem=path.stem,
                    image_id=0,  # assigned below, once every stem is known
                    annotations=rows,
                    size=(width, height),
                )
            )
    if not items:
        raise LabelFormatError(f"{images_dir}: no images")
    for item, image_id in zip(items, image_ids_for([it.stem for it in items])):
        item.image_id = image_id
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
                raise LabelFormatError(f"{item.source_id}: class {ann.category_id} outside the {len(names)} names")
            ann.category_id = to_id[ann.category_id]
    return LabelledSource("yolo", "instance" if polygons_seen else "detection", categories, items)


def read_coco(images_dir: str | Path, annotation_file: str | Path) -> LabelledSource:
    """Read a COCO instances JSON (``images``, ``annotations``, ``categories``) and its image folder.

    Polygon segmentations become polygons, RLE segmentations (crowd regions) stay RLE. Each image's
    ``width``/``height`` become its item's ``size``, which :func:`~bench.data.builders.build_set` checks
    against the decoded image.

    Raises:
        LabelFormatError: the JSON lacks the COCO keys.
    """
    images_dir, annotation_file = Path(images_dir), Path(annotation_file)
    data = load_coco_json(annotation_file)  # the package's one COCO reader
    images, anns, cats = data["images"], data.get("annotations") or [], data["categories"]
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
                size=(int(img["width"]), int(img["height"])) if "width" in img and "height" in img else None,
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
        raise LabelFormatError(f"{labels_file}: not a BDD100K label file ({err})") from err
    if not isinstance(frames, list):
        raise LabelFormatError(f"{labels_file}: expected a JSON list of frames")
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
    unlabelled: list[Path] = []
    for path in sorted((p for p in images_dir.iterdir() if is_image_file(p)), key=lambda p: p.name):
        mask = masks_dir / f"{path.stem}.png"
        if not mask.is_file():
            unlabelled.append(path)
            continue
        items.append(
            SourceItem(source_id=path.name, image_path=path, stem=path.stem, image_id=len(items) + 1, mask_path=mask)
        )
    if not items:
        raise LabelFormatError(f"{images_dir}: no image with a mask in {masks_dir}")
    _warn_unlabelled(unlabelled, f"no mask in {masks_dir}")
    return LabelledSource("bdd-sem", "semantic", _semantic_categories(), items)


def _warn_unlabelled(paths: Sequence[Path], why: str) -> None:
    """Say which images a semantic source leaves out for want of a label (none: silent)."""
    if paths:
        shown = ", ".join(p.name for p in paths[:3]) + (" …" if len(paths) > 3 else "")
        logger.warning("%d image(s) left out of the set (%s): %s", len(paths), why, shown)


def read_cityscapes(root: str | Path, *, split: str | None = None) -> LabelledSource:
    """Read ``leftImg8bit/<split>/<city>/*_leftImg8bit.png`` + ``gtFine/…/*_gtFine_labelTrainIds.png``.

    Falls back to ``*_gtFine_labelIds.png`` (converted to trainIds) when trainIds are absent.
    """
    root = Path(root)
    left = root / "leftImg8bit"
    items: list[SourceItem] = []
    unlabelled: list[Path] = []
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
            unlabelled.append(path)
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
        raise LabelFormatError(f"{root}: no leftImg8bit/*/*/*_leftImg8bit.png with gtFine labels")
    _warn_unlabelled(unlabelled, "no gtFine labelTrainIds/labelIds")
    return LabelledSource("cityscapes", "semantic", _semantic_categories(), items)


def read_labelled(source: str | Path, *, annotations: str | Path | None = None) -> LabelledSource:
    """Detect the layout of a labelled folder and read it (YOLO, COCO JSON or Cityscapes).

    Raises:
        LabelFormatError: the layout is not recognised.
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
    raise LabelFormatError(
        f"{source}: not a recognised labelled layout (YOLO images/+labels/, COCO annotations/instances_*.json, "
        "or Cityscapes leftImg8bit/+gtFine/)"
    )
