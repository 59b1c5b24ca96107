"""Run checks and turn each published number into an :class:`Outcome`: measured, skipped or failed."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from bench.reproduce.checks import Check, CheckError, Context, Expected, Measurement

logger = logging.getLogger(__name__)

Status = Literal["measured", "skipped", "failed"]


@dataclass(frozen=True)
class Outcome:
    """One row of the reproduction table: a published number next to what bench measured.

    Attributes:
        check: The check it belongs to.
        metric: The compared key (``psnr_y_float``, ``params_m``; ``—`` for a skipped check).
        published: The published (or reference) value; ``None`` when nothing was measured to compare.
        measured: bench's value, ``None`` unless ``status == "measured"``.
        status: ``measured``, ``skipped`` (data, weights or a publication absent) or ``failed``.
        reason: Why it was skipped or failed; for measured rows an optional note.
        n_items: Images scored (0 for parameter counts).
        seconds: Wall time of the check.
        label: What the source called the metric, when that differs from ``metric``.
    """

    check: Check
    metric: str
    published: float | None
    measured: float | None
    status: Status
    reason: str = ""
    n_items: int = 0
    seconds: float = 0.0
    label: str = ""

    @property
    def delta(self) -> float | None:
        """``measured − published`` (``None`` when either is missing)."""
        if self.measured is None or self.published is None:
            return None
        return self.measured - self.published


def _expected(check: Check, measurement: Measurement | None) -> list[Expected]:
    if check.expected:
        return list(check.expected)
    if measurement is not None:
        return [Expected(k, v) for k, v in measurement.published.items()]
    return []


def run_check(check: Check, ctx: Context) -> list[Outcome]:
    """Measure one check; absent data or weights skip it with the message, other errors fail it."""
    from bench.paths import MissingDataError

    def rows(status: Status, reason: str, m: Measurement | None = None, seconds: float = 0.0) -> list[Outcome]:
        expected = _expected(check, m)
        if not expected:
            if status == "measured":  # a measurement with no number to hold it against checks nothing
                reason, status = "measured, but no published or reference value to compare with", "failed"
            return [Outcome(check, "—", None, None, status, reason, seconds=seconds)]
        out = []
        for e in expected:
            value = None if m is None else m.values.get(e.metric)
            note = "" if m is None else m.notes.get(e.metric, "")
            if status == "measured" and (value is None or not math.isfinite(value)):
                out.append(Outcome(check, e.metric, e.published, None, "failed", "not in the record", label=e.label))
                continue
            out.append(
                Outcome(
                    check,
                    e.metric,
                    e.published,
                    value if status == "measured" else None,
                    status,
                    note if status == "measured" else reason,
                    n_items=0 if m is None else m.n_items,
                    seconds=seconds,
                    label=e.label,
                )
            )
        return out

    if check.measure is None:
        return rows("skipped", check.skip_reason)
    started = time.perf_counter()
    try:
        measurement = check.measure(ctx)
    except MissingDataError as err:
        return rows("skipped", str(err).split(". ")[0])  # the what and where; the how-to is in the docs
    except (CheckError, ValueError, RuntimeError, OSError) as err:
        logger.exception("check %s failed", check.name)
        return rows("failed", f"{type(err).__name__}: {err}")
    if ctx.limit is not None and check.expected:  # published over the whole set, measured on a part
        for e in check.expected:
            note = measurement.notes.get(e.metric)
            limited = f"--limit {ctx.limit}: not the published set"
            measurement.notes[e.metric] = f"{limited}; {note}" if note else limited
    return rows("measured", "", measurement, time.perf_counter() - started)


def run_checks(
    checks: Sequence[Check], ctx: Context, on_done: Callable[[list[Outcome]], None] | None = None
) -> list[Outcome]:
    """Run every check in order (``on_done`` sees each check's rows as they come)."""
    out: list[Outcome] = []
    for check in checks:
        logger.info("reproduce: %s", check.name)
        rows = run_check(check, ctx)
        if on_done is not None:
            on_done(rows)
        out += rows
    return out
