"""The one command-line vocabulary: every option that more than one command takes is defined here, once.

Each command builds its parser with :func:`command_parser` (help formatter with defaults shown, examples,
a pointer at docs/cli.md) and adds shared options with :func:`add` (same flags, default, type and help
in every command; ``tests/test_cli_vocabulary.py`` walks every parser to check it). Old spellings stay
for one release as hidden aliases that warn (:func:`add_deprecated`); an old short flag that now means
something else fails with a one-line hint (:func:`add_moved`). The vocabulary is written down in
docs/cli.md.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from bench.cli.actions import (
    TRACKED,
    SplitCommas,
    add_deprecated,
    add_moved,
    explicit,
    mark_explicit,
)
from bench.cli.checks import nonnegative_int, positive_int
from bench.cli.values import parse_options, parse_pairs, parse_value

__all__ = [
    "SHARED",
    "add",
    "add_deprecated",
    "add_moved",
    "add_run_arguments",
    "command_parser",
    "explicit",
    "mark_explicit",
    "parse_options",
    "parse_pairs",
    "parse_value",
]

DOCS_HINT = "Documentation: docs/cli.md (every command and option), README.md, docs/*.md."
#: The ``--device`` default of every command (``cuda`` / ``cuda:N`` are asked for explicitly).
DEFAULT_DEVICE = "cpu"
#: The ``--workers`` default of every command.
DEFAULT_WORKERS = 2
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16", "auto")
OPTIMIZE_METHODS: tuple[str, ...] = ("none", "jit", "jit_onednn", "compile")
FORMATS: tuple[str, ...] = ("markdown", "csv", "latex", "html")


# ---------------------------------------------------------------------------------------------- shared options
@dataclass(frozen=True)
class OptionSpec:
    """One shared option: its flags and ``add_argument`` keywords (the same in every command).

    Attributes:
        flags: Option strings, long name first.
        kwargs: ``add_argument`` keywords (default, type, choices, help, ...).
        per_command: Keywords a command may set itself (e.g. ``help`` of ``--output-dir``: what is written
            there); everything else is fixed.
        env_default: Environment variable whose value is the default, read when a parser is built (not
            when this module is imported, so a variable set later in the same process counts).
    """

    flags: tuple[str, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    per_command: frozenset[str] = frozenset()
    env_default: str | None = None


SHARED: dict[str, OptionSpec] = {
    "derainer": OptionSpec(
        ("--derainer",),
        {"metavar": "NAME", "help": "registered derainer name, entry-point plugin name or path/to/file.py:Class"},
        frozenset({"nargs", "default", "required", "help"}),
    ),
    "weights": OptionSpec(
        ("--weights",),
        {"default": "default", "help": "'default' (the card's), a tag from the card (e.g. Rain100L), a file or 'none'"},
        frozenset({"default", "help"}),
    ),
    "dataset": OptionSpec(
        ("--dataset",), {"default": None, "help": "registered dataset name or a folder"}, frozenset({"help", "default"})
    ),
    "data_root": OptionSpec(
        ("--data-root",),
        {"metavar": "DIR", "help": "root of the named data sets ($BENCH_DATA)"},
        env_default="BENCH_DATA",
    ),
    "limit": OptionSpec(
        ("--limit",),
        {"type": positive_int, "default": None, "metavar": "N", "help": "only the first N items (natural order)"},
        frozenset({"help"}),
    ),
    "output_dir": OptionSpec(
        ("--output-dir",), {"default": None, "metavar": "DIR"}, frozenset({"help", "required", "default"})
    ),
    "output": OptionSpec(("--output",), {"default": None, "metavar": "FILE"}, frozenset({"help"})),
    "device": OptionSpec(("--device",), {"default": DEFAULT_DEVICE, "help": "cpu, cuda, cuda:1 ..."}),
    "seed": OptionSpec(
        ("--seed",),
        {"type": int, "default": 0, "help": "seed of everything random (synthetic rain, random init)"},
        frozenset({"default", "help"}),
    ),
    "metrics": OptionSpec(
        ("--metrics",),
        {
            "nargs": "+",
            "action": SplitCommas,
            "default": None,
            "metavar": "NAME",
            "help": "metric names, space or comma separated (e.g. psnr_y ssim_y or psnr_y,ssim_y)",
        },
        frozenset({"help"}),
    ),
    "batch_size": OptionSpec(
        ("--batch-size",),
        {"type": positive_int, "default": 1, "metavar": "N", "help": "images per forward pass"},
        frozenset({"default", "help"}),
    ),
    "precision": OptionSpec(
        ("--precision",),
        {
            "choices": PRECISIONS,
            "default": "fp32",
            "help": "autocast: bf16/fp16 on GPU, bf16 on a CPU with native bf16 (fp32 elsewhere); auto: the "
            "fastest precision native here that the derainer's card has verified (where offered: bench run)",
        },
        frozenset({"choices"}),
    ),
    "optimize": OptionSpec(
        ("--optimize",),
        {
            "choices": OPTIMIZE_METHODS,
            "default": "none",
            "help": "optimised inference path (traced / compiled once; outputs equal eager within 1e-5)",
        },
        frozenset({"choices", "help"}),
    ),
    "channels_last": OptionSpec(("--channels-last",), {"action": "store_true", "help": "channels-last memory format"}),
    "workers": OptionSpec(
        ("--workers",),
        {
            "type": nonnegative_int,
            "default": DEFAULT_WORKERS,
            "metavar": "N",
            "help": "workers loading data ahead of the model (threads in run, processes in train; 0: in line)",
        },
    ),
    "quantize": OptionSpec(
        ("--quantize",),
        {
            "choices": ("round", "trunc"),
            "default": "round",
            "help": "how derained outputs become 8-bit (trunc: the uint8(255*x) of the PReNet/MSPFN test scripts)",
        },
    ),
    "crop_multiple": OptionSpec(
        ("--crop-multiple",),
        {"type": positive_int, "default": 1, "metavar": "K", "help": "crop every image top-left to a multiple of K"},
        frozenset({"default", "help"}),
    ),
    "no_progress": OptionSpec(
        ("--no-progress",),
        {"action": "store_true", "help": "no progress bar (and no periodic progress line) on stderr"},
    ),
    "option": OptionSpec(
        ("--option", "-o"),
        {
            "action": "append",
            "default": [],
            "metavar": "KEY=VALUE",
            "help": "task option, e.g. -o evaluator=yolo -o conf=0.001 (repeatable; a,b is a list)",
        },
    ),
    "format": OptionSpec(
        ("--format", "-f"),
        {"choices": FORMATS, "default": "markdown", "help": "format of the tables"},
        frozenset({"help"}),
    ),
    "runs": OptionSpec(
        ("--runs",),
        {"default": None, "metavar": "DIR", "help": "folder of run records (searched recursively)"},
        frozenset({"help"}),
    ),
    "force": OptionSpec(("--force",), {"action": "store_true"}, frozenset({"help"})),
    "shard": OptionSpec(
        ("--shard",),
        {
            "default": None,
            "metavar": "i/n",
            "help": "run only shard i of n (0-based, like RANK; its files are named shard-(i+1)-of-n); 'auto': from "
            "torchrun's RANK/WORLD_SIZE or a SLURM array (docs/scaling.md)",
        },
    ),
}


def add(p: argparse.ArgumentParser | Any, name: str, **overrides: Any) -> argparse.Action:
    """Add the shared option ``name`` (a key of :data:`SHARED`) to a parser or argument group.

    Raises:
        TypeError: an override of a keyword the option fixes for every command.
    """
    spec = SHARED[name]
    fixed = set(overrides) - spec.per_command
    if fixed:
        raise TypeError(f"--{name.replace('_', '-')}: {', '.join(sorted(fixed))} is the same in every command")
    kwargs = {**spec.kwargs, **overrides}
    if spec.env_default is not None and "default" not in kwargs:
        kwargs["default"] = os.environ.get(spec.env_default)
    if kwargs.get("action") == "append" and kwargs.get("default") == []:
        kwargs["default"] = []  # a fresh list per parser
    return p.add_argument(*spec.flags, dest=name, **kwargs)


# ---------------------------------------------------------------------------------------------- parsers
class BenchParser(argparse.ArgumentParser):
    """An argument error is one line on stderr (``bench run: error: ... (bench run --help)``), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples as written; every option's default shown (unless None / off / empty)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or "(default" in text
            or default is None
            or default is False
            or (isinstance(default, str | list | tuple) and default in (argparse.SUPPRESS, "", [], ()))
            or not (action.option_strings or action.nargs in ("?", "*"))
        ):
            return text
        shown = " ".join(map(str, default)) if isinstance(default, list | tuple) else str(default)
        return f"{text} (default: {shown.replace('%', '%%')})"


