"""Numeric precision on CPU and GPU: autocast dtypes and native-bf16 detection, in one place.

Reduced precision pays on a CPU only where the processor computes bf16 natively (AVX-512 with
``avx512_bf16``, or AMX); elsewhere oneDNN emulates it and bf16 autocast is slower than fp32. The
decision is made here, once, for inference, benchmarking and training alike.

Example:
    >>> autocast_dtype("fp32", "cpu") is None
    True
    >>> autocast_dtype("bf16", "cuda")
    torch.bfloat16
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Iterator
from typing import Literal

import torch

logger = logging.getLogger(__name__)

Precision = Literal["fp32", "bf16", "fp16"]
PrecisionRequest = Literal["fp32", "bf16", "fp16", "auto"]
AUTOCAST_DTYPES: dict[str, torch.dtype] = {"bf16": torch.bfloat16, "fp16": torch.float16}  # fp32: no autocast


def _cpu_flags() -> frozenset[str]:
    """The CPU feature flags the kernel reports (``/proc/cpuinfo``); empty where unreadable."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


def _onednn_cap() -> str:
    """The ISA cap the user set for oneDNN (``ONEDNN_MAX_CPU_ISA``, formerly ``DNNL_MAX_CPU_ISA``), upper case."""
    return os.environ.get("ONEDNN_MAX_CPU_ISA", os.environ.get("DNNL_MAX_CPU_ISA", "")).strip().upper()


def _onednn_uncapped(cap: str) -> bool:
    return cap in ("", "ALL", "DEFAULT")


def _isa_capped_below_avx512() -> bool:
    """True when the user capped oneDNN or ATen below AVX-512 (``ONEDNN_MAX_CPU_ISA``, ``ATEN_CPU_CAPABILITY``)."""
    onednn = _onednn_cap()
    aten = os.environ.get("ATEN_CPU_CAPABILITY", "").strip().lower()
    onednn_low = not _onednn_uncapped(onednn) and not onednn.startswith(("AVX512", "AVX10"))
    aten_low = bool(aten) and aten in ("default", "avx2", "sse", "zvector", "vsx")
    return onednn_low or aten_low


def _onednn_capped_below_bf16() -> bool:
    """True when ``ONEDNN_MAX_CPU_ISA`` stops oneDNN short of its native-bf16 kernels.

    ``AVX512_CORE`` and ``AVX512_CORE_VNNI`` are AVX-512 but have no bf16 instructions: oneDNN then
    emulates bf16. Native bf16 starts at ``AVX512_CORE_BF16`` (then ``AVX512_CORE_FP16``/``_AMX``, ``AVX10_*``).
    """
    onednn = _onednn_cap()
    if _onednn_uncapped(onednn):
        return False
    return not onednn.startswith(("AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX512_CORE_AMX", "AVX10"))


def isa_capped_below_hardware() -> bool:
    """True when ``ATEN_CPU_CAPABILITY``/``ONEDNN_MAX_CPU_ISA`` cap an AVX-512 CPU below AVX-512."""
    return bool({"avx512f"} & _cpu_flags()) and _isa_capped_below_avx512()


@functools.lru_cache(maxsize=1)
def cpu_bf16_native() -> bool:
    """Whether this CPU computes bf16 natively, as torch and oneDNN will use it in this process.

    True needs the hardware (``avx512_bf16`` or ``amx_bf16`` in the CPU flags) and no ISA cap
    (``ONEDNN_MAX_CPU_ISA=AVX2`` or ``=AVX512_CORE``, or ``ATEN_CPU_CAPABILITY=avx2`` turn it off, as
    they turn off oneDNN's bf16 kernels) and a tiny bf16 matmul that runs and agrees with fp32.
    """
    flags = _cpu_flags()
    if not ({"avx512_bf16", "amx_bf16"} & flags):
        return False
    if _isa_capped_below_avx512() or _onednn_capped_below_bf16():
        return False
    try:
        a = torch.linspace(-1.0, 1.0, 64).reshape(8, 8)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            product = a @ a
        ok = product.dtype == torch.bfloat16 and bool(torch.allclose(product.float(), a @ a, atol=5e-2))
    except RuntimeError:  # pragma: no cover - a build without CPU bf16 autocast
        return False
    return ok


