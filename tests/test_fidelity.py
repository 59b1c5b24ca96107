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