def command_parser(
    sub: argparse._SubParsersAction,
    name: str,
    help_text: str,
    *,
    description: str,
    examples: Sequence[str],
) -> argparse.ArgumentParser:
    """The parser of one command: one-line purpose, longer description, 2-4 examples, defaults shown.

    Every ``store``/``store_true``/``append`` option of it records whether it was given (:func:`explicit`).
    """
    import textwrap

    epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples) + f"\n\n{DOCS_HINT}"
    purpose = f"{help_text[0].upper()}{help_text[1:]}."
    body = "\n\n".join(textwrap.fill(part, 100) for part in description.split("\n\n"))
    p = sub.add_parser(
        name,
        help=help_text,
        description=f"{purpose}\n\n{body}",
        epilog=epilog,
        formatter_class=HelpFormatter,
    )
    for action, cls in TRACKED.items():
        p.register("action", action, cls)
    return p


# ---------------------------------------------------------------------------------------------- run options
def add_run_arguments(p: argparse.ArgumentParser, *, several_derainers: bool = True) -> None:
    """The options of ``bench run`` (derain a dataset, evaluate, write a record)."""
    add(
        p,
        "derainer",
        nargs="+" if several_derainers else None,
        default=["identity"] if several_derainers else "identity",
        help="registered derainer name(s) or path/to/file.py:Class (one run record each)",
    )
    add(p, "weights")
    add(p, "dataset")
    add(p, "data_root")
    add(p, "limit")
    p.add_argument(
        "--ids",
        default=None,
        metavar="IDS",
        help="only these item ids, e.g. 181-200 (RainTrainL's held-out validation pairs) or 3,7,rain_a",
    )
    add(p, "output_dir", help="where run records go (default $BENCH_RUNS or ./runs)")
    add(p, "device")
    add(p, "seed")
    add(p, "quantize")
    add(p, "crop_multiple", help="crop every image top-left to a multiple of K (paper protocol: 8)")
    add(p, "metrics", help="metric names, space or comma separated (default: the task's)")
    p.add_argument("--tile", type=positive_int, default=None, help="tile frames larger than this many pixels per side")
    p.add_argument("--overlap", type=nonnegative_int, default=32, help="tile overlap in pixels")
    add(p, "batch_size")
    add(p, "precision")
    add(p, "channels_last")
    add(p, "optimize")
    p.add_argument("--save-images", action="store_true", help="also write derained images")
    add(p, "workers")
    add(p, "shard")
    p.add_argument("--no-resume", action="store_true", help="ignore finished rows of an interrupted run")
    add(p, "force", help="recompute a run whose record is complete (default: reuse it)")
    add(p, "no_progress")
    add(p, "option")
