"""pyiqa's image-quality metrics as bench metrics: ``--metrics pyiqa:<name>`` (``pyiqa:lpips``, ``pyiqa:musiq``).

The ``pyiqa`` family of :data:`bench.registries.METRICS` makes one :class:`~bench.metrics.base.MetricSpec`
per pyiqa metric on first use, full-reference and no-reference alike, with pyiqa's own direction
(``lower_better``) and mode. They stream like the built-ins: ``StreamingMetric(spec).update(images, refs)``
scores same-shape images in one batched call of pyiqa's model.

* **Optional and non-commercial.** pyiqa is the extra ``[pyiqa]`` (``pip install 'bench-derain[pyiqa]'``),
  licensed PolyForm-Noncommercial-1.0.0 (non-commercial use only); it is not part of ``[all]``. Without it a
  ``pyiqa:`` name fails in one line naming that install command.
* **Inputs.** bench's 8-bit RGB ``(H, W, 3)`` arrays become pyiqa's ``(N, 3, H, W)`` float32 RGB in [0, 1]
  (``x / 255``), the form ``pyiqa.create_metric(name)(x, ref)`` documents. Every other convention (Y
  channel, rounding, windows) is pyiqa's own; docs/backends.md lists how they differ from bench's named
  variants (``pyiqa:psnr`` vs ``psnr_rgb``, ``pyiqa:psnry`` vs ``psnr_y_float``, ``pyiqa:ssim`` vs ``ssim_y``).
* **Weights, never downloaded.** While a metric is created, every file pyiqa (or torchvision inside it)
  would download is looked up by its file name in ``$BENCH_WEIGHTS/iqa/pyiqa/``, then in pyiqa's and
  torch's caches; a file found in the weights folder is linked into the cache. A missing file is a
  :class:`~bench.paths.MissingDataError` naming the file, its URL and where to put it. The metrics pyiqa
  0.1.16 computes without any file: :data:`OFFLINE_METRICS`.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlparse

import numpy as np

from bench.fileio import file_sha256
from bench.metrics.base import MetricSpec, check_image, check_pair, same_shape_chunks
from bench.optional import import_backend, missing_message
from bench.paths import MissingDataError, weights_root

logger = logging.getLogger(__name__)

LICENCE = "PolyForm-Noncommercial-1.0.0"
#: Where pyiqa weight files go, relative to the weights root (``$BENCH_WEIGHTS``).
WEIGHTS_SUBDIR = "iqa/pyiqa"
#: pyiqa 0.1.16 metrics that need no weights file (measured offline here).
OFFLINE_METRICS: tuple[str, ...] = (
    "psnr",
    "psnry",
    "ssim",
    "ssimc",
    "ms_ssim",
    "cw_ssim",
    "fsim",
    "vif",
    "gmsd",
    "vsi",
    "nlpd",
    "mad",
    "piqe",
    "entropy",
)
#: Dataset-level pyiqa metrics over folders (not one value per image): not offered as bench metrics.
DISTRIBUTION_METRICS: frozenset[str] = frozenset({"fid", "fid_dinov2", "sfid", "inception_score", "msswd"})
_MAX_PIXELS = 2_000_000  # per batched call
_PATCH_LOCK = threading.Lock()


def _pyiqa(purpose: str) -> ModuleType:
    return import_backend("pyiqa", "pyiqa", purpose)


def weights_dirs() -> list[Path]:
    """Folders searched for pyiqa weight files before the caches: ``$BENCH_WEIGHTS/iqa/pyiqa``.

    Example:
        >>> isinstance(weights_dirs(), list)
        True
    """
    root = weights_root()
    return [root / WEIGHTS_SUBDIR] if root is not None else []


def _link_into_cache(found: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.symlink(found.resolve(), dst)
    except OSError:  # no symlinks on this file system: copy
        shutil.copyfile(found, dst)


def _weights_fetcher(purpose: str) -> Callable[..., None]:
    """A stand-in for ``torch.hub.download_url_to_file`` that resolves files locally or fails in one line."""

    def fetch(url: str, dst: str, hash_prefix: str | None = None, progress: bool = True) -> None:
        name = Path(dst).name or Path(urlparse(url).path).name
        for folder in weights_dirs():
            candidate = folder / name
            if candidate.is_file():
                if hash_prefix and not file_sha256(candidate).startswith(hash_prefix):
                    raise MissingDataError(
                        f"{purpose}: {candidate} does not match the expected sha256 prefix {hash_prefix}"
                    )
                logger.info("%s: weights %s from %s", purpose, name, candidate)
                _link_into_cache(candidate, Path(dst))
                return
        where = ", ".join(str(d) for d in weights_dirs()) or "$BENCH_WEIGHTS/iqa/pyiqa (BENCH_WEIGHTS/BENCH_DATA unset)"
        raise MissingDataError(
            f"{purpose} needs the weights file {name!r}, found neither in {where} nor in the cache "
            f"{Path(dst).parent}, and bench never downloads: fetch {url} and put it in $BENCH_WEIGHTS/{WEIGHTS_SUBDIR}/"
        )

    return fetch


@contextlib.contextmanager
def resolving_weights(purpose: str) -> Iterator[None]:
    """Within the block, pyiqa's and torch.hub's downloads resolve from the weights folder or fail clearly.

    Files already in pyiqa's or torch's cache are used as they are (neither calls the downloader then).

    Example:
        >>> with resolving_weights("pyiqa:psnr"):  # doctest: +SKIP
        ...     metric = pyiqa.create_metric("psnr", device="cpu")
    """
    hub = importlib.import_module("torch.hub")  # its downloader is looked up at call time: replace it
    download_util = import_backend("pyiqa", "pyiqa.utils.download_util", purpose)
    fetch = _weights_fetcher(purpose)
    modules = (download_util, hub)
    with _PATCH_LOCK:
        saved = [getattr(m, "download_url_to_file") for m in modules]  # noqa: B009
        for module in modules:
            setattr(module, "download_url_to_file", fetch)  # noqa: B010
        try:
            yield
        finally:
            for module, original in zip(modules, saved, strict=True):
                setattr(module, "download_url_to_file", original)  # noqa: B010


@contextlib.contextmanager
def _quiet_downloads() -> Iterator[None]:
    """Route pyiqa's ``print`` (stdout: it would corrupt ``bench score``'s CSV) and torch.hub's "Downloading"
    lines (nothing is downloaded) to the debug log; anything else written to stderr becomes a warning."""
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield
    finally:
        for line in out.getvalue().splitlines():
            if line.strip():
                logger.debug("pyiqa: %s", line)
        for line in err.getvalue().splitlines():
            if line.strip():
                (logger.debug if line.startswith("Downloading") else logger.warning)("pyiqa: %s", line)


def pyiqa_names() -> list[str]:
    """Every per-image metric name of the installed pyiqa (raises the one-line error without pyiqa)."""
    configs = import_backend("pyiqa", "pyiqa.default_model_configs", "bench's pyiqa metrics").DEFAULT_CONFIGS
    return sorted(n for n in configs if n not in DISTRIBUTION_METRICS)


def _canonical(name: str) -> tuple[str, dict[str, Any]]:
    from bench.registry import UnknownNameError

    configs = import_backend("pyiqa", "pyiqa.default_model_configs", f"metric pyiqa:{name}").DEFAULT_CONFIGS
    by_lower = {k.lower(): k for k in configs}
    key = by_lower.get(name.lower())
    if key is None:
        import difflib

        close = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(f'pyiqa:{by_lower[c]}' for c in close)}?" if close else ""
        raise UnknownNameError(f"unknown pyiqa metric {name!r}.{hint} pyiqa has: {', '.join(pyiqa_names())}.")
    if key in DISTRIBUTION_METRICS:
        raise ValueError(f"pyiqa:{key} scores a distribution of images (folders), not one image: not a bench metric")
    config = configs[key]
    if config.get("metric_mode") not in ("FR", "NR"):
        raise ValueError(f"pyiqa:{key} has no per-image FR/NR mode in pyiqa's configuration")
    return key, config


def create_pyiqa_model(name: str, device: str | None = None) -> Any:
    """``pyiqa.create_metric(name)`` with weights from the weights folder or caches (never downloaded).

    Raises:
        MissingBackendError: pyiqa, or a package the metric needs, is not installed.
        MissingDataError: a weights file is nowhere local (the message names it and where it goes).

    Example:
        >>> model = create_pyiqa_model("psnr", device="cpu")  # doctest: +SKIP
    """
    import torch

    from bench.optional import MissingBackendError

    purpose = f"metric pyiqa:{name}"
    pyiqa = _pyiqa(purpose)
    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        with resolving_weights(purpose), _quiet_downloads():
            return pyiqa.create_metric(name, as_loss=False, device=torch.device(dev))
    except MissingDataError:
        raise
    except ModuleNotFoundError as err:  # a dependency of this metric (timm, transformers, clip ...)
        raise MissingBackendError(
            f"{missing_message('pyiqa', purpose, err.name)} (installs pyiqa with all its dependencies)", name=err.name
        ) from err
    except OSError as err:  # the HuggingFace hub or another download path, offline
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise MissingDataError(
            f"{purpose} could not load its weights ({type(err).__name__}: {first}) and bench never downloads: "
            f"put pyiqa's files in $BENCH_WEIGHTS/{WEIGHTS_SUBDIR}/ or its caches (docs/backends.md)"
        ) from err


def _to_tensor(images: Sequence[np.ndarray], device: Any) -> Any:
    import torch

    batch = np.stack([np.ascontiguousarray(im) for im in images])
    return torch.from_numpy(batch).to(device).permute(0, 3, 1, 2).float().div_(255.0)


class PyiqaScorer:
    """One pyiqa metric over bench's 8-bit RGB images, batched over same-shape images.

    Args:
        name: The pyiqa metric name (``"lpips"``), case-insensitive.
        device: Torch device (default CUDA when available).

    Example:
        >>> scorer = PyiqaScorer("psnr", device="cpu")  # doctest: +SKIP
        >>> scorer.score([np.zeros((8, 8, 3), np.uint8)], [np.full((8, 8, 3), 255, np.uint8)])  # doctest: +SKIP
        [-8.685...e-08]
    """

    def __init__(self, name: str, device: str | None = None) -> None:
        self.name, config = _canonical(name)
        self.mode: str = config["metric_mode"]
        self.lower_better = bool(config.get("lower_better", False))
        self.model = create_pyiqa_model(self.name, device)
        self.device = self.model.device

    def score(self, images: Sequence[np.ndarray], references: Sequence[np.ndarray | None] | None = None) -> list[float]:
        """One value per image (per pair for full-reference metrics), in the order given.

        Raises:
            ValueError: a full-reference metric without references, or images that are not 8-bit RGB.
        """
        import torch

        if self.mode == "FR":
            if references is None or any(r is None for r in references):
                raise ValueError(f"pyiqa:{self.name} is a full-reference metric: pass the clean references")
            refs = [r for r in references if r is not None]
            for img, ref in zip(images, refs, strict=True):
                check_pair(img, ref)
        else:
            for img in images:
                check_image(img)
        values: list[float] = [float("nan")] * len(images)
        for chunk in same_shape_chunks(list(images), _MAX_PIXELS):
            x = _to_tensor([images[i] for i in chunk], self.device)
            with torch.inference_mode():
                if self.mode == "FR":
                    out = self.model(x, _to_tensor([refs[i] for i in chunk], self.device))
                else:
                    out = self.model(x)
            flat = out.detach().double().flatten().cpu().tolist()
            if len(flat) != len(chunk):
                raise ValueError(f"pyiqa:{self.name} returned {len(flat)} values for {len(chunk)} images")
            for i, v in zip(chunk, flat, strict=True):
                values[i] = float(v)
        return values


def pyiqa_metric(name: str) -> MetricSpec:
    """The :class:`MetricSpec` ``pyiqa:<name>``: the factory of the METRICS family ``pyiqa``.

    Raises:
        MissingBackendError: pyiqa (or a dependency of this metric) is not installed.
        UnknownNameError: pyiqa has no metric of that name (close matches are suggested).
        MissingDataError: the metric's weights are not in the weights folder or caches.

    Example:
        >>> from bench.registries import METRICS
        >>> spec = METRICS.get("pyiqa:psnr")  # doctest: +SKIP
        >>> spec.mode, spec.higher_is_better  # doctest: +SKIP
        ('FR', True)
    """
    scorer = PyiqaScorer(name)
    version = getattr(_pyiqa(f"metric pyiqa:{name}"), "__version__", "?")

    def one(image: np.ndarray, reference: np.ndarray | None = None) -> float:
        return scorer.score([image], [reference] if scorer.mode == "FR" else None)[0]

    def batch(images: Sequence[np.ndarray], references: Sequence[np.ndarray | None] | None) -> list[float]:
        return scorer.score(images, references if scorer.mode == "FR" else None)

    direction = "lower" if scorer.lower_better else "higher"
    return MetricSpec(
        name=f"pyiqa:{scorer.name}",
        fn=one,
        mode="FR" if scorer.mode == "FR" else "NR",
        higher_is_better=not scorer.lower_better,
        summary=f"pyiqa {scorer.name} ({scorer.mode}, {direction} is better); licence {LICENCE}",
        reference_impl=f"pyiqa {version} create_metric({scorer.name!r}) on RGB float32 x/255; licence {LICENCE}",
        unit="dB" if scorer.name in ("psnr", "psnry") else "",
        batch_fn=batch,
    )
