"""``python -m bench train``: train a derainer on a paired set (single process or under ``torchrun``)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: CLI destinations that map one to one onto TrainConfig fields.
_CONFIG_ARGS: tuple[str, ...] = (
    "derainer",
    "train",
    "output_dir",
    "steps",
    "data_root",
    "val_split",
    "init_weights",
    "start_step",
    "batch_size",
    "patch_size",
    "schedule",
    "lr",
    "lr_step",
    "lr_gamma",
    "lr_floor",
    "augment",
    "amp",
    "grad_clip",
    "val_every",
    "stop_when_converged",
    "min_steps",
    "save_every",
    "log_every",
    "seed",
    "device",
    "workers",
    "channels_last",
    "compile",
    "deterministic",
    "weight_decay",
    "betas",
    "adam_eps",
)


def parse_model_args(items: list[str] | None) -> dict[str, Any]:
    """``["M=5", "hidden=32,64,128"]`` → ``{"M": 5, "hidden": (32, 64, 128)}`` (lists become tuples).

    Values parse like ``-o`` (:func:`bench.cli.options.parse_value`).

    Raises:
        ValueError: an item has no ``=``.
    """
    from bench.cli.options import parse_pairs

    return parse_pairs(items, "--model-arg", tuples=True)


#: Shared options whose command-line default yields to a resumed checkpoint's value (unless given).
_SHARED_DEFAULTS: tuple[str, ...] = ("device", "precision", "optimize", "workers", "seed", "channels_last", "data_root")

EXAMPLES = (
    "bench train --derainer mspfn --train RainTrainL --val-split 20 --steps 300000 --output-dir runs/mspfn",
    "bench train --output-dir runs/mspfn --resume            # continue from runs/mspfn/last.pt",
    "bench train --derainer mspfn_light --continue-shipped RainTrainL --steps 50000 --output-dir runs/l2"
    "   # go on from the shipped weights (new machine)",
    "torchrun --nproc_per_node 4 -m bench train --derainer mspfn --device cuda ...   # DDP, no code change",
)


def add_parser(sub: Any, help_text: str) -> None:
    from bench.cli.options import add, add_deprecated, command_parser

    p = command_parser(
        sub,
        "train",
        help_text,
        description=(
            "Train a derainer on a paired rainy/clean set, single process or under torchrun (DDP). "
            "--resume continues a run with its stored configuration; options given again override it."
        ),
        examples=EXAMPLES,
    )
    g = p.add_argument_group("what to train")
    add(g, "derainer", help="registered derainer name or path/to/file.py:Class (required unless --resume)")
    g.add_argument(
        "--model-arg",
        action="append",
        metavar="KEY=VALUE",
        help="architecture override passed to the derainer factory (repeatable; values parse like -o; a,b is a tuple)",
    )
    g.add_argument("--init-weights", help="start from these weights (path or tag) instead of random init")
    g.add_argument(
        "--start-step",
        type=int,
        default=None,
        metavar="N",
        help="with --init-weights: continue a run whose resume state is lost from its exported weights at step N "
        "(schedule and data stream continue; Adam restarts) (docs/training.md)",
    )
    g.add_argument(
        "--continue-shipped",
        metavar="TAG",
        help="continue the training of the derainer's shipped weights TAG: the card's own command with "
        "--init-weights TAG --start-step <the card's steps>; options given here override it (e.g. --steps)",
    )
    g.add_argument("--train", help="paired training set: registered name (RainTrainL) or folder")
    add(g, "data_root")
    g.add_argument("--val-split", type=int, help="hold back the last N pairs in natural order (default 20)")
    add(g, "output_dir", required=True, help="folder for last.pt, best.pt, metrics.csv, config.json")
    g.add_argument(
        "--resume", nargs="?", const="", metavar="PATH", help="resume from PATH (no value: OUTPUT_DIR/last.pt)"
    )

    g = p.add_argument_group("optimisation")
    g.add_argument("--steps", type=int, help="total optimiser steps (default 1000)")
    add(g, "batch_size", default=None, help="patches per step per process (default 8, as in the paper)")
    g.add_argument("--patch-size", type=int, help="patch side (default: the card's, 96 for MSPFN)")
    g.add_argument(
        "--schedule",
        choices=("step", "exp"),
        help="step: paper StepLR (2e-4, x0.5 / 20k, floor 1e-6); exp: release 5e-4*0.8^(s/20k)+1e-6",
    )
    g.add_argument("--lr", type=float, help="initial learning rate (default: the schedule's)")
    g.add_argument("--lr-step", type=int, help="steps per decay period (20000)")
    g.add_argument("--lr-gamma", type=float, help="decay factor (default: the schedule's, 0.5 / 0.8)")
    g.add_argument("--lr-floor", type=float, help="floor (step) or additive constant (exp) (1e-6)")
    g.add_argument("--weight-decay", type=float, help="Adam weight decay (0)")
    g.add_argument("--betas", type=float, nargs=2, metavar=("B1", "B2"), help="Adam betas (0.9 0.999)")
    g.add_argument("--adam-eps", type=float, metavar="EPS", help="Adam epsilon (1e-8)")
    g.add_argument(
        "--stop-when-converged",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="end the run at the first validation where val psnr_y rose < 0.05 dB (least-squares trend) over the "
        "last 20 %% of steps; --steps is then the most it runs; --no-stop-when-converged goes on past it",
    )
    g.add_argument(
        "--min-steps",
        type=int,
        metavar="N",
        help="--stop-when-converged judges the rule only from step N on (0); a step schedule's plateaus between "
        "rate drops meet it too early",
    )
    g.add_argument("--grad-clip", type=float, help="clip the global gradient norm to this value")
    g.add_argument(
        "--augment",
        choices=("sample", "batch", "none"),
        help="dihedral augmentation per sample (default) or per batch (the release)",
    )
    add(g, "seed")

    g = p.add_argument_group("logging and checkpoints")
    g.add_argument("--val-every", type=int, help="validate and save last.pt every K steps (1000)")
    g.add_argument("--save-every", type=int, help="save last.pt every K steps (default: with validation)")
    g.add_argument("--log-every", type=int, help="metrics.csv row every K steps (10)")
    add(g, "no_progress")
    g.add_argument(
        "--time-limit",
        type=float,
        metavar="SECONDS",
        help="stop after the step that reaches SECONDS of this call, last.pt saved (--resume goes on); "
        "for machines lent for a fixed time. Not stored with the run",
    )
    g.add_argument(
        "--export-weights",
        metavar="PATH",
        help="after training, write best.pt (or last.pt) as a weights-only file here",
    )
    g.add_argument(
        "--export-dtype", choices=("fp32", "fp16", "bf16"), default="fp16", help="dtype of the exported weights"
    )

    g = p.add_argument_group("speed")
    add(g, "device")
    add(g, "precision", choices=("fp32", "bf16", "fp16"))
    add_deprecated(
        g,
        "--amp",
        dest="precision",
        new="--precision",
        choices=("none", "bf16", "fp16"),
        convert=lambda v: "fp32" if v == "none" else v,
    )
    add(g, "workers")
    add(g, "channels_last")
    add(g, "optimize", choices=("none", "compile"), help="compile: torch.compile the model")
    add_deprecated(g, "--compile", dest="optimize", new="--optimize compile", nargs=0, convert=lambda _v: "compile")
    g.add_argument("--deterministic", action="store_true", default=None, help="deterministic cuDNN on GPU")
    p.set_defaults(func=run)


def build_config(args: argparse.Namespace):  # -> bench.train.TrainConfig
    """Merge defaults, the resumed checkpoint's configuration and the options given on the command line.

    Raises:
        ValueError: ``--derainer``/``--train`` missing for a fresh run.
        FileNotFoundError: the checkpoint to resume from does not exist.
    """
    from bench.cli.options import explicit
    from bench.train import TrainConfig

    given = explicit(args)
    cli = _cli_values(args)
    values: dict[str, Any] = {k: v for k, v in cli.items() if _dest(k) in _SHARED_DEFAULTS}
    if args.resume is not None:
        resume = Path(args.resume) if args.resume else Path(args.output_dir) / "last.pt"
        if not resume.is_file():
            raise FileNotFoundError(f"cannot resume: checkpoint {resume} does not exist")
        from bench.engine.checkpoint import load_checkpoint

        payload = load_checkpoint(resume)
        old = payload.get("training", {}).get("config", {}) if isinstance(payload, dict) else {}
        unknown = sorted(set(old) - TrainConfig.field_names())
        if unknown:  # written by newer code: resuming here would silently change the run
            logger.warning("%s was written by newer code: ignoring its options %s", resume, ", ".join(unknown))
        values.update({k: v for k, v in old.items() if k not in ("resume", "output_dir", "progress")})
        values["resume"] = str(resume)
    elif args.continue_shipped:
        values.update(shipped_training_values(args.derainer, args.continue_shipped))
    for name, value in cli.items():
        if _dest(name) not in _SHARED_DEFAULTS or _dest(name) in given:
            values[name] = value
    if args.model_arg:
        values["model_kwargs"] = {**values.get("model_kwargs", {}), **parse_model_args(args.model_arg)}
    if args.no_progress:
        values["progress"] = False
    for required in ("derainer", "train"):
        if not values.get(required):
            raise ValueError(f"--{required} is required (unless --resume finds it in the checkpoint)")
    return TrainConfig.from_dict(values)


def shipped_training_values(derainer: str | None, tag: str) -> dict[str, Any]:
    """TrainConfig values that continue the training of ``derainer``'s shipped weights ``tag``.

    The card's ``training.command`` is parsed by this same parser, then ``init_weights`` is the tag and
    ``start_step`` the card's ``training.steps`` (the step counter, schedule and data stream go on from there).
    Options the command does not spell out (cards written before it listed ``--augment``, ``--grad-clip``,
    ``--lr-floor``, ``--weight-decay``, ``--betas``, ``--adam-eps`` and ``--model-arg``, or any option at its
    default) take the defaults.

    Raises:
        ValueError: no ``--derainer``, no such shipped weights, or a card without a training command.
    """
    import shlex

    from bench.cli import build_parser
    from derainers.shipped import shipped_cards

    if not derainer:
        raise ValueError("--continue-shipped needs --derainer (whose shipped weights to continue)")
    cards = {str(c.get("tag")): c for c in shipped_cards(derainer)}
    card = cards.get(tag)
    if card is None:
        known = ", ".join(sorted(cards)) or "none"
        raise ValueError(f"{derainer} has no shipped weights {tag!r} (shipped: {known}; bench ls derainers --cards)")
    training = card.get("training") or {}
    command = str(training.get("command") or "")
    if not command.startswith("python -m bench train ") or "steps" not in training:
        raise ValueError(f"the card of {derainer} {tag!r} has no bench train command to continue")
    tokens = shlex.split(command)[4:]
    if "--output-dir" in tokens:  # the card's is a placeholder
        at = tokens.index("--output-dir")
        del tokens[at : at + 2]
    card_args = build_parser().parse_args(["train", *tokens, "--output-dir", "."])
    values = {k: v for k, v in _cli_values(card_args).items() if k != "output_dir"}
    if card_args.model_arg:  # the architecture the weights were trained with (none: the defaults)
        values["model_kwargs"] = parse_model_args(card_args.model_arg)
    values.update(derainer=derainer, init_weights=tag, start_step=int(training["steps"]))
    logger.info(
        "continuing %s %r from step %d with its card's command (Adam restarts; options given here override)",
        derainer,
        tag,
        values["start_step"],
    )
    return values


def _dest(field: str) -> str:
    """The command-line destination of a TrainConfig field."""
    return {"amp": "precision", "compile": "optimize"}.get(field, field)


def _cli_values(args: argparse.Namespace) -> dict[str, Any]:
    """TrainConfig fields from the command line (``None``: not given and no command-line default)."""
    values: dict[str, Any] = {}
    for name in _CONFIG_ARGS:
        if name == "amp":
            value: Any = None if args.precision is None else ("none" if args.precision == "fp32" else args.precision)
        elif name == "compile":
            value = None if args.optimize is None else args.optimize == "compile"
        elif name == "channels_last":
            value = args.channels_last
        else:
            value = getattr(args, name, None)
        if value is not None:
            values[name] = value
    return values


def run(args: argparse.Namespace) -> int:
    from bench.cli.checks import check_output_dir
    from bench.train import Trainer, export_weights

    config = build_config(args)
    check_output_dir(config.output_dir)
    result = Trainer(config).fit(time_limit=args.time_limit)
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    tail = result.losses[-10:]
    loss_text = f"{sum(tail) / len(tail):.5g}" if tail else "n/a"
    best = (
        f"best val psnr_y {result.best_psnr_y:.3f} dB @ step {result.best_step}"
        if result.best_psnr_y is not None
        else "no validation"
    )
    exported = ""
    if args.export_weights:
        source = result.best_checkpoint or result.last_checkpoint
        if source is not None:
            path = export_weights(source, args.export_weights, dtype=args.export_dtype)
            exported = f", exported {path}"
    sys.stdout.write(
        f"trained {config.derainer}: step {result.step}/{config.steps}, loss {loss_text} (mean of last "
        f"{len(tail)} steps), {best}, {result.seconds:.1f} s, checkpoints in {config.output_dir}{exported}"
        + (" (stopped at --time-limit: --resume goes on)" if result.timed_out else "")
        + "\n"
    )
    return 0
