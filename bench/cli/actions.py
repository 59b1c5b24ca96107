"""argparse actions of the shared vocabulary: comma-split lists, deprecated aliases that warn once, old short
flags that now fail with a hint, and which options were given explicitly (``train --resume`` keeps the rest)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

EXPLICIT = "_explicit_options"


class SplitCommas(argparse.Action):
    """``--metrics a b`` and ``--metrics a,b`` (repeatable): one flat list of names."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: Any = None):
        items = list(getattr(namespace, self.dest, None) or [])
        texts = values if isinstance(values, list) else [values]
        items += [name.strip() for text in texts for name in str(text).split(",") if name.strip()]
        setattr(namespace, self.dest, items)
        mark_explicit(namespace, self.dest)


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


TRACKED = {
    None: _tracking(argparse._StoreAction),
    "store": _tracking(argparse._StoreAction),
    "store_true": _tracking(argparse._StoreTrueAction),
    "store_false": _tracking(argparse._StoreFalseAction),
    "store_const": _tracking(argparse._StoreConstAction),
    "append": _tracking(argparse._AppendAction),
    "extend": _tracking(argparse._ExtendAction),
}
