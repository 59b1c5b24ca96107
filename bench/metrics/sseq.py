"""SSEQ (Liu, Liu, Huang & Bovik 2014) exactly as the original MATLAB release (utlive/SSEQ) computes it.

``SSEQ(imdist)`` = ``SSQA_by_f(feature_extract(imdist, 3))``:

1. ``rgb2gray`` (uint8, rounded).
2. Three scales; after each, ``imresize(imdist, 0.5)`` of the *uint8* image (bicubic, antialiased,
   rounded to uint8 after each one-dimensional pass).
3. Per scale, ``blkproc`` over 8×8 blocks (the image zero-padded to a multiple of 8):
   * spatial entropy ``entropy(block)`` (256-bin histogram of the uint8 values, ``−Σ p log2 p``);
   * spectral entropy of ``dct2(double(block))`` with the DC set to ``1e-8``:
     ``P = c² / Σc²``, zeros replaced by ``1e-8``, ``−Σ P log2 P``.
4. Pooling of each entropy map: the mean of the sorted values ``sort_t(ceil(0.2·n) : ceil(0.8·n))``
   (1-based, inclusive) and the (biased) ``skewness`` of all values → per scale
   ``[mean_se, skew_se, mean_fe, skew_fe]``, 12 features.
5. ``setscale``: ``−1 + 2(f − fmin)/(fmax − fmin)`` with the model's ``fmin``/``fmax``.
6. LIBSVM ``svmpredict``: a 5-class C-SVC with probability estimates ``p`` and five ν-SVR regressors
   ``q`` (RBF, γ = 1/12); ``score = 50·Σ_k p_k q_k + 50``.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.metrics.base import MetricSpec, check_image, same_shape_chunks
from bench.metrics.color import rgb_to_gray
from bench.metrics.imresize import imresize_batch
from bench.metrics.libsvm import SVMModel

logger = logging.getLogger(__name__)

MODEL_FILE = "iqa/sseq/model.mat"
BLOCK = 8
SCALES = 3
_CHUNK_PIXELS = 8_000_000
_BLOCK_CHUNK = 16_384


@dataclass(frozen=True)
class SSEQModel:
    """The release's ``model.mat``: feature ranges, the quality-class C-SVC and the five ν-SVRs."""

    fmin: np.ndarray
    fmax: np.ndarray
    classifier: SVMModel
    regressors: tuple[SVMModel, ...]

    def scale(self, features: np.ndarray) -> np.ndarray:
        """``setscale``: map each feature to ``[-1, 1]`` with the training ranges."""
        return -1.0 + 2.0 * (features - self.fmin) / (self.fmax - self.fmin)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """``SSQA_by_f`` for ``(samples, 12)`` raw features → ``(samples,)`` scores."""
        x = self.scale(np.atleast_2d(features))
        p = self.classifier.predict_probability(x)
        q = np.stack([reg.predict(x) for reg in self.regressors], axis=1)
        return (p * q).sum(axis=1) * 50.0 + 50.0


@functools.lru_cache(maxsize=4)
def _load_model(path: Path) -> SSEQModel:
    import scipy.io

    data = scipy.io.loadmat(path)
    regressors = tuple(
        SVMModel.from_matlab(np.asarray(cell).reshape(-1)[0]) for cell in np.asarray(data["svrmodel"]).reshape(-1)
    )
    model = SSEQModel(
        fmin=np.asarray(data["fmin"], dtype=np.float64).reshape(-1),
        fmax=np.asarray(data["fmax"], dtype=np.float64).reshape(-1),
        classifier=SVMModel.from_matlab(data["svmmodel"][0, 0]),
        regressors=regressors,
    )
    if model.fmin.size != 4 * SCALES or len(regressors) != model.classifier.n_class:
        raise ValueError(f"{path}: unexpected SSEQ model layout")
    logger.debug("loaded SSEQ model %s", path)
    return model


