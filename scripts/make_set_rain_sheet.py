"""Contact sheet of each built set's rain, drawn on scikit-image's sample photos: ``docs/set_rain.png``.

Rows: scikit-image's ``astronaut``, ``coffee`` and ``rocket`` (shipped with the package; no
data root needed, nothing from ../shared). Columns: the clean photo, then every preset of the COCO350,
BDD350 and BDD150 cards (bench/resources/datasets) and ``heavy`` (Rain100H). Each photo is resized to
cover the set's size (640x480 or 1280x720) as the builders do, rain is rendered at that size (seed 0,
angle 10 degrees), and the tile shows the frame at 120 px height with a full-resolution centre crop
beside it. ``bdd350-night`` is drawn on the photo darkened as a stand-in night frame (BDD's night frames
are already dark). Usage::

    python scripts/make_set_rain_sheet.py [--out docs/set_rain.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

PHOTOS = ("astronaut", "coffee", "rocket")
TILE_H = 96
CROP = (64, 96)
MAX_BYTES = 500_000


def _columns() -> list[tuple[str, str, tuple[int, int] | None, bool]]:
    """(label, preset, size, on a darkened photo) per column, from the cards."""
    from bench.data.builders import load_card

    cols: list[tuple[str, str, tuple[int, int] | None, bool]] = []
    for name in ("coco350", "bdd350", "bdd150"):
        card = load_card(name)
        size = (int(card["size"][0]), int(card["size"][1]))
        cols += [(preset, preset, size, False) for preset in card["rain"]["presets"]]
        if card["rain"].get("night_from_attributes"):
            cols.append((str(card["rain"]["night_preset"]), str(card["rain"]["night_preset"]), size, True))
    cols.append(("heavy (481x321)", "heavy", (481, 321), False))
    return cols


def _tile(image: np.ndarray) -> np.ndarray:
    from bench.report.contact import contact_tile

    return contact_tile(image, TILE_H, CROP)


def make_sheet(out: Path) -> int:
    """Write the sheet; returns its size in bytes."""
    from PIL import Image, ImageDraw
    from skimage import data as skdata

    from bench.data.builders import apply_geometry, cover_geometry
    from bench.data.rain import render_rain
    from bench.data.rain.calibration import night_photo

    columns = _columns()
    rows: list[list[np.ndarray]] = []
    for name in PHOTOS:
        photo = np.ascontiguousarray(np.asarray(getattr(skdata, name)())[..., :3])
        row = [_tile(apply_geometry(photo, cover_geometry(photo.shape[1], photo.shape[0], (640, 480))))]
        for _, preset, size, dark in columns:
            clean = apply_geometry(photo, cover_geometry(photo.shape[1], photo.shape[0], size))
            params: dict[str, object] = {"preset": preset, "angle": 10.0}
            if dark:
                clean = night_photo(clean)
                params.update({"night_gain": 1.0, "night_contrast": 1.0})
            row.append(_tile(render_rain(clean, params, np.random.default_rng(0)).rainy))
        rows.append(row)
    label_h, pad = 14, 4
    widths = [max(r[c].shape[1] for r in rows) for c in range(len(columns) + 1)]
    sheet = np.full((label_h + len(rows) * (TILE_H + pad), sum(widths) + pad * len(widths), 3), 255, np.uint8)
    for r, row in enumerate(rows):
        x = 0
        for c, tile in enumerate(row):
            y = label_h + r * (TILE_H + pad)
            sheet[y : y + TILE_H, x : x + tile.shape[1]] = tile
            x += widths[c] + pad
    canvas = Image.fromarray(sheet)
    draw = ImageDraw.Draw(canvas)
    x = 0
    for c, label in enumerate(["clean (640x480)", *(col[0] for col in columns)]):
        draw.text((x + 2, 1), label, fill=(0, 0, 0))
        x += widths[c] + pad
    out.parent.mkdir(parents=True, exist_ok=True)
    canvas = canvas.quantize(colors=128, method=Image.Quantize.MEDIANCUT)  # a small file for the docs
    canvas.save(out, format="PNG", optimize=True)
    n_bytes = out.stat().st_size
    if n_bytes > MAX_BYTES:
        raise RuntimeError(f"{out}: {n_bytes} bytes > {MAX_BYTES}; shrink TILE_H")
    return n_bytes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/set_rain.png"))
    args = parser.parse_args(argv)
    make_sheet(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
