"""Ground-truth readers for detection and instance segmentation.

* YOLO text labels, one object a line, coordinates normalised to ``[0, 1]``:
  boxes ``cls cx cy w h`` or polygons ``cls x1 y1 x2 y2 ...`` (as in ultralytics' ``coco8`` / ``coco8-seg``).
* COCO ``instances_*.json`` files, category ids mapped to the 80 contiguous COCO classes when every category
  is COCO's by id and name (:func:`coco_indexed`), else to ``0..n-1`` in id order.

Both give :class:`~bench.data.annotations.GroundTruth` with ``x1, y1, x2, y2`` pixel boxes and, on request,
``(K, H, W)`` bool masks rasterised with pycocotools exactly as COCO evaluation does (``frPyObjects``).
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.annotations import GroundTruth

logger = logging.getLogger(__name__)

#: The 80 COCO classes in the contiguous order used by YOLO, detectron2 and ultralytics.
COCO80_NAMES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip

#: COCO category ids (1..90, 11 of them unused) of the 80 classes, in contiguous order.
_COCO91_IDS: tuple[int, ...] = (
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31, 32, 33,
    34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61,
    62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90,
)  # fmt: skip


class LabelFormatError(ValueError):
    """A label file could not be parsed; the message names the file and line."""


def coco80_to_coco91() -> list[int]:
    """COCO category id (1..90) of each of the 80 contiguous class indices.

    Example:
        >>> coco80_to_coco91()[:3], coco80_to_coco91()[79]
        ([1, 2, 3], 90)
    """
    return list(_COCO91_IDS)


def coco91_to_coco80() -> dict[int, int]:
    """Map a COCO category id (1..90) to the contiguous 0..79 class index (unused ids are absent).

    Example:
        >>> coco91_to_coco80()[1], coco91_to_coco80()[90], 12 in coco91_to_coco80()
        (0, 79, False)
    """
    return {cid: i for i, cid in enumerate(_COCO91_IDS)}


def rasterize_polygons(polygons: Sequence[Sequence[float]], height: int, width: int) -> np.ndarray:
    """Rasterise one object's polygon(s) (pixel ``x1, y1, x2, y2, ...`` lists) into an ``(H, W)`` bool mask.

    Uses ``pycocotools.mask.frPyObjects`` + ``merge``, the conversion COCO evaluation applies to polygon
    annotations, so masks agree with pycocotools' own ``annToMask``.

    Example:
        >>> int(rasterize_polygons([[1, 1, 5, 1, 5, 4, 1, 4]], 6, 8).sum())
        12
    """
    from pycocotools import mask as mask_utils

    polys = [list(map(float, p)) for p in polygons if len(p) >= 6]
    if not polys:
        return np.zeros((height, width), dtype=bool)
    rle = mask_utils.merge(mask_utils.frPyObjects(polys, height, width))
    return mask_utils.decode(rle).astype(bool)


def _decode_segmentation(segm: object, height: int, width: int) -> np.ndarray:
    from pycocotools import mask as mask_utils

    if isinstance(segm, list):
        return rasterize_polygons(segm, height, width)
    if isinstance(segm, dict):
        rle = mask_utils.frPyObjects(segm, height, width) if isinstance(segm.get("counts"), list) else segm
        return mask_utils.decode(rle).astype(bool)
    raise LabelFormatError(f"unsupported segmentation type {type(segm).__name__}")


@dataclass(frozen=True)
class YoloObject:
    """One line of a YOLO label file, in normalised coordinates.

    Attributes:
        cls: Class index.
        box: ``(cx, cy, w, h)`` of a box line, or the polygon's extent as ``(cx, cy, w, h)``.
        polygon: ``(N, 2)`` normalised ``x, y`` points of a polygon line; ``None`` for a box line.
    """

    cls: int
    box: tuple[float, float, float, float]
    polygon: np.ndarray | None = None


def parse_yolo_file(path: str | Path) -> list[YoloObject]:
    """Parse a YOLO label file (a missing or empty file has no objects); the one parser of the package.

    A line with 5 numbers is a box ``cls cx cy w h``; a line with an odd count >= 7 is a polygon
    ``cls x1 y1 ...``. Coordinates stay normalised.

    Raises:
        LabelFormatError: a malformed line (the message names file and line).

    Example:
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> _ = f.write_text("0 0.5 0.5 0.2 0.4")
        >>> parse_yolo_file(f)[0].box
        (0.5, 0.5, 0.2, 0.4)
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    out: list[YoloObject] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        try:
            values = [float(v) for v in parts]
        except ValueError as exc:
            raise LabelFormatError(f"{path}:{lineno}: non-numeric value in {line!r}") from exc
        if not all(math.isfinite(v) for v in values):
            raise LabelFormatError(f"{path}:{lineno}: non-finite value in {line!r}")
        cls = int(values[0])
        if values[0] != cls or cls < 0:
            raise LabelFormatError(f"{path}:{lineno}: class {parts[0]!r} is not a non-negative integer")
        coords = values[1:]
        if len(coords) == 4:
            cx, cy, w, h = coords
            out.append(YoloObject(cls, (cx, cy, w, h)))
        elif len(coords) >= 6 and len(coords) % 2 == 0:
            poly = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
            (x1, y1), (x2, y2) = poly.min(axis=0), poly.max(axis=0)
            box = (float(x1 + x2) / 2, float(y1 + y2) / 2, float(x2 - x1), float(y2 - y1))
            out.append(YoloObject(cls, box, poly))
        else:
            raise LabelFormatError(
                f"{path}:{lineno}: expected 'cls cx cy w h' or 'cls x1 y1 x2 y2 x3 y3 ...', got {len(parts)} values"
            )
    return out


