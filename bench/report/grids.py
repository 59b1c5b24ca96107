"""Visual comparison grids for the HTML report (PIL): rainy / each derainer / clean crops, as PNG bytes.

Everything is drawn from the files stored records point at (derained images in ``record["images_dir"]``,
boxes in ``record["predictions_file"]``, the rainy and clean files under ``record["dataset"]["path"]``).
Nothing is re-derained or re-scored. Segmentation overlays are drawn when a record's image folder holds
label maps at ``<images_dir>/labels/<condition>/<id>.png`` (uint8 class indices; condition rainy,
derained or clean).
"""

from __future__ import annotations

import io
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.results.labels import distinct_labels

logger = logging.getLogger(__name__)

Record = dict[str, Any]

#: Cityscapes trainId colours (19 classes); other indices are drawn grey.
CITYSCAPES_PALETTE: tuple[tuple[int, int, int], ...] = (
    (128, 64, 128),
    (244, 35, 232),
    (70, 70, 70),
    (102, 102, 156),
    (190, 153, 153),
    (153, 153, 153),
    (250, 170, 30),
    (220, 220, 0),
    (107, 142, 35),
    (152, 251, 152),
    (70, 130, 180),
    (220, 20, 60),
    (255, 0, 0),
    (0, 0, 142),
    (0, 0, 70),
    (0, 60, 100),
    (0, 80, 100),
    (0, 0, 230),
    (119, 11, 32),
)


def png_bytes(image: np.ndarray) -> bytes:
    """Encode an ``(H, W, 3)`` uint8 array as PNG."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


@dataclass
class GridRow:
    """One example image: a crop per column (label, PNG bytes) or a reason the cell is empty."""

    item_id: str
    cells: list[tuple[str, bytes | None, str]] = field(default_factory=list)  # (label, png, caption/reason)


@dataclass
class Grid:
    """A visual comparison for one (task, dataset): rainy / each derainer / clean."""

    title: str
    rows: list[GridRow]
    notes: list[str] = field(default_factory=list)


def source_files(record: Record) -> dict[str, tuple[Path, Path | None]]:
    """``id → (rainy file, clean file or None)`` of a record's dataset (empty when the folder is gone)."""
    from bench.data.paired import EmptyDatasetError, detect_pairs

    root = Path(str((record.get("dataset") or {}).get("path", "")))
    if not root.is_dir():
        return {}
    try:
        return {p.id: (p.rainy, p.clean) for p in detect_pairs(root).pairs}
    except (EmptyDatasetError, FileNotFoundError, OSError):
        pass
    out: dict[str, tuple[Path, Path | None]] = {}
    for row in record.get("rows") or []:
        if row.get("file") and (root / str(row["file"])).is_file():
            out[str(row["id"])] = (root / str(row["file"]), None)
    return out


