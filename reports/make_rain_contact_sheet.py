"""Contact sheet of the rain presets: ``reports/rain_presets.png``.

Rows: three RainTrainL clean images and two coco8 images (read from ``$BENCH_DATA`` or
``../shared/data``); columns: the clean image, then ``light``, ``medium``, ``heavy`` and ``night``
(seed 0 for every tile). Rain is rendered at each image's own resolution, then the tile is shown at
half size with a crop of the centre at full size beside it, so streaks are seen as they are.

Usage::

    python reports/make_rain_contact_sheet.py [--out reports/rain_presets.png] [--data-root DIR]
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import numpy as np

logger = logging.getLogger("make_rain_contact_sheet")

PRESETS = ("light", "medium", "heavy", "night")
TILE_H = 120
CROP = (104, 120)  # (w, h) of the full-resolution centre crop shown after each tile
MAX_BYTES = 1_500_000


def _sources(data_root: Path) -> list[tuple[str, Path]]:
    rain = data_root / "rain" / "RainTrainL" / "norain"
    coco = data_root / "images" / "coco8" / "images" / "val"
    picks = [
        ("RainTrainL norain-5", rain / "norain-5.png"),
        ("RainTrainL norain-42", rain / "norain-42.png"),
        ("RainTrainL norain-128", rain / "norain-128.png"),
        ("coco8 000000000042", coco / "000000000042.jpg"),
        ("coco8 000000000061", coco / "000000000061.jpg"),
    ]
    missing = [str(p) for _, p in picks if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"contact sheet inputs not found: {', '.join(missing)} (set BENCH_DATA)")
    return picks


def _tile(image: np.ndarray) -> np.ndarray:
    from bench.report.contact import contact_tile

    return contact_tile(image, TILE_H, CROP)


def make_sheet(data_root: Path, out: Path) -> int:
    """Render the sheet; returns its size in bytes."""
    from PIL import Image, ImageDraw

    from bench.data.images import read_image
    from bench.data.rain import render_rain

    grid = []
    for _label, path in _sources(data_root):
        clean = read_image(path)
        grid.append([_tile(clean)] + [_tile(render_rain(clean, p, np.random.default_rng(0)).rainy) for p in PRESETS])
    tile_w = max(t.shape[1] for row in grid for t in row)
    sep = np.full((TILE_H, 6, 3), 255, np.uint8)
    rows = []
    for row in grid:
        padded = [np.pad(t, ((0, 0), (0, tile_w - t.shape[1]), (0, 0)), constant_values=255) for t in row]
        joined = np.concatenate([x for t in padded for x in (t, sep)][:-1], axis=1)
        rows.append(np.pad(joined, ((0, 6), (0, 0), (0, 0)), constant_values=255))
    width = rows[0].shape[1]
    header = np.full((22, width, 3), 255, np.uint8)
    sheet = Image.fromarray(np.concatenate([header, *rows], axis=0))
    draw = ImageDraw.Draw(sheet)
    col_w = tile_w + 6
    for i, name in enumerate(("clean", *PRESETS)):
        draw.text((i * col_w + 4, 5), f"{name}  (whole | centre crop at 100 %)", fill=(0, 0, 0))
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, format="PNG", optimize=True)
    size = out.stat().st_size
    if size > MAX_BYTES:
        raise RuntimeError(f"{out}: {size} bytes exceeds {MAX_BYTES}; lower TILE_H")
    return size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("rain_presets.png"))
    default_root = os.environ.get("BENCH_DATA") or str(Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--data-root", type=Path, default=Path(default_root))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    size = make_sheet(args.data_root, args.out)
    logger.info("wrote %s (%d bytes)", args.out, size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
