"""``python -m bench train``: train a derainer on a paired set (single process or under ``torchrun``).

Example::

    python -m bench train --derainer mspfn --train RainTrainL --data-root ../shared/data \\
        --val-split 20 --steps 300000 --output-dir runs/mspfn
    python -m bench train --output-dir runs/mspfn --resume            # continue from runs/mspfn/last.pt
    torchrun --nproc_per_node 4 -m bench train --derainer mspfn ...   # DDP, no code change
"""

from __future__ import annotations

import argparse
import ast
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
    "save_every",
    "log_every",
    "seed",
    "device",
    "workers",
    "channels_last",
    "compile",
    "deterministic",
    "weight_decay",
)


def parse_value(text: str) -> Any:
    """Parse a ``--model-arg`` value: bool, None, int, float, tuple (``1,2,3`` or ``(1, 2)``) or string.

    Example:
        >>> parse_value("17"), parse_value("0.5"), parse_value("true"), parse_value("32,64,128")
        (17, 0.5, True, (32, 64, 128))
        >>> parse_value("gaussian")
        'gaussian'
    """
    value = text.strip()
    lowered = value.lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    if lowered in ("none", "null"):
        return None
    if "," in value and not value.startswith(("(", "[")):
        return tuple(parse_value(part) for part in value.split(",") if part.strip())
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value
    if isinstance(parsed, list):
        return tuple(parsed)
    return parsed


def parse_model_args(items: list[str] | None) -> dict[str, Any]:
    """``["M=5", "hidden=32,64,128"]`` → ``{"M": 5, "hidden": (32, 64, 128)}``.

    Raises:
        ValueError: an item has no ``=``.
    """
    result: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--model-arg expects key=value, got {item!r}")
        result[key.strip().replace("-", "_")] = parse_value(value)
    return result


def add_parser(sub: Any, help_text: str) -> None:
    p = sub.add_parser(
        "train",
        help=help_text,
        description="Train a derainer on a paired rainy/clean set (single process or under torchrun).",
    )
    g = p.add_argument_group("what to train")
    g.add_argument("--derainer", help="registered derainer name or path/to/file.py:Class (required unless --resume)")
    g.add_argument(
        "--model-arg",
        action="append",
        metavar="KEY=VALUE",
        help="architecture override passed to the derainer factory (repeatable; values parse as int/float/bool/tuple)",
    )
    g.add_argument("--init-weights", help="start from these weights (path or tag) instead of random init")
    g.add_argument("--train", help="paired training set: registered name (RainTrainL) or folder")
    g.add_argument("--data-root", help="root folder of named datasets (default: $BENCH_DATA)")
    g.add_argument("--val-split", type=int, help="hold back the last N pairs in natural order (default 20)")
    g.add_argument("--output-dir", required=True, help="folder for last.pt, best.pt, metrics.csv, config.json")
    g.add_argument(
        "--resume", nargs="?", const="", metavar="PATH", help="resume from PATH (no value: OUTPUT_DIR/last.pt)"
    )

    g = p.add_argument_group("optimisation")
    g.add_argument("--steps", type=int, help="total optimiser steps (default 1000)")
    g.add_argument("--batch-size", type=int, help="patches per step per process (paper 8)")
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
    g.add_argument("--grad-clip", type=float, help="clip the global gradient norm to this value")
    g.add_argument(
        "--augment",
        choices=("sample", "batch", "none"),
        help="dihedral augmentation per sample (default) or per batch (the release)",
    )
    g.add_argument("--seed", type=int, help="seed of initialisation and data stream (0)")

    g = p.add_argument_group("logging and checkpoints")
    g.add_argument("--val-every", type=int, help="validate and save last.pt every K steps (1000)")
    g.add_argument("--save-every", type=int, help="save last.pt every K steps (default: with validation)")
    g.add_argument("--log-every", type=int, help="metrics.csv row every K steps (10)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.add_argument(
        "--export-weights",
        metavar="PATH",
        help="after training, write best.pt (or last.pt) as a weights-only file here",
    )
    g.add_argument(
        "--export-dtype", choices=("fp32", "fp16", "bf16"), default="fp16", help="dtype of the exported weights"
    )

    g = p.add_argument_group("speed")
    g.add_argument("--device", help="cpu, cuda or cuda:N (default: CUDA when available)")
    g.add_argument(
        "--amp",
        choices=("none", "bf16", "fp16"),
        help="autocast: bf16/fp16 on GPU, bf16 on a CPU with native bf16 (fp32 elsewhere)",
    )
    g.add_argument("--workers", type=int, help="data-loader worker processes (0)")
    g.add_argument("--channels-last", action="store_true", default=None, help="channels-last memory format")
    g.add_argument("--compile", action="store_true", default=None, help="torch.compile the model")
    g.add_argument("--deterministic", action="store_true", default=None, help="deterministic cuDNN on GPU")
    p.set_defaults(func=run)


def build_config(args: argparse.Namespace):  # -> bench.engine.train.TrainConfig
    """Merge defaults, the resumed checkpoint's configuration and the options given on the command line.

    Raises:
        ValueError: ``--derainer``/``--train`` missing for a fresh run.
        FileNotFoundError: the checkpoint to resume from does not exist.
    """
    from bench.engine.train import TrainConfig

    values: dict[str, Any] = {}
    if args.resume is not None:
        resume = Path(args.resume) if args.resume else Path(args.output_dir) / "last.pt"
        if not resume.is_file():
            raise FileNotFoundError(f"cannot resume: checkpoint {resume} does not exist")
        from bench.engine.checkpoint import load_checkpoint

        payload = load_checkpoint(resume)
        old = payload.get("training", {}).get("config", {}) if isinstance(payload, dict) else {}
        values.update({k: v for k, v in old.items() if k not in ("resume", "output_dir", "progress")})
        values["resume"] = str(resume)
    for name in _CONFIG_ARGS:
        value = getattr(args, name, None)
        if value is not None:
            values[name] = value
    if args.model_arg:
        values["model_kwargs"] = {**values.get("model_kwargs", {}), **parse_model_args(args.model_arg)}
    if args.no_progress:
        values["progress"] = False
    for required in ("derainer", "train"):
        if not values.get(required):
            raise ValueError(f"--{required} is required (unless --resume finds it in the checkpoint)")
    return TrainConfig.from_dict(values)


def run(args: argparse.Namespace) -> int:
    from bench.engine.train import Trainer, export_weights

    config = build_config(args)
    result = Trainer(config).fit()
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
        f"{len(tail)} steps), {best}, {result.seconds:.1f} s, checkpoints in {config.output_dir}{exported}\n"
    )
    return 0
