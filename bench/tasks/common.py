"""Pieces every task shares: building the derainer and engine, the journal, the record skeleton."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from bench.config import RunConfig, run_id
from bench.engine.inference import InferenceConfig, InferenceEngine
from bench.paths import runs_root
from bench.results.journal import Journal
from bench.results.record import RunRecord, env_info, now_iso

logger = logging.getLogger(__name__)


def build_engine(config: RunConfig) -> tuple[Any, InferenceEngine, dict[str, Any]]:
    """Create the derainer with its weights and an inference engine; returns (model, engine, info)."""
    import torch

    from bench.factory import create_derainer

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)  # random-init derainers are reproducible, so a resumed run matches
        model = create_derainer(config.derainer, weights=config.weights)
    from bench.engine.precision import resolve_precision

    precision = resolve_precision(
        config.precision, torch.device(config.device).type, tuple(getattr(model.card, "reduced_precision", ()))
    )
    engine = InferenceEngine(
        model,
        InferenceConfig(
            device=config.device,
            precision=precision,  # type: ignore[arg-type]
            tile=config.tile,
            overlap=config.overlap,
            batch_size=config.batch_size,
            channels_last=config.channels_last,
            optimize=config.optimize,
        ),
    )
    return model, engine, {**derainer_info(model, config.derainer), "precision": engine_precision(engine)}


def engine_precision(engine: InferenceEngine) -> str:
    """What the engine really computes in on its device (``auto`` resolved, bf16 fallback applied)."""
    import torch

    from bench.engine.precision import native_dtype, precision_name

    cfg = engine.config
    return precision_name(native_dtype(cfg.precision, torch.device(cfg.device).type))


def derainer_info(model: Any, requested: str) -> dict[str, Any]:
    """``record["derainer"]``: what ran, with which weights, and whether those weights are final.

    ``weights`` keeps the file's path and sha256, the card's tag and ``status`` (also for a card's file
    loaded by path: same sha256); weights loaded by path from a ``bench train`` checkpoint also keep a
    summary of its ``training`` block (:func:`training_summary`), and their ``status`` is derived from it as
    for shipped cards (``"interim: step 300 of 100000"`` while the run had not done its planned steps nor
    converged; :func:`derainers.shipped.interim_status`), so tables label them "interim". A ``best.pt``
    saved before the end of its run reads as interim too: its block knows only its own step.
    """
    card = model.card
    weights = dict(getattr(model, "weights_info", {}) or {})
    weights.pop("card", None)
    training = weights.pop("training", None)
    tag = weights.get("tag")
    known = None if tag else next((s for s in card.weights if s.sha256 and s.sha256 == weights.get("sha256")), None)
    if known is not None:  # a card's file loaded by path is those weights: the card's tag and status
        weights["tag"] = tag = known.tag
        if known.status:
            weights["status"] = known.status
    reported = {}
    if tag and card.weights_for(tag) is not None:
        reported = {k: dict(v) for k, v in card.weights_for(tag).reported.items()}
    kept = {k: v for k, v in weights.items() if k in ("path", "sha256", "tag", "status")}
    summary = training_summary(training)
    if summary is not None:
        kept["training"] = summary
        if not tag:  # a card's weights keep the card's status (it knows how the whole run ended)
            from derainers.shipped import interim_status

            finished = True if summary.get("converged_at") is not None else None
            status = interim_status(summary.get("step"), summary.get("planned_steps"), finished)
            if status:
                kept["status"] = status
                logger.warning(
                    "%s: weights %s come from an unfinished training run (%s); records and tables label them 'interim'",
                    card.name,
                    kept.get("path"),
                    status,
                )
    return {
        "name": card.name,
        "requested": requested,
        "summary": card.summary,
        "paper": card.paper,
        "params": int(sum(p.numel() for p in model.parameters())),
        "weights": kept or None,
        "reported": reported,
        # A trainable network run without weights: its numbers are never the model's (tables say so).
        "random_init": bool(card.trainable and any(True for _ in model.parameters()) and not weights),
    }


def training_summary(training: Any) -> dict[str, Any] | None:
    """What a record keeps of a checkpoint's ``training`` block (``bench.train``'s ``last.pt``/``best.pt``):
    the step reached, the planned steps (``training.config.steps``) and ``converged_at`` when set.

    Example:
        >>> training_summary({"step": 300, "config": {"steps": 100000}, "converged_at": None, "val_history": []})
        {'step': 300, 'planned_steps': 100000}
        >>> training_summary(None) is None
        True
    """
    if not isinstance(training, dict):
        return None
    config = training.get("config")
    config = config if isinstance(config, dict) else {}
    found = {
        "step": training.get("step"),
        "planned_steps": config.get("steps"),
        "converged_at": training.get("converged_at"),
    }
    kept = {k: int(v) for k, v in found.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    return kept or None


def output_dir(config: RunConfig) -> Path:
    return runs_root(config.output_dir)


def open_journal(config: RunConfig, stem: str) -> Journal:
    journal = Journal(output_dir(config) / ".partial" / f"{stem}.jsonl", header=config.protocol())
    if not config.resume:
        journal.remove()
        journal = Journal(journal.path, header=config.protocol())
    elif len(journal):  # the task says "resuming ..." once, with the counts
        logger.debug("resuming: %d finished items found in %s", len(journal), journal.path)
    return journal


def base_record(config: RunConfig, derainer: dict[str, Any], dataset: dict[str, Any]) -> RunRecord:
    return RunRecord(
        schema_version=1,
        run_id=run_id(config, str(derainer.get("name")), str(dataset.get("name"))),
        created=now_iso(),
        task=config.task,
        derainer=derainer,
        dataset=dataset,
        metrics={},
        metric_info={},
        rows=[],
        issues=[],
        config=config.to_dict(),
        env=env_info(config.device),
        timings={},
    )


def progress(iterable: Any, total: int, desc: str) -> Any:
    """Progress on stderr: a bar on a terminal, a line every ~10 s otherwise (:mod:`bench.progress`)."""
    from bench.progress import progress as _progress

    return _progress(iterable, total, desc)


def skip_reason(path: object, reason: str) -> str:
    """``reason`` without a leading ``"<path>: "`` (the warning names the path once).

    Example:
        >>> skip_reason("a/1.png", "a/1.png: empty file")
        'empty file'
    """
    prefix = f"{path}: "
    return reason[len(prefix) :] if reason.startswith(prefix) else reason


class Stopwatch:
    """Accumulates seconds per named phase."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        self.totals[name] = self.totals.get(name, 0.0) + seconds

    def time(self, name: str) -> _Phase:
        return _Phase(self, name)


class _Phase:
    def __init__(self, watch: Stopwatch, name: str) -> None:
        self.watch, self.name = watch, name

    def __enter__(self) -> _Phase:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
        self.watch.add(self.name, self.seconds)
