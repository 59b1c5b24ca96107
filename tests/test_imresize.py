"""The MATLAB ``imresize`` port: kernel, contributions, sizes, order, uint8 rounding per pass."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.metrics.imresize import contributions, cubic, imresize, imresize_batch, resize_along_axis


def test_cubic_kernel_values() -> None:
    x = np.array([0.0, 0.25, 0.5, 1.0, 1.5, 1.75, 2.0, 2.5, -0.5, -1.5])
    expected = [1.0, 0.8671875, 0.5625, 0.0, -0.0625, -0.0234375, 0.0, 0.0, 0.5625, -0.0625]
    np.testing.assert_array_equal(cubic(x), expected)


@pytest.mark.parametrize("scale", [0.5, 0.25, 0.3, 0.75, 1.0, 1.5, 2.0, 3.0])
@pytest.mark.parametrize("n", [1, 2, 7, 16, 33])
def test_contributions_normalised_and_in_range(n: int, scale: float) -> None:
    out = math.ceil(n * scale)
    w, idx = contributions(n, out, scale)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert idx.min() >= 0 and idx.max() < n
    assert np.any(w != 0, axis=0).all()  # all-zero tap columns are removed


def test_contributions_downscale_half_is_symmetric_stretched_kernel() -> None:
    w, idx = contributions(8, 4, 0.5)
    # Antialiased: 0.5 * cubic(0.5 * d) at d = ±0.5, ±1.5, ±2.5, ±3.5 → (111, 29, -9, -3) / 256, width 8.
    expected = np.array([-3, -9, 29, 111, 111, 29, -9, -3]) / 256
    assert w.shape == (4, 8)
    for row in w:
        np.testing.assert_allclose(row, expected, rtol=0, atol=1e-15)
        np.testing.assert_allclose(row, row[::-1], rtol=0, atol=1e-15)
    # Output pixel 2 (1-based) maps to u = 2/0.5 + 0.5(1 - 2) = 3.5: 1-based taps 0..7, tap 0 mirrors to 1.
    np.testing.assert_array_equal(idx[1], [0, 0, 1, 2, 3, 4, 5, 6])
    # Output pixel 4: u = 7.5, taps 4..11; 9, 10, 11 mirror to 8, 7, 6 (1-based).
    np.testing.assert_array_equal(idx[3], [3, 4, 5, 6, 7, 7, 6, 5])


def test_contributions_without_antialiasing_use_plain_kernel() -> None:
    w, _ = contributions(8, 4, 0.5, antialiasing=False)
    assert w.shape[1] <= 6
    np.testing.assert_allclose(np.sort(w[1]), np.sort([-0.0625, 0.5625, 0.5625, -0.0625]), atol=1e-15)


def test_downscale_matches_hand_derivation_with_mirrored_border() -> None:
    a, b, c, d = 0.3, 7.0, -2.5, 11.0
    column = np.array([[a], [b], [c], [d]])
    out = imresize(column, 0.5)
    assert out.shape == (2, 1)
    # u = 1.5 for the first output; the taps left of the border mirror (c, b, a | a, b, c, d | d).
    assert out[0, 0] == pytest.approx((140 * a + 102 * b + 26 * c - 12 * d) / 256, abs=1e-12)
    assert out[1, 0] == pytest.approx((140 * d + 102 * c + 26 * b - 12 * a) / 256, abs=1e-12)


def test_upscale_matches_hand_derivation() -> None:
    row = np.array([[5.0, 9.0, 2.0]])
    out = imresize(row, 2.0)
    assert out.shape == (2, 6)
    # x = 1: u = 0.75, taps (b, a, a, b) with weights cubic(1.75, 0.75, 0.25, 1.25) → 1.09375 a − 0.09375 b.
    assert out[0, 0] == pytest.approx(1.09375 * 5.0 - 0.09375 * 9.0, abs=1e-12)
    # x = 2: u = 1.25, taps (a, a, b, c) with cubic(2.25)=0, cubic(1.25), cubic(0.25), cubic(0.75), cubic(1.75).
    expected = -0.0703125 * 5.0 + 0.8671875 * 5.0 + 0.2265625 * 9.0 - 0.0234375 * 2.0
    assert out[0, 1] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_scale_one_is_identity(rng: np.random.Generator, dtype: type) -> None:
    img = rng.integers(0, 256, size=(13, 17, 3)).astype(dtype)
    out = imresize(img, 1.0)
    assert out.dtype == (np.uint8 if dtype is np.uint8 else np.float64)
    np.testing.assert_array_equal(out, img)


@pytest.mark.parametrize("scale", [0.5, 0.3, 2.0, 1.7])
def test_constant_image_stays_constant(scale: float) -> None:
    img = np.full((21, 14), 173, dtype=np.uint8)
    np.testing.assert_array_equal(imresize(img, scale), 173)
    out = imresize(img.astype(np.float64), scale)
    np.testing.assert_allclose(out, 173.0, rtol=0, atol=1e-10)


@pytest.mark.parametrize(("shape", "scale"), [((321, 481), 0.5), ((7, 5), 0.5), ((10, 10), 0.33), ((3, 4), 2.5)])
def test_output_size_is_ceil_of_scaled_size(shape: tuple[int, int], scale: float) -> None:
    out = imresize(np.zeros(shape), scale)
    assert out.shape == (math.ceil(shape[0] * scale), math.ceil(shape[1] * scale))


def test_output_shape_argument_and_validation() -> None:
    out = imresize(np.zeros((20, 30, 3), dtype=np.uint8), output_shape=(7, 11))
    assert out.shape == (7, 11, 3) and out.dtype == np.uint8
    with pytest.raises(ValueError):
        imresize(np.zeros((4, 4)))
    with pytest.raises(ValueError):
        imresize(np.zeros((4, 4)), 0.5, output_shape=(2, 2))
    with pytest.raises(ValueError):
        imresize(np.zeros((4, 4)), -1.0)


def test_uint8_is_rounded_after_each_pass(rng: np.random.Generator) -> None:
    img = rng.integers(0, 256, size=(40, 52), dtype=np.uint8)
    out = imresize(img, 0.5)
    wr, ir = contributions(40, 20, 0.5)
    wc, ic = contributions(52, 26, 0.5)
    first = np.clip(np.floor(resize_along_axis(img.astype(np.float64), 0, wr, ir) + 0.5), 0, 255)
    manual = np.clip(np.floor(resize_along_axis(first, 1, wc, ic) + 0.5), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(out, manual)
    single_rounding = np.clip(np.floor(imresize(img.astype(np.float64), 0.5) + 0.5), 0, 255).astype(np.uint8)
    assert (single_rounding != out).any()  # rounding once at the end is a different (non-MATLAB) result


def test_uint8_overshoot_is_saturated() -> None:
    img = np.zeros((8, 8), dtype=np.uint8)
    img[:, 4:] = 255
    out_u8 = imresize(img, 2.0)
    out_f = imresize(img.astype(np.float64), 2.0)
    assert out_f.max() > 255 and out_f.min() < 0  # bicubic rings at the edge...
    assert out_u8.max() == 255 and out_u8.min() == 0  # ...and uint8 saturates


def test_smaller_scale_dimension_is_resized_first(rng: np.random.Generator) -> None:
    img = rng.integers(0, 256, size=(24, 32), dtype=np.uint8)
    out = imresize(img, (0.75, 0.5))
    wc, ic = contributions(32, 16, 0.5)
    wr, ir = contributions(24, 18, 0.75)
    cols_first = resize_along_axis(resize_along_axis(img, 1, wc, ic), 0, wr, ir)
    np.testing.assert_array_equal(out, cols_first)


def test_antialiasing_changes_downscaling(rng: np.random.Generator) -> None:
    img = rng.random((32, 32))
    with_aa = imresize(img, 0.5)
    without = imresize(img, 0.5, antialiasing=False)
    assert with_aa.shape == without.shape
    assert np.abs(with_aa - without).max() > 1e-3
    assert with_aa.std() < without.std()  # the stretched kernel low-passes noise
    np.testing.assert_array_equal(imresize(img, 2.0), imresize(img, 2.0, antialiasing=False))


def test_colour_channels_are_resized_independently(rng: np.random.Generator) -> None:
    img = rng.integers(0, 256, size=(15, 22, 3), dtype=np.uint8)
    out = imresize(img, 0.5)
    for ch in range(3):
        np.testing.assert_array_equal(out[..., ch], imresize(img[..., ch], 0.5))


@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_batch_equals_single(rng: np.random.Generator, dtype: type) -> None:
    stack = rng.integers(0, 256, size=(3, 19, 26)).astype(dtype)
    batch = imresize_batch(stack, 0.5)
    for i in range(3):
        np.testing.assert_array_equal(batch[i], imresize(stack[i], 0.5))
