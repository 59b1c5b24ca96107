"""Contact-sheet tiles: an image at a fixed height with a full-resolution centre crop beside it.

Used by the rain contact-sheet scripts (``scripts/make_set_rain_sheet.py``,
``reports/make_rain_contact_sheet.py``) so that streaks are seen both in context and at 100 %.
"""

from __future__ import annotations

import numpy as np


def contact_tile(image: np.ndarray, height: int, crop: tuple[int, int]) -> np.ndarray:
    """``image`` (H, W, 3 uint8) resized to ``height`` (Lanczos), a 2 px white gap, then its centre crop.

    ``crop`` is the crop's (width, height) in source pixels; a crop whose height differs from ``height``
    is resized to it (nearest neighbour), so the tile is ``height`` pixels high.

    Example:
        >>> contact_tile(np.zeros((240, 320, 3), np.uint8), 120, (104, 120)).shape
        (120, 266, 3)
    """
    from PIL import Image

    h, w = image.shape[:2]
    small = np.asarray(Image.fromarray(image).resize((round(w * height / h), height), Image.Resampling.LANCZOS))
    cw, ch = crop
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    centre = image[y0 : y0 + ch, x0 : x0 + cw]
    if centre.shape[0] != height:
        centre = np.asarray(Image.fromarray(centre).resize((cw, height), Image.Resampling.NEAREST))
    gap = np.full((height, 2, 3), 255, np.uint8)
    return np.concatenate([small, gap, centre], axis=1)
