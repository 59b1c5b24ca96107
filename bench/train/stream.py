"""The trainer's data stream (patch batches, inline or from loader workers), its time limit, rank-0 decisions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import cast

import torch

from bench.engine.distributed import DistContext
from bench.engine.patches import PatchDataset, PatchSampler


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
