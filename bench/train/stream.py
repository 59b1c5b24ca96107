"""The trainer's data (the pairs and their split), its stream (patch batches, inline or from loader workers),
its time limit, rank-0 decisions."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import torch

from bench.engine.distributed import DistContext
from bench.engine.patches import PatchDataset, PatchSampler, pairs_digest, split_pairs

if TYPE_CHECKING:
    from bench.data.paired import Pair
    from bench.train.config import TrainConfig

logger = logging.getLogger(__name__)


def training_data(cfg: TrainConfig, patch_size: int) -> tuple[list[Pair], list[Pair], dict[str, Any]]:
    """The training and held-back pairs of ``cfg.train`` and the run's record of them (``training.dataset``:
    name, folder, layout, counts, ``val_ids`` and ``sha256``, the digest of the pair list).

    Raises:
        ValueError: the set is not a paired one, or the split leaves no training pairs.
    """
    from bench.data.catalog import resolve_dataset
    from bench.data.paired import detect_pairs
    from bench.registries import DATASETS

    name, folder, kind = resolve_dataset(cfg.train, cfg.data_root, registry=DATASETS)
    if kind not in (None, "paired"):
        raise ValueError(f"{name} is a {kind} dataset; training needs rainy/clean pairs")
    layout = detect_pairs(folder)
    for issue in layout.issues:
        logger.warning("skipping %s: %s", issue.path, issue.reason)
    train_pairs, val_pairs = split_pairs(layout.pairs, cfg.val_split)
    info = {
        "name": name,
        "folder": str(folder),
        "layout": layout.layout,
        "train_pairs": len(train_pairs),
        "val_pairs": len(val_pairs),
        "val_ids": [p.id for p in val_pairs],
        "sha256": pairs_digest(layout.pairs),
        "patch_size": patch_size,
    }
    return train_pairs, val_pairs, info


def patch_batches(
    dataset: PatchDataset, sampler: PatchSampler, device: torch.device, workers: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless ``(rainy, clean)`` uint8 batches starting at ``sampler.next_batch``.

    ``workers`` > 0 loads them in that many worker processes; the stream is the same either way.
    """
    if workers <= 0:
        k = sampler.next_batch
        while True:
            yield dataset.collate(sampler.batch(k))
            k += 1
    from torch.utils.data import DataLoader, Dataset

    start = PatchSampler(
        sampler.num_images,
        sampler.batch_size,
        seed=sampler.seed,
        rank=sampler.rank,
        world_size=sampler.world_size,
        augment=sampler.augment,
        next_batch=sampler.next_batch,
    )
    dataset.cache_bytes //= workers
    # PatchDataset is a map-style dataset (__getitem__ by PatchSpec, __len__) without subclassing Dataset
    loader: DataLoader[tuple[torch.Tensor, torch.Tensor]] = DataLoader(
        cast(Dataset[tuple[torch.Tensor, torch.Tensor]], dataset),
        batch_sampler=start,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=True,
        prefetch_factor=4,
    )
    yield from loader


def time_is_up(ctx: DistContext, started: float, limit: float) -> bool:
    """Whether this call has run ``limit`` seconds since ``started``; under DDP every rank takes rank 0's answer."""
    return rank0_decides(ctx, time.perf_counter() - started >= limit)


def rank0_decides(ctx: DistContext, flag: bool) -> bool:
    """``flag`` as rank 0 has it, on every rank (a collective call under DDP; ``flag`` itself otherwise)."""
    if not ctx.enabled:
        return flag
    import torch.distributed as dist

    value = torch.tensor([float(flag)], device="cuda" if dist.get_backend() == "nccl" else "cpu")
    dist.broadcast(value, src=0)
    return bool(value.item())
