"""BRISQUE (Mittal, Moorthy & Bovik 2012) as OpenCV's ``quality`` module computes it, with its LIVE model files.

``cv2.quality`` is only in the opencv-contrib builds; this module reproduces
``cv::quality::QualityBRISQUE::compute(img, brisque_model_live.yml, brisque_range_live.yml)`` with the
plain ``opencv-python`` image operations and NumPy:

1. ``cvtColor(..., GRAY)`` (uint8), then float32 in ``[0, 1]``.
2. Two scales, both resized from the gray image with ``cv::resize(..., INTER_CUBIC)`` to
   ``(int(w / 2^(s−1)), int(h / 2^(s−1)))`` (the first is a copy).
3. MSCN in float32: ``GaussianBlur`` 7×7, σ = 7/6, ``BORDER_REPLICATE``; ``σ = sqrt(blur(I²) − μ²) + 1/255``
   (``cv::pow(x, 0.5)`` is a plain square root: float32 noise makes flat regions NaN, and OpenCV's
   ``max``/``min``/``countNonZero``/``patchNaNs`` then count those pixels as zeros — reproduced).
4. AGGD fits (OpenCV's ``AGGDfit``: sums in double, γ walked upwards from 0.2 in accumulated steps of
   0.001 until the misfit grows) of the MSCN map and of its products with the zero-padded neighbours
   (0,1), (1,0), (1,1), (−1,1): 18 float32 features per scale, 36 in all.
5. Each feature scaled to ``[−1, 1]`` with the range file (float32), then the ε-SVR of the model file
   (RBF, γ = 0.05; kernel values in float32 as ``cv::ml::SVM``), clamped to ``[0, 100]``.

Not the original MATLAB BRISQUE release (its ``allmodel`` differs). Against ``cv2.quality`` of
opencv-contrib-python-headless 5.0.0.93 the scores are bit-identical on 20 of the 21 calibration images
and 2e-4 off on the other (one float32 ulp in a feature).
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.metrics.base import MetricSpec, check_image

logger = logging.getLogger(__name__)

MODEL_FILE = "iqa/brisque/brisque_model_live.yml"
RANGE_FILE = "iqa/brisque/brisque_range_live.yml"
SHIFTS: tuple[tuple[int, int], ...] = ((0, 1), (1, 0), (1, 1), (-1, 1))


def _cv2() -> Any:
    try:
        import cv2
    except ImportError as err:  # pragma: no cover - opencv comes with the yolo extra
        raise ImportError("BRISQUE needs OpenCV: pip install opencv-python-headless") from err
    return cv2


@functools.lru_cache(maxsize=1)
def _gamma_walk() -> tuple[np.ndarray, np.ndarray]:
    """OpenCV's ``for (gam = 0.2; gam < 10; gam += 0.001)`` grid (accumulated) and its ratios."""
    from scipy.special import gamma

    values = [0.2]
    while values[-1] + 0.001 < 10:
        values.append(values[-1] + 0.001)
    gam = np.array(values)
    return gam, gamma(2 / gam) * gamma(2 / gam) / (gamma(1 / gam) * gamma(3 / gam))


def aggd_fit(x: np.ndarray) -> tuple[float, float, float]:
    """OpenCV's ``AGGDfit`` of a float32 map → ``(lsigma, rsigma, gamma)``.

    Example:
        >>> l, r, g = aggd_fit(np.random.default_rng(0).standard_normal((200, 200)).astype(np.float32))
        >>> bool(abs(g - 2.0) < 0.1)
        True
    """
    pos = np.fmax(x, np.float32(0))
    neg = np.fmin(x, np.float32(0))
    absx = np.abs(x)
    absx[np.isnan(absx)] = 0
    possq = float((pos * pos).sum(dtype=np.float64))
    negsq = float((neg * neg).sum(dtype=np.float64))
    abssum = float(absx.sum(dtype=np.float64))
    poscount = int(np.count_nonzero(pos))
    negcount = int(np.count_nonzero(neg))
    with np.errstate(invalid="ignore", divide="ignore"):
        lsigma = math.sqrt(negsq / negcount) if negcount else math.nan
        rsigma = math.sqrt(possq / poscount) if poscount else math.nan
        gammahat = lsigma / rsigma if rsigma else math.nan
        total = x.size
        rhat = (abssum / total) ** 2 / ((negsq + possq) / total) if negsq + possq else math.nan
        rhatnorm = rhat * (gammahat**3 + 1) * (gammahat + 1) / (gammahat**2 + 1) ** 2
    gam, r_gam = _gamma_walk()
    diff = np.abs(r_gam - rhatnorm)
    if not diff[0] <= 1e10:  # the first step already "grows" (or NaN: the loop never breaks)
        return lsigma, rsigma, (0.0 if diff[0] > 1e10 else float(gam[-1]))
    grows = np.nonzero(diff[1:] > diff[:-1])[0]
    return lsigma, rsigma, float(gam[grows[0]] if grows.size else gam[-1])


