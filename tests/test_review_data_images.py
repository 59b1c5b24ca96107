"""read_image on the 16-bit and colour-mode files it used to misread (review of bench/data/images.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.data.images import read_image


def _sixteen_bit_rgb() -> np.ndarray:
    """16-bit samples whose high byte differs from ``round(v / 257)`` (truncation would show)."""
    values = np.array([0, 1000, 32767, 32896, 65335, 65535, 383, 50000, 60000, 129, 255 * 257 - 200, 12345])
    return values.astype(np.uint16).reshape(2, 2, 3)


def _rounded(image16: np.ndarray) -> np.ndarray:
    return np.round(image16.astype(np.float64) / 257.0).astype(np.uint8)


def test_sixteen_bit_rgb_png_is_rounded_like_grey(tmp_path: Path) -> None:
    import cv2

    rgb16 = _sixteen_bit_rgb()
    assert not np.array_equal(_rounded(rgb16), (rgb16 >> 8).astype(np.uint8))  # the data tells the two apart
    assert cv2.imwrite(str(tmp_path / "c.png"), np.ascontiguousarray(rgb16[..., ::-1]))  # OpenCV writes BGR
    assert np.array_equal(read_image(tmp_path / "c.png"), _rounded(rgb16))
    rgba16 = np.dstack([rgb16, np.full(rgb16.shape[:2], 65535, np.uint16)])
    assert cv2.imwrite(str(tmp_path / "a.png"), np.ascontiguousarray(rgba16[..., [2, 1, 0, 3]]))
    assert np.array_equal(read_image(tmp_path / "a.png"), _rounded(rgb16))
    # grey 16-bit was already rounded: the colour image's channels now agree with it
    Image.fromarray(np.ascontiguousarray(rgb16[..., 1])).save(tmp_path / "g.png")
    assert np.array_equal(read_image(tmp_path / "g.png")[..., 0], _rounded(rgb16)[..., 1])


@pytest.mark.parametrize("byteorder", ["<", ">"])
def test_sixteen_bit_tiff_either_byte_order(tmp_path: Path, byteorder: str) -> None:
    tifffile = pytest.importorskip("tifffile")
    rgb16 = _sixteen_bit_rgb()
    tifffile.imwrite(tmp_path / "c.tif", rgb16, byteorder=byteorder)
    assert np.array_equal(read_image(tmp_path / "c.tif"), _rounded(rgb16))
    grey = np.ascontiguousarray(rgb16[..., 0])
    tifffile.imwrite(tmp_path / "g.tif", grey, byteorder=byteorder)  # '>': PIL mode I;16B, refused before
    assert np.array_equal(read_image(tmp_path / "g.tif")[..., 0], _rounded(grey))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_sixteen_bit_colour_follows_exif_orientation(tmp_path: Path, orientation: int) -> None:
    tifffile = pytest.importorskip("tifffile")
    rgb16 = np.arange(2 * 3 * 3, dtype=np.uint16).reshape(2, 3, 3) * 3001
    tag = [(274, "H", 1, orientation, True)]
    tifffile.imwrite(tmp_path / "w.tif", rgb16, extratags=tag)
    tifffile.imwrite(tmp_path / "n.tif", _rounded(rgb16), extratags=tag)  # 8-bit: PIL's own exif_transpose
    expected = read_image(tmp_path / "n.tif")
    assert expected.shape[:2] == ((3, 2) if orientation >= 5 else (2, 3))
    assert np.array_equal(read_image(tmp_path / "w.tif"), expected)


def test_lab_image_is_converted_not_taken_as_rgb(tmp_path: Path) -> None:
    lab = Image.new("LAB", (3, 2), (128, 100, 150))
    lab.save(tmp_path / "lab.tif")
    with Image.open(tmp_path / "lab.tif") as opened:
        assert opened.mode == "LAB"
        expected = np.asarray(opened.convert("RGB"))
    assert np.array_equal(read_image(tmp_path / "lab.tif"), expected)
