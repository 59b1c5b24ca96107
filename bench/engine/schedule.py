"""Learning-rate schedules of MSPFN training (mspfn_spec.md §7), as pure functions of the step.

* ``step`` (the paper): ``lr · γ^⌊step / step_size⌋`` floored at ``floor`` — 2e-4 halved every
  20,000 steps, never below 1e-6.
* ``exp`` (the TensorFlow release): ``lr · γ^(step / step_size) + floor`` — a continuous exponential
  decay, ``5e-4 · 0.8^(step / 20000) + 1e-6``.

The schedule object keeps only plain numbers as state, so it round-trips through a
``weights_only=True`` checkpoint.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch

ScheduleKind = Literal["step", "exp"]

#: Default ``(lr, gamma)`` of each schedule kind: the paper's and the release's.
SCHEDULE_DEFAULTS: dict[str, tuple[float, float]] = {"step": (2e-4, 0.5), "exp": (5e-4, 0.8)}


@dataclass(frozen=True)
class LRSchedule:
    """A learning rate as a function of the number of completed optimiser steps.

    Attributes:
        kind: ``"step"`` (paper, staircase) or ``"exp"`` (release, continuous).
        lr: Initial learning rate.
        step_size: Steps per decay period (20,000 in both the paper and the release).
        gamma: Decay factor per period (0.5 in the paper, 0.8 in the release).
        floor: ``step``: lower bound of the rate; ``exp``: constant added to the decayed rate.

    Example:
        >>> s = LRSchedule("step", lr=2e-4, step_size=20000, gamma=0.5, floor=1e-6)
        >>> s(0), s(19999), s(20000), s(10**7)
        (0.0002, 0.0002, 0.0001, 1e-06)
    """

    kind: ScheduleKind = "step"
    lr: float = 2e-4
    step_size: int = 20000
    gamma: float = 0.5
    floor: float = 1e-6

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULE_DEFAULTS:
            raise ValueError(f"unknown schedule {self.kind!r}: choose one of {', '.join(SCHEDULE_DEFAULTS)}")
        if self.step_size < 1:
            raise ValueError(f"step_size must be >= 1, got {self.step_size}")
        if self.lr <= 0 or self.gamma <= 0:
            raise ValueError(f"lr and gamma must be positive, got lr={self.lr}, gamma={self.gamma}")

    @classmethod
    def create(
        cls,
        kind: ScheduleKind = "step",
        lr: float | None = None,
        step_size: int = 20000,
        gamma: float | None = None,
        floor: float = 1e-6,
    ) -> LRSchedule:
        """A schedule with the kind's defaults for ``lr`` and ``gamma`` where they are ``None``.

        Example:
            >>> LRSchedule.create("exp").lr
            0.0005
        """
        if kind not in SCHEDULE_DEFAULTS:
            raise ValueError(f"unknown schedule {kind!r}: choose one of {', '.join(SCHEDULE_DEFAULTS)}")
        default_lr, default_gamma = SCHEDULE_DEFAULTS[kind]
        return cls(kind, default_lr if lr is None else lr, step_size, default_gamma if gamma is None else gamma, floor)

    def __call__(self, step: int) -> float:
        """The learning rate for the optimiser step that follows ``step`` completed steps."""
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        if self.kind == "step":
            return max(self.lr * self.gamma ** (step // self.step_size), self.floor)
        return self.lr * self.gamma ** (step / self.step_size) + self.floor

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ScheduledLR:
    """Set an optimiser's learning rate from an :class:`LRSchedule` at every step.

    Call :meth:`step` after each ``optimizer.step()``. The state (schedule and step count) is plain
    Python numbers, safe for ``weights_only=True`` checkpoints.

    Example:
        >>> model = torch.nn.Linear(2, 2)
        >>> opt = torch.optim.Adam(model.parameters())
        >>> sched = ScheduledLR(opt, LRSchedule("step", 2e-4, 2, 0.5))
        >>> [sched.get_last_lr()[0] for _ in range(3) if sched.step() is None]
        [0.0002, 0.0001, 0.0001]
    """

    def __init__(self, optimizer: torch.optim.Optimizer, schedule: LRSchedule, last_step: int = 0) -> None:
        self.optimizer = optimizer
        self.schedule = schedule
        self.last_step = last_step
        self._apply()

    def _apply(self) -> None:
        lr = self.schedule(self.last_step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def step(self) -> None:
        """Advance by one completed optimiser step and set the next step's rate."""
        self.last_step += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        """The rates the next optimiser step will use, one per parameter group."""
        return [float(group["lr"]) for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return {"schedule": self.schedule.to_dict(), "last_step": self.last_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the schedule and the step count (and re-apply the rate to the optimiser)."""
        self.schedule = LRSchedule(**state["schedule"])
        self.last_step = int(state["last_step"])
        self._apply()
