"""Where data, weights and runs live (design.md principle 7: explicit path, then environment).

``$BENCH_DATA``: root of datasets (the layout of ``../shared/data``).
``$BENCH_WEIGHTS``: root of weights (default ``$BENCH_DATA/weights``).
``$BENCH_RUNS``: default output folder of runs (default ``./runs``).
``$BENCH_CACHE``: cache folder (default ``~/.cache/bench``).
"""

from __future__ import annotations

import os
from pathlib import Path


class MissingDataError(FileNotFoundError):
    """A dataset or weights file is not where bench looked; the message says where to put it."""


def data_root(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The data root: ``explicit`` if given, else ``$BENCH_DATA``, else ``None``."""
    value = explicit if explicit is not None else os.environ.get("BENCH_DATA")
    return Path(value).expanduser() if value else None


def weights_root(data: str | os.PathLike[str] | None = None) -> Path | None:
    """``$BENCH_WEIGHTS``, else ``<data root>/weights``, else ``None``."""
    value = os.environ.get("BENCH_WEIGHTS")
    if value:
        return Path(value).expanduser()
    root = data_root(data)
    return root / "weights" if root is not None else None


def runs_root(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Where run records go: ``explicit``, else ``$BENCH_RUNS``, else ``./runs``."""
    return Path(explicit or os.environ.get("BENCH_RUNS") or "runs").expanduser()


def cache_root() -> Path:
    """``$BENCH_CACHE``, else ``$XDG_CACHE_HOME/bench``, else ``~/.cache/bench``."""
    value = os.environ.get("BENCH_CACHE")
    if value:
        return Path(value).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "bench"


def resolve_weights_file(
    relative: str, *, packaged: Path | None = None, sha256: str | None = None, what: str = "weights"
) -> Path:
    """Find a weights file given its path relative to the weights root.

    Looks in the folder ``packaged`` (the weights shipped in a package, e.g.
    :data:`derainers.shipped.WEIGHTS_DIR`), then ``$BENCH_WEIGHTS`` / ``$BENCH_DATA/weights``.

    Raises:
        MissingDataError: with the file name, the folders searched and the expected hash.
    """
    candidates: list[Path] = []
    if packaged is not None:
        candidates.append(packaged / relative)
    root = weights_root()
    if root is not None:
        candidates.append(root / relative)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    where = ", ".join(str(c) for c in candidates) or "(no weights root: set BENCH_WEIGHTS or BENCH_DATA)"
    digest = f" Expected sha256: {sha256}." if sha256 else ""
    raise MissingDataError(
        f"{what} file {relative!r} not found. Looked in: {where}. Put the file at "
        f"$BENCH_WEIGHTS/{relative} (or set BENCH_DATA so that $BENCH_DATA/weights/{relative} exists), "
        f"or pass an explicit path.{digest}"
    )
