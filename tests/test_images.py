"""Image reading: every odd format becomes 8-bit RGB, broken files give clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.data.images import ImageReadError, crop_to_multiple, quantize, read_image, to_tensor


def test_grayscale_rgba_palette_16bit(tmp_path: Path) -> None:
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(gray).save(tmp_path / "g.png")
    assert np.array_equal(read_image(tmp_path / "g.png"), np.repeat(gray[:, :, None], 3, 2))

    rgba = np.dstack([np.full((3, 4, 3), 7, np.uint8), np.full((3, 4), 100, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    assert np.array_equal(read_image(tmp_path / "a.png"), np.full((3, 4, 3), 7, np.uint8))

    Image.fromarray(np.full((3, 4, 3), 50, np.uint8)).convert("P").save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png").shape == (3, 4, 3)

    sixteen = np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000
    Image.fromarray(sixteen).save(tmp_path / "s.png")
    out = read_image(tmp_path / "s.png")
    assert out.dtype == np.uint8 and out[0, 1, 0] == round(5000 / 257)


def test_exif_orientation(tmp_path: Path) -> None:
    img = Image.fromarray(np.zeros((2, 5, 3), np.uint8))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    img.save(tmp_path / "r.jpg", exif=exif)
    assert read_image(tmp_path / "r.jpg").shape == (5, 2, 3)


@pytest.mark.parametrize(
    "content, match",
    [(b"", "empty file"), (b"not an image", "cannot decode"), (b"\x89PNG\r\n\x1a\n\x00\x00", "cannot decode")],
)
def test_broken_files(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match=match) as err:
        read_image(path)
    assert "x.png" in str(err.value)


def test_truncated_jpeg(tmp_path: Path) -> None:
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "t.jpg")
    data = (tmp_path / "t.jpg").read_bytes()
    (tmp_path / "t.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match=r"t\.jpg"):
        read_image(tmp_path / "t.jpg")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "nope.png")


def test_quantize_round_vs_trunc() -> None:
    t = to_tensor(np.array([[[10, 20, 30]]], dtype=np.uint8))
    t = t + 0.7 / 255
    assert quantize(t, "round").tolist() == [[[11, 21, 31]]]
    assert quantize(t, "trunc").tolist() == [[[10, 20, 30]]]
    assert quantize(t * 0 + 2.0, "round").max() == 255 and quantize(t * 0 - 1.0, "trunc").min() == 0


def test_crop_to_multiple() -> None:
    assert crop_to_multiple(np.zeros((321, 481, 3)), 8).shape == (320, 480, 3)
    assert crop_to_multiple(np.zeros((5, 7, 3)), 1).shape == (5, 7, 3)