def cpu_description() -> dict[str, object]:
    """What a record says about the CPU's numeric capabilities (ISA, bf16, threads)."""
    flags = _cpu_flags()
    return {
        "capability": torch.backends.cpu.get_cpu_capability(),
        "avx512": sorted(f for f in flags if f.startswith("avx512")),
        "amx": sorted(f for f in flags if f.startswith("amx")),
        "bf16_native": cpu_bf16_native(),
        "threads": torch.get_num_threads(),
    }


def cuda_bf16_emulated() -> bool:
    """Whether the current CUDA device would run bf16 emulated (before Ampere: no bf16 tensor cores)."""
    return bool(torch.cuda.is_available()) and not torch.cuda.is_bf16_supported(including_emulation=False)


def autocast_dtype(precision: str, device_type: str) -> torch.dtype | None:
    """The autocast dtype to use for ``precision`` on ``device_type``; ``None`` means plain fp32.

    On CUDA, fp16 autocast as asked, bf16 where the GPU has it natively (Ampere and later; an older
    GPU falls back to fp32 with a note, :func:`cuda_bf16_emulated`). On CPU only bf16, and only where it
    is native (:func:`cpu_bf16_native`): elsewhere it falls back to fp32 with a one-line note (emulated
    bf16 is slower than fp32). fp16 on CPU falls back to fp32 too.

    Raises:
        ValueError: an unknown precision name.
    """
    if precision not in ("fp32", "bf16", "fp16"):
        raise ValueError(f"precision must be fp32, bf16 or fp16, not {precision!r}")
    dtype = AUTOCAST_DTYPES.get(precision)
    if dtype is None:
        return dtype
    if device_type == "cuda":
        if precision == "bf16" and cuda_bf16_emulated():
            _note_once("this GPU has no native bf16 (before Ampere): running fp32")
            return None
        return dtype
    if device_type == "cpu" and precision == "bf16":
        if cpu_bf16_native():
            return dtype
        _note_once("this CPU has no native bf16 (no avx512_bf16/amx_bf16, or the ISA is capped): running fp32")
        return None
    _note_once(f"{precision} is not supported on {device_type}: running fp32")
    return None


def precision_name(dtype: torch.dtype | None) -> str:
    """``torch.bfloat16`` → ``"bf16"`` (the inverse of :data:`AUTOCAST_DTYPES`; ``None`` → ``"fp32"``).

    Example:
        >>> precision_name(torch.float16), precision_name(None)
        ('fp16', 'fp32')
    """
    return next((name for name, d in AUTOCAST_DTYPES.items() if d == dtype), "fp32")


def native_dtype(precision: str, device_type: str) -> torch.dtype | None:
    """Like :func:`autocast_dtype` but silent: the dtype only where ``precision`` is native on the device."""
    if precision == "fp32" or precision not in AUTOCAST_DTYPES:
        return None
    if device_type == "cuda":
        return None if precision == "bf16" and cuda_bf16_emulated() else AUTOCAST_DTYPES[precision]
    if device_type == "cpu" and precision == "bf16" and cpu_bf16_native():
        return AUTOCAST_DTYPES[precision]
    return None


def resolve_precision(requested: str, device_type: str, verified: tuple[str, ...] = ()) -> str:
    """The precision a run uses: ``auto`` is the fastest one this hardware computes natively among the
    derainer's ``verified`` ones (its card's ``reduced_precision``: accuracy check passed), else fp32.

    An explicit ``bf16``/``fp16`` is kept as asked (a one-line note when the card has not verified it;
    :func:`autocast_dtype` falls back to fp32 where it is not native).

    Example:
        >>> resolve_precision("auto", "cpu", ())
        'fp32'
        >>> resolve_precision("fp32", "cuda", ("bf16",))
        'fp32'
    """
    if requested == "auto":
        for candidate in ("bf16", "fp16"):
            if candidate in verified and native_dtype(candidate, device_type) is not None:
                return candidate
        return "fp32"
    if requested in ("bf16", "fp16") and requested not in verified:
        _note_once(f"{requested} has not passed the accuracy check for this derainer (card.reduced_precision)")
    return requested


@functools.lru_cache(maxsize=16)
def _note_once(message: str) -> None:
    logger.warning(message)


@contextlib.contextmanager
def autocast(device_type: str, dtype: torch.dtype | None) -> Iterator[None]:
    """``torch.autocast(device_type, dtype)`` when ``dtype`` is set, otherwise nothing."""
    if dtype is None:
        yield
        return
    with torch.autocast(device_type, dtype=dtype):
        yield
