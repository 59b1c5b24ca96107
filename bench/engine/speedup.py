"""Optimised path vs plain eager loop on the same images (``bench perf --compare``), with the accuracy check.

The issue-10 protocol: a plain eager fp32 loop (``model(x)`` per image, ``torch.no_grad``, NCHW) against
an optimised path (:mod:`bench.engine.fast`) over the same images, alternated best-of-N; when clean
references are given, the mean ``psnr_y`` of both outputs must agree within 0.05 dB.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

Baseline = Literal["plain", "default"]
PSNR_Y_TOLERANCE_DB = 0.05


@dataclass
class SpeedupResult:
    derainer: str
    size: str  # "640x480" or "native" (real pairs at their own sizes)
    images: int
    method: str
    baseline: Baseline
    batch: int
    channels_last: bool
    device: str
    precision: str  # asked for
    eager_img_s: float
    optimized_img_s: float
    speedup: float  # best-of-N
    median_speedup: float
    setup_s: float
    max_abs_diff: float
    psnr_y_eager: float | None = None
    psnr_y_optimized: float | None = None
    precision_used: str = "fp32"  # what ran: bf16 falls back to fp32 on a CPU without native bf16

    @property
    def psnr_y_delta(self) -> float | None:
        if self.psnr_y_eager is None or self.psnr_y_optimized is None:
            return None
        return self.psnr_y_optimized - self.psnr_y_eager

    @property
    def accuracy_ok(self) -> bool | None:
        """``|Δ psnr_y| ≤ 0.05 dB`` (``None`` without clean references)."""
        delta = self.psnr_y_delta
        return None if delta is None else abs(delta) <= PSNR_Y_TOLERANCE_DB

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"psnr_y_delta": self.psnr_y_delta, "accuracy_ok": self.accuracy_ok}


def random_inputs(count: int, width: int, height: int, multiple: int = 1, seed: int = 0) -> list[torch.Tensor]:
    """``count`` seeded ``(1, 3, H, W)`` images in [0, 1], sizes rounded up to ``multiple``."""
    gen = torch.Generator().manual_seed(seed)
    h = -(-height // multiple) * multiple
    w = -(-width // multiple) * multiple
    return [torch.rand((1, 3, h, w), generator=gen) for _ in range(count)]


def load_pairs(folder: str | Path, count: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The first ``count`` rainy/clean pairs (natural order) of a ``rain/`` + ``norain/`` folder.

    Raises:
        FileNotFoundError: the folder does not have that layout, or names do not pair up.
    """
    from bench.data.images import is_image_file, read_image
    from bench.data.paired import natural_key

    root = Path(folder)
    rain_dir, clean_dir = root / "rain", root / "norain"
    if not rain_dir.is_dir() or not clean_dir.is_dir():
        raise FileNotFoundError(f"{root}: expected rain/ and norain/ sub-folders (RainTrainL layout)")
    names = sorted((p.name for p in rain_dir.iterdir() if is_image_file(p)), key=natural_key)[:count]
    missing = [n for n in names if not (clean_dir / n).is_file()]
    if not names or missing:
        raise FileNotFoundError(f"{root}: no rainy images, or no clean match for {missing[:3]}")
    return [read_image(rain_dir / n) for n in names], [read_image(clean_dir / n) for n in names]


def measure_speedup(
    model: nn.Module,
    name: str,
    inputs: Sequence[torch.Tensor],
    *,
    method: str,
    size: str,
    clean: Sequence[np.ndarray] | None = None,
    baseline: Baseline = "plain",
    repeats: int = 3,
    batch_size: int = 1,
    channels_last: bool = False,
    device: str = "cpu",
    precision: str = "fp32",
) -> SpeedupResult:
    """A/B ``model`` eager (``baseline``) vs ``method`` over ``inputs``; ``psnr_y`` check if ``clean`` is given.

    ``inputs`` are ``(1, 3, H, W)`` tensors already padded to the model's size multiple; ``clean`` holds
    the matching unpadded references (outputs are cropped to them). ``precision`` (``bf16``/``fp16`` on
    CUDA, ``bf16`` on a CPU with native bf16) applies to the optimised path; the eager loop stays fp32,
    so the psnr_y check then measures what reduced precision costs.
    """
    from bench.engine.fast import compare, plain_eager, psnr_y_check

    reference = plain_eager(model) if baseline == "plain" else model
    result, eager, fast = compare(
        model,
        inputs,
        method,
        repeats=repeats,
        batch_size=batch_size,
        channels_last=channels_last,
        baseline=reference,
        device=device,
        precision=precision,
    )
    psnr_eager = psnr_fast = None
    if clean is not None:
        psnr_eager, psnr_fast = psnr_y_check(eager, fast, clean)
    return SpeedupResult(
        derainer=name,
        size=size,
        images=len(inputs),
        method=method,
        baseline=baseline,
        batch=batch_size,
        channels_last=channels_last,
        device=device,
        precision=precision,
        eager_img_s=result.eager_img_s,
        optimized_img_s=result.optimized_img_s,
        speedup=result.speedup,
        median_speedup=result.median_speedup,
        setup_s=result.setup_s,
        precision_used=result.precision_used,
        max_abs_diff=result.max_abs_diff,
        psnr_y_eager=psnr_eager,
        psnr_y_optimized=psnr_fast,
    )


def padded_tensors(images: Sequence[np.ndarray], multiple: int) -> list[torch.Tensor]:
    """``(H, W, 3)`` uint8 images → reflect-padded ``(1, 3, H', W')`` tensors (as the engine pads)."""
    from bench.data.images import to_tensor
    from bench.engine.inference import pad_to_multiple

    return [pad_to_multiple(to_tensor(img), multiple)[0] for img in images]
