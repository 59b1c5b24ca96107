"""Pieces every task shares: building the derainer and engine, the journal, the record skeleton."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench import _version
from bench.config import RunConfig, run_id
from bench.engine.inference import InferenceConfig, InferenceEngine
from bench.fileio import file_sha256
from bench.paths import data_root, runs_root
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


def weights_sha256(config: RunConfig) -> str | None:
    """The sha256 of the weights ``config`` loads, as its record's ``derainer["weights"]["sha256"]`` will say
    (``None``: no weights, a random initialisation).

    A run's weights are named by a path or a tag, which stay the same when the file behind them is retrained
    or replaced; this hash is what tells the two apart. A file is hashed as the derainer's loader hashes it;
    ``default``, a tag or a TF checkpoint are resolved by building the derainer (quietly: the run that follows
    logs the factory's warnings itself).
    """
    import torch

    from bench.factory import NO_WEIGHTS, create_derainer

    weights = config.weights
    if weights is None or str(weights).lower() in NO_WEIGHTS:
        return None
    path = Path(str(weights)).expanduser()
    if path.is_file():
        from bench.convert.tf_checkpoint import is_tf_checkpoint

        if not is_tf_checkpoint(path):
            return file_sha256(path)
    factory_log = logging.getLogger("bench.factory")
    was_disabled, factory_log.disabled = factory_log.disabled, True
    try:
        with torch.random.fork_rng(devices=[]):  # the run's own seeding is not disturbed
            model = create_derainer(config.derainer, weights=weights)
    finally:
        factory_log.disabled = was_disabled
    sha = (getattr(model, "weights_info", {}) or {}).get("sha256")
    return str(sha) if sha else None


def resolved_data_root(config: RunConfig) -> str | None:
    """The data root ``config`` reads named sets from (``--data-root``, else ``$BENCH_DATA``), absolute.

    Resolved when the run starts: a record or journal that kept ``None`` could not tell ``$BENCH_DATA``
    of then from that of now.
    """
    root = data_root(config.data_root)
    return str(root.resolve()) if root is not None else None


def run_identity(config: RunConfig, derainer: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What decides a run's rows beside :meth:`RunConfig.protocol`: the weights' sha256, the resolved data
    root and the bench version. The protocol names the record, so it cannot hold these (a retrained file
    would get a new record name); they are compared before a journal's rows or a finished record are reused.

    Args:
        config: The run.
        derainer: The run's ``record["derainer"]`` (:func:`build_engine`), whose weights' sha256 is then taken
            as is; without it the weights are resolved and hashed (:func:`weights_sha256`).
    """
    sha = weights_sha256(config) if derainer is None else (derainer.get("weights") or {}).get("sha256")
    return {"weights_sha256": sha, "data_root": resolved_data_root(config), "bench": _version.__version__}


def record_identity(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """:func:`run_identity` of the run that wrote ``record`` (``None``: a record from before it kept its data root)."""
    env = record.get("env") or {}
    if "data_root" not in env:
        return None
    weights = (record.get("derainer") or {}).get("weights") or {}
    return {"weights_sha256": weights.get("sha256"), "data_root": env["data_root"], "bench": env.get("bench")}


def identity_changes(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> str:
    """Why an earlier run (identity ``old``) is not this one (``new``), in words; ``""`` when it is.

    Example:
        >>> identity_changes({"weights_sha256": "ab" * 32, "data_root": "/d", "bench": "1"},
        ...                  {"weights_sha256": "cd" * 32, "data_root": "/d", "bench": "1"})
        'weights changed (sha256 abababababab… → cdcdcdcdcdcd…)'
        >>> identity_changes({"weights_sha256": None, "data_root": "/d", "bench": "1"},
        ...                  {"weights_sha256": None, "data_root": "/d", "bench": "1"})
        ''
    """
    if not isinstance(old, Mapping):
        return "written by an older bench that kept no weights sha256, data root and bench version"

    def short(sha: Any) -> str:
        return f"{str(sha)[:12]}…" if sha else "none"

    changes = []
    if old.get("weights_sha256") != new.get("weights_sha256"):
        changes.append(
            f"weights changed (sha256 {short(old.get('weights_sha256'))} → {short(new.get('weights_sha256'))})"
        )
    if old.get("data_root") != new.get("data_root"):
        changes.append(f"data root changed ({old.get('data_root')} → {new.get('data_root')})")
    if old.get("bench") != new.get("bench"):
        changes.append(f"bench version changed ({old.get('bench')} → {new.get('bench')})")
    return "; ".join(changes)


def open_journal(config: RunConfig, stem: str, derainer: Mapping[str, Any] | None = None) -> Journal:
    """The journal of the run's finished rows, keyed on the protocol and :func:`run_identity`.

    A journal of the same protocol written with other weights (same path or tag, another sha256), another data
    root or another bench version holds rows of another run: it is discarded (saying why) and the run starts over.

    Args:
        config: The run.
        stem: The record's file stem (:func:`bench.config.record_name`).
        derainer: The run's ``record["derainer"]``; without it the weights are hashed once more.
    """
    header = {**config.protocol(), "identity": run_identity(config, derainer)}
    journal = Journal(output_dir(config) / ".partial" / f"{stem}.jsonl", header=header)
    if not config.resume:
        journal.remove()
        journal = Journal(journal.path, header=header)
    elif journal.discarded:  # rows of another run under this name: say once why they are not reused
        why = identity_changes(journal.discarded.get("identity"), header["identity"]) or "its options differ"
        logger.warning("%s: not resuming the partial run (%s): starting over", stem, why)
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
        # the data root too: `bench run` compares it before it reuses the record (record_identity)
        env={**env_info(config.device), "data_root": resolved_data_root(config)},
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
