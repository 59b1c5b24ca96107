"""Run a derainer on images of any size: pad, tile, batch, precision (design.md principle 8).

* Padding: reflect-pad to the derainer's size multiple, crop back afterwards.
* Tiling: frames larger than ``tile`` are split **on the CPU** into overlapping tiles; each tile is
  derained on the device and blended back with feathered weights, so a 4K frame never needs to fit
  on the device. Of the pixels two neighbours share, each tile's outer quarter (``overlap // 4``, where
  its context is missing) is discarded and the middle half is cross-faded linearly.
* Batching: images of equal size are stacked (size bucketing); everything runs under
  ``torch.inference_mode()``, optionally channels-last and with bf16/fp16 autocast on GPU.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.engine.precision import AUTOCAST_DTYPES, Precision, autocast, autocast_dtype

__all__ = ["AUTOCAST_DTYPES", "InferenceConfig", "InferenceEngine", "Precision", "pad_to_multiple"]


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad ``(N, C, H, W)`` on the bottom/right to multiples of ``multiple``.

    Falls back to replicate padding where the image is too small to reflect.

    Returns:
        The padded tensor and the original ``(H, W)``.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x, (h, w)
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode), (h, w)


def _tile_starts(size: int, tile: int, stride: int) -> list[int]:
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, stride))
    starts.append(size - tile)
    return starts


def _fade_in(length: int, overlap: int, margin: int) -> np.ndarray:
    """Weights of a tile over its leading ``overlap`` pixels shared with the previous tile.

    0 over the first ``margin`` pixels (context missing), then a linear ramp up to 1 over the rest of the
    overlap but its last ``margin`` pixels; reversed, it is the previous tile's fade-out over the same
    pixels, and the two sum to 1 at every pixel they share.
    """
    w = np.ones(length, dtype=np.float32)
    if overlap <= 0:
        return w
    margin = min(margin, (overlap - 1) // 2)
    ramp = overlap - 2 * margin
    w[:margin] = 0.0
    w[margin : margin + ramp] = (np.arange(ramp, dtype=np.float32) + 1) / (ramp + 1)
    return w


def _axis_weights(starts: list[int], tile: int, margin: int) -> list[np.ndarray]:
    """1-D blending weights of each tile along one axis, from its real overlaps with its neighbours.

    The last tile is flush with the image edge, so its overlap with the one before may be wider than the
    others: each pair of neighbours fades over the pixels they actually share.
    """
    weights = []
    for i, start in enumerate(starts):
        w = np.ones(tile, dtype=np.float32)
        if i > 0:
            w *= _fade_in(tile, starts[i - 1] + tile - start, margin)
        if i + 1 < len(starts):
            w *= _fade_in(tile, start + tile - starts[i + 1], margin)[::-1]
        weights.append(w)
    return weights


@dataclass
class InferenceConfig:
    """How to run a derainer.

    Attributes:
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``…
        precision: ``fp32``; ``bf16``/``fp16`` autocast on GPU; ``bf16`` on a CPU with native bf16
            (:func:`bench.engine.precision.autocast_dtype`; fp32 with a note elsewhere).
        tile: Tile side in pixels; frames with a side larger than this are tiled. ``None``: never.
        overlap: Overlap between neighbouring tiles in pixels.
        batch_size: Images (or tiles) per forward pass.
        channels_last: Use the channels-last memory format.
        optimize: ``"none"`` (eager), ``"jit"`` (trace + freeze per bucket size), ``"jit_onednn"`` or
            ``"compile"`` (``torch.compile``); see :mod:`bench.engine.fast`.
    """

    device: str = "cpu"
    precision: Precision = "fp32"
    tile: int | None = None
    overlap: int = 32
    batch_size: int = 1
    channels_last: bool = False
    optimize: str = "none"


class InferenceEngine:
    """Derain images with a model, handling size multiples, tiling, batching and precision.

    Example:
        >>> from bench.factory import create_derainer
        >>> engine = InferenceEngine(create_derainer("identity"))
        >>> img = np.zeros((30, 41, 3), dtype=np.uint8)
        >>> engine.derain([img])[0].shape
        torch.Size([3, 30, 41])
    """

    def __init__(self, model: nn.Module, config: InferenceConfig | None = None) -> None:
        self.config = config or InferenceConfig()
        _check_config(self.config)
        self.model = model.eval().to(self.config.device)
        if self.config.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self._runner: nn.Module = self.model
        if self.config.optimize != "none":
            from bench.engine.fast import optimize_model

            self._runner = optimize_model(self.model, self.config.optimize)
        card = getattr(model, "card", None)
        self.multiple = max(1, int(getattr(card, "size_multiple", 1)))

    # ------------------------------------------------------------------ core
    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """Forward an ``(N, 3, H, W)`` CPU batch whose sides are multiples; returns CPU float32."""
        cfg = self.config
        if torch.device(cfg.device).type == "cuda":
            x = x.pin_memory()  # page-locked, so the copy below is asynchronous
        x = x.to(cfg.device, non_blocking=True)
        if cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        dtype = autocast_dtype(cfg.precision, x.device.type)
        with torch.inference_mode(), autocast(x.device.type, dtype):
            y = self._runner(x)
        return y.float().cpu().contiguous()

    def _derain_padded(self, x: torch.Tensor) -> torch.Tensor:
        padded, (h, w) = pad_to_multiple(x, self.multiple)
        out = self._forward(padded)
        if out.shape != padded.shape:
            raise ValueError(
                f"derainer {type(self.model).__name__} returned a batch of shape {tuple(out.shape)} for an input of "
                f"shape {tuple(padded.shape)}: a derainer must return images of its input's size and channels"
            )
        return out[..., :h, :w]

    def _tile_side(self, tile: int, size: int) -> int:
        """The tile side along an axis of ``size`` pixels: the whole axis when it fits, else ``tile`` rounded
        down to the size multiple, so that interior tiles see their real neighbours instead of reflect padding."""
        if size <= tile:
            return size
        return max(self.multiple, tile // self.multiple * self.multiple)

    def _derain_tiled(self, x: torch.Tensor) -> torch.Tensor:
        """Tile one ``(1, 3, H, W)`` image; tiles are batched ``batch_size`` at a time."""
        cfg = self.config
        assert cfg.tile is not None
        _, c, h, w = x.shape
        tile_h, tile_w = self._tile_side(cfg.tile, h), self._tile_side(cfg.tile, w)
        overlap = min(cfg.overlap, tile_h // 2, tile_w // 2)
        stride_h, stride_w = max(tile_h - overlap, 1), max(tile_w - overlap, 1)
        out = torch.zeros((c, h, w), dtype=torch.float32)
        weight = torch.zeros((1, h, w), dtype=torch.float32)
        starts_y, starts_x = _tile_starts(h, tile_h, stride_h), _tile_starts(w, tile_w, stride_w)
        margin = overlap // 4
        ramps_y = dict(zip(starts_y, _axis_weights(starts_y, tile_h, margin), strict=True))
        ramps_x = dict(zip(starts_x, _axis_weights(starts_x, tile_w, margin), strict=True))
        boxes = [(y0, x0) for y0 in starts_y for x0 in starts_x]
        for i in range(0, len(boxes), cfg.batch_size):
            chunk = boxes[i : i + cfg.batch_size]
            batch = torch.cat([x[:, :, y0 : y0 + tile_h, x0 : x0 + tile_w] for y0, x0 in chunk])
            result = self._derain_padded(batch)
            for (y0, x0), tile_out in zip(chunk, result, strict=True):
                wmap = torch.from_numpy(np.outer(ramps_y[y0], ramps_x[x0]))[None]
                out[:, y0 : y0 + tile_h, x0 : x0 + tile_w] += tile_out * wmap
                weight[:, y0 : y0 + tile_h, x0 : x0 + tile_w] += wmap
        return (out / weight.clamp_min(1e-8))[None]

    # ------------------------------------------------------------------ public
    def needs_tiling(self, height: int, width: int) -> bool:
        tile = self.config.tile
        return tile is not None and (height > tile or width > tile)

    def derain_tensor(self, x: torch.Tensor) -> torch.Tensor:
        """Derain an ``(N, 3, H, W)`` float batch in [0, 1] (CPU); returns a CPU float32 batch."""
        if self.needs_tiling(*x.shape[-2:]):
            return torch.cat([self._derain_tiled(x[i : i + 1]) for i in range(x.shape[0])])
        outs = [
            self._derain_padded(x[i : i + self.config.batch_size]) for i in range(0, x.shape[0], self.config.batch_size)
        ]
        return torch.cat(outs)

    def derain(self, images: Sequence[np.ndarray]) -> list[torch.Tensor]:
        """Derain uint8 ``(H, W, 3)`` images (any sizes); returns ``(3, H, W)`` float tensors.

        Images of equal size are batched together (size bucketing); order is preserved.
        """
        for k, img in enumerate(images):
            if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
                raise ValueError(
                    f"image {k}: derain takes uint8 (H, W, 3) RGB arrays, not {img.dtype} {img.shape} "
                    "(bench.data.images.read_image converts greyscale, RGBA, 16-bit and float images)"
                )
        results: list[torch.Tensor | None] = [None] * len(images)
        for indices in bucket_by_size(images):
            batch = torch.from_numpy(np.stack([images[i] for i in indices])).permute(0, 3, 1, 2).float().div_(255.0)
            out = self.derain_tensor(batch)
            for j, i in enumerate(indices):
                results[i] = out[j]
        return [r for r in results if r is not None]


def _check_config(cfg: InferenceConfig) -> None:
    """Refuse settings that would leave pixels uncovered by any tile or batch nothing."""
    if cfg.batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, not {cfg.batch_size}")
    if cfg.overlap < 0:
        raise ValueError(f"overlap must be >= 0, not {cfg.overlap} (a negative overlap leaves gaps between tiles)")
    if cfg.tile is not None and cfg.tile < 1:
        raise ValueError(f"tile must be >= 1 or None, not {cfg.tile}")


def bucket_by_size(images: Sequence[np.ndarray]) -> Iterator[list[int]]:
    """Group indices of images by ``(H, W)``, preserving first-appearance order."""
    buckets: dict[tuple[int, int], list[int]] = {}
    for i, img in enumerate(images):
        buckets.setdefault(img.shape[:2], []).append(i)
    yield from buckets.values()


def estimate_tile(height: int, width: int, budget_pixels: int | None) -> int | None:
    """A tile side that keeps a frame under ``budget_pixels`` per forward pass (``None`` if it fits)."""
    if budget_pixels is None or height * width <= budget_pixels:
        return None
    return max(64, int(math.sqrt(budget_pixels)))
