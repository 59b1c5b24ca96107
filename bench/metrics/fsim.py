"""FSIM and FSIMc (Zhang, Zhang, Mou & Zhang, IEEE TIP 2011), a port of the reference ``FeatureSIM.m``.

Hand-written on purpose: exactness against ``FeatureSIM.m`` needs its own phase congruency steps.


The reference is Lin Zhang's ``FeatureSIM.m`` (2010, "FSIM Index with automatic downsampling") with
its embedded ``phasecong2`` (Peter Kovesi's phase congruency) and ``lowpassfilter``. Every step follows
the MATLAB code, including the details that change the numbers:

* colour planes: ``Y = 0.299 R + 0.587 G + 0.114 B``, ``I = 0.596 R − 0.274 G − 0.322 B``,
  ``Q = 0.211 R − 0.523 G + 0.312 B`` on ``double`` values 0–255 (grayscale input: ``I = Q = 1``);
* automatic down-sampling by ``F = max(1, round(min(rows, cols) / 256))``: ``conv2(x, ones(F)/F², 'same')``
  (zero padding, MATLAB's centring for even ``F``), then every ``F``-th pixel from the first;
* ``phasecong2``: 4 scales × 4 orientations of log-Gabor filters built in the frequency domain
  (minimum wavelength 6, multiplier 2, σ_f/f₀ = 0.55, angular σ = π/4/1.2), a Butterworth low-pass
  (cut-off 0.45, order 15), Kovesi's odd/even frequency grids and ``ifftshift``, the noise threshold
  from the median smallest-scale energy, ``k = 2``, the empirical ``/1.7`` and ``ε = 1e-4``;
* gradient magnitude with the Scharr kernels ``[3 0 −3; 10 0 −10; 3 0 −3]/16`` via ``conv2(..., 'same')``;
* ``T1 = 0.85``, ``T2 = 160``, ``T3 = T4 = 200``, ``λ = 0.03`` and ``real((S_I·S_Q)^λ)`` (a negative
  product gives MATLAB's principal complex power).

``fsim`` scores the MATLAB ``rgb2gray`` luminance (``FeatureSIM(rgb2gray(ref), rgb2gray(dist))``), the
convention of the calibration values; ``fsimc`` is the FSIMc output of ``FeatureSIM`` on the RGB images.
Like the reference, a perfectly flat image pair has no phase congruency anywhere and scores NaN.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from bench.metrics.base import MetricSpec, check_pair
from bench.metrics.color import rgb_to_gray, rgb_to_yiq

# phasecong2 parameters as fixed in FeatureSIM.m.
N_SCALE = 4
N_ORIENT = 4
MIN_WAVELENGTH = 6.0
MULT = 2.0
SIGMA_ON_F = 0.55
D_THETA_ON_SIGMA = 1.2
K_NOISE = 2.0
EPSILON = 1e-4
LOWPASS_CUTOFF = 0.45
LOWPASS_ORDER = 15

# FSIM / FSIMc constants.
T1 = 0.85
T2 = 160.0
T3 = 200.0
T4 = 200.0
LAMBDA = 0.03

_SCHARR_X = np.array([[3.0, 0.0, -3.0], [10.0, 0.0, -10.0], [3.0, 0.0, -3.0]]) / 16.0
_SCHARR_Y = np.array([[3.0, 10.0, 3.0], [0.0, 0.0, 0.0], [-3.0, -10.0, -3.0]]) / 16.0


def downsample(plane: np.ndarray, factor: int) -> np.ndarray:
    """``x = conv2(x, fspecial('average', F), 'same'); x = x(1:F:end, 1:F:end)`` as in MATLAB.

    MATLAB's ``'same'`` keeps the part of the full convolution that starts at ``floor(F/2)`` (0-based), so
    output pixel ``j`` averages input pixels ``j − (ceil(F/2) − 1) … j + floor(F/2)``, with zeros past the
    borders. Only the sampled outputs are computed.

    Example:
        >>> downsample(np.arange(16.0).reshape(4, 4), 2)
        array([[ 2.5,  4.5],
               [10.5, 12.5]])
    """
    if factor <= 1:
        return plane.astype(np.float64, copy=True)
    rows, cols = plane.shape
    before = (factor + 1) // 2 - 1  # ceil(F/2) - 1 pixels of the window lie before the centre
    n_r = -(-rows // factor)
    n_c = -(-cols // factor)
    padded = np.zeros((max(n_r * factor, before + rows), max(n_c * factor, before + cols)))
    padded[before : before + rows, before : before + cols] = plane
    blocks = padded[: n_r * factor, : n_c * factor].reshape(n_r, factor, n_c, factor)
    return blocks.sum(axis=(1, 3)) / float(factor * factor)


def _conv2_same_3x3(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """MATLAB ``conv2(image, kernel, 'same')`` for a 3×3 kernel: true convolution, zero padding."""
    rows, cols = image.shape
    padded = np.zeros((rows + 2, cols + 2))
    padded[1:-1, 1:-1] = image
    out = np.zeros((rows, cols))
    for a in range(3):
        for b in range(3):
            weight = kernel[a, b]
            if weight != 0.0:
                # out(i, j) += K(a, b) * image(i - (a - 1), j - (b - 1))
                out += weight * padded[2 - a : 2 - a + rows, 2 - b : 2 - b + cols]
    return out


def _centred_range(n: int) -> np.ndarray:
    """Kovesi's frequency coordinates normalised to ±0.5 (odd sizes divide by ``n − 1``)."""
    if n % 2:
        return np.arange(-(n - 1) / 2, (n - 1) / 2 + 1) / (n - 1) if n > 1 else np.zeros(1)
    return np.arange(-n / 2, n / 2) / n


