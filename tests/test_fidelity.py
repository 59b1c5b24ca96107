"""PSNR/SSIM variants against the MATLAB reference values (../shared/calibration)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from bench.data.images import read_image
from bench.metrics import fidelity
from bench.metrics.color import rgb_to_y


def test_y_conversion_matches_matlab_formula() -> None:
    img = np.array([[[255, 255, 255], [0, 0, 0], [255, 0, 0]]], dtype=np.uint8)
    assert rgb_to_y(img).tolist() == [[235.0, 16.0, 81.0]]
    assert rgb_to_y(img, rounded=False)[0, 2] == pytest.approx(16 + 65.481)


def _rgb_tie_pixels() -> np.ndarray:
    """Every uint8 RGB triple whose exact Y lies on a rounding tie (x.5): 194 of the 2^24."""
    r, b = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    found = []
    for g in range(256):
        tie = (65481 * r + 128553 * g + 24966 * b) % 255000 == 127500  # 255000 * (Y - 16) ends in .5
        found.append(np.stack([r[tie], np.full(int(tie.sum()), g), b[tie]], axis=-1))
    return np.concatenate(found).astype(np.uint8)


def test_y_conversion_is_imlincomb_order_for_any_layout() -> None:
    """Defect: ``image @ T`` rounded a tie pixel differently for a planar (CHW-strided) image than for its
    contiguous copy (seen on an AVX2-only EPYC: a sharded detection run's psnr_y moved by 6e-7 dB), and
    even contiguous ties came out as the exact value rounded up, not as imlincomb's doubles round them.
    The MATLAB calibration pairs hold no tie pixel, so the order is MATLAB's code (rgb2ycbcr.m calls
    imlincomb, "K1*A1 + K2*A2 + K3*A3 + K" in doubles), not a measured MATLAB output."""
    ties = _rgb_tie_pixels()
    assert len(ties) == 194
    t = [c / 1.0 for c in (1.0 / 255.0 * np.array([65.481, 128.553, 24.966]))]
    # MATLAB: T = (1/255) * origT; imlincomb(T1, R, T2, G, T3, B, 16), left to right, in IEEE doubles.
    expected = [math.floor(((t[0] * int(p[0]) + t[1] * int(p[1])) + t[2] * int(p[2])) + 16.0 + 0.5) for p in ties]
    image = np.ascontiguousarray(np.tile(ties[None], (7, 1, 1)))
    planar = np.ascontiguousarray(image.transpose(2, 0, 1)).transpose(1, 2, 0)
    assert not planar.flags["C_CONTIGUOUS"]
    for variant in (image, planar, image[:, ::-1][:, ::-1]):
        assert rgb_to_y(variant)[0].tolist() == expected
        assert (rgb_to_y(variant) == rgb_to_y(image)).all()
        assert (rgb_to_y(variant, rounded=False) == rgb_to_y(image, rounded=False)).all()


def test_identical_images_give_inf_psnr_and_unit_ssim(rng: np.random.Generator) -> None:
    img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert math.isinf(fidelity.psnr_y(img, img))
    assert fidelity.ssim_y(img, img) == pytest.approx(1.0)
    assert fidelity.ssim_rgb(img, img) == pytest.approx(1.0)


def test_shape_mismatch_and_dtype_raise(rng: np.random.Generator) -> None:
    a = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="differ in shape"):
        fidelity.psnr_y(a, a[:31])
    with pytest.raises(ValueError, match="uint8"):
        fidelity.psnr_y(a.astype(np.float32), a.astype(np.float32))


def test_psnr_known_value() -> None:
    a = np.zeros((16, 16, 3), np.uint8)
    b = np.full((16, 16, 3), 1, np.uint8)
    assert fidelity.psnr_rgb(a, b) == pytest.approx(20 * math.log10(255))


@pytest.mark.calibration
def test_raintrainl_matches_matlab(data_root: Path, calibration_dir: Path) -> None:
    with open(calibration_dir / "psnr_ssim_raintrainl.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 20
    # Measured agreement with MATLAB: <= 5e-11 (the CSV holds 10 decimals); a 0.001 dB regression must fail.
    tolerances = {"psnr_y": 1e-8, "psnr_rgb": 1e-8, "psnr_y_float": 1e-8, "ssim_y": 1e-8, "ssim_y_float": 1e-8}
    for row in rows:
        rainy = read_image(data_root / row["rain_file"])
        clean = read_image(data_root / row["clean_file"])
        for name, tol in tolerances.items():
            ours = getattr(fidelity, name)(rainy, clean)
            assert abs(ours - float(row[name])) < tol, (row["pair_id"], name, ours, row[name])