def read_yolo_labels(path: str | Path, height: int, width: int, *, with_masks: bool = False) -> GroundTruth:
    """Read one YOLO label file into pixel-space ground truth.

    A line with 5 numbers is a box ``cls cx cy w h``; a line with an odd count >= 7 is a polygon
    ``cls x1 y1 ...`` whose box is the polygon's extent (as ultralytics does). A missing or empty file is an
    image without objects.

    Args:
        path: The ``.txt`` file.
        height: Image height in pixels.
        width: Image width in pixels.
        with_masks: Also rasterise polygons into ``(K, H, W)`` masks (a box line gives the pixels whose
            centre lies inside the box).

    Returns:
        Ground truth with ``x1, y1, x2, y2`` pixel boxes and int64 labels.

    Raises:
        LabelFormatError: a malformed line (the message names file and line).

    Example:
        >>> gt = read_yolo_labels("coco8/labels/val/000000000036.txt", 640, 481)  # doctest: +SKIP
        >>> gt.boxes.shape, gt.labels.tolist()  # doctest: +SKIP
        ((2, 4), [25, 0])
    """
    path = Path(path)
    boxes: list[list[float]] = []
    labels: list[int] = []
    polygons: list[list[float] | None] = []
    for obj in parse_yolo_file(path):
        if obj.polygon is None:
            cx, cy, w, h = obj.box
            box = [(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height]
            poly = None
        else:
            xs = obj.polygon[:, 0] * width
            ys = obj.polygon[:, 1] * height
            box = [float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())]
            poly = np.stack([xs, ys], axis=1).ravel().tolist()
        boxes.append(box)
        labels.append(obj.cls)
        polygons.append(poly)
    box_arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    box_arr[:, 0::2] = box_arr[:, 0::2].clip(0, width)
    box_arr[:, 1::2] = box_arr[:, 1::2].clip(0, height)
    masks = None
    if with_masks:
        masks = np.zeros((len(labels), height, width), dtype=bool)
        for k, poly in enumerate(polygons):
            if poly is not None:
                masks[k] = rasterize_polygons([poly], height, width)
            else:
                # pixels whose centre lies inside the box
                x1, y1, x2, y2 = np.ceil(box_arr[k] - 0.5).astype(int)
                masks[k, y1:y2, x1:x2] = True
    return GroundTruth(
        boxes=box_arr, labels=np.asarray(labels, dtype=np.int64), masks=masks, iscrowd=np.zeros(len(labels), dtype=bool)
    )


