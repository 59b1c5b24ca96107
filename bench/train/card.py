"""What a shipped weights card says about its training run (``scripts/ship_weights.py``), and the checks
that it describes that run: the ``bench train`` command that continues it (``--continue-shipped``), the
optimiser in words, the held-out pairs its scores are measured on, and how a change of weights over the
card's reads in a log (:func:`change_text`; the interval is :func:`bench.stats.intervals.per_image_change`).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "COMMAND_FIELDS",
    "NON_DEFAULT_FIELDS",
    "change_text",
    "check_val_data",
    "held_out_ids",
    "ids_text",
    "model_arg_text",
    "optimizer_text",
    "train_command",
]

#: TrainConfig fields always written as ``bench train`` options in the card's command (when set).
COMMAND_FIELDS = (
    "derainer", "init_weights", "start_step", "train", "val_split", "steps", "batch_size", "patch_size",
    "schedule", "lr", "lr_step", "lr_gamma", "amp", "device", "val_every", "save_every", "log_every", "seed",
    "min_steps",
)  # fmt: skip
#: Fields written only when they differ from TrainConfig's defaults, so that the commands of runs at the
#: defaults stay what cards have always said (and older code, which lacks ``--betas``/``--adam-eps``, parses
#: them); ``--continue-shipped`` reads an absent one as the default. ``model_kwargs`` become ``--model-arg``.
NON_DEFAULT_FIELDS = ("augment", "grad_clip", "lr_floor", "weight_decay", "betas", "adam_eps")


def _flag(name: str) -> str:
    return {"amp": "precision"}.get(name, name).replace("_", "-")  # --amp is the old spelling


def model_arg_text(value: Any) -> str:
    """A ``--model-arg KEY=VALUE`` value as the command line spells it (``bench.cli.values.parse_value``).

    Example:
        >>> model_arg_text([32, 64]), model_arg_text((8,)), model_arg_text(True), model_arg_text("gaussian")
        ('32,64', '8,', 'true', 'gaussian')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, list | tuple):
        items = [model_arg_text(v) for v in value]
        return ",".join(items) + ("," if len(items) == 1 else "")
    if isinstance(value, str):
        plain = value and not any(c in value for c in ",()[]'\"") and value.lower() not in ("true", "false", "none")
        return value if plain and not _is_number(value) else repr(value)
    return repr(value)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def train_command(config: Mapping[str, Any], output_dir: str) -> str:
    """The ``bench train`` command line that reproduces ``config`` (a ``TrainConfig.to_dict()``).

    Example:
        >>> train_command({"steps": 10, "betas": [0.5, 0.9], "lr_floor": 1e-6, "model_kwargs": {"M": 2}}, "OUT")
        'python -m bench train --steps 10 --betas 0.5 0.9 --model-arg M=2 --output-dir OUT'
    """
    from bench.train.config import TrainConfig

    defaults = TrainConfig().to_dict()
    parts = ["python -m bench train"]
    for name in COMMAND_FIELDS:
        value = config.get(name)
        if value is not None and not (name in ("start_step", "min_steps") and value == 0):
            value = "fp32" if name == "amp" and value == "none" else value
            parts.append(f"--{_flag(name)} {shlex.quote(str(value))}")
    for name in NON_DEFAULT_FIELDS:
        value = config.get(name)
        if value is None or _same(value, defaults[name]):
            continue
        text = " ".join(shlex.quote(str(v)) for v in value) if name == "betas" else shlex.quote(str(value))
        parts.append(f"--{_flag(name)} {text}")
    for key, value in sorted((config.get("model_kwargs") or {}).items()):
        parts.append(f"--model-arg {shlex.quote(f'{key}={model_arg_text(value)}')}")
    if config.get("channels_last"):
        parts.append("--channels-last")
    if config.get("compile"):
        parts.append("--optimize compile")
    if config.get("stop_when_converged"):
        parts.append("--stop-when-converged")
    parts.append(f"--output-dir {output_dir}")
    return " ".join(parts)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return list(a) == list(b)
    return bool(a == b)


def _number(value: Any) -> str:
    return f"{float(value):g}".replace("e-0", "e-").replace("e+0", "e+")


def optimizer_text(config: Mapping[str, Any]) -> str:
    """The card's ``training.optimizer`` line, from the run's configuration (missing keys: the defaults).

    Example:
        >>> optimizer_text({})
        'Adam (betas 0.9/0.999, eps 1e-8), fp32 master weights, loss in fp32'
        >>> optimizer_text({"betas": [0.5, 0.9], "weight_decay": 1e-4, "grad_clip": 0.1})[:72]
        'Adam (betas 0.5/0.9, eps 1e-8, weight decay 0.0001), gradient norm clipp'
    """
    betas = config.get("betas") or (0.9, 0.999)
    inner = f"betas {_number(betas[0])}/{_number(betas[1])}, eps {_number(config.get('adam_eps', 1e-8))}"
    if config.get("weight_decay"):
        inner += f", weight decay {_number(config['weight_decay'])}"
    clip = f", gradient norm clipped to {_number(config['grad_clip'])}" if config.get("grad_clip") else ""
    return f"Adam ({inner}){clip}, fp32 master weights, loss in fp32"


