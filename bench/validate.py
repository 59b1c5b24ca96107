"""Check a derainer against the plugin contract (``python -m bench validate --derainer NAME``).

The contract (``derainers/base.py``): ``forward`` takes ``(N, 3, H, W)`` float32 RGB in [0, 1] with H and
W multiples of ``card.size_multiple`` and returns the derained batch with the same shape, dtype and
device; images of a batch are independent; the model carries a card with the required fields. Each
check below returns PASS, FAIL or SKIP with a precise message; a failing forward pass is a FAIL of that
check (with the exception), never a crash of the validator.

Example:
    >>> report = validate_derainer("identity", quick=True)
    >>> report.passed
    True
    >>> report.check("output range").status
    'PASS'
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from bench.validate_checks import Status, Validator, describe_error

logger = logging.getLogger(__name__)


@dataclass
class CheckResult:
    """Outcome of one check.

    Attributes:
        name: Short name, e.g. ``"output range"``.
        status: ``PASS``, ``FAIL`` or ``SKIP``.
        message: What was measured, and for a failure what was expected.
        seconds: Time the check took.
    """

    name: str
    status: Status
    message: str
    seconds: float = 0.0

    def line(self) -> str:
        """One report line, e.g. ``FAIL  output range: values span [-3.2, 4.1]; ...``."""
        return f"{self.status:<4}  {self.name}: {self.message}"


@dataclass
class ValidationReport:
    """All checks of one derainer."""

    derainer: str
    checks: list[CheckResult] = field(default_factory=list)
    header: str = ""

    @property
    def passed(self) -> bool:
        """True when no check failed (skipped checks do not fail the report)."""
        return all(c.status != "FAIL" for c in self.checks)

    def check(self, name: str) -> CheckResult:
        """The result of the check called ``name``."""
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"no check named {name!r}; checks: {', '.join(c.name for c in self.checks)}")

    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status == "FAIL"]

    def render(self) -> str:
        """The text report: a header, one line per check and a verdict."""
        counts = {s: sum(c.status == s for c in self.checks) for s in ("PASS", "FAIL", "SKIP")}
        lines = [self.header or f"validate {self.derainer}"]
        lines += [c.line() for c in self.checks]
        verdict = "PASS" if self.passed else "FAIL"
        lines.append(
            f"{len(self.checks)} checks: {counts['PASS']} passed, {counts['FAIL']} failed, "
            f"{counts['SKIP']} skipped -> {verdict}"
        )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"derainer": self.derainer, "passed": self.passed, "checks": [asdict(c) for c in self.checks]}


#: (check name, method of :class:`Validator`) in report order.
CHECKS: tuple[tuple[str, str], ...] = (
    ("card", "check_card"),
    ("output shape", "check_shape"),
    ("output range", "check_range"),
    ("dtype and device (cpu)", "check_dtype_cpu"),
    ("dtype and device (cuda)", "check_dtype_cuda"),
    ("batch dependence", "check_batch"),
    ("determinism", "check_determinism"),
    ("output size", "check_odd_size"),
    ("inference_mode", "check_inference_mode"),
    ("input untouched", "check_input_untouched"),
    ("speed and memory", "check_speed"),
)


def _timed(name: str, fn: Callable[[], tuple[Status, str]]) -> CheckResult:
    t0 = time.perf_counter()
    try:
        status, message = fn()
    except Exception as err:  # a broken plugin is a failed check, not a crashed validator
        logger.debug("check %s raised", name, exc_info=True)
        status, message = "FAIL", f"raised {describe_error(err)}"
    return CheckResult(name, status, message, time.perf_counter() - t0)


def validate_derainer(
    name: str, *, weights: str | None = "default", device: str = "cpu", quick: bool = False, seed: int = 0
) -> ValidationReport:
    """Build a derainer by name (or ``path/to/file.py:Class``) and check it against the contract.

    Args:
        name: Registered derainer name, alias, entry-point plugin name or ``file.py:Attr``.
        weights: Passed to :func:`bench.factory.create_derainer` (``"default"``, a tag, a path, ``"none"``).
        device: Where the checks run (the dtype/device check also tries CUDA when available).
        quick: Time the forward pass at 160x120 instead of 640x480 (for huge models on CPU).
        seed: Seed of the synthetic test images and of random initialisation.

    Returns:
        The report; ``report.passed`` is False when any check failed.

    Example:
        >>> print(validate_derainer("identity", quick=True).check("batch dependence").status)
        PASS
    """
    from bench.factory import create_derainer
    from derainers.base import Derainer

    report = ValidationReport(derainer=name)
    t0 = time.perf_counter()
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = create_derainer(name, weights=weights, device=device)
    except Exception as err:
        report.checks.append(
            CheckResult("build", "FAIL", f"could not build {name!r}: {describe_error(err)}", time.perf_counter() - t0)
        )
        return report
    if not isinstance(model, torch.nn.Module):
        report.checks.append(
            CheckResult(
                "build",
                "FAIL",
                (f"the factory returned {type(model).__name__}; expected a derainers.base.Derainer (torch.nn.Module)"),
                time.perf_counter() - t0,
            )
        )
        return report
    params = sum(p.numel() for p in model.parameters())
    info = dict(getattr(model, "weights_info", {}) or {})
    trainable = bool(getattr(getattr(model, "card", None), "trainable", False))
    if info:
        weights_text = str(info.get("tag") or info.get("path"))
    elif params == 0:
        weights_text = "none (no parameters)"
    else:
        weights_text = "none (random initialisation)" if trainable else "none (not trainable)"
    kind = "a derainers.base.Derainer" if isinstance(model, Derainer) else "NOT a derainers.base.Derainer"
    build_status: Status = "PASS" if isinstance(model, Derainer) else "FAIL"
    report.checks.append(
        CheckResult(
            "build",
            build_status,
            (
                f"{type(model).__name__} ({kind}), {params:,} parameters, weights: {weights_text}, "
                f"{'eval' if not model.training else 'TRAIN'} mode"
            ),
            time.perf_counter() - t0,
        )
    )
    if model.training:
        report.checks[-1].status = "FAIL"
        report.checks[-1].message += "; create_derainer must return the model in eval mode"
    card_name = getattr(getattr(model, "card", None), "name", "?")
    report.header = f"validate {name} (card {card_name!r}, {params:,} parameters, device {device})"
    random_init = trainable and params > 0 and not info
    validator = Validator(model, device, quick, seed, random_init=random_init)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for check_name, method in CHECKS:
            report.checks.append(_timed(check_name, getattr(validator, method)))
    return report
