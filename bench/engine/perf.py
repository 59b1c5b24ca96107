"""Latency, throughput, peak memory and FLOPs of a derainer (``bench perf``), next to the paper's timings."""

from __future__ import annotations

import gc
import math
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

# MSPFN paper (Jiang et al., CVPR 2020) Table 6: average inference time per image in seconds, on a
# Titan Xp-class GPU with TensorFlow 1.12 / the authors' code of each baseline.
PAPER_SECONDS: dict[str, dict[str, float]] = {
    "mspfn": {"640x480": 0.58, "1280x720": 1.24},
    "mspfn_light": {"640x480": 0.08, "1280x720": 0.23},
    "prenet": {"640x480": 0.22, "1280x720": 0.76},
    "rescan": {"640x480": 0.55, "1280x720": 1.53},
}
PAPER_SOURCE = "Jiang et al. CVPR 2020, Table 6 (Ave. inf. time, Titan Xp-class GPU)"


@dataclass
class PerfResult:
    derainer: str
    size: str
    batch: int
    device: str
    precision: str
    channels_last: bool
    compiled: bool
    latency_s: float  # median seconds per forward of one batch
    latency_p90_s: float
    throughput_img_s: float
    peak_memory_mb: float | None  # CUDA: max allocated; CPU: process peak RSS during warm-up + timed runs
    gflops_per_image: float | None
    achieved_tflops: float | None
    params: int
    paper_seconds: float | None
    speedup_vs_paper: float | None
    repeats: int
    optimize: str = "none"
    #: CPU: process CPU seconds (user + system, all threads) per forward of one batch, and the system part
    #: (page faults, memory returned to the kernel): unlike latency, not inflated by other jobs on the machine.
    cpu_s: float | None = None
    system_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` → (width, height)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError as err:
        raise ValueError(f"--size must look like WIDTHxHEIGHT, not {text!r}") from err
    if w < 1 or h < 1:
        raise ValueError(f"--size needs a width and height of at least 1 pixel, not {text!r}")
    return w, h


def count_flops(model: nn.Module, x: torch.Tensor) -> float | None:
    """FLOPs (2 × multiply-accumulates) of one forward pass, via PyTorch's FLOP counter."""
    try:
        from torch.utils.flop_counter import FlopCounterMode
    except ImportError:  # pragma: no cover - old torch
        return None
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(x)
    return float(counter.get_total_flops())


def measure(
    model: nn.Module,
    name: str,
    *,
    width: int,
    height: int,
    batch: int = 1,
    device: str = "cpu",
    precision: str = "fp32",
    channels_last: bool = False,
    compile_model: bool = False,
    warmup: int = 1,
    repeats: int = 3,
    flops: bool = True,
    seed: int = 0,
    optimize: str = "none",
) -> PerfResult:
    """Time forward passes of ``model`` on random ``batch × 3 × height × width`` inputs.

    The input is padded by the caller's size multiple beforehand (sizes are rounded up to it here).
    ``optimize`` picks an optimised path of :mod:`bench.engine.fast` (``"jit"``, ``"compile"``…);
    tracing/compilation (also ``compile_model``) happens during the warm-up runs (at least one is then
    done, whatever ``warmup`` says), not in the timings.
    """
    multiple = max(1, int(getattr(getattr(model, "card", None), "size_multiple", 1)))
    h = math.ceil(height / multiple) * multiple
    w = math.ceil(width / multiple) * multiple
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand((batch, 3, h, w), generator=gen)
    model = model.eval().to(device)
    params = sum(p.numel() for p in model.parameters())
    gflops = None
    if flops:
        total = count_flops(model, x[:1].to(device))
        gflops = total / 1e9 if total is not None else None
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    runner: Any = model
    if compile_model:
        from bench.engine.fast import compile_for_inference

        runner = compile_for_inference(model, torch.device(device).type)
    if optimize != "none":
        from bench.engine.fast import optimize_model

        runner = optimize_model(runner, optimize)
    if compile_model or optimize != "none":
        warmup = max(warmup, 1)  # compilation and tracing happen on the first call, never in the timings
    x = x.to(device)
    from bench.engine.precision import autocast, autocast_dtype

    is_cuda = x.device.type == "cuda"
    dtype = autocast_dtype(precision, x.device.type)

    def step() -> None:
        with torch.inference_mode(), autocast(x.device.type, dtype):
            runner(x)
        if is_cuda:
            torch.cuda.synchronize(x.device)  # the device the work runs on, not the current one

    gc.collect()
    if is_cuda:
        torch.cuda.reset_peak_memory_stats(x.device)
    else:
        reset_cpu_peak()  # else the peak is since process start: the largest model measured so far
    for _ in range(warmup):
        step()
    times = []
    usage_before = process_cpu_seconds()
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    usage_after = process_cpu_seconds()
    cpu_s = system_s = None
    if not is_cuda:
        cpu_s = (sum(usage_after) - sum(usage_before)) / repeats
        system_s = (usage_after[1] - usage_before[1]) / repeats
    gc.collect()
    peak = torch.cuda.max_memory_allocated(x.device) / 2**20 if is_cuda else cpu_peak_mb()
    latency = statistics.median(times)
    per_image = latency / batch
    size = f"{width}x{height}"
    paper = PAPER_SECONDS.get(name, {}).get(size)
    return PerfResult(
        derainer=name,
        size=size,
        batch=batch,
        device=str(x.device),
        precision=precision,
        channels_last=channels_last,
        compiled=compile_model,
        latency_s=latency,
        latency_p90_s=sorted(times)[max(0, math.ceil(0.9 * len(times)) - 1)],
        throughput_img_s=batch / latency,
        peak_memory_mb=peak,
        gflops_per_image=gflops,
        achieved_tflops=(gflops / per_image / 1e3) if gflops else None,
        params=params,
        paper_seconds=paper,
        speedup_vs_paper=(paper / per_image) if paper else None,
        repeats=repeats,
        optimize=optimize,
        cpu_s=cpu_s,
        system_s=system_s,
    )


def process_cpu_seconds() -> tuple[float, float]:
    """User and system CPU seconds of this process so far (all threads); without ``resource`` (Windows) the
    process time as user time and 0 as system time."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return time.process_time(), 0.0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def reset_cpu_peak() -> bool:
    """Reset this process's peak resident set size to the current one (Linux ``clear_refs``); ``False`` if not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def cpu_peak_mb() -> float | None:
    """Peak resident set size of this process in MiB (since the last :func:`reset_cpu_peak` on Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB
