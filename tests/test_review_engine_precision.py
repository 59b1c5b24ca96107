"""Review of precision and the optimised paths: no emulated bf16 (oneDNN caps, pre-Ampere GPUs), traces keyed
on the CPU autocast state, and compilation kept out of ``bench perf`` timings."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
import torch
from torch import nn

import bench.engine.precision as precision
from bench.engine.fast import OptimizedModel


@pytest.fixture
def fresh_detection() -> Iterator[None]:
    precision.cpu_bf16_native.cache_clear()
    precision._note_once.cache_clear()
    yield
    precision.cpu_bf16_native.cache_clear()


@pytest.mark.parametrize(
    ("cap", "native"),
    [
        ("AVX512_CORE", False),  # AVX-512 without bf16 instructions: oneDNN emulates bf16
        ("AVX512_CORE_VNNI", False),
        ("AVX2", False),
        ("AVX512_CORE_BF16", True),
        ("AVX512_CORE_AMX", True),
        ("AVX10_1_512", True),
        ("DEFAULT", True),  # oneDNN's "library choice": no cap
        ("", True),
    ],
)
def test_onednn_caps_below_bf16_turn_native_bf16_off(
    monkeypatch: pytest.MonkeyPatch, fresh_detection: None, cap: str, native: bool
) -> None:
    """Pretends the CPU has avx512_bf16 (so the verdict is the cap's, on any machine)."""
    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
    # The probe matmul itself runs (emulated where the CPU has no bf16), so only the cap decides.
    assert precision.cpu_bf16_native() is native
    assert (precision.autocast_dtype("bf16", "cpu") == torch.bfloat16) is native


def _gpu(monkeypatch: pytest.MonkeyPatch, *, native_bf16: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(
        torch.cuda, "is_bf16_supported", lambda including_emulation=True: native_bf16 or including_emulation
    )


def test_a_gpu_without_native_bf16_runs_fp32(monkeypatch: pytest.MonkeyPatch, fresh_detection: None) -> None:
    """Before Ampere torch emulates bf16 (slower than fp32): ``auto`` must not pick it, an explicit bf16 falls back."""
    _gpu(monkeypatch, native_bf16=False)
    assert precision.autocast_dtype("bf16", "cuda") is None
    assert precision.native_dtype("bf16", "cuda") is None
    assert precision.resolve_precision("auto", "cuda", ("bf16",)) == "fp32"
    assert precision.autocast_dtype("fp16", "cuda") == torch.float16  # fp16 tensor cores: native there


def test_a_gpu_with_native_bf16_keeps_it(monkeypatch: pytest.MonkeyPatch, fresh_detection: None) -> None:
    _gpu(monkeypatch, native_bf16=True)
    assert precision.autocast_dtype("bf16", "cuda") == torch.bfloat16
    assert precision.resolve_precision("auto", "cuda", ("bf16",)) == "bf16"


def test_a_trace_made_under_cpu_autocast_is_not_reused_without_it() -> None:
    """The trace cache was keyed on ``torch.is_autocast_enabled()``, which only sees CUDA's autocast."""
    torch.manual_seed(0)
    model = nn.Conv2d(3, 3, 3, padding=1)
    fast = OptimizedModel(model, "jit")
    x = torch.rand(1, 3, 16, 16)
    with torch.inference_mode():
        with torch.autocast("cpu", dtype=torch.bfloat16):  # runs on any CPU (emulated where not native)
            reduced = fast(x)
        full = fast(x)
        reference = model(x)
    assert reduced.dtype == torch.bfloat16
    assert full.dtype == torch.float32
    torch.testing.assert_close(full, reference, rtol=1e-5, atol=1e-5)


def test_perf_keeps_compilation_out_of_the_timings(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--compile --warmup 0``: the first call (where torch.compile compiles) is still a warm-up."""
    import bench.engine.fast as fast
    from bench.engine.perf import measure

    calls: list[float] = []

    def slow_first_call(model: nn.Module, device_type: str = "cpu") -> Callable[[torch.Tensor], torch.Tensor]:
        def run(x: torch.Tensor) -> torch.Tensor:
            if not calls:
                time.sleep(1.0)  # "compiling"
            calls.append(time.perf_counter())
            return model(x)

        return run

    monkeypatch.setattr(fast, "compile_for_inference", slow_first_call)
    result = measure(nn.Identity(), "identity", width=8, height=8, compile_model=True, warmup=0, repeats=1, flops=False)
    assert len(calls) == 2  # one warm-up, one timed
    assert result.latency_s < 0.5


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices")
def test_perf_on_a_second_gpu_synchronises_that_gpu() -> None:
    from bench.engine.perf import measure

    model = nn.Sequential(*[nn.Conv2d(3, 3, 3, padding=1) for _ in range(8)])
    result = measure(model, "convs", width=1024, height=1024, device="cuda:1", repeats=2, flops=False)
    assert result.device == "cuda:1" and result.peak_memory_mb is not None and result.peak_memory_mb > 1.0
