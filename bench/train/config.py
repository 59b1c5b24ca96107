"""What a training run is (:class:`TrainConfig`, stored in every checkpoint) and what it produced."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from bench.engine.patches import AugmentMode
from bench.engine.plain import plain
from bench.engine.schedule import LRSchedule, ScheduleKind

AmpMode = Literal["none", "bf16", "fp16"]


@dataclass
class TrainConfig:
    """Everything that defines a training run (written to ``config.json`` and into every checkpoint).

    Attributes:
        derainer: Registered derainer name (or ``file.py:Class``).
        train: Paired training set: a registered name (``RainTrainL``) or a folder.
        output_dir: Where ``last.pt``, ``best.pt``, ``metrics.csv`` and ``config.json`` go.
        steps: Total optimiser steps (a resumed run continues up to this number).
        data_root: Root of the named datasets (default ``$BENCH_DATA``).
        val_split: Hold back the last N pairs (natural order) for validation; 0 disables validation.
        model_kwargs: Architecture overrides passed to the derainer factory.
        init_weights: Start from these weights (path or tag) instead of a random initialisation.
        start_step: With ``init_weights``: continue a run whose resume state is lost (a new machine) from its
            exported weights at this step. The step counter, the learning-rate schedule and the data
            stream start here, as if resumed; Adam's moment estimates start fresh (a card says so).
        batch_size: Patches per step and per process (paper: 8).
        patch_size: Patch side; ``None``: the card's ``patch_size`` (96 for MSPFN).
        schedule: ``step`` (paper: 2e-4 halved every 20k steps, floor 1e-6) or ``exp`` (release:
            ``5e-4·0.8^(step/20k) + 1e-6``).
        lr: Initial rate; ``None``: the schedule's default (2e-4 / 5e-4).
        lr_step: Steps per decay period.
        lr_gamma: Decay factor; ``None``: the schedule's default (0.5 / 0.8).
        lr_floor: Floor (``step``) or additive constant (``exp``).
        betas: Adam betas.
        adam_eps: Adam epsilon.
        weight_decay: Adam weight decay (none in the paper).
        augment: Dihedral augmentation per ``sample`` (default), per ``batch`` (the release) or ``none``.
        amp: ``bf16``/``fp16`` autocast on GPU, ``bf16`` on a CPU with native bf16 (fp32 elsewhere, with a
            note); fp32 master weights and loss; ``fp16`` uses a gradient scaler.
        grad_clip: Clip the global gradient norm to this value; ``None``: no clipping.
        val_every: Validate (and save ``last.pt``) every this many steps, and at the end.
        stop_when_converged: End the run at the first validation where the convergence rule of
            :func:`bench.train.convergence.plateau` holds (least-squares rise of val psnr_y over the last
            20 % of the steps < 0.05 dB, at least 3 checkpoints); ``last.pt`` records the step and the run
            counts as finished. A run continued from shipped weights (``start_step``) judges the window with
            the card's earlier validation history. On a step schedule the rule also holds on the plateaus
            between rate drops (``mspfn_light``: at step 15k, 1.8 dB below where it went on to), so set
            ``min_steps``.
        min_steps: ``stop_when_converged`` judges the rule only from this step on (e.g. the planned end).
        save_every: Save ``last.pt`` every this many steps; ``None``: with validation.
        log_every: Write a metrics row (mean loss since the last row) every this many steps.
        seed: Seed of the model initialisation and of the data stream.
        device: ``cpu``, ``cuda`` or ``cuda:N``; ``None``: CUDA when available.
        workers: Data-loader worker processes (0: load in the training process).
        channels_last: Use the channels-last memory format.
        compile: Wrap the model with ``torch.compile``.
        deterministic: On CUDA, use deterministic cuDNN kernels instead of benchmarking.
        progress: Show a tqdm progress bar.
        tensorboard: Also log to ``output_dir/tensorboard`` when TensorBoard is installed.
        resume: Resume from this checkpoint. Its schedule, Adam options, ``model_kwargs`` and data must be this
            configuration's (a resume refuses others: :mod:`bench.train.resume`); ``steps`` and the options of
            how the run goes on may change.
    """

    derainer: str = "mspfn"
    train: str = "RainTrainL"
    output_dir: str = "runs/train"
    steps: int = 1000
    data_root: str | None = None
    val_split: int = 20
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    init_weights: str | None = None
    start_step: int = 0
    batch_size: int = 8
    patch_size: int | None = None
    schedule: ScheduleKind = "step"
    lr: float | None = None
    lr_step: int = 20000
    lr_gamma: float | None = None
    lr_floor: float = 1e-6
    betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    weight_decay: float = 0.0
    augment: AugmentMode = "sample"
    amp: AmpMode = "none"
    grad_clip: float | None = None
    val_every: int = 1000
    stop_when_converged: bool = False
    min_steps: int = 0
    save_every: int | None = None
    log_every: int = 10
    seed: int = 0
    device: str | None = None
    workers: int = 0
    channels_last: bool = False
    compile: bool = False
    deterministic: bool = False
    progress: bool = True
    tensorboard: bool = True
    resume: str | None = None

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps}")
        if self.start_step < 0 or self.start_step > self.steps:
            raise ValueError(f"start step must be in [0, steps={self.steps}], got {self.start_step}")
        if self.start_step and not self.init_weights:
            raise ValueError("--start-step continues from exported weights: give them with --init-weights")
        if self.min_steps < 0:
            raise ValueError(f"min steps must be >= 0, got {self.min_steps}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {self.batch_size}")
        if self.amp not in ("none", "bf16", "fp16"):
            raise ValueError(f"amp must be none, bf16 or fp16, not {self.amp!r}")
        if self.val_every < 1 or self.log_every < 1 or (self.save_every is not None and self.save_every < 1):
            raise ValueError("val_every, log_every and save_every must be >= 1")
        self.betas = (float(self.betas[0]), float(self.betas[1]))

    def lr_schedule(self) -> LRSchedule:
        """The learning-rate schedule this configuration describes."""
        return LRSchedule.create(self.schedule, self.lr, self.lr_step, self.lr_gamma, self.lr_floor)

    def to_dict(self) -> dict[str, Any]:
        """A JSON- and ``weights_only``-safe dict."""
        return plain(asdict(self))

    @classmethod
    def field_names(cls) -> frozenset[str]:
        """The options a config has (keys of :meth:`to_dict`); others come from newer or older code."""
        return frozenset(f.name for f in fields(cls))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Rebuild a config from :meth:`to_dict` output (unknown keys are ignored)."""
        known = cls.field_names()
        kwargs = {k: v for k, v in data.items() if k in known}
        if "betas" in kwargs:
            kwargs["betas"] = tuple(kwargs["betas"])
        return cls(**kwargs)


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` did.

    Attributes:
        step: The step reached (total completed optimiser steps).
        start_step: The step this call started from (non-zero when resumed).
        losses: Training loss of every step run by this call (mean over DDP ranks), in order.
        lrs: Learning rate used by each of those steps.
        validations: ``{"step", "psnr_y", "ssim_y"}`` of each validation run by this call.
        best_psnr_y: Best validation ``psnr_y`` so far (over the whole run, resumes included).
        best_step: The step of that best score.
        last_checkpoint: Path of ``last.pt`` (``None`` on ranks other than 0).
        best_checkpoint: Path of ``best.pt`` if one was written.
        seconds: Wall-clock training time of the whole run, resumes included.
        timed_out: The call stopped at its time limit before ``steps`` (``last.pt`` holds where it stopped).
        converged_at: The step at which ``stop_when_converged`` ended the run (``None``: it did not).
    """

    step: int
    start_step: int
    losses: list[float] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)
    validations: list[dict[str, float]] = field(default_factory=list)
    best_psnr_y: float | None = None
    best_step: int | None = None
    last_checkpoint: Path | None = None
    best_checkpoint: Path | None = None
    seconds: float = 0.0
    timed_out: bool = False
    converged_at: int | None = None
