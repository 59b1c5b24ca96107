"""Atomic file writes and file hashing: the one copy the whole package uses (layer 0, stdlib only).

An atomic write goes to a temporary file in the target's folder and is renamed over the target with
``os.replace``, so a reader sees the old file or the new one, never half of one; on any error the
temporary file is removed and the target is left as it was. The file is created with mode ``0o666``
less the process umask (``0644`` under the usual umask ``022``), the mode ``open(path, "w")`` would
give, not the ``0600`` of ``tempfile.mkstemp``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "atomic_write", "file_sha256", "stable_hash", "write_json_atomic"]


def _create_temp(folder: Path, name: str) -> Path:
    """Create an empty, new file beside ``name`` in ``folder`` with the umask-honouring mode."""
    for _ in range(100):
        tmp = folder / f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"could not create a temporary file beside {folder / name}")


@contextlib.contextmanager
def atomic_path(path: str | Path, *, fsync: bool = True) -> Iterator[Path]:
    """A temporary path to write ``path``'s new content to; renamed over ``path`` when the block ends.

    For writers that want a file name (``torch.save``, ``np.save``). The parent folder is created.

    Args:
        path: The file to replace.
        fsync: Flush the temporary file to disk before the rename (durable across a power cut).

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "a.txt"
        >>> with atomic_path(target) as tmp:
        ...     _ = tmp.write_text("new")
        >>> target.read_text()
        'new'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temp(path.parent, path.name)
    try:
        yield tmp
        if fsync:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: str | Path, data: bytes | str, *, fsync: bool = True) -> Path:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` atomically; returns ``path``.

    Example:
        >>> import tempfile
        >>> p = atomic_write(Path(tempfile.mkdtemp()) / "x.bin", b"abc")
        >>> p.read_bytes()
        b'abc'
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_path(path, fsync=fsync) as tmp:
        tmp.write_bytes(raw)
    return Path(path)


def write_json_atomic(path: str | Path, value: Any, **dump_kwargs: Any) -> Path:
    """``json.dump(value, indent=1, **dump_kwargs)`` plus a final newline, written atomically.

    Example:
        >>> import tempfile
        >>> p = write_json_atomic(Path(tempfile.mkdtemp()) / "r.json", {"a": 1})
        >>> p.read_text()
        '{\\n "a": 1\\n}\\n'
    """
    dump_kwargs.setdefault("indent", 1)
    return atomic_write(path, json.dumps(value, **dump_kwargs) + "\n")


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (streamed by ``hashlib.file_digest``).

    Example:
        >>> import tempfile
        >>> p = atomic_write(Path(tempfile.mkdtemp()) / "x", b"abc")
        >>> file_sha256(p) == hashlib.sha256(b"abc").hexdigest()
        True
    """
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def stable_hash(obj: Any, length: int = 16) -> str:
    """SHA-256 of the canonical JSON of ``obj`` (sorted keys), truncated: run ids, cache keys.

    Example:
        >>> stable_hash({"b": 1, "a": 2}) == stable_hash({"a": 2, "b": 1})
        True
    """
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]