def load_model() -> SSEQModel:
    """The SSEQ release's ``model.mat``, cached per process.

    Raises:
        MissingDataError: ``iqa/sseq/model.mat`` is not under the weights root.
    """
    from bench.paths import resolve_weights_file

    return _load_model(resolve_weights_file(MODEL_FILE, what="SSEQ model"))


@functools.lru_cache(maxsize=1)
def dct_matrix(n: int = BLOCK) -> np.ndarray:
    """MATLAB ``dctmtx(n)``: ``dct2(X) = D @ X @ D.T`` (orthonormal DCT-II)."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    d = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * i + 1) * k / (2 * n))
    d[0, :] = 1.0 / np.sqrt(n)
    return d


def _blocks(stack: np.ndarray) -> np.ndarray:
    """Zero-pad ``(N, H, W)`` to multiples of 8 (``blkproc``) and cut ``(N, blocks, 8, 8)``."""
    n, h, w = stack.shape
    ph, pw = -h % BLOCK, -w % BLOCK
    if ph or pw:
        stack = np.pad(stack, ((0, 0), (0, ph), (0, pw)))
    rows, cols = stack.shape[1] // BLOCK, stack.shape[2] // BLOCK
    return stack.reshape(n, rows, BLOCK, cols, BLOCK).transpose(0, 3, 1, 2, 4).reshape(n, rows * cols, BLOCK, BLOCK)


@functools.lru_cache(maxsize=1)
def _plogp_table() -> np.ndarray:
    p = np.arange(BLOCK * BLOCK + 1, dtype=np.float64) / (BLOCK * BLOCK)
    table = np.zeros_like(p)
    table[1:] = p[1:] * np.log2(p[1:])
    return table


def spatial_entropy(blocks: np.ndarray) -> np.ndarray:
    """MATLAB ``entropy`` of each uint8 block ``(B, 8, 8)`` → ``(B,)``."""
    flat = blocks.reshape(blocks.shape[0], -1)
    table = _plogp_table()
    out = np.empty(flat.shape[0])
    for start in range(0, flat.shape[0], _BLOCK_CHUNK):
        chunk = flat[start : start + _BLOCK_CHUNK].astype(np.int64)
        offsets = np.arange(chunk.shape[0])[:, None] * 256
        counts = np.bincount((chunk + offsets).ravel(), minlength=chunk.shape[0] * 256).reshape(-1, 256)
        out[start : start + chunk.shape[0]] = -table[counts].sum(axis=1)
    return out


def spectral_entropy(blocks: np.ndarray) -> np.ndarray:
    """``fecal``: entropy of the normalised DCT power of each block ``(B, 8, 8)`` → ``(B,)``."""
    d = dct_matrix()
    coeffs = d @ blocks.astype(np.float64) @ d.T
    coeffs[:, 0, 0] = 0.00000001
    power = coeffs * coeffs
    flat = power.reshape(power.shape[0], -1)
    norm = flat / flat.sum(axis=1, keepdims=True)
    norm[norm == 0] = 0.00000001
    return -(norm * np.log2(norm)).sum(axis=1)


def pool(values: np.ndarray) -> tuple[float, float]:
    """Mean of the central sorted values ``sort_t(ceil(0.2 n) : ceil(0.8 n))`` and the biased skewness.

    Example:
        >>> pool(np.arange(10.0))
        (4.0, 0.0)
    """
    sort_t = np.sort(values.ravel())
    n = sort_t.size
    lo, hi = math.ceil(n * 0.2), math.ceil(n * 0.8)  # 1-based inclusive, as in feature_extract.m
    mu = float(sort_t[max(lo, 1) - 1 : hi].mean())
    centred = sort_t - sort_t.mean()
    m2 = float(np.mean(centred**2))
    m3 = float(np.mean(centred**3))
    skew = m3 / m2**1.5 if m2 > 0 else math.nan
    return mu, skew


def sseq_features_batch(gray_stack: np.ndarray) -> np.ndarray:
    """The 12 SSEQ features of each image of a ``(N, H, W)`` uint8 gray stack → ``(N, 12)``."""
    im = gray_stack
    feats = np.empty((im.shape[0], 4 * SCALES))
    for s in range(SCALES):
        blocks = _blocks(im)
        n, nb = blocks.shape[:2]
        se = spatial_entropy(blocks.reshape(n * nb, BLOCK, BLOCK)).reshape(n, nb)
        fe = spectral_entropy(blocks.reshape(n * nb, BLOCK, BLOCK)).reshape(n, nb)
        for i in range(n):
            feats[i, 4 * s : 4 * s + 2] = pool(se[i])
            feats[i, 4 * s + 2 : 4 * s + 4] = pool(fe[i])
        if s < SCALES - 1:
            im = imresize_batch(im, 0.5)
    return feats


#: The coarsest scale (``ceil(size / 4)`` pixels a side) needs two 8×8 blocks on one side: with one block
#: its entropy maps have no spread, the skewness features are 0/0 and the score NaN (in MATLAB too).
MIN_SIDE = BLOCK * 2 ** (SCALES - 1) + 1


def _gray(image: np.ndarray) -> np.ndarray:
    """``rgb2gray`` (uint8) of a checked ``(H, W, 3)`` uint8 image large enough for the three scales."""
    check_image(image)
    if max(image.shape[:2]) < MIN_SIDE:
        raise ValueError(
            f"SSEQ needs an image with at least {MIN_SIDE} pixels on one side, got {image.shape[:2]} "
            f"(its third scale would be a single {BLOCK}x{BLOCK} block: no skewness, a NaN score)"
        )
    return rgb_to_gray(image).astype(np.uint8)


def sseq_features(image: np.ndarray) -> np.ndarray:
    """The 12 raw SSEQ features (before ``setscale``) of one ``(H, W, 3)`` uint8 RGB image.

    Example:
        >>> sseq_features(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).shape
        (12,)
    """
    return sseq_features_batch(_gray(image)[None])[0]


def sseq_batch(images: Sequence[np.ndarray], references: Sequence[np.ndarray] | None = None) -> list[float]:
    """SSEQ of many ``(H, W, 3)`` uint8 RGB images (equal sizes are processed together).

    Example:
        >>> sseq_batch([read_image("weights/iqa/sseq/reference_img.bmp")])  # doctest: +SKIP
        [52.39...]
    """
    del references  # no-reference metric
    model = load_model()
    grays = [_gray(img) for img in images]
    feats = np.empty((len(grays), 4 * SCALES))
    for idx in same_shape_chunks(grays, _CHUNK_PIXELS):
        feats[idx] = sseq_features_batch(np.stack([grays[i] for i in idx]))
    return [float(v) for v in model.predict(feats)] if len(grays) else []


def sseq(image: np.ndarray) -> float:
    """SSEQ of one ``(H, W, 3)`` uint8 RGB image (0 best … 100 worst, lower is better).

    Example:
        >>> sseq(read_image("weights/iqa/sseq/reference_img.bmp"))  # doctest: +SKIP
        52.39...
    """
    return sseq_batch([image])[0]


SSEQ = MetricSpec(
    name="sseq",
    fn=sseq,
    mode="NR",
    higher_is_better=False,
    summary="SSEQ (Liu et al. 2014), spatial/spectral entropies + original LIBSVM models.",
    reference_impl=(
        "utlive/SSEQ MATLAB release (feature_extract.m, SSQA_by_f.m) with its trained model.mat "
        "(weights/iqa/sseq/model.mat: 5-class C-SVC with probabilities + five nu-SVR, RBF gamma 1/12) and "
        "LIBSVM 3.18 svmpredict semantics re-implemented in NumPy; MATLAB imresize port (uint8 rounding per pass)"
    ),
    batch_fn=sseq_batch,
)
