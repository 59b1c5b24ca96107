"""Figures for the HTML report: plots (matplotlib, Agg) and visual comparison grids (PIL), as PNG bytes.

Everything is drawn from stored records and the files they point at (derained images in
``record["images_dir"]``, boxes in ``record["predictions_file"]``, the rainy and clean files under
``record["dataset"]["path"]``). Nothing is re-derained or re-scored.

Segmentation overlays are drawn when a record's image folder holds label maps at
``<images_dir>/labels/<condition>/<id>.png`` (uint8 class indices; condition rainy, derained or clean).
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

from bench.report.common import derainer_label

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


def _figure_png(fig: Any) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def _metric(record: Record, key: str) -> float | None:
    value = (record.get("metrics") or {}).get(key)
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


# ---------------------------------------------------------------------------------------------- plots
def headline_metric(records: Sequence[Record]) -> str | None:
    """The task's headline metric present in the records (mAP50-95, mask mAP, mIoU, recall ...)."""
    from bench.report.downstream import task_metrics

    names = task_metrics(records)
    return names[0] if names else None


def _error_bars(records: Sequence[Record], key: str, scale: float = 1.0) -> dict[str, list[list[float]]]:
    """``{derainer label: [[below], [above]]}`` from the records' stored 95 % intervals of ``key`` (matplotlib yerr)."""
    from bench.report.intervals import record_interval

    out: dict[str, list[list[float]]] = {}
    for rec in records:
        found = record_interval(rec, key)
        if found is None or not all(np.isfinite([found.lo, found.hi, found.estimate])):
            continue
        below = max(0.0, (found.estimate - found.lo) * scale)
        above = max(0.0, (found.hi - found.estimate) * scale)
        out[derainer_label(rec)] = [[below], [above]]
    return out


def psnr_vs_gain_plot(records: Sequence[Record], metric: str | None = None) -> bytes | None:
    """Scatter of deraining PSNR (derained vs clean) against the downstream gain, one point per derainer.

    Returns None when no record holds both numbers.

    Example:
        >>> psnr_vs_gain_plot([]) is None
        True
    """
    metric = metric or headline_metric(records)
    if metric is None:
        return None
    measured = [(derainer_label(r), _metric(r, "derained.psnr_y"), _metric(r, f"gain.{metric}")) for r in records]
    points = [(n, x, y) for n, x, y in measured if x is not None and y is not None]
    if not points:
        return None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 4))
    ax = fig.add_subplot()
    from bench.report.downstream import PERCENT

    scale, unit = (100.0, "pp") if metric in PERCENT else (1.0, "")
    rainy = _metric(records[0], "rainy.psnr_y")
    bars = _error_bars(records, f"gain.{metric}", scale)
    for name, x, y in points:
        ax.scatter([x], [y * scale], s=40)
        if name in bars:  # the gain's stored 95 % interval
            ax.errorbar([x], [y * scale], yerr=bars[name], fmt="none", ecolor="grey", capsize=3, linewidth=1)
        ax.annotate(name, (x, y * scale), textcoords="offset points", xytext=(4, 4), fontsize=8)
    if rainy is not None:
        ax.axvline(rainy, color="grey", linestyle=":", label=f"rainy input {rainy:.2f} dB")
        ax.legend(fontsize=8, loc="best")
    ax.axhline(0, color="black", linewidth=0.8)
    ds = (records[0].get("dataset") or {}).get("name", "?")
    ax.set_xlabel("deraining PSNR (psnr_y, derained vs clean) [dB]")
    ax.set_ylabel(f"gain in {metric} (derained − rainy)" + (f" [{unit}]" if unit else ""))
    ax.set_title(f"{records[0].get('task')} on {ds}: restoration vs downstream gain", fontsize=10)
    ax.grid(alpha=0.3)
    return _figure_png(fig)


