"""Metric catalogue entries and the streaming ``update()``/``compute()`` protocol.

Every metric works on 8-bit RGB images (``(H, W, 3)`` uint8 numpy arrays), the form in which the
deraining literature scores results. A :class:`MetricSpec` is a catalogue entry: a public name, the
per-image function, whether it needs a reference, and which direction is better.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Mode = Literal["FR", "NR"]


@dataclass(frozen=True)
class MetricSpec:
    """A named metric variant.

    Attributes:
        name: Public name, e.g. ``"psnr_y"``.
        fn: ``fn(image, reference)`` for full-reference metrics, ``fn(image)`` for no-reference ones;
            returns one float per image.
        mode: ``"FR"`` (needs the clean reference) or ``"NR"``.
        higher_is_better: Direction of improvement, shown as ↑/↓ in tables.
        summary: One line for ``bench ls metrics``.
        reference_impl: The reference implementation it reproduces (and how closely).
        batch_fn: Optional batched form ``batch_fn(images, references)`` → list of floats.
    """

    name: str
    fn: Callable[..., float]
    mode: Mode
    higher_is_better: bool
    summary: str
    reference_impl: str = ""
    unit: str = ""
    batch_fn: Callable[..., list[float]] | None = field(default=None, compare=False)

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"

    def __call__(self, image: np.ndarray, reference: np.ndarray | None = None) -> float:
        if self.mode == "FR":
            if reference is None:
                raise ValueError(f"{self.name} is a full-reference metric: pass the clean reference")
            return float(self.fn(image, reference))
        return float(self.fn(image))


class StreamingMetric:
    """Accumulates per-image values of a :class:`MetricSpec`; ``compute()`` is their mean.

    Example:
        >>> from bench.registries import METRICS
        >>> m = StreamingMetric(METRICS.get("psnr_y"))
        >>> # m.update(derained_uint8, clean_uint8); m.compute()
    """

    def __init__(self, spec: MetricSpec) -> None:
        self.spec = spec
        self.values: list[float] = []

    def update(
        self, images: np.ndarray | Sequence[np.ndarray], references: np.ndarray | Sequence[np.ndarray] | None = None
    ) -> list[float]:
        """Score one image (``(H, W, 3)``) or a sequence of images; returns the new values."""
        batch = [images] if isinstance(images, np.ndarray) and images.ndim == 3 else list(images)
        refs: list[np.ndarray | None]
        if references is None:
            refs = [None] * len(batch)
        else:
            refs = [references] if isinstance(references, np.ndarray) and references.ndim == 3 else list(references)
        if self.spec.batch_fn is not None:
            new = [float(v) for v in self.spec.batch_fn(batch, refs if self.spec.mode == "FR" else None)]
        else:
            new = [self.spec(img, ref) for img, ref in zip(batch, refs, strict=True)]
        self.values.extend(new)
        return new

    def compute(self) -> float:
        """Mean over all images seen (NaN if none); infinite PSNRs are kept (identical pairs)."""
        if not self.values:
            return math.nan
        return float(np.mean(self.values))

    def reset(self) -> None:
        self.values.clear()


def check_pair(image: np.ndarray, reference: np.ndarray) -> None:
    """Validate the metric boundary: same shape, ``(H, W, 3)``, uint8."""
    if image.shape != reference.shape:
        raise ValueError(f"image and reference differ in shape: {image.shape} vs {reference.shape}")
    check_image(image)


def check_image(image: np.ndarray) -> None:
    """Validate one metric input: ``(H, W, 3)``, uint8, not empty (e.g. ``--crop-multiple 8`` of a 5×5 image)."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels (quantise first), got {image.dtype}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"empty image (shape {image.shape}): nothing to score")


def same_shape_chunks(arrays: Sequence[np.ndarray], max_pixels: int) -> Iterator[list[int]]:
    """Indices of ``arrays`` grouped by shape (in first-seen order), chunked to about ``max_pixels`` each.

    Batched feature extractors stack one chunk at a time, which bounds their memory. A chunk always holds
    at least one array.

    Example:
        >>> a, b = np.zeros((4, 4)), np.zeros((2, 8))
        >>> list(same_shape_chunks([a, b, a, a], max_pixels=32))
        [[0, 2], [3], [1]]
    """
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, arr in enumerate(arrays):
        groups.setdefault(arr.shape, []).append(i)
    for shape, members in groups.items():
        step = max(1, max_pixels // (shape[0] * shape[1]))
        for start in range(0, len(members), step):
            yield members[start : start + step]
