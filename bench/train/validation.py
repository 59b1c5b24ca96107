"""Validation during training: ``psnr_y``/``ssim_y`` of the model on whole held-back image pairs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from bench.data.paired import Pair
    from derainers.base import Derainer

__all__ = ["load_val_images", "validate"]

SSIM_WINDOW = 11  # bench.metrics.fidelity.ssim_index's window: smaller images have no ssim_y


def validate(
    model: Derainer,
    pairs: Sequence[tuple[np.ndarray, np.ndarray]],
    device: torch.device,
    *,
    channels_last: bool = False,
) -> dict[str, float]:
    """Mean ``psnr_y``/``ssim_y`` of ``model`` on whole uint8 image pairs (reflect-padded, rounded to uint8).

    The model is left in eval mode; the caller switches it back to training.

    Example:
        >>> validate(model, [(rainy, clean)], torch.device("cpu"))  # doctest: +SKIP
        {'psnr_y': 31.2, 'ssim_y': 0.93, 'pairs': 1}
    """
    from bench.data.images import quantize
    from bench.engine.inference import InferenceConfig, InferenceEngine
    from bench.metrics.fidelity import psnr_y, ssim_y

    engine = InferenceEngine(model, InferenceConfig(device=str(device), precision="fp32", channels_last=channels_last))
    psnrs: list[float] = []
    ssims: list[float] = []
    for rainy, clean in pairs:
        derained = quantize(engine.derain([rainy])[0], "round")
        psnrs.append(psnr_y(derained, clean))
        ssims.append(ssim_y(derained, clean))
    return {"psnr_y": float(np.mean(psnrs)), "ssim_y": float(np.mean(ssims)), "pairs": len(pairs)}


def load_val_images(pairs: Sequence[Pair]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Read the validation pairs once (uint8 rainy, clean).

    Raises:
        ImageReadError: a file cannot be read, a pair's sizes differ, or an image is smaller than the
            ``ssim_y`` window (11 pixels a side).
    """
    from bench.data.images import ImageReadError, read_image

    images = []
    for pair in pairs:
        rainy, clean = read_image(pair.rainy), read_image(pair.clean)
        if rainy.shape != clean.shape:
            raise ImageReadError(f"{pair.rainy}: size differs from its clean image {pair.clean}")
        if min(rainy.shape[:2]) < SSIM_WINDOW:
            raise ImageReadError(
                f"{pair.rainy}: a validation image of {rainy.shape[0]}x{rainy.shape[1]} is smaller than the "
                f"{SSIM_WINDOW}x{SSIM_WINDOW} ssim_y window"
            )
        images.append((rainy, clean))
    return images