def ids_text(ids: Sequence[str]) -> str:
    """Pair ids as ``--ids`` spells them: runs of consecutive numbers as ranges.

    Example:
        >>> ids_text([str(i) for i in range(181, 201)]), ids_text(["3", "4", "9", "rain_a"])
        ('181-200', '3-4,9,rain_a')
    """
    out: list[str] = []
    run: list[int] = []

    def close() -> None:
        if run:
            out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
            run.clear()

    for item in ids:
        if item.isdigit() and item.isascii():
            if run and int(item) != run[-1] + 1:
                close()
            run.append(int(item))
        else:
            close()
            out.append(item)
    close()
    return ",".join(out)


def held_out_ids(training: Mapping[str, Any], given: str | None) -> str:
    """The ids a card's scores are measured on: the run's held-out ids (its checkpoint's
    ``training.dataset.val_ids``); ``given`` (``--val-ids``) must name exactly those.

    Raises:
        ValueError: ``given`` names other ids (some trained on, or held-out ones left out), or the
            checkpoint records no held-out ids and none are given.
    """
    from bench.config import id_key, parse_ids

    recorded = list((training.get("dataset") or {}).get("val_ids") or [])
    if not recorded:
        if given is None:
            raise ValueError("the checkpoint records no held-out ids: give them with --val-ids")
        return given
    if given is None:
        return ids_text(recorded)
    wanted = {id_key(i) for i in parse_ids(given) or []}
    held = {id_key(i) for i in recorded}
    if wanted != held:
        trained = sorted(wanted - held, key=_order)
        left = sorted(held - wanted, key=_order)
        raise ValueError(
            f"--val-ids {given} are not the run's held-out ids {ids_text(recorded)}"
            + (f": {ids_text(trained)} were not held out" if trained else "")
            + (f"{';' if trained else ':'} {ids_text(left)} left out" if left else "")
            + " (omit --val-ids to use the run's)"
        )
    return given


def _order(item: str) -> tuple[int, int | str]:
    return (0, int(item)) if item.isdigit() else (1, item)


def check_val_data(training: Mapping[str, Any], val_dataset: str, own: bool) -> str:
    """The sha256 of ``val_dataset``'s pair list (``pairs_digest``), checked against the run's data.

    ``own``: ``val_dataset`` is the run's own ``--train``; its pairs must be the ones the run trained on
    (same digest). Otherwise it is another copy of them (the original of a set unpacked on a GPU machine,
    whose re-encoded files differ in size): it must hold as many pairs with the same held-out ids last.

    Raises:
        ValueError: the pairs differ from the run's.
    """
    from bench.config import id_key
    from bench.data.catalog import resolve_dataset
    from bench.data.paired import detect_pairs
    from bench.engine.patches import pairs_digest, split_pairs
    from bench.registries import DATASETS

    stored = training.get("dataset") or {}
    _, folder, _ = resolve_dataset(val_dataset, None, registry=DATASETS)
    pairs = detect_pairs(folder).pairs
    digest = pairs_digest(pairs)
    if not stored.get("sha256") or digest == stored["sha256"]:
        return digest
    if own:
        raise ValueError(
            f"{folder}: its pairs (sha256 {digest[:12]}…) are not the ones the run trained on (sha256 "
            f"{str(stored['sha256'])[:12]}…): pairs added, removed, renamed or changed in size since"
        )
    recorded = [id_key(i) for i in stored.get("val_ids") or []]
    count = int(stored.get("train_pairs", 0)) + int(stored.get("val_pairs", 0))
    held = [id_key(p.id) for p in split_pairs(pairs, len(recorded))[1]] if 0 < len(recorded) < len(pairs) else []
    if len(pairs) != count or held != recorded:
        raise ValueError(
            f"--val-dataset {val_dataset}: {len(pairs)} pairs ending in {ids_text(held) or 'none'}, not a copy of "
            f"the run's data ({count} pairs, the last {len(recorded)} held out: {ids_text(recorded)})"
        )
    return digest


def change_text(change: Mapping[str, Any] | None) -> str:
    """One line for a log: the psnr_y change, its interval and whether it is distinguishable from zero.

    Example:
        >>> change_text({"images": 20, "psnr_y": {"estimate": 1.234, "lo": 0.9, "hi": 1.6, "p_value": 0.0001}})
        'psnr_y +1.234 dB [+0.900, +1.600] over 20 pairs (p 0.0001): better than the shipped weights'
        >>> change_text(None)
        'no per-image scores in the shipped card to compare with'
    """
    if not change or "psnr_y" not in change:
        return "no per-image scores in the shipped card to compare with"
    d = change["psnr_y"]
    lo, hi = float(d["lo"]), float(d["hi"])
    verdict = (
        "better than the shipped weights"
        if lo > 0
        else "worse than the shipped weights"
        if hi < 0
        else "not distinguishable from the shipped weights"
    )
    p = d.get("p_value")
    return (
        f"psnr_y {float(d['estimate']):+.3f} dB [{lo:+.3f}, {hi:+.3f}] over {change['images']} pairs"
        + (f" (p {float(p):.2g})" if p is not None else "")
        + f": {verdict}"
    )
