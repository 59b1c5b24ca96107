"""Random training patches over a paired rainy/clean set, with dihedral augmentation.

The random stream is *counter based*: batch ``k`` of rank ``r`` is a pure function of
``(seed, r, k)``. Images are visited in a fresh seeded permutation every epoch (ranks share the
permutation and take interleaved slices, like ``DistributedSampler``); the crop position and the
dihedral transform of each sample come from ``numpy.random.default_rng([seed, r, k])``. So a run
resumed at step ``k`` sees exactly the batches an uninterrupted run sees, whatever prefetching the
data loader does, and each rank of a DDP run gets a distinct stream.

The validation split is the **last** ``n`` pairs in natural order (``--val-split n``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from bench.data.images import ImageReadError, read_image
from bench.data.paired import Pair

logger = logging.getLogger(__name__)

AugmentMode = Literal["sample", "batch", "none"]

#: Stream ids mixed into the seed so the permutation and the per-batch draws never share a stream.
_PERM_STREAM = 0
_BATCH_STREAM = 1


def split_pairs(pairs: Sequence[Pair], val_split: int) -> tuple[list[Pair], list[Pair]]:
    """Hold back the last ``val_split`` pairs (natural order) for validation.

    Example:
        >>> from pathlib import Path
        >>> pairs = [Pair(str(i), Path(f"r{i}"), Path(f"c{i}")) for i in range(1, 6)]
        >>> train, val = split_pairs(pairs, 2)
        >>> [p.id for p in train], [p.id for p in val]
        (['1', '2', '3'], ['4', '5'])

    Raises:
        ValueError: ``val_split`` is negative or leaves no training pair.
    """
    if val_split < 0:
        raise ValueError(f"--val-split must be >= 0, got {val_split}")
    if val_split >= len(pairs):
        raise ValueError(f"--val-split {val_split} leaves no training pairs (the set has {len(pairs)})")
    cut = len(pairs) - val_split
    return list(pairs[:cut]), list(pairs[cut:])


def pairs_digest(pairs: Sequence[Pair]) -> str:
    """SHA-256 over the pair list (id, file names and sizes): identifies the exact training data cheaply."""
    h = hashlib.sha256()
    for p in pairs:
        for path in (p.rainy, p.clean):
            size = path.stat().st_size if path.exists() else -1
            h.update(f"{p.id}\t{path.name}\t{size}\n".encode())
    return h.hexdigest()


def dihedral(image: np.ndarray, transform: int) -> np.ndarray:
    """Apply one of the 8 dihedral transforms to an ``(H, W, C)`` array.

    ``transform`` in 0..7: a horizontal flip when ``transform >= 4``, then ``rot90`` by ``transform % 4``
    quarter turns (counter-clockwise). 0 is the identity.

    Example:
        >>> a = np.arange(4).reshape(2, 2, 1)
        >>> dihedral(a, 1)[..., 0].tolist(), dihedral(a, 4)[..., 0].tolist()
        ([[1, 3], [0, 2]], [[1, 0], [3, 2]])
    """
    if not 0 <= transform < 8:
        raise ValueError(f"dihedral transform must be in 0..7, got {transform}")
    if transform >= 4:
        image = image[:, ::-1]
    return np.rot90(image, transform % 4, axes=(0, 1))


@dataclass(frozen=True)
class PatchSpec:
    """Where to cut one training sample: pair index, crop position as fractions in [0, 1), transform."""

    index: int
    fy: float
    fx: float
    transform: int


def _check_seed(seed: int) -> int:
    """``seed`` if the counter-based streams can use it: one 32-bit word.

    NumPy's ``SeedSequence`` splits a larger integer into several 32-bit words (and pads short entropy with
    zeros), so ``[seed, stream, ...]`` for a seed >= 2**32 can equal another seed's key: seed ``2**32 + s``
    would draw its epoch-``e`` permutation from seed ``s``'s batch-``e`` stream. Negative seeds are refused
    by NumPy only at the first batch.
    """
    if not 0 <= seed < 2**32:
        raise ValueError(f"the data-stream seed must be in [0, 2**32), got {seed}")
    return seed


class PatchSampler:
    """An endless stream of batches of :class:`PatchSpec`, deterministic given ``(seed, rank, batch)``.

    Use it as a DataLoader ``batch_sampler``; set :attr:`next_batch` to resume.

    Example:
        >>> s = PatchSampler(num_images=10, batch_size=4, seed=0)
        >>> first = next(iter(s))
        >>> len(first), first == PatchSampler(10, 4, seed=0).batch(0)
        (4, True)
    """

    def __init__(
        self,
        num_images: int,
        batch_size: int,
        *,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        augment: AugmentMode = "sample",
        next_batch: int = 0,
    ) -> None:
        if num_images < 1:
            raise ValueError("the training set holds no pairs")
        if batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {batch_size}")
        if augment not in ("sample", "batch", "none"):
            raise ValueError(f"augment must be 'sample', 'batch' or 'none', not {augment!r}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size), got rank {rank} of world size {world_size}")
        _check_seed(seed)
        self.num_images = num_images
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.augment: AugmentMode = augment
        self.next_batch = next_batch
        self._perm_cache: tuple[int, np.ndarray] | None = None

    def _permutation(self, epoch: int) -> np.ndarray:
        if self._perm_cache is None or self._perm_cache[0] != epoch:
            rng = np.random.default_rng([self.seed, _PERM_STREAM, epoch])
            self._perm_cache = (epoch, rng.permutation(self.num_images))
        return self._perm_cache[1]

    def batch(self, k: int) -> list[PatchSpec]:
        """The ``k``-th batch (0-based) of this rank."""
        b, w = self.batch_size, self.world_size
        indices: list[int] = []
        for i in range(b):
            position = (k * w + self.rank) * b + i  # global sample position, ranks interleaved per step
            epoch, offset = divmod(position, self.num_images)
            indices.append(int(self._permutation(epoch)[offset]))
        rng = np.random.default_rng([self.seed, _BATCH_STREAM, self.rank, k])
        fracs = rng.random((b, 2))
        if self.augment == "sample":
            transforms = rng.integers(0, 8, size=b)
        elif self.augment == "batch":
            transforms = np.full(b, rng.integers(0, 8))
        else:
            transforms = np.zeros(b, dtype=np.int64)
        return [
            PatchSpec(idx, float(fy), float(fx), int(t))
            for idx, (fy, fx), t in zip(indices, fracs, transforms, strict=True)
        ]

    def __iter__(self) -> Iterator[list[PatchSpec]]:
        k = self.next_batch
        while True:
            yield self.batch(k)
            k += 1

    def state_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "rank": self.rank,
            "world_size": self.world_size,
            "augment": self.augment,
            "next_batch": self.next_batch,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.seed = _check_seed(int(state["seed"]))
        self.next_batch = int(state["next_batch"])
        self.augment = state.get("augment", self.augment)
        self._perm_cache = None


class PatchDataset:
    """Cut ``patch_size`` × ``patch_size`` rainy/clean patches from a list of pairs.

    Indexed by :class:`PatchSpec` (from :class:`PatchSampler`), returns two ``(3, P, P)`` uint8 tensors
    (the trainer moves them to the device and scales them to [0, 1]). Decoded images are cached in
    memory up to ``cache_bytes``. Images smaller than the patch are reflect-padded (edge-padded if too small).

    Example:
        >>> ds = PatchDataset(pairs, patch_size=96)  # doctest: +SKIP
        >>> rainy, clean = ds[PatchSpec(0, 0.5, 0.5, 3)]  # doctest: +SKIP
    """

    def __init__(self, pairs: Sequence[Pair], patch_size: int, *, cache_bytes: int = 4 << 30) -> None:
        if patch_size < 1:
            raise ValueError(f"patch size must be >= 1, got {patch_size}")
        self.pairs = list(pairs)
        self.patch_size = patch_size
        self.cache_bytes = cache_bytes
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._cached = 0
        self._warned_small = False

    def __len__(self) -> int:
        return len(self.pairs)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The decoded ``(rainy, clean)`` uint8 images of pair ``index``.

        Raises:
            ImageReadError: a file cannot be decoded or the two sizes differ.
        """
        hit = self._cache.get(index)
        if hit is not None:
            return hit
        pair = self.pairs[index]
        rainy, clean = read_image(pair.rainy), read_image(pair.clean)
        if rainy.shape != clean.shape:
            raise ImageReadError(f"{pair.rainy}: size {rainy.shape[:2]} differs from {pair.clean} {clean.shape[:2]}")
        if self._cached + rainy.nbytes + clean.nbytes <= self.cache_bytes:
            self._cache[index] = (rainy, clean)
            self._cached += rainy.nbytes + clean.nbytes
        return rainy, clean

    def _fit(self, image: np.ndarray) -> np.ndarray:
        p = self.patch_size
        h, w = image.shape[:2]
        ph, pw = max(p - h, 0), max(p - w, 0)
        if ph == 0 and pw == 0:
            return image
        if not self._warned_small:
            logger.warning("training image %dx%d is smaller than the %d-pixel patch: padding it", w, h, p)
            self._warned_small = True
        mode: Literal["reflect", "edge"] = "reflect" if ph < h and pw < w else "edge"
        return np.pad(image, ((0, ph), (0, pw), (0, 0)), mode=mode)

    def __getitem__(self, spec: PatchSpec) -> tuple[torch.Tensor, torch.Tensor]:
        if not (0.0 <= spec.fy <= 1.0 and 0.0 <= spec.fx <= 1.0):
            # a negative fraction would slice from the end: a short or empty patch instead of an error
            raise ValueError(f"crop fractions must be in [0, 1], got fy={spec.fy}, fx={spec.fx}")
        rainy, clean = (self._fit(a) for a in self.load(spec.index))
        p = self.patch_size
        h, w = rainy.shape[:2]
        y = min(int(spec.fy * (h - p + 1)), h - p)
        x = min(int(spec.fx * (w - p + 1)), w - p)
        out = []
        for image in (rainy, clean):
            patch = dihedral(image[y : y + p, x : x + p], spec.transform)
            out.append(torch.from_numpy(np.ascontiguousarray(patch)).permute(2, 0, 1).contiguous())
        return out[0], out[1]

    def collate(self, specs: Sequence[PatchSpec]) -> tuple[torch.Tensor, torch.Tensor]:
        """Load a whole batch in this process: two ``(B, 3, P, P)`` uint8 tensors."""
        items = [self[s] for s in specs]
        return torch.stack([r for r, _ in items]), torch.stack([c for _, c in items])
