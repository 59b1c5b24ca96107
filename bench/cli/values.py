"""The one reader of command-line values: ``-o KEY=VALUE`` (task options) and ``--model-arg KEY=VALUE``."""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Any


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
