"""Keep freed memory in the process (glibc ``mallopt``): CPU inference stops paying the kernel for it.

glibc's ``malloc`` serves large blocks (above a threshold that adapts up to 32 MiB) with ``mmap`` and gives
them back with ``munmap`` when freed; it also trims the top of the heap when enough is free. A derainer's
forward pass allocates and frees activations of tens of MB per layer, so every forward pass page-faults
all of them in again, and the kernel zeroes every page. Measured on full MSPFN, 320×480, 1 thread
(2-core AMD EPYC, AVX-512): 1.7 million minor faults and 3.3 s of system time per forward pass beside
6.7 s of user time; with the thresholds raised, 0 faults and 0.00 s system time, peak memory unchanged
(docs/performance.md has the table for the other derainers).

:func:`retain_freed_memory` raises glibc's mmap and trim thresholds once per process. ``bench``'s command
line calls it at start; library users call it themselves (it changes the whole process's allocator).
``BENCH_RETAIN_FREED_MEMORY=0`` turns it off. Other C libraries (musl, macOS) are left alone.
"""

from __future__ import annotations

import ctypes
import os
import threading
from typing import Any

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "allocator_info", "retain_freed_memory"]

#: Blocks up to this size come from the heap, not from ``mmap`` (glibc's default adapts up to 32 MiB).
MMAP_THRESHOLD = 1 << 30
#: Free memory at the top of the heap is returned to the system only beyond this (glibc default 128 KiB).
TRIM_THRESHOLD = (1 << 31) - 1

_M_TRIM_THRESHOLD = -1  # glibc's <malloc.h> parameter numbers
_M_MMAP_THRESHOLD = -3
_ENV = "BENCH_RETAIN_FREED_MEMORY"

_lock = threading.Lock()
_state: dict[str, Any] = {}


def _glibc() -> ctypes.CDLL | None:
    """The C library this process runs on if it is glibc (its symbols, no library search), else None."""
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return libc


def retain_freed_memory(enable: bool | None = None) -> dict[str, Any]:
    """Raise glibc's mmap and trim thresholds once for this process; returns :func:`allocator_info`.

    Args:
        enable: False leaves the allocator alone; None (default) reads ``$BENCH_RETAIN_FREED_MEMORY``
            (``0``/``false``/``no``/``off`` turn it off; anything else, or unset, on).

    The first call decides; later calls return the same state (mallopt settings cannot be undone
    cleanly once blocks have been placed under them).

    Example:
        >>> info = retain_freed_memory()
        >>> info["allocator"] in ("glibc", "other"), isinstance(info["retain_freed_memory"], bool)
        (True, True)
    """
    with _lock:
        if _state:
            return dict(_state)
        if enable is None:
            enable = os.environ.get(_ENV, "1").strip().lower() not in ("0", "false", "no", "off")
        libc = _glibc()
        if libc is None:
            _state.update(allocator="other", retain_freed_memory=False, reason="not glibc")
        elif not enable:
            _state.update(allocator="glibc", retain_freed_memory=False, reason=f"{_ENV}=0")
        else:
            ok = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
            ok = libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
            _state.update(allocator="glibc", retain_freed_memory=ok)
            if ok:
                _state.update(mmap_threshold=MMAP_THRESHOLD, trim_threshold=TRIM_THRESHOLD)
            else:
                _state.update(reason="mallopt refused the thresholds")
        return dict(_state)


def allocator_info() -> dict[str, Any]:
    """What :func:`retain_freed_memory` did in this process (``{"retain_freed_memory": False}`` if not called).

    Run records carry it beside the thread count: it changes CPU timings, never results.
    """
    with _lock:
        return dict(_state) if _state else {"retain_freed_memory": False, "reason": "not requested"}