def _mscn(cv2: Any, im: np.ndarray) -> np.ndarray:
    mu = cv2.GaussianBlur(im, (7, 7), 7.0 / 6.0, sigmaY=0.0, borderType=cv2.BORDER_REPLICATE)
    sigma = cv2.GaussianBlur(im * im, (7, 7), 7.0 / 6.0, sigmaY=0.0, borderType=cv2.BORDER_REPLICATE)
    with np.errstate(invalid="ignore"):
        sigma = np.sqrt(sigma - mu * mu) + np.float32(1.0 / 255)
    return (im - mu) / sigma


def _shifted(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``out[i, j] = x[i + dy, j + dx]`` inside the image, 0 outside."""
    out = np.zeros_like(x)
    h, w = x.shape
    out[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)] = x[
        max(0, dy) : h - max(0, -dy) or None, max(0, dx) : w - max(0, -dx) or None
    ]
    return out


def brisque_features(image: np.ndarray) -> np.ndarray:
    """The 36 float32 BRISQUE features of an ``(H, W, 3)`` uint8 RGB image (OpenCV ``computeFeatures``)."""
    from scipy.special import gamma

    cv2 = _cv2()
    check_image(image)
    if min(image.shape[:2]) < 2:  # the half-size scale would be empty: cv::resize asserts (cv2.error)
        raise ValueError(f"BRISQUE needs an image of at least 2x2 pixels, got {image.shape[:2]}")
    gray = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY).astype(np.float32) * np.float32(1.0 / 255.0)
    feats: list[float] = []
    for scale in (1, 2):
        size = (int(gray.shape[1] / 2 ** (scale - 1)), int(gray.shape[0] / 2 ** (scale - 1)))
        im = gray.copy() if scale == 1 else cv2.resize(gray, size, interpolation=cv2.INTER_CUBIC)
        structdis = _mscn(cv2, im)
        lsig, rsig, g = aggd_fit(structdis)
        feats += [g, float(np.float32(lsig * lsig + rsig * rsig)) / 2]
        for dy, dx in SHIFTS:
            pair = structdis * _shifted(structdis, dy, dx)
            lsig, rsig, g = aggd_fit(pair)
            constant = math.sqrt(gamma(1 / g)) / math.sqrt(gamma(3 / g))
            meanparam = (rsig - lsig) * (gamma(2 / g) / gamma(1 / g)) * constant
            feats += [g, meanparam, lsig**2, rsig**2]
    return np.array(feats, dtype=np.float32)


@dataclass(frozen=True)
class BRISQUEModel:
    """OpenCV's ``brisque_model_live.yml`` (ε-SVR, RBF) and ``brisque_range_live.yml`` (feature min/max)."""

    gamma: float
    rho: float
    alpha: np.ndarray
    support_vectors: np.ndarray
    feature_min: np.ndarray
    feature_max: np.ndarray

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Scores ``(samples,)`` of raw float32 features ``(samples, 36)``, as ``cv::ml::SVM::predict`` + clamp."""
        f = np.atleast_2d(features).astype(np.float32)
        lo, hi = np.float32(-1), np.float32(1)
        x = lo + (hi - lo) * (f - self.feature_min) / (self.feature_max - self.feature_min)
        s = np.zeros((x.shape[0], self.support_vectors.shape[0]))
        for k in range(0, x.shape[1] - 3, 4):  # calc_rbf: float differences, double sums of pairs
            t = [(self.support_vectors[None, :, k + i] - x[:, None, k + i]).astype(np.float64) for i in range(4)]
            s += t[0] * t[0] + t[1] * t[1]
            s += t[2] * t[2] + t[3] * t[3]
        for k in range(x.shape[1] - x.shape[1] % 4, x.shape[1]):
            t0 = (self.support_vectors[None, :, k] - x[:, None, k]).astype(np.float64)
            s += t0 * t0
        # cv::exp on float32 (OpenCV's own exp differs from NumPy's in the last bits, and ±1024 alphas
        # amplify that), then the decision sum in double, in support-vector order.
        kernel = _cv2().exp((s * -self.gamma).astype(np.float32)).astype(np.float64)
        total = np.full(x.shape[0], -self.rho)
        for k in range(self.alpha.size):
            total += self.alpha[k] * kernel[:, k]
        score = total.astype(np.float32)
        return np.clip(score, 0.0, 100.0).astype(np.float64)


def _load_yaml(path: Path) -> dict[str, Any]:
    import yaml

    text = path.read_text(encoding="utf-8")
    if text.startswith("%YAML:"):
        text = text.split("\n", 1)[1]

    class _Loader(yaml.SafeLoader):
        pass

    def _opencv_matrix(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
        return loader.construct_mapping(node, deep=True)

    _Loader.add_constructor("tag:yaml.org,2002:opencv-matrix", _opencv_matrix)
    return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass


@functools.lru_cache(maxsize=4)
def _load_model(model_path: Path, range_path: Path) -> BRISQUEModel:
    svm = _load_yaml(model_path)["opencv_ml_svm"]
    if svm.get("svmType") != "EPS_SVR" or svm["kernel"]["type"] != "RBF":
        raise ValueError(f"{model_path}: expected an EPS_SVR model with an RBF kernel")
    df = svm["decision_functions"][0]
    rng = _load_yaml(range_path)["range"]
    limits = np.asarray(rng["data"], dtype=np.float32).reshape(int(rng["rows"]), int(rng["cols"]))
    model = BRISQUEModel(
        gamma=float(svm["kernel"]["gamma"]),
        rho=float(df["rho"]),
        alpha=np.asarray(df["alpha"], dtype=np.float64),
        support_vectors=np.asarray(svm["support_vectors"], dtype=np.float32),
        feature_min=limits[0],
        feature_max=limits[1],
    )
    if model.support_vectors.shape != (model.alpha.size, limits.shape[1]):
        raise ValueError(f"{model_path}: support vectors {model.support_vectors.shape} do not match the model")
    logger.debug("loaded BRISQUE model %s", model_path)
    return model


def load_model() -> BRISQUEModel:
    """OpenCV's LIVE BRISQUE model and range files, cached per process.

    Raises:
        MissingDataError: the files are not under ``iqa/brisque/`` of the weights root.
    """
    from bench.paths import resolve_weights_file

    return _load_model(
        resolve_weights_file(MODEL_FILE, what="BRISQUE model"), resolve_weights_file(RANGE_FILE, what="BRISQUE range")
    )


def brisque_batch(images: Sequence[np.ndarray], references: Sequence[np.ndarray] | None = None) -> list[float]:
    """BRISQUE of many ``(H, W, 3)`` uint8 RGB images (features per image, one SVR evaluation).

    Example:
        >>> brisque_batch([read_image("images/iqa-calibration/ref_dir/I03.bmp")])  # doctest: +SKIP
        [5.2354...]
    """
    del references  # no-reference metric
    model = load_model()
    if not images:
        return []
    feats = np.stack([brisque_features(img) for img in images])
    return [float(v) for v in model.predict(feats)]


def brisque(image: np.ndarray) -> float:
    """BRISQUE of one ``(H, W, 3)`` uint8 RGB image (0 best … 100 worst).

    Example:
        >>> brisque(read_image("images/iqa-calibration/ref_dir/I03.bmp"))  # doctest: +SKIP
        5.2354...
    """
    return brisque_batch([image])[0]


BRISQUE = MetricSpec(
    name="brisque",
    fn=brisque,
    mode="NR",
    higher_is_better=False,
    summary="BRISQUE (Mittal et al. 2012) with OpenCV's LIVE model files.",
    reference_impl=(
        "OpenCV contrib cv::quality::QualityBRISQUE with brisque_model_live.yml / brisque_range_live.yml "
        "(weights/iqa/brisque/, from opencv-data 4.6.0), re-implemented with opencv-python ops + NumPy "
        "(not the MATLAB BRISQUE release model); equals cv2.quality 5.0.0.93 to <= 2e-4"
    ),
    batch_fn=brisque_batch,
)
