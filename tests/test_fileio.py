"""bench.fileio: atomic writes (mode under the umask, nothing changed on error) and file hashing."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.fileio import atomic_path, atomic_write, file_sha256, write_json_atomic


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_mode_honours_umask(tmp_path: Path, umask_022: None) -> None:
    target = atomic_write(tmp_path / "sub" / "a.bin", b"x")
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    with atomic_path(tmp_path / "b.bin") as tmp:
        tmp.write_bytes(b"y")
    assert stat.S_IMODE((tmp_path / "b.bin").stat().st_mode) == 0o644


def test_mode_follows_a_stricter_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        target = atomic_write(tmp_path / "a.bin", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_error_leaves_target_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="half-way"), atomic_path(target) as tmp:
        tmp.write_text("new, half written")
        raise RuntimeError("half-way")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]
    with pytest.raises(TypeError):
        write_json_atomic(target, {"a": object()})
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_replaces_and_round_trips(tmp_path: Path) -> None:
    target = write_json_atomic(tmp_path / "r.json", {"a": [1, 2], "é": "ü"}, ensure_ascii=False)
    assert json.loads(target.read_text(encoding="utf-8")) == {"a": [1, 2], "é": "ü"}
    assert target.read_text(encoding="utf-8").endswith("}\n")
    atomic_write(target, "second")
    assert target.read_text() == "second"


def test_file_sha256_equals_hashlib(tmp_path: Path) -> None:
    data = os.urandom(3 << 20) + b"tail"  # more than one read block
    path = atomic_write(tmp_path / "blob", data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    assert file_sha256(atomic_write(tmp_path / "empty", b"")) == hashlib.sha256(b"").hexdigest()
