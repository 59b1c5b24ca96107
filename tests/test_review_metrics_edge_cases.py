"""Edge cases of the image metrics: inputs a user hits that used to crash a run or give a silent NaN.

Every metric must answer a degenerate image with a :class:`ValueError` (the tasks skip that image and
record the reason, design.md principle 10), never with another exception type that stops the run.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from bench.metrics import niqe, sseq
from bench.registries import METRICS

pytestmark = pytest.mark.usefixtures("data_root")  # NIQE / SSEQ / BRISQUE need their model files


def _score(name: str, image: np.ndarray) -> float:
    spec = METRICS.get(name)
    return spec(image, image) if spec.mode == "FR" else spec(image)


@pytest.mark.parametrize("name", ["psnr_y", "psnr_rgb", "psnr_y_float", "fsim", "fsimc", "sseq", "brisque", "niqe"])
@pytest.mark.parametrize("shape", [(0, 5, 3), (7, 0, 3), (0, 0, 3)])
def test_empty_images_are_a_value_error(name: str, shape: tuple[int, int, int]) -> None:
    """``--crop-multiple 8`` turns an image under 8 px into an empty one: an error, not NaN or a crash."""
    with pytest.raises(ValueError, match="empty"):
        _score(name, np.zeros(shape, np.uint8))


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 40, 3), (40, 1, 3)])
def test_brisque_on_a_one_pixel_wide_image_is_a_value_error(shape: tuple[int, int, int]) -> None:
    """OpenCV's resize asserts (cv2.error, which stops a noref run) on a 1-pixel side."""
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    with pytest.raises(ValueError, match="BRISQUE needs"):
        _score("brisque", image)


def test_niqe_of_a_flat_multi_block_image_is_a_value_error() -> None:
    """No 96x96 block of a flat image has finite features: MATLAB's svd refuses the NaN covariance; here it
    was numpy's LinAlgError, which stopped the run."""
    with pytest.raises(ValueError, match="NIQE is undefined"):
        _score("niqe", np.zeros((192, 192, 3), np.uint8))


def test_niqe_single_flat_block_keeps_its_reference_value() -> None:
    """One block: MATLAB's nanmean/nancov reduce over the row's finite values, a finite score (unchanged)."""
    assert math.isfinite(_score("niqe", np.zeros((120, 130, 3), np.uint8)))


def test_matlab_pinv_of_a_non_finite_matrix_is_nan() -> None:
    out = niqe.matlab_pinv(np.full((3, 3), np.nan))
    assert out.shape == (3, 3) and np.isnan(out).all()


@pytest.mark.parametrize("shape", [(1, 1), (8, 8), (32, 32), (20, 32)])
def test_sseq_on_images_of_at_most_32_pixels_is_a_value_error(shape: tuple[int, int]) -> None:
    """The third scale is one 8x8 block: its entropies have no skewness (0/0), the score was always NaN."""
    image = np.random.default_rng(1).integers(0, 256, (*shape, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="SSEQ needs"):
        _score("sseq", image)


@pytest.mark.parametrize("shape", [(33, 8), (8, 33), (40, 56)])
def test_sseq_just_above_the_limit_scores(shape: tuple[int, int]) -> None:
    image = np.random.default_rng(2).integers(0, 256, (*shape, 3), dtype=np.uint8)
    assert math.isfinite(_score("sseq", image))


def test_sseq_batch_reports_the_small_image(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    good = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"\(16, 16\)"):
        sseq.sseq_batch([good, rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)])
