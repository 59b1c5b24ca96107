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
import ast
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from bench.cli.checks import positive_int

DOCS_HINT = "Documentation: docs/cli.md (every command and option), README.md, docs/*.md."
#: The ``--device`` default of every command (``cuda`` / ``cuda:N`` are asked for explicitly).
DEFAULT_DEVICE = "cpu"
#: The ``--workers`` default of every command.
DEFAULT_WORKERS = 2
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16", "auto")
OPTIMIZE_METHODS: tuple[str, ...] = ("none", "jit", "jit_onednn", "compile")
FORMATS: tuple[str, ...] = ("markdown", "csv", "latex", "html")
EXPLICIT = "_explicit_options"


# ---------------------------------------------------------------------------------------------- values
def parse_value(text: str) -> Any:
    """The value of ``-o KEY=VALUE`` and ``--model-arg KEY=VALUE``: bool, None, int, float, list or string.

    ``a,b`` and ``[a, b]`` / ``(a, b)`` are lists of parsed values (``--model-arg`` turns them into tuples,
    see :func:`parse_pairs`).

    Example:
        >>> parse_value("17"), parse_value("0.5"), parse_value("true"), parse_value("32,64,128")
        (17, 0.5, True, [32, 64, 128])
        >>> parse_value("(1, 2)"), parse_value("gaussian"), parse_value("none") is None
        ([1, 2], 'gaussian', True)
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
        return [parse_value(part) for part in value.split(",") if part.strip()]
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value
    if isinstance(parsed, tuple | list):
        return list(parsed)
    if isinstance(parsed, int | float | str):
        return parsed
    return value


def parse_pairs(pairs: Sequence[str] | None, flag: str = "-o", *, tuples: bool = False) -> dict[str, Any]:
    """``["conf=0.25", "classes=0,2"]`` → ``{"conf": 0.25, "classes": [0, 2]}`` (``-`` in keys becomes ``_``).

    Example:
        >>> parse_pairs(["M=5", "hidden=32,64"], "--model-arg", tuples=True)
        {'M': 5, 'hidden': (32, 64)}

    Raises:
        ValueError: an item has no ``=`` or no key.
    """
    result: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{flag} expects KEY=VALUE, got {pair!r}")
        parsed = parse_value(value)
        result[key.strip().replace("-", "_")] = tuple(parsed) if tuples and isinstance(parsed, list) else parsed
    return result


def parse_options(pairs: Sequence[str] | None) -> dict[str, Any]:
    """The task options of ``-o KEY=VALUE`` (lists stay lists: they are stored in the run record as JSON)."""
    return parse_pairs(pairs, "-o")


class _SplitCommas(argparse.Action):
    """``--metrics a b`` and ``--metrics a,b`` (repeatable): one flat list of names."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: Any = None):
        items = list(getattr(namespace, self.dest, None) or [])
        texts = values if isinstance(values, list) else [values]
        items += [name.strip() for text in texts for name in str(text).split(",") if name.strip()]
        setattr(namespace, self.dest, items)
        mark_explicit(namespace, self.dest)


# ---------------------------------------------------------------------------------------------- shared options
@dataclass(frozen=True)
class OptionSpec:
    """One shared option: its flags and ``add_argument`` keywords (the same in every command).

    Attributes:
        flags: Option strings, long name first.
        kwargs: ``add_argument`` keywords (default, type, choices, help, ...).
        per_command: Keywords a command may set itself (e.g. ``help`` of ``--output-dir``: what is written
            there); everything else is fixed.
    """

    flags: tuple[str, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    per_command: frozenset[str] = frozenset()


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
        {
            "default": os.environ.get("BENCH_DATA"),
            "metavar": "DIR",
            "help": "root of the named data sets ($BENCH_DATA)",
        },
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
            "action": _SplitCommas,
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
            "fastest precision native here that the derainer's card has verified",
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
            "type": int,
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
    if kwargs.get("action") == "append" and kwargs.get("default") == []:
        kwargs["default"] = []  # a fresh list per parser
    return p.add_argument(*spec.flags, dest=name, **kwargs)


# ---------------------------------------------------------------------------------------------- deprecations
_warned: set[str] = set()


def _warn(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        sys.stderr.write(f"warning: {message}\n")


class _Deprecated(argparse.Action):
    """A hidden old spelling: warns once and stores what the new option would."""

    def __init__(
        self,
        option_strings: Sequence[str],
        dest: str,
        *,
        new: str,
        convert: Callable[[Any], Any] | None = None,
        extend: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.new, self.convert, self.extend = new, convert, extend

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: Any = None):
        _warn(f"{option} is deprecated (removed in the next release): use {self.new}")
        value = self.convert(values) if self.convert else values
        if self.extend:
            value = list(getattr(namespace, self.dest, None) or []) + list(value)
        setattr(namespace, self.dest, value)
        mark_explicit(namespace, self.dest)


def add_deprecated(
    p: argparse.ArgumentParser | Any,
    *flags: str,
    dest: str,
    new: str,
    convert: Callable[[Any], Any] | None = None,
    nargs: int | str | None = None,
    extend: bool = False,
    **kwargs: Any,
) -> None:
    """A hidden alias ``flags`` of option ``new`` (destination ``dest``) that warns once when used.

    ``nargs=0`` makes a flag without value; ``convert`` maps the given value(s) to the new option's value.
    """
    p.add_argument(
        *flags,
        dest=dest,
        action=_Deprecated,
        new=new,
        convert=convert,
        nargs=nargs,
        extend=extend,
        default=argparse.SUPPRESS,
        help=argparse.SUPPRESS,
        **kwargs,
    )


class _Moved(argparse.Action):
    def __init__(self, option_strings: Sequence[str], dest: str, *, hint: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.hint = hint

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: Any = None):
        parser.exit(2, f"error: {option} {values}: {self.hint}\n")


def add_moved(p: argparse.ArgumentParser, flag: str, hint: str) -> None:
    """An old short flag that now means something else: using it fails at once with ``hint`` (exit 2)."""
    p.add_argument(
        flag, dest=f"_moved{flag}", action=_Moved, hint=hint, default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )


# ---------------------------------------------------------------------------------------------- explicit values
def mark_explicit(namespace: argparse.Namespace, dest: str) -> None:
    """Remember that ``dest`` was given on the command line (``train --resume`` keeps the rest)."""
    given = set(getattr(namespace, EXPLICIT, set()))
    given.add(dest)
    setattr(namespace, EXPLICIT, given)


def explicit(args: argparse.Namespace) -> set[str]:
    """The destinations given on the command line (not left at their defaults)."""
    return set(getattr(args, EXPLICIT, set()))


def _tracking(base: type[argparse.Action]) -> type[argparse.Action]:
    class Tracking(base):  # type: ignore[valid-type,misc]
        def __call__(self, parser: Any, namespace: argparse.Namespace, values: Any, option: Any = None) -> None:
            super().__call__(parser, namespace, values, option)
            mark_explicit(namespace, self.dest)

    Tracking.__name__ = f"Tracking{base.__name__}"
    return Tracking


_TRACKED = {
    None: _tracking(argparse._StoreAction),
    "store": _tracking(argparse._StoreAction),
    "store_true": _tracking(argparse._StoreTrueAction),
    "store_false": _tracking(argparse._StoreFalseAction),
    "store_const": _tracking(argparse._StoreConstAction),
    "append": _tracking(argparse._AppendAction),
    "extend": _tracking(argparse._ExtendAction),
}


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
    for action, cls in _TRACKED.items():
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
    p.add_argument("--overlap", type=int, default=32, help="tile overlap in pixels")
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
