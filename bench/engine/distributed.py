"""The process's place in a ``torchrun`` (DDP) launch, and its training device."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DistContext:
    """This process's place in a (possibly single-process) distributed run."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    initialized_here: bool = False

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup_distributed(device_type: str) -> DistContext:
    """Read ``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` (set by ``torchrun``) and join the process group.

    Uses NCCL on CUDA and Gloo on CPU. A single process (no ``WORLD_SIZE`` or ``WORLD_SIZE=1``) needs
    no process group.

    Example:
        >>> setup_distributed("cpu").world_size  # without torchrun
        1
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if world <= 1:
        return DistContext()
    import torch.distributed as dist

    created = False
    if not dist.is_initialized():
        if device_type == "cuda":
            torch.cuda.set_device(local)
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
        created = True
    return DistContext(
        rank=dist.get_rank(), local_rank=local, world_size=dist.get_world_size(), initialized_here=created
    )


def resolve_device(requested: str | None, ctx: DistContext) -> torch.device:
    """The training device: ``requested`` or CUDA when available; one GPU per local rank under DDP.

    Raises:
        ValueError: CUDA was requested but is not available.
    """
    name = requested or ("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("--device cuda was requested but no CUDA device is available")
        if device.index is None:
            device = torch.device("cuda", ctx.local_rank if ctx.enabled else torch.cuda.current_device())
    return device
