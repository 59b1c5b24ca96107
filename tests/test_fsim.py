"""FSIM / FSIMc: MATLAB calibration (FeatureSIM.m in Octave), MATLAB conv2 semantics and sanity properties."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import convolve2d

from bench.data.images import read_image
from bench.metrics.base import MetricSpec
from bench.metrics.color import rgb_to_gray
from bench.metrics.fsim import (
    _conv2_same_3x3,
    _matlab_round,
    _real_power,
    downsample,
    feature_sim,
    fsim,
    fsimc,
    phase_congruency,
)
from bench.registries import METRICS

CALIBRATION_STEMS = ["I03", "I04", "I06", "I08", "I19"]
TOLERANCE = 1e-8  # measured agreement with the MATLAB code: <= 5e-11 (the CSV holds 10 decimals)


def _calibration_rows(calibration_dir: Path) -> dict[str, dict[str, str]]:
    with (calibration_dir / "fsim_iqa_calibration.csv").open(newline="") as fh:
        return {Path(row["ref_file"]).stem: row for row in csv.DictReader(fh)}


def _structured_image(rng: np.random.Generator, h: int = 96, w: int = 128) -> np.ndarray:
    """A smooth colour gradient with a few flat rectangles and a disc: edges for phase congruency."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([40 + 150 * xx / w, 60 + 120 * yy / h, 200 - 100 * (xx + yy) / (h + w)], axis=-1)
    for _ in range(6):
        y0, x0 = rng.integers(0, h - 20), rng.integers(0, w - 20)
        img[y0 : y0 + rng.integers(8, 20), x0 : x0 + rng.integers(8, 20)] = rng.uniform(0, 255, 3)
    img[(yy - h / 2) ** 2 + (xx - w / 3) ** 2 < (h / 6) ** 2] = (230.0, 30.0, 60.0)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def _noisy(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return np.clip(np.round(image + rng.normal(0.0, sigma, image.shape)), 0, 255).astype(np.uint8)


def test_calibration_rows_are_all_covered(calibration_dir: Path) -> None:
    assert sorted(_calibration_rows(calibration_dir)) == sorted(CALIBRATION_STEMS)


@pytest.mark.calibration
@pytest.mark.parametrize("stem", CALIBRATION_STEMS)
def test_matches_featuresim_m(stem: str, data_root: Path, calibration_dir: Path) -> None:
    row = _calibration_rows(calibration_dir)[stem]
    reference = read_image(data_root / row["ref_file"])
    distorted = read_image(data_root / row["dist_file"])
    assert abs(fsimc(distorted, reference) - float(row["fsimc"])) < TOLERANCE
    assert abs(fsim(distorted, reference) - float(row["fsim"])) < TOLERANCE


def test_registered_specs() -> None:
    for name in ("fsim", "fsimc"):
        spec = METRICS.get(name)
        assert isinstance(spec, MetricSpec)
        assert spec.name == name
        assert spec.mode == "FR"
        assert spec.higher_is_better


@pytest.mark.parametrize("shape", [(40, 56), (97, 131), (600, 520), (515, 601)])
def test_identical_images_score_one(shape: tuple[int, int], rng: np.random.Generator) -> None:
    img = rng.integers(0, 256, size=(*shape, 3), dtype=np.uint8)
    assert fsim(img, img) == pytest.approx(1.0, abs=1e-12)
    assert fsimc(img, img) == pytest.approx(1.0, abs=1e-12)


def test_symmetric(rng: np.random.Generator) -> None:
    a = _structured_image(rng)
    b = _noisy(a, 15.0, rng)
    assert fsim(a, b) == pytest.approx(fsim(b, a), abs=1e-12)
    assert fsimc(a, b) == pytest.approx(fsimc(b, a), abs=1e-12)
    assert 0.0 < fsimc(a, b) < 1.0


def test_more_distortion_scores_lower(rng: np.random.Generator) -> None:
    clean = _structured_image(rng)
    noisy = [_noisy(clean, sigma, np.random.default_rng(1)) for sigma in (3.0, 12.0, 40.0)]
    for metric in (fsim, fsimc):
        scores = [metric(img, clean) for img in noisy]
        assert scores[0] > scores[1] > scores[2], (metric.__name__, scores)
        assert scores[0] < 1.0


def test_colour_shift_only_moves_fsimc(rng: np.random.Generator) -> None:
    clean = _structured_image(rng)
    shifted = clean.copy()
    shifted[..., 0] = np.clip(shifted[..., 0].astype(int) + 40, 0, 255)
    shifted[..., 2] = np.clip(shifted[..., 2].astype(int) - 40, 0, 255)
    assert fsimc(shifted, clean) < fsim(shifted, clean)


def test_grayscale_input_gives_equal_fsim_and_fsimc(rng: np.random.Generator) -> None:
    a = _structured_image(rng)
    b = _noisy(a, 10.0, rng)
    g_fsim, g_fsimc = feature_sim(rgb_to_gray(a), rgb_to_gray(b))
    assert g_fsim == g_fsimc
    assert g_fsim == pytest.approx(fsim(b, a), abs=1e-15)


def test_shape_mismatch_raises(rng: np.random.Generator) -> None:
    a = rng.integers(0, 256, size=(32, 40, 3), dtype=np.uint8)
    b = rng.integers(0, 256, size=(32, 41, 3), dtype=np.uint8)
    with pytest.raises(ValueError):
        fsim(a, b)
    with pytest.raises(ValueError):
        fsimc(a, b)
    with pytest.raises(ValueError):
        fsimc(a.astype(np.float32), a.astype(np.float32))


@pytest.mark.parametrize("factor", [2, 3, 4])
@pytest.mark.parametrize("shape", [(12, 17), (16, 16), (9, 14)])
def test_downsample_matches_matlab_conv2_same(factor: int, shape: tuple[int, int], rng: np.random.Generator) -> None:
    x = rng.uniform(0, 255, shape)
    full = convolve2d(x, np.ones((factor, factor)) / factor**2, mode="full")
    start = factor // 2  # MATLAB 'same' keeps full(floor(F/2)+1 : ..., ...) (1-based)
    same = full[start : start + shape[0], start : start + shape[1]]
    np.testing.assert_allclose(downsample(x, factor), same[::factor, ::factor], rtol=0, atol=1e-12)


def test_downsample_factor_one_is_identity(rng: np.random.Generator) -> None:
    x = rng.uniform(0, 255, (7, 9))
    np.testing.assert_array_equal(downsample(x, 1), x)


def test_conv2_same_is_true_convolution(rng: np.random.Generator) -> None:
    x = rng.uniform(0, 255, (11, 13))
    k = rng.normal(size=(3, 3))  # asymmetric: catches a correlation/convolution mix-up
    np.testing.assert_allclose(_conv2_same_3x3(x, k), convolve2d(x, k, mode="same"), rtol=0, atol=1e-10)


def test_real_power_is_matlab_principal_power() -> None:
    base = np.array([-2.0, -0.5, 0.0, 0.25, 3.0])
    expected = np.real(base.astype(complex) ** 0.03)
    np.testing.assert_allclose(_real_power(base, 0.03), expected, rtol=1e-14, atol=0)


def test_matlab_round_half_away_from_zero() -> None:
    assert _matlab_round(1.5) == 2
    assert _matlab_round(2.5) == 3  # Python's round() would give 2
    assert _matlab_round(0.49) == 0


def test_phase_congruency_peaks_on_an_edge() -> None:
    img = np.full((64, 80), 50.0)
    img[:, 40:] = 200.0
    pc = phase_congruency(img)
    assert pc.shape == img.shape
    assert np.all((pc >= 0) & (pc <= 1))
    profile = pc[32]
    assert int(np.argmax(profile[10:70])) + 10 in (39, 40)
    assert profile[39:41].max() > 0.75
    assert profile[39:41].max() > 1.5 * profile[5:36].max()  # far weaker away from the step


def test_flat_images_are_nan_like_the_reference() -> None:
    flat = np.full((32, 32, 3), 128, dtype=np.uint8)
    assert np.isnan(fsim(flat, flat))
