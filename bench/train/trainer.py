"""The generic derainer trainer behind ``python -m bench train`` (mspfn_spec.md §6-7).

One loop for every trainable derainer: random patches with dihedral augmentation
(:mod:`bench.engine.patches`), Adam with the paper's step schedule or the release's exponential one
(:mod:`bench.engine.schedule`), the model's own ``training_loss``, optional bf16/fp16 autocast on GPU,
gradient clipping, validation (``psnr_y``/``ssim_y`` on whole held-back images) every K steps, best and
last checkpoints with full resume, a CSV metrics log (and TensorBoard when installed), and DDP when
launched under ``torchrun`` (nothing to change: ``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` are read from the
environment; rank 0 validates and writes).

Resume is exact: the model, optimiser, schedule, grad scaler, every RNG state and the data stream
position are stored, and the data stream is counter based, so an interrupted and resumed run follows
the same loss trajectory as an uninterrupted one (bit for bit on CPU).

Checkpoints are plain containers of tensors, numbers and strings, loadable with ``weights_only=True``::

    {"state_dict", "model_kwargs", "architecture", "card", "training", "optimizer", "scheduler", "scaler", "rng",
     "step"}

Before it trains, a run checks what it may do (:mod:`bench.train.resume`): a resume keeps the checkpoint's
schedule, optimiser, architecture and data, a new run does not write into another run's folder.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from bench.engine.distributed import DistContext, resolve_device, setup_distributed
from bench.engine.patches import PatchDataset, PatchSampler
from bench.engine.plain import json_safe
from bench.engine.precision import autocast, autocast_dtype, cpu_description
from bench.engine.schedule import ScheduledLR
from bench.train.checkpoint import TrainParts, restore_training, save_training
from bench.train.config import TrainConfig, TrainResult
from bench.train.convergence import earlier_history, plateau, trend_note
from bench.train.log import MetricsLog
from bench.train.resume import init_weights_record, refuse_stale_output
from bench.train.stream import patch_batches, rank0_decides, time_is_up, training_data
from bench.train.validation import load_val_images, validate

__all__ = ["Trainer"]

if TYPE_CHECKING:
    from derainers.base import Derainer

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------- trainer
class Trainer:
    """Train a derainer from a :class:`TrainConfig`.

    Args:
        config: The run's configuration.
        model: Use this derainer instead of building ``config.derainer`` with
            :func:`bench.factory.create_derainer` (its ``model_kwargs`` are still recorded).

    Example:
        >>> cfg = TrainConfig(derainer="mspfn_tiny", train="RainTrainL", steps=20, output_dir="runs/t")
        >>> result = Trainer(cfg).fit()  # doctest: +SKIP
        >>> result.last_checkpoint  # doctest: +SKIP
        PosixPath('runs/t/last.pt')
    """

    def __init__(self, config: TrainConfig, model: Derainer | None = None) -> None:
        self.config = config
        self._model = model

    # ---------------------------------------------------------------- setup
    def _build_model(self, resume: Mapping[str, Any] | None) -> Derainer:
        """The model to train: ``init_weights`` loaded, unless a checkpoint's state replaces them anyway (a resume
        builds the checkpoint's architecture: its ``model_kwargs`` include those of the weights it started from)."""
        cfg = self.config
        if self._model is not None:
            return self._model
        from bench.factory import create_derainer

        torch.manual_seed(cfg.seed)  # the initialisation is part of the run's definition
        if resume is None:
            return create_derainer(cfg.derainer, weights=cfg.init_weights, **cfg.model_kwargs)
        kwargs = {**(resume.get("model_kwargs") or {}), **cfg.model_kwargs}  # a resume needs only its checkpoint
        return create_derainer(cfg.derainer, weights=None, **kwargs)

    # ---------------------------------------------------------------- main loop
    def fit(self, time_limit: float | None = None) -> TrainResult:
        """Run (or resume) training up to ``config.steps`` and return what happened.

        ``time_limit`` (seconds of this call): stop after the step that reaches it, with ``last.pt`` saved,
        so a machine lent for a fixed time ends in a resumable state (``result.timed_out``).

        Raises:
            ValueError: a bad option (unknown dataset, patch not a size multiple, ...).
            FloatingPointError: the loss became NaN or infinite (without an fp16 gradient scaler).
        """
        from bench.engine.checkpoint import load_checkpoint

        cfg = self.config
        requested = torch.device(cfg.device) if cfg.device else None
        ctx = setup_distributed(requested.type if requested else ("cuda" if torch.cuda.is_available() else "cpu"))
        try:
            return self._fit(ctx, load_checkpoint, time_limit)
        finally:
            if ctx.initialized_here:
                import torch.distributed as dist

                dist.destroy_process_group()

    def _fit(self, ctx: DistContext, load_checkpoint: Any, time_limit: float | None) -> TrainResult:
        cfg = self.config
        device = resolve_device(cfg.device, ctx)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = not cfg.deterministic
            torch.backends.cudnn.deterministic = cfg.deterministic
        out = Path(cfg.output_dir)
        refuse_stale_output(out, cfg)
        if ctx.is_main:
            out.mkdir(parents=True, exist_ok=True)

        resume_payload: dict[str, Any] | None = None
        if cfg.resume:
            resume_payload = load_checkpoint(cfg.resume)
            if not isinstance(resume_payload, Mapping) or "optimizer" not in resume_payload:
                raise ValueError(f"{cfg.resume}: not a resumable training checkpoint (no optimizer state)")

        model = self._build_model(resume_payload)
        init = init_weights_record(model, cfg) if resume_payload is None else None
        card = model.card
        if not getattr(card, "trainable", True):
            raise ValueError(f"derainer {card.name!r} is not trainable (card.trainable is False)")
        patch = cfg.patch_size or int(card.patch_size)
        multiple = max(1, int(card.size_multiple))
        if patch % multiple:
            raise ValueError(f"patch size {patch} is not a multiple of {card.name}'s size multiple {multiple}")
        train_pairs, val_pairs, data_info = training_data(cfg, patch)
        # read (and check) the held-back pairs now: a bad one found at the first validation costs those steps
        val_images = load_val_images(val_pairs) if ctx.is_main and val_pairs else None

        model.train().to(device)
        if cfg.channels_last:
            model.to(memory_format=torch.channels_last)
        optimizer = torch.optim.Adam(
            model.parameters(),
            lr=cfg.lr_schedule()(0),
            betas=cfg.betas,
            eps=cfg.adam_eps,
            weight_decay=cfg.weight_decay,
        )
        start = 0 if cfg.resume else cfg.start_step  # a resumed run takes its step from the checkpoint
        scheduler = ScheduledLR(optimizer, cfg.lr_schedule(), last_step=start)
        amp_dtype = autocast_dtype("fp32" if cfg.amp == "none" else cfg.amp, device.type)
        scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None

        sampler = PatchSampler(
            len(train_pairs),
            cfg.batch_size,
            seed=cfg.seed,
            rank=ctx.rank,
            world_size=ctx.world_size,
            augment=cfg.augment,
        )
        step = start
        best_psnr: float | None = None
        best_step: int | None = None
        elapsed_before = 0.0
        val_history: list[dict[str, float]] = []
        converged_at: int | None = None
        parts = TrainParts(ctx, device, model, optimizer, scheduler, scaler)
        if resume_payload is not None:
            resumed = restore_training(resume_payload, cfg, parts, data_info)
            step, best_psnr, best_step = resumed.step, resumed.best_psnr_y, resumed.best_step
            elapsed_before, val_history = resumed.elapsed_seconds, resumed.val_history
            converged_at = resumed.converged_at if cfg.stop_when_converged else None
            init = resumed.init_weights
        sampler.next_batch = step
        lineage = earlier_history(card.name, cfg.init_weights, cfg.start_step)  # validations before start_step
        if step > cfg.steps:
            raise ValueError(f"checkpoint is at step {step}, beyond --steps {cfg.steps}")

        forward: Any = model
        if ctx.enabled:
            from torch.nn.parallel import DistributedDataParallel

            forward = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        if cfg.compile:
            forward = torch.compile(forward)

        batches = patch_batches(PatchDataset(train_pairs, patch), sampler, device, cfg.workers)
        log = (
            MetricsLog(out, resume_step=step if resume_payload else None, tensorboard=cfg.tensorboard)
            if ctx.is_main
            else None
        )
        if ctx.is_main:
            (out / "config.json").write_text(
                json.dumps(
                    json_safe(
                        {
                            "config": cfg.to_dict(),
                            "dataset": data_info,
                            "derainer": card.name,
                            "world_size": ctx.world_size,
                            "device": str(device),
                            "torch": torch.__version__,
                            "cpu": cpu_description(),
                            "autocast": str(amp_dtype).replace("torch.", "") if amp_dtype is not None else "fp32",
                            "model_kwargs": getattr(model, "model_kwargs", {}),
                            "init_weights": init,
                            "parameters": sum(p.numel() for p in model.parameters()),
                            "resumed_from": cfg.resume,
                            "resumed_at_step": step if resume_payload else None,
                        }
                    ),
                    indent=2,
                )
                + "\n"
            )

        result = TrainResult(step, step, best_psnr_y=best_psnr, best_step=best_step, converged_at=converged_at)
        if converged_at is not None:
            logger.info("the run converged at step %d (stop_when_converged): nothing to do", converged_at)
        save_every = cfg.save_every or cfg.val_every
        pending: list[torch.Tensor] = []
        pending_lrs: list[float] = []
        started = time.perf_counter()
        bar = None
        if ctx.is_main and cfg.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=cfg.steps, initial=step, desc=f"train {card.name}", unit="step", dynamic_ncols=True)

        def seconds() -> float:
            return elapsed_before + time.perf_counter() - started

        def flush() -> float | None:
            """Average the pending losses over ranks, append them to the result, return their mean."""
            if not pending:
                return None
            values = torch.stack(pending).float()
            if ctx.enabled:
                import torch.distributed as dist

                dist.all_reduce(values)
                values /= ctx.world_size
            losses = values.cpu().tolist()
            pending.clear()
            result.losses.extend(losses)
            result.lrs.extend(pending_lrs)
            pending_lrs.clear()
            if scaler is None and not all(math.isfinite(v) for v in losses):
                raise FloatingPointError(
                    f"training loss became {losses[-1]} by step {step}: lower --lr or use --grad-clip"
                )
            return float(np.mean(losses))

        try:
            while step < cfg.steps and result.converged_at is None:
                rainy_u8, clean_u8 = next(batches)
                rainy = rainy_u8.to(device, non_blocking=True).float().div_(255.0)
                clean = clean_u8.to(device, non_blocking=True).float().div_(255.0)
                if cfg.channels_last:
                    rainy = rainy.contiguous(memory_format=torch.channels_last)
                    clean = clean.contiguous(memory_format=torch.channels_last)
                lr = scheduler.get_last_lr()[0]
                with autocast(device.type, amp_dtype):
                    derained = forward(rainy)
                loss = model.training_loss(derained.float(), clean)  # the loss in fp32, master weights fp32
                optimizer.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    if cfg.grad_clip:
                        scaler.unscale_(optimizer)
                        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    loss.backward()
                    if cfg.grad_clip:
                        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                    optimizer.step()
                scheduler.step()
                step += 1
                sampler.next_batch = step
                pending.append(loss.detach())
                pending_lrs.append(lr)

                final = step == cfg.steps
                stop_now = time_limit is not None and not final and time_is_up(ctx, started, time_limit)
                do_val = bool(val_pairs) and (step % cfg.val_every == 0 or final)
                do_save = do_val or step % save_every == 0 or final or stop_now
                if step % cfg.log_every == 0 or do_save:
                    mean_loss = flush()
                    val: dict[str, float] | None = None
                    is_best = converged = False
                    if do_val and val_images is not None:  # rank 0
                        val = validate(model, val_images, device, channels_last=cfg.channels_last)
                        model.train()
                        val = {"step": step, **val}
                        val_history.append(val)
                        result.validations.append(val)
                        if result.best_psnr_y is None or val["psnr_y"] > result.best_psnr_y:
                            result.best_psnr_y, result.best_step, is_best = val["psnr_y"], step, True
                        trend = plateau((int(v["step"]), float(v["psnr_y"])) for v in lineage + val_history)
                        logger.info(
                            "step %d: val psnr_y %.3f dB, ssim_y %.4f%s", step, val["psnr_y"], val["ssim_y"],
                            trend_note(trend),
                        )  # fmt: skip
                        converged = cfg.stop_when_converged and step >= cfg.min_steps and trend.converged
                    if do_val and cfg.stop_when_converged and rank0_decides(ctx, converged):
                        result.converged_at = step
                    if log is not None:
                        log.write(step, mean_loss, lr, seconds(), val)
                    if bar is not None:
                        postfix = {"loss": f"{mean_loss:.4g}" if mean_loss is not None else "-", "lr": f"{lr:.3g}"}
                        if result.best_psnr_y is not None:
                            postfix["best_psnr_y"] = f"{result.best_psnr_y:.2f}"
                        bar.set_postfix(postfix, refresh=False)
                    if do_save:
                        save_training(
                            cfg,
                            out,
                            parts,
                            sampler,
                            step,
                            result,
                            val_history,
                            data_info,
                            seconds(),
                            is_best,
                            init,
                        )
                if bar is not None:
                    bar.update(1)
                if result.converged_at is not None:
                    logger.info("converged at step %d (convergence rule met): last.pt saved, run done", step)
                elif stop_now:
                    logger.info(
                        "time limit of %.0f s reached at step %d: last.pt saved, --resume goes on", time_limit, step
                    )
                    result.timed_out = True
                    break
        finally:
            if bar is not None:
                bar.close()
            if log is not None:
                log.close()
            close = getattr(batches, "close", None)
            if close is not None:
                close()

        result.step = step
        result.seconds = seconds()
        if ctx.is_main:
            last = out / "last.pt"
            result.last_checkpoint = last if last.is_file() else None
            best = out / "best.pt"
            result.best_checkpoint = best if best.is_file() and result.best_step is not None else None
        return result