@lru_cache(maxsize=8)
def _filter_bank(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frequency-domain filters of ``phasecong2`` for one image size, plus their noise statistics.

    Returns:
        ``filters`` of shape ``(N_ORIENT, N_SCALE, rows, cols)`` (0 frequency at the corner), and per
        orientation ``EM_n`` (sum of the squared smallest-scale filter) and the estimated noise energy
        factor ``2·ΣΣ ifft(f_s)² + 4·ΣΣ_{i<j} ifft(f_i)·ifft(f_j)`` (to be multiplied by the noise power).
    """
    x, y = np.meshgrid(_centred_range(cols), _centred_range(rows))
    radius = np.fft.ifftshift(np.sqrt(x * x + y * y))
    theta = np.fft.ifftshift(np.arctan2(-y, x))
    radius[0, 0] = 1.0
    sintheta = np.sin(theta)
    costheta = np.cos(theta)

    # lowpassfilter([rows, cols], 0.45, 15): the same grids, unshifted radius (including 0 at the centre).
    lp_radius = np.fft.ifftshift(np.sqrt(x * x + y * y))
    lowpass = 1.0 / (1.0 + (lp_radius / LOWPASS_CUTOFF) ** (2 * LOWPASS_ORDER))

    log_gabor = np.empty((N_SCALE, rows, cols))
    for s in range(N_SCALE):
        wavelength = MIN_WAVELENGTH * MULT**s
        fo = 1.0 / wavelength
        lg = np.exp(-(np.log(radius / fo) ** 2) / (2.0 * math.log(SIGMA_ON_F) ** 2))
        lg = lg * lowpass
        lg[0, 0] = 0.0
        log_gabor[s] = lg

    theta_sigma = math.pi / N_ORIENT / D_THETA_ON_SIGMA
    spread = np.empty((N_ORIENT, rows, cols))
    for o in range(N_ORIENT):
        angle = o * math.pi / N_ORIENT
        ds = sintheta * math.cos(angle) - costheta * math.sin(angle)
        dc = costheta * math.cos(angle) + sintheta * math.sin(angle)
        dtheta = np.abs(np.arctan2(ds, dc))
        spread[o] = np.exp(-(dtheta**2) / (2.0 * theta_sigma**2))

    filters = spread[:, None] * log_gabor[None, :]
    em_n = np.sum(filters[:, 0] ** 2, axis=(1, 2))
    spatial = np.real(np.fft.ifft2(filters)) * math.sqrt(rows * cols)
    noise_factor = np.empty(N_ORIENT)
    for o in range(N_ORIENT):
        sum_an2 = np.sum(spatial[o] ** 2)
        sum_aiaj = 0.0
        for si in range(N_SCALE - 1):
            for sj in range(si + 1, N_SCALE):
                sum_aiaj += np.sum(spatial[o, si] * spatial[o, sj])
        noise_factor[o] = 2.0 * sum_an2 + 4.0 * sum_aiaj
    for arr in (filters, em_n, noise_factor):
        arr.setflags(write=False)
    return filters, em_n, noise_factor


def phase_congruency(image: np.ndarray) -> np.ndarray:
    """Kovesi's ``phasecong2`` as embedded in ``FeatureSIM.m``: the PC map of a 2-D float image.

    Example:
        >>> pc = phase_congruency(np.random.default_rng(0).uniform(0, 255, (32, 40)))
        >>> pc.shape, bool(pc.min() >= 0.0)
        ((32, 40), True)
    """
    if image.ndim != 2:
        raise ValueError(f"phase_congruency needs a 2-D image, got shape {image.shape}")
    rows, cols = image.shape
    filters, em_n, noise_factor = _filter_bank(rows, cols)
    image_fft = np.fft.fft2(image.astype(np.float64))
    energy_all = np.zeros((rows, cols))
    an_all = np.zeros((rows, cols))
    log_half = math.log(0.5)
    for o in range(N_ORIENT):
        eo = np.fft.ifft2(image_fft[None] * filters[o])  # (N_SCALE, rows, cols)
        even = eo.real
        odd = eo.imag
        amplitude = np.abs(eo)
        sum_e = even[0].copy()
        sum_o = odd[0].copy()
        sum_an = amplitude[0].copy()
        for s in range(1, N_SCALE):
            sum_e += even[s]
            sum_o += odd[s]
            sum_an += amplitude[s]
        x_energy = np.sqrt(sum_e**2 + sum_o**2) + EPSILON
        mean_e = sum_e / x_energy
        mean_o = sum_o / x_energy
        energy = np.zeros((rows, cols))
        for s in range(N_SCALE):
            e, od = even[s], odd[s]
            energy += e * mean_e + od * mean_o - np.abs(e * mean_o - od * mean_e)

        median_e2n = float(np.median(amplitude[0] ** 2))
        mean_e2n = -median_e2n / log_half
        noise_power = mean_e2n / em_n[o]
        est_noise_energy2 = noise_power * noise_factor[o]
        tau = math.sqrt(est_noise_energy2 / 2.0)
        est_noise_energy = tau * math.sqrt(math.pi / 2.0)
        est_noise_sigma = math.sqrt((2.0 - math.pi / 2.0) * tau**2)
        threshold = (est_noise_energy + K_NOISE * est_noise_sigma) / 1.7
        energy_all += np.maximum(energy - threshold, 0.0)
        an_all += sum_an
    with np.errstate(divide="ignore", invalid="ignore"):
        return energy_all / an_all


def gradient_magnitude(image: np.ndarray) -> np.ndarray:
    """Scharr gradient magnitude with MATLAB ``conv2(..., 'same')`` (zero padding)."""
    gx = _conv2_same_3x3(image, _SCHARR_X)
    gy = _conv2_same_3x3(image, _SCHARR_Y)
    return np.sqrt(gx * gx + gy * gy)


def feature_sim(reference: np.ndarray, distorted: np.ndarray) -> tuple[float, float]:
    """``[FSIM, FSIMc] = FeatureSIM(imageRef, imageDis)`` on 0–255 arrays.

    Args:
        reference: ``(H, W)`` grayscale or ``(H, W, 3)`` RGB image (any real dtype, 0–255 scale).
        distorted: The compared image, same shape.

    Returns:
        ``(FSIM, FSIMc)``; for grayscale input both are equal, as in the reference code.

    Example:
        >>> img = np.random.default_rng(0).integers(0, 256, (48, 64, 3)).astype(np.uint8)
        >>> feature_sim(img, img)
        (1.0, 1.0)
    """
    if reference.shape != distorted.shape:
        raise ValueError(f"images differ in shape: {reference.shape} vs {distorted.shape}")
    if reference.ndim == 3 and reference.shape[2] == 3:
        y1, i1, q1 = rgb_to_yiq(reference)
        y2, i2, q2 = rgb_to_yiq(distorted)
    elif reference.ndim == 2:
        y1 = reference.astype(np.float64)
        y2 = distorted.astype(np.float64)
        i1 = i2 = q1 = q2 = np.ones(reference.shape)
    else:
        raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {reference.shape}")

    rows, cols = y1.shape
    factor = max(1, _matlab_round(min(rows, cols) / 256.0))
    i1, i2, q1, q2, y1, y2 = (downsample(p, factor) for p in (i1, i2, q1, q2, y1, y2))

    pc1 = phase_congruency(y1)
    pc2 = phase_congruency(y2)
    g1 = gradient_magnitude(y1)
    g2 = gradient_magnitude(y2)

    pc_sim = (2.0 * pc1 * pc2 + T1) / (pc1**2 + pc2**2 + T1)
    g_sim = (2.0 * g1 * g2 + T2) / (g1**2 + g2**2 + T2)
    pc_m = np.maximum(pc1, pc2)
    sim = g_sim * pc_sim
    with np.errstate(divide="ignore", invalid="ignore"):
        pc_sum = np.sum(pc_m)
        fsim = float(np.sum(sim * pc_m) / pc_sum)
        i_sim = (2.0 * i1 * i2 + T3) / (i1**2 + i2**2 + T3)
        q_sim = (2.0 * q1 * q2 + T4) / (q1**2 + q2**2 + T4)
        fsimc = float(np.sum(sim * _real_power(i_sim * q_sim, LAMBDA) * pc_m) / pc_sum)
    return fsim, fsimc


def _real_power(base: np.ndarray, exponent: float) -> np.ndarray:
    """``real(base .^ exponent)`` with MATLAB's principal complex power for negative bases."""
    magnitude = np.abs(base) ** exponent
    return np.where(base < 0, magnitude * math.cos(math.pi * exponent), magnitude)


def _matlab_round(value: float) -> int:
    """MATLAB ``round``: half away from zero (``value`` is non-negative here)."""
    return math.floor(value + 0.5)


def fsim(image: np.ndarray, reference: np.ndarray) -> float:
    """FSIM of two uint8 RGB images on their MATLAB ``rgb2gray`` luminance.

    Example:
        >>> img = np.random.default_rng(0).integers(0, 256, (48, 64, 3)).astype(np.uint8)
        >>> fsim(img, img)
        1.0
    """
    check_pair(image, reference)
    return feature_sim(rgb_to_gray(reference), rgb_to_gray(image))[0]


def fsimc(image: np.ndarray, reference: np.ndarray) -> float:
    """FSIMc of two uint8 RGB images (``FeatureSIM.m`` colour output, YIQ inside).

    Example:
        >>> img = np.random.default_rng(0).integers(0, 256, (48, 64, 3)).astype(np.uint8)
        >>> fsimc(img, img)
        1.0
    """
    check_pair(image, reference)
    return feature_sim(reference, image)[1]


_REF = "Lin Zhang's FeatureSIM.m (2010, auto-downsampling, Kovesi phasecong2); matches Octave to 1e-3"
FSIM = MetricSpec("fsim", fsim, "FR", True, "FSIM (Zhang et al. 2011) on MATLAB rgb2gray luminance.", _REF)
FSIMC = MetricSpec("fsimc", fsimc, "FR", True, "FSIMc, FSIM with chromatic (YIQ) similarity.", _REF)
