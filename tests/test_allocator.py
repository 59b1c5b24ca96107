"""bench.engine.allocator: freed activations stay in the process, so repeated forward passes stop page-faulting.

Page-fault counts, not timings, are asserted: they do not depend on the instruction set or the load.
Each case runs in a fresh interpreter (mallopt settings are per process and cannot be undone).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.engine.allocator import _glibc
from tests.conftest import write_offset_pairs

REPO = Path(__file__).resolve().parents[1]

glibc_only = pytest.mark.skipif(_glibc() is None, reason="needs glibc (mallopt)")

# Allocate, touch and free a 64 MiB block with the C library's own malloc twenty times (as a forward pass
# does with its activations, above glibc's largest adaptive mmap threshold of 32 MiB) and count the minor
# page faults of the last ten rounds.
PROBE = """
import ctypes, ctypes.util, json, resource, sys
from bench.engine.allocator import retain_freed_memory, allocator_info
if sys.argv[1] == "retain":
    retain_freed_memory()
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
size = 64 * 1024 * 1024
for i in range(20):
    if i == 10:
        start = faults()
    block = libc.malloc(size)
    ctypes.memset(block, 1, size)
    libc.free(block)
print(json.dumps({"faults": faults() - start, "info": allocator_info()}))
"""


def _probe(mode: str, **env: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, "OMP_NUM_THREADS": "1", **env},
        check=True,
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


@glibc_only
def test_retained_memory_is_not_faulted_in_again() -> None:
    plain = _probe("plain")
    kept = _probe("retain")
    assert plain["info"] == {"retain_freed_memory": False, "reason": "not requested"}
    assert kept["info"]["retain_freed_memory"] is True  # type: ignore[index]
    pages = 10 * 64 * 1024 * 1024 // 4096  # each round touches 64 MiB of 4 KiB pages
    assert int(plain["faults"]) >= pages // 2  # type: ignore[call-overload]
    assert int(kept["faults"]) < pages // 50  # type: ignore[call-overload]


@glibc_only
def test_environment_variable_turns_it_off() -> None:
    off = _probe("retain", BENCH_RETAIN_FREED_MEMORY="0")
    assert off["info"] == {"allocator": "glibc", "retain_freed_memory": False, "reason": "BENCH_RETAIN_FREED_MEMORY=0"}
    assert int(off["faults"]) >= 10 * 64 * 1024 * 1024 // 4096 // 2  # type: ignore[call-overload]


def test_records_say_what_the_allocator_did(tmp_path: Path) -> None:
    """``bench run`` switches it on (glibc) and the record's environment says so."""
    data = write_offset_pairs(tmp_path / "pairs", [1], np.random.default_rng(0))
    out = tmp_path / "runs"
    argv = ["run", "--derainer", "identity", "--task", "restoration", "--dataset", str(data), "--output-dir", str(out)]
    code = f"import sys; from bench.cli import main; sys.exit(main({argv!r}))"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300, cwd=REPO, capture_output=True)
    (record,) = out.glob("*.json")
    allocator = json.loads(record.read_text())["env"]["allocator"]
    if _glibc() is None:
        assert allocator["retain_freed_memory"] is False
    else:
        assert allocator == {
            "allocator": "glibc",
            "retain_freed_memory": True,
            "mmap_threshold": 1 << 30,
            "trim_threshold": (1 << 31) - 1,
        }