def yolo_label_path(image_path: str | Path) -> Path:
    """The label file of an image in the YOLO layout (last ``images`` folder replaced by ``labels``, ``.txt``).

    Example:
        >>> yolo_label_path("coco8/images/val/000000000036.jpg").as_posix()
        'coco8/labels/val/000000000036.txt'
    """
    parts = list(Path(image_path).parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def coco_indexed(categories: Sequence[Mapping[str, Any]]) -> bool:
    """True when every category is a COCO category by id *and* name (then labels use COCO's 80-class index).

    The rule of the dataset builder (``LabelledSource.coco_indexed``), so a built set's YOLO text labels,
    its manifest and :func:`read_coco_json` of its ``annotations.json`` give every object the same class.

    Example:
        >>> coco_indexed([{"id": 1, "name": "person"}, {"id": 3, "name": "car"}])
        True
        >>> coco_indexed([{"id": 1, "name": "pedestrian"}, {"id": 3, "name": "vehicle"}])
        False
    """
    coco = dict(zip(_COCO91_IDS, COCO80_NAMES))
    return bool(categories) and all(coco.get(int(c["id"])) == c.get("name") for c in categories)


def _category_index(categories: Sequence[Mapping[str, Any]]) -> dict[int, int]:
    """Category id → class index: COCO's 80-class index when :func:`coco_indexed`, else ``0..n-1`` by id.

    Raises:
        LabelFormatError: two categories share an id.

    Example:
        >>> _category_index([{"id": 1, "name": "person"}, {"id": 3, "name": "car"}])
        {1: 0, 3: 2}
        >>> _category_index([{"id": 1, "name": "pedestrian"}, {"id": 3, "name": "vehicle"}, {"id": 5, "name": "sign"}])
        {1: 0, 3: 1, 5: 2}
    """
    ids = sorted(int(c["id"]) for c in categories)
    repeated = sorted(cid for cid, n in Counter(ids).items() if n > 1)
    if repeated:
        raise LabelFormatError(f"duplicate category id(s) {', '.join(map(str, repeated))}")
    if coco_indexed(categories):
        standard = coco91_to_coco80()
        return {cid: standard[cid] for cid in ids}
    logger.info("the categories are not COCO's (id and name): mapping them in id order to 0..%d", len(ids) - 1)
    return {cid: i for i, cid in enumerate(ids)}


def load_coco_json(path: str | Path) -> dict[str, Any]:
    """Read a COCO instances JSON file into its dict; the one COCO reader of the package.

    Raises:
        LabelFormatError: unreadable, not JSON, not an object, or without ``images`` / ``categories``.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LabelFormatError(f"{path}: cannot read COCO JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise LabelFormatError(f"{path}: cannot read COCO JSON: the top level is {type(data).__name__}, not an object")
    for key in ("images", "categories"):
        if not isinstance(data.get(key), list):
            raise LabelFormatError(f"{path}: not a COCO instances file: no {key!r} list")
    return data


def read_coco_json(path: str | Path, *, with_masks: bool = False) -> dict[str, GroundTruth]:
    """Read a COCO instances JSON into per-image ground truth keyed by ``file_name``.

    Categories that are all COCO's (id and name) map to the 80 contiguous indices (:func:`coco91_to_coco80`);
    any other category set maps in sorted-id order to ``0..n-1`` (:func:`_category_index`, the dataset
    builder's rule). Boxes ``x, y, w, h`` become ``x1, y1, x2, y2``; ``iscrowd`` is kept, and so is
    ``area`` (as :attr:`GroundTruth.areas`, NaN where an annotation has none), which COCOeval bins by
    object size. Images without annotations get empty ground truth.

    Args:
        path: The JSON file.
        with_masks: Decode ``segmentation`` (polygons or RLE) into ``(K, H, W)`` bool masks.

    Raises:
        LabelFormatError: unreadable or malformed JSON, an annotation of an unknown image, two images with
            the same id or the same ``file_name``, or two categories with the same id.

    Example:
        >>> gts = read_coco_json("annotations/instances_val2017.json")  # doctest: +SKIP
        >>> gts["000000000139.jpg"].labels[:3].tolist()  # doctest: +SKIP
        [58, 56, 56]
    """
    path = Path(path)
    data = load_coco_json(path)
    try:
        return _coco_ground_truth(data, path, with_masks=with_masks)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, LabelFormatError):
            raise
        raise LabelFormatError(f"{path}: malformed COCO JSON: {type(exc).__name__}: {exc}") from exc


def _coco_ground_truth(data: Any, path: Path, *, with_masks: bool) -> dict[str, GroundTruth]:
    """The per-image ground truth of a parsed COCO JSON (raises KeyError/TypeError on a bad structure)."""
    try:
        cat_map = _category_index(data.get("categories", []))
    except LabelFormatError as exc:
        raise LabelFormatError(f"{path}: {exc}") from exc
    images = _unique_images(data.get("images", []), path)
    per_image: dict[int, list[dict]] = {i: [] for i in images}
    for ann in data.get("annotations", []):
        image_id = int(ann["image_id"])
        if image_id not in per_image:
            raise LabelFormatError(f"{path}: annotation {ann.get('id')} refers to unknown image {image_id}")
        per_image[image_id].append(ann)
    out: dict[str, GroundTruth] = {}
    for image_id, im in images.items():
        height, width = int(im["height"]), int(im["width"])
        anns = [a for a in per_image[image_id] if int(a["category_id"]) in cat_map]
        boxes = np.asarray([a["bbox"] for a in anns], dtype=np.float64).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        labels = np.asarray([cat_map[int(a["category_id"])] for a in anns], dtype=np.int64)
        iscrowd = np.asarray([bool(a.get("iscrowd", 0)) for a in anns], dtype=bool)
        areas = np.asarray([float(a["area"]) if a.get("area") is not None else np.nan for a in anns])
        masks = None
        if with_masks:
            masks = np.zeros((len(anns), height, width), dtype=bool)
            for k, ann in enumerate(anns):
                if "segmentation" in ann:
                    masks[k] = _decode_segmentation(ann["segmentation"], height, width)
        out[str(im["file_name"])] = GroundTruth(
            boxes=boxes, labels=labels, masks=masks, iscrowd=iscrowd, areas=areas.reshape(-1)
        )
    return out


def _unique_images(images: Sequence[Mapping[str, Any]], path: Path) -> dict[int, Mapping[str, Any]]:
    """The images of a COCO JSON by id; two with one id or one ``file_name`` would lose one's labels."""
    by_id: dict[int, list[str]] = {}
    by_name: dict[str, list[int]] = {}
    for im in images:
        by_id.setdefault(int(im["id"]), []).append(str(im["file_name"]))
        by_name.setdefault(str(im["file_name"]), []).append(int(im["id"]))
    problems = [f"image id {i} ({', '.join(map(repr, names))})" for i, names in by_id.items() if len(names) > 1]
    problems += [f"file_name {n!r} (ids {', '.join(map(str, ids))})" for n, ids in by_name.items() if len(ids) > 1]
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise LabelFormatError(f"{path}: duplicate images, one's ground truth would be lost: {shown}")
    return {int(im["id"]): im for im in images}
