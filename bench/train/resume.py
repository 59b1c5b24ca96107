"""What a resume may change, and where a run may write: the checks a run makes before it trains.

A resumed run restores the checkpoint's learning-rate schedule and Adam's state (betas, eps, weight decay)
with their ``load_state_dict``, so options that define them cannot change at a resume: a changed value
would be recorded in ``config.json``, the checkpoint and the card while the old one is used. They are
refused (:func:`check_resume_options`), as is a resume on other data (:func:`check_resume_data`). Options
that only say how far or how fast the run goes (``--steps``, ``--stop-when-converged``, ``--min-steps``,
``--optimize``, ``--workers``, ...) may change. To train on with another schedule or optimiser, continue
from the checkpoint's weights as a new run (``--init-weights OUT/last.pt --start-step N``; Adam restarts).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.train.config import TrainConfig

if TYPE_CHECKING:
    from derainers.base import Derainer

__all__ = [
    "check_resume_data",
    "check_resume_options",
    "fixed_option_changes",
    "init_weights_record",
    "refuse_stale_output",
]

#: ``LRSchedule`` field → the ``bench train`` option that sets it.
SCHEDULE_OPTIONS: dict[str, str] = {
    "kind": "--schedule",
    "lr": "--lr",
    "step_size": "--lr-step",
    "gamma": "--lr-gamma",
    "floor": "--lr-floor",
}
#: Adam parameter-group field → (TrainConfig field, option).
OPTIMIZER_OPTIONS: dict[str, tuple[str, str]] = {
    "betas": ("betas", "--betas"),
    "eps": ("adam_eps", "--adam-eps"),
    "weight_decay": ("weight_decay", "--weight-decay"),
}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Sequence) and not isinstance(a, str) and isinstance(b, Sequence) and not isinstance(b, str):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=0.0)
    return bool(a == b)


def _text(value: Any) -> str:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return " ".join(_text(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def fixed_option_changes(payload: Mapping[str, Any], cfg: TrainConfig) -> list[str]:
    """The schedule, optimiser and architecture options on which ``cfg`` differs from the checkpoint's run.

    Compared with what the checkpoint restores (its ``scheduler`` and ``optimizer`` states) and, for the
    architecture, with its stored ``training.config.model_kwargs``.

    Example:
        >>> state = {"scheduler": {"schedule": {"kind": "step", "lr": 2e-4, "step_size": 3, "gamma": 0.5,
        ...          "floor": 1e-6}}, "optimizer": {"param_groups": [{"betas": (0.9, 0.999), "eps": 1e-8,
        ...          "weight_decay": 0.0}]}}
        >>> fixed_option_changes(state, TrainConfig(lr_step=100, weight_decay=1e-4))
        ['--lr-step 100 (the run: 3)', '--weight-decay 0.0001 (the run: 0)']
    """
    changes: list[str] = []
    stored = (payload.get("scheduler") or {}).get("schedule")
    if isinstance(stored, Mapping):
        wanted = cfg.lr_schedule().to_dict()
        for key, option in SCHEDULE_OPTIONS.items():
            if key in stored and not _same(stored[key], wanted[key]):
                changes.append(f"{option} {_text(wanted[key])} (the run: {_text(stored[key])})")
    groups = (payload.get("optimizer") or {}).get("param_groups") or []
    if groups:
        for key, (name, option) in OPTIMIZER_OPTIONS.items():
            value = getattr(cfg, name)
            if key in groups[0] and not _same(groups[0][key], value):
                changes.append(f"{option} {_text(value)} (the run: {_text(groups[0][key])})")
    old = (payload.get("training") or {}).get("config") or {}
    if "model_kwargs" in old:
        from derainers.base import json_normal

        before, now = json_normal(dict(old["model_kwargs"] or {})), json_normal(dict(cfg.model_kwargs))
        if before != now:
            changes.append(f"--model-arg {now} (the run: {before})")
    return changes


def check_resume_options(payload: Mapping[str, Any], cfg: TrainConfig) -> None:
    """Refuse a resume that changes an option the checkpoint's state fixes (schedule, Adam, architecture).

    Raises:
        ValueError: naming each changed option, its new value and the run's.
    """
    changes = fixed_option_changes(payload, cfg)
    if changes:
        raise ValueError(
            f"{cfg.resume}: a resume cannot change {', '.join(changes)}: the checkpoint restores the run's "
            "schedule, optimiser and architecture, so the run would go on with its own values while recording "
            "yours. Resume without them, or continue the checkpoint's weights as a new run "
            "(--init-weights CHECKPOINT --start-step N --output-dir NEW; Adam restarts)"
        )


def check_resume_data(payload: Mapping[str, Any], data_info: Mapping[str, Any], source: str | None) -> None:
    """Refuse a resume on other pairs or other held-out ids than the checkpoint's run trained and validated on.

    Checkpoints without a ``training.dataset`` record (none are known) are not checked.

    Raises:
        ValueError: the pair list's digest (ids, file names and sizes) or the held-out ids differ.
    """
    stored = (payload.get("training") or {}).get("dataset") or {}
    differ: list[str] = []
    if stored.get("sha256") and stored["sha256"] != data_info.get("sha256"):
        differ.append(
            f"the pairs of {data_info.get('folder')} (sha256 {str(data_info.get('sha256'))[:12]}…) are not the "
            f"run's ({stored.get('folder')}, sha256 {str(stored['sha256'])[:12]}…: pairs added, removed, renamed "
            "or changed in size)"
        )
    if "val_ids" in stored and list(stored["val_ids"]) != list(data_info.get("val_ids", [])):
        differ.append(
            f"the held-out ids {_ids(data_info.get('val_ids', []))} are not the run's {_ids(stored['val_ids'])}"
        )
    if differ:
        raise ValueError(
            f"{source}: cannot resume on other data: {'; '.join(differ)}. Resume with the run's --train and "
            "--val-split, or start a new run"
        )


def _ids(ids: Sequence[str]) -> str:
    ids = list(ids)
    return f"[{', '.join(ids)}]" if len(ids) <= 6 else f"[{', '.join(ids[:3])}, …, {ids[-1]}] ({len(ids)})"


def refuse_stale_output(out: Path, cfg: TrainConfig) -> None:
    """Refuse to start a run in a folder that holds another run's checkpoints.

    A new run (or a resume from a checkpoint in another folder) would overwrite them piecemeal, and a run
    that never validates would report the old ``best.pt`` as its own.

    Raises:
        ValueError: ``out`` holds ``last.pt`` or ``best.pt`` and the run does not resume from that folder.
    """
    if cfg.resume and Path(cfg.resume).resolve().parent == out.resolve():
        return
    found = [name for name in ("last.pt", "best.pt") if (out / name).exists()]
    if found:
        raise ValueError(
            f"--output-dir {out} already holds a run's {' and '.join(found)}: continue that run with --resume, "
            "or choose another --output-dir"
        )


def init_weights_record(model: Derainer, cfg: TrainConfig) -> dict[str, Any] | None:
    """What the run started from: ``--init-weights`` as given, the file loaded and its sha256.

    A tag names whatever file is shipped under it at the time; the sha256 names the exact weights.
    """
    if not cfg.init_weights:
        return None
    info = getattr(model, "weights_info", {}) or {}
    return {
        "weights": cfg.init_weights,
        "tag": info.get("tag"),
        "file": Path(str(info["path"])).name if info.get("path") else None,
        "sha256": info.get("sha256"),
    }