def _predictions(record: Record) -> dict[str, dict[str, list[list[float]]]]:
    path = record.get("predictions_file")
    if not path or not Path(str(path)).is_file():
        return {}
    try:
        return json.loads(Path(str(path)).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        logger.warning("cannot read predictions %s: %s", path, err)
        return {}


def _color(label: int) -> tuple[int, int, int]:
    rng = np.random.default_rng(int(label) + 7)
    r, g, b = (int(c) for c in rng.integers(40, 256, 3))
    return r, g, b


def draw_boxes(
    image: np.ndarray, boxes: Sequence[Sequence[float]], offset: tuple[int, int] = (0, 0), scale: float = 1.0
) -> np.ndarray:
    """Draw ``[x1, y1, x2, y2, score, label]`` boxes on a copy of ``image`` (after crop offset and scale).

    Example:
        >>> out = draw_boxes(np.zeros((20, 20, 3), np.uint8), [[2, 2, 10, 10, 0.9, 0]])
        >>> bool(out.any())
        True
    """
    from PIL import Image, ImageDraw

    pil = Image.fromarray(image)
    draw = ImageDraw.Draw(pil)
    ox, oy = offset
    for box in boxes:
        x1, y1, x2, y2 = ((float(box[i]) - (ox if i % 2 == 0 else oy)) * scale for i in range(4))
        label = int(box[5]) if len(box) > 5 else 0
        score = float(box[4]) if len(box) > 4 else math.nan
        color = _color(label)
        draw.rectangle([x1, y1, x2, y2], outline=color, width=2)
        draw.text((x1 + 2, y1 + 1), f"{label}:{score:.2f}", fill=color)
    return np.asarray(pil)


def overlay_labels(image: np.ndarray, labels: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend a class-index map onto an image with the Cityscapes palette (other classes grey)."""
    palette = np.full((256, 3), 128, dtype=np.float64)
    palette[: len(CITYSCAPES_PALETTE)] = CITYSCAPES_PALETTE
    colors = palette[np.asarray(labels, dtype=np.uint8)]
    return np.clip(image * (1 - alpha) + colors * alpha, 0, 255).astype(np.uint8)


def _window(h: int, w: int, crop: int) -> tuple[int, int, int, int]:
    """Centre window of at most ``crop`` pixels per side: (top, left, height, width)."""
    ch, cw = min(h, crop), min(w, crop)
    return (h - ch) // 2, (w - cw) // 2, ch, cw


def _thumb(
    image: np.ndarray,
    window: tuple[int, int, int, int],
    width: int,
    boxes: Sequence[Sequence[float]] | None,
    labels: np.ndarray | None,
) -> np.ndarray:
    from PIL import Image

    top, left, ch, cw = window
    if labels is not None and labels.shape[:2] == image.shape[:2]:
        image = overlay_labels(image, labels)
    patch = np.ascontiguousarray(image[top : top + ch, left : left + cw])
    scale = width / cw
    thumb = np.asarray(Image.fromarray(patch).resize((width, max(1, round(ch * scale))), Image.Resampling.BICUBIC))
    if boxes:
        thumb = draw_boxes(thumb, boxes, offset=(left, top), scale=scale)
    return thumb


def _label_map(record: Record, condition: str, item_id: str) -> np.ndarray | None:
    images_dir = record.get("images_dir")
    if not images_dir:
        return None
    path = Path(str(images_dir)) / "labels" / condition / f"{item_id}.png"
    if not path.is_file():
        return None
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im)


def comparison_grid(records: Sequence[Record], n_examples: int = 3, crop: int = 512, width: int = 224) -> Grid | None:
    """Rainy / each derainer / clean crops of the first ``n_examples`` ids every record saved images for.

    Args:
        records: Records of one task and dataset; only those with ``images_dir`` contribute columns.
        n_examples: Number of example images (rows).
        crop: Side of the centre crop taken from each image (the whole image when smaller).
        width: Width of each thumbnail in pixels.

    Returns:
        The grid, or None when no record saved images.
    """
    from bench.data.images import ImageReadError, read_image

    with_images = [r for r in records if r.get("images_dir") and Path(str(r["images_dir"])).is_dir()]
    if not with_images:
        return None
    first = with_images[0]
    task = str(first.get("task"))
    title = (
        f"{task} on {(first.get('dataset') or {}).get('name', '?')}: rainy / derained"
        + (" / clean" if task != "noref" else "")
        + f" (centre crops of at most {crop} px)"
    )
    notes: list[str] = []
    sources = source_files(first)
    if not sources:
        notes.append(f"dataset folder {(first.get('dataset') or {}).get('path')} not found: rainy/clean crops missing.")
    ids = [
        str(r["id"])
        for r in first.get("rows") or []
        if all((Path(str(rec["images_dir"])) / f"{r['id']}.png").is_file() for rec in with_images)
    ]
    if not ids:
        notes.append("no image id was saved by every record.")
    labels = distinct_labels(with_images)  # two checkpoints of one model: two columns, each its own boxes
    preds = [_predictions(r) for r in with_images]
    shared_preds = next((p for p in preds if p), {})
    if task in ("detection", "instance") and not shared_preds:
        notes.append("no predictions_file in these records: boxes not drawn.")
    if task == "semantic" and not any(_label_map(r, "derained", i) is not None for r in with_images for i in ids[:1]):
        notes.append(
            "semantic records hold no label maps (<images_dir>/labels/<condition>/<id>.png): "
            "segmentation overlays not drawn."
        )
    rows: list[GridRow] = []
    for item_id in ids[:n_examples]:
        row = GridRow(item_id)
        try:
            derained0 = read_image(Path(str(first["images_dir"])) / f"{item_id}.png")
        except ImageReadError as err:
            notes.append(f"{item_id}: {err}")
            continue
        h, w = derained0.shape[:2]
        window = _window(h, w, crop)
        rainy_path, clean_path = sources.get(item_id, (None, None))
        cells: list[tuple[str, Path | None, str, Record, int]] = [("rainy", rainy_path, "rainy", first, 0)]
        cells += [
            (labels[k], Path(str(r["images_dir"])) / f"{item_id}.png", "derained", r, k)
            for k, r in enumerate(with_images)
        ]
        if task != "noref":
            cells.append(("clean", clean_path, "clean", first, 0))
        for label, path, condition, rec, k in cells:
            if path is None:
                row.cells.append((label, None, "file not found"))
                continue
            try:
                image = read_image(path)[:h, :w]  # the records' top-left crop
            except ImageReadError as err:
                row.cells.append((label, None, str(err)))
                continue
            boxes = (preds[k] if condition == "derained" else shared_preds).get(item_id, {}).get(condition)
            thumb = _thumb(image, window, width, boxes, _label_map(rec, condition, item_id))
            caption = (
                f"{len(boxes)} boxes (score ≥ threshold)"
                if boxes is not None and task in ("detection", "instance")
                else ""
            )
            row.cells.append((label, png_bytes(thumb), caption))
        rows.append(row)
    return Grid(title=title, rows=rows, notes=notes)
