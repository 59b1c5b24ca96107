"""Training checkpoints: what ``last.pt``/``best.pt`` hold and how a run resumes from them.

The format is a contract with older and newer commits (a running job resumes across upgrades): plain
containers loadable with ``weights_only=True``, ``training.format`` = :data:`CHECKPOINT_FORMAT`::

    {"state_dict", "model_kwargs", "architecture", "card", "training", "optimizer", "scheduler", "scaler",
     "rng", "step"}

Change a key only with a new format number and a reader for the old one (keys added later, readers
tolerate their absence: ``architecture``, ``training.init_weights``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from bench.engine.distributed import DistContext
from bench.engine.patches import PatchSampler
from bench.engine.plain import plain
from bench.engine.rng import capture_rng, restore_rng
from bench.engine.schedule import ScheduledLR
from bench.train.config import TrainConfig, TrainResult

if TYPE_CHECKING:
    from derainers.base import Derainer

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1


@dataclass
class Resumed:
    """Where a resumed run stands."""

    step: int
    best_psnr_y: float | None
    best_step: int | None
    elapsed_seconds: float
    val_history: list[dict[str, float]]
    converged_at: int | None = None
    init_weights: dict[str, Any] | None = None


@dataclass
class TrainParts:
    """The live objects of a run that a checkpoint is written from and restored into."""

    ctx: DistContext
    device: torch.device
    model: Derainer
    optimizer: torch.optim.Optimizer
    scheduler: ScheduledLR
    scaler: Any  # torch.amp.GradScaler, or None without fp16


def restore_training(
    payload: Mapping[str, Any], cfg: TrainConfig, parts: TrainParts, data_info: Mapping[str, Any]
) -> Resumed:
    """Load a checkpoint's model, optimiser, schedule, scaler and RNG states; return where the run was.

    ``data_info`` is the run's record of the data it resumes on (``training.dataset`` of a checkpoint).

    Raises:
        ValueError: the checkpoint's format is newer than :data:`CHECKPOINT_FORMAT`, or its run fixed another
            schedule, optimiser or architecture, or trained on other data (:mod:`bench.train.resume`).
    """
    from bench.train.resume import check_resume_data, check_resume_options
    from derainers.base import architecture_mismatch

    version = (payload.get("training") or {}).get("format", CHECKPOINT_FORMAT)  # older code wrote 1 or nothing
    if not isinstance(version, int) or version > CHECKPOINT_FORMAT:
        raise ValueError(
            f"{cfg.resume}: training checkpoint format {version!r} is newer than this code reads "
            f"(format {CHECKPOINT_FORMAT}): resume it with the bench version that wrote it"
        )
    check_resume_options(payload, cfg)
    check_resume_data(payload, data_info, cfg.resume)
    differ = architecture_mismatch(parts.model, payload)
    if differ:
        raise ValueError(f"{cfg.resume}: the checkpoint's model has another architecture: {'; '.join(differ)}")
    ctx = parts.ctx
    parts.model.load_state_dict(payload["state_dict"], strict=True)
    parts.optimizer.load_state_dict(payload["optimizer"])
    parts.scheduler.load_state_dict(payload["scheduler"])
    if parts.scaler is not None and payload.get("scaler"):
        parts.scaler.load_state_dict(payload["scaler"])
    training = payload.get("training", {})
    step = int(payload["step"])
    best_psnr = training.get("best_psnr_y")
    best_step = training.get("best_step")
    elapsed_before = float(training.get("elapsed_seconds", 0.0))
    val_history = list(training.get("val_history", []))
    rng_states = payload.get("rng", {}).get("ranks", [])
    if rng_states:
        if len(rng_states) != ctx.world_size:
            logger.warning(
                "checkpoint was written by %d process(es), resuming with %d: the global RNG "
                "states of rank 0 are reused",
                len(rng_states),
                ctx.world_size,
            )
        restore_rng(rng_states[ctx.rank if ctx.rank < len(rng_states) else 0], parts.device)
    old_cfg = training.get("config", {})
    changed = [
        k
        for k in ("batch_size", "seed", "patch_size", "augment")  # the data itself: check_resume_data
        if k in old_cfg and old_cfg[k] != getattr(cfg, k)
    ]
    if changed:
        logger.warning(
            "resuming with changed options %s: the run will not match an uninterrupted one", ", ".join(changed)
        )
    logger.info("resumed from %s at step %d", cfg.resume, step)
    converged_at = training.get("converged_at")  # absent in checkpoints of older code
    init = training.get("init_weights")  # idem
    return Resumed(step, best_psnr, best_step, elapsed_before, val_history, converged_at, init)


def save_training(
    cfg: TrainConfig,
    out: Path,
    parts: TrainParts,
    sampler: PatchSampler,
    step: int,
    result: TrainResult,
    val_history: list[dict[str, float]],
    data_info: dict[str, Any],
    elapsed: float,
    is_best: bool,
    init_weights: dict[str, Any] | None = None,
) -> None:
    """Write ``last.pt`` (and ``best.pt`` when ``is_best``); a collective call under DDP.

    ``init_weights``: what the run started from (:func:`bench.train.resume.init_weights_record`).
    """
    from bench.engine.checkpoint import save_atomic

    ctx, model = parts.ctx, parts.model
    rng = {**capture_rng(parts.device), "sampler": sampler.state_dict()}
    if ctx.enabled:
        import torch.distributed as dist

        gathered: list[Any] = [None] * ctx.world_size
        dist.all_gather_object(gathered, rng)
        ranks = gathered
    else:
        ranks = [rng]
    if not ctx.is_main:
        return
    latest = val_history[-1] if val_history else None
    card = plain(model.card.to_dict())
    card.update(
        {
            "trained_on": f"{data_info['name']}: first {data_info['train_pairs']} pairs "
            f"(last {data_info['val_pairs']} held out for validation)",
            "training_steps": step,
            "dataset_sha256": data_info["sha256"],
            "validation": None
            if latest is None
            else {
                "dataset": data_info["name"],
                "pairs": data_info["val_pairs"],
                "step": latest["step"],
                "psnr_y": latest["psnr_y"],
                "ssim_y": latest["ssim_y"],
                "protocol": "whole images, reflect-padded to the size multiple, outputs rounded to uint8",
            },
        }
    )
    training = {
        "format": CHECKPOINT_FORMAT,
        "config": cfg.to_dict(),
        "step": step,
        "dataset": data_info,
        "best_psnr_y": result.best_psnr_y,
        "best_step": result.best_step,
        "val_history": val_history,
        "converged_at": result.converged_at,
        "init_weights": init_weights,
        "elapsed_seconds": elapsed,
        "world_size": ctx.world_size,
        "torch": torch.__version__,
        "derainer": model.card.name,
    }
    payload = {
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "model_kwargs": plain(getattr(model, "model_kwargs", {}) or {}),
        "architecture": model.architecture(),
        "card": card,
        "training": plain(training),
        "optimizer": parts.optimizer.state_dict(),
        "scheduler": parts.scheduler.state_dict(),
        "scaler": parts.scaler.state_dict() if parts.scaler is not None else None,
        "rng": {"ranks": [_to_cpu(r) for r in ranks]},
        "step": step,
    }
    save_atomic(payload, out / "last.pt")
    if is_best:
        save_atomic(payload, out / "best.pt")


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_cpu(v) for v in obj]
    return obj