def conditions_plot(records: Sequence[Record], metric: str | None = None) -> bytes | None:
    """Grouped bars of a downstream metric on rainy / derained / clean images per derainer."""
    metric = metric or headline_metric(records)
    if metric is None or not records:
        return None
    names = [derainer_label(r) for r in records]
    derained = [_metric(r, f"derained.{metric}") for r in records]
    if all(v is None for v in derained):
        return None
    rainy = _metric(records[0], f"rainy.{metric}")
    clean = _metric(records[0], f"clean.{metric}")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(4.5, 1.0 + 0.8 * len(names)), 3.6))
    ax = fig.add_subplot()
    xs = np.arange(len(names))
    bars = _error_bars(records, f"derained.{metric}")
    yerr = np.array([bars.get(n, [[0.0], [0.0]]) for n in names]).reshape(-1, 2).T if bars else None
    ax.bar(xs, [np.nan if v is None else v for v in derained], color="#4c72b0", label="derained", yerr=yerr, capsize=3)
    if rainy is not None:
        ax.axhline(rainy, color="#c44e52", linestyle="--", label=f"rainy {rainy:.3f}")
    if clean is not None:
        ax.axhline(clean, color="#55a868", linestyle="--", label=f"clean {clean:.3f}")
    ax.set_xticks(xs, names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(metric)
    ds = (records[0].get("dataset") or {}).get("name", "?")
    ax.set_title(f"{records[0].get('task')} on {ds}: {metric}", fontsize=10)
    ax.legend(fontsize=8)
    return _figure_png(fig)


def restoration_plot(records: Sequence[Record], metric: str = "psnr_y") -> bytes | None:
    """Bars of a restoration metric per derainer, grouped by dataset."""
    recs = [r for r in records if r.get("task") == "restoration" and _metric(r, metric) is not None]
    if not recs:
        return None
    datasets = sorted({str((r.get("dataset") or {}).get("name")) for r in recs})
    labels = sorted({derainer_label(r) for r in recs})
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(5.0, 1.2 * len(datasets) * max(1, len(labels)) / 2), 3.8))
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(labels))
    for i, label in enumerate(labels):
        values: list[float] = []
        for ds in datasets:
            match = [r for r in recs if derainer_label(r) == label and (r.get("dataset") or {}).get("name") == ds]
            value = _metric(match[-1], metric) if match else None  # never None for a match: recs hold the metric
            values.append(np.nan if value is None else value)
        ax.bar(np.arange(len(datasets)) + i * width, values, width, label=label)
    ax.set_xticks(np.arange(len(datasets)) + width * (len(labels) - 1) / 2, datasets)
    ax.set_ylabel(metric)
    ax.set_title(f"restoration: {metric} per derainer", fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    finite = [v for r in recs if (v := _metric(r, metric)) is not None]
    ax.set_ylim(min(finite) * 0.9, max(finite) * 1.03)
    return _figure_png(fig)


# ---------------------------------------------------------------------------------------------- grids
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
    preds = {derainer_label(r): _predictions(r) for r in with_images}
    shared_preds = next((p for p in preds.values() if p), {})
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
        cells: list[tuple[str, Path | None, str, Record]] = [("rainy", rainy_path, "rainy", first)]
        cells += [
            (derainer_label(r), Path(str(r["images_dir"])) / f"{item_id}.png", "derained", r) for r in with_images
        ]
        if task != "noref":
            cells.append(("clean", clean_path, "clean", first))
        for label, path, condition, rec in cells:
            if path is None:
                row.cells.append((label, None, "file not found"))
                continue
            try:
                image = read_image(path)[:h, :w]  # the records' top-left crop
            except ImageReadError as err:
                row.cells.append((label, None, str(err)))
                continue
            boxes = (
                (preds.get(derainer_label(rec), {}) if condition == "derained" else shared_preds)
                .get(item_id, {})
                .get(condition)
            )
            thumb = _thumb(image, window, width, boxes, _label_map(rec, condition, item_id))
            caption = (
                f"{len(boxes)} boxes (score ≥ threshold)"
                if boxes is not None and task in ("detection", "instance")
                else ""
            )
            row.cells.append((label, png_bytes(thumb), caption))
        rows.append(row)
    return Grid(title=title, rows=rows, notes=notes)
