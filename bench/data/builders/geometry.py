"""Resize-and-crop geometry of a built image and of its labels (boxes, polygons, crowd RLE masks)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.data.builders.source import Annotation, polygon_area


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
        if len(clipped) >= 3 and polygon_area(clipped) > 0:
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
