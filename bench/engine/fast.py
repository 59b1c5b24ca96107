"""Optimised CPU/GPU inference paths for derainers (issue 10) and an honest eager-vs-optimised comparison.

Methods (``InferenceConfig.optimize`` / ``bench perf --optimize``):

* ``"none"``: the model itself (eager).
* ``"jit"``: ``torch.jit.trace`` + ``torch.jit.freeze`` per input shape (weights folded into constants,
  Python overhead and shape checks removed); traced modules are cached per ``(shape, memory format)``,
  which matches the engine's size bucketing.
* ``"jit_onednn"``: ``"jit"`` followed by ``torch.jit.optimize_for_inference`` (oneDNN conv fusion).
* ``"compile"``: ``torch.compile`` with inductor *freezing* (:func:`compile_for_inference`): weights
  become constants, convolution weights are pre-packed for oneDNN and the PReLU/sigmoid/tanh/add chains
  around the convs are fused; ``dynamic=False`` so each bucket size compiles once. Without freezing,
  inductor gained only ~2% on MSPFN on CPU; with it 10-85% depending on the derainer (docs/performance.md).
  Frozen weights are read once: changing the parameters afterwards needs a new wrapper.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from bench.engine.precision import autocast, autocast_dtype, precision_name

logger = logging.getLogger(__name__)

OptimizeMethod = Literal["none", "jit", "jit_onednn", "compile"]
OPTIMIZE_METHODS: tuple[str, ...] = ("none", "jit", "jit_onednn", "compile")
COMPILE_SIZE_LIMIT = 64  # distinct input sizes compiled per model before falling back to eager


class OptimizedModel(nn.Module):
    """Wrap a derainer so that ``forward`` runs an optimised version of it.

    Args:
        model: The derainer (put in eval mode here).
        method: One of :data:`OPTIMIZE_METHODS`.

    Example:
        >>> from bench.factory import create_derainer
        >>> fast = OptimizedModel(create_derainer("mspfn_tiny", weights=None), "jit")
        >>> with torch.inference_mode():
        ...     fast(torch.rand(1, 3, 16, 16)).shape
        torch.Size([1, 3, 16, 16])
    """

    def __init__(self, model: nn.Module, method: str = "jit") -> None:
        super().__init__()
        if method not in OPTIMIZE_METHODS:
            raise ValueError(f"optimize must be one of {OPTIMIZE_METHODS}, not {method!r}")
        self.model = model.eval()
        self.method = method
        self.card = getattr(model, "card", None)
        self._traced: dict[tuple[Any, ...], Callable[[torch.Tensor], torch.Tensor]] = {}
        self._compiled: Any = None

    def _key(self, x: torch.Tensor) -> tuple[Any, ...]:
        cl = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
        # A trace records the autocast casts it ran under: key on the autocast state of x's device (the
        # argument-less torch.is_autocast_enabled() is CUDA's only) and on its dtype.
        device = x.device.type
        amp = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else None
        return (tuple(x.shape), x.dtype, device, cl, amp)

    def _trace(self, x: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        key = self._key(x)
        fn = self._traced.get(key)
        if fn is None:
            t0 = time.perf_counter()
            # Tracing needs autograd-aware tensors; inference-mode tensors are cloned out of it.
            with torch.inference_mode(False), torch.no_grad():
                example = x.clone()
                traced = torch.jit.trace(self.model, example, check_trace=False)
                frozen = torch.jit.freeze(traced.eval())
                if self.method == "jit_onednn":
                    frozen = torch.jit.optimize_for_inference(frozen)
                frozen(example)  # profiling run: TorchScript specialises on the first calls
                frozen(example)
            fn = frozen
            self._traced[key] = fn
            logger.info("traced %s for %s in %.1f s", self.method, key, time.perf_counter() - t0)
        return fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the optimised model on ``x`` (same contract as the wrapped derainer)."""
        if self.method == "none":
            return self.model(x)
        if self.method == "compile":
            if self._compiled is None:
                self._compiled = compile_for_inference(self.model, x.device.type)
            # One graph per input size: allow real sets' many sizes (dynamo's default stops at 8, then runs eager).
            with torch._dynamo.config.patch(recompile_limit=COMPILE_SIZE_LIMIT):
                if torch.is_inference_mode_enabled():
                    y = self._compiled(x)
                else:
                    with torch.no_grad():  # freezing applies only when autograd is off
                        y = self._compiled(x)
            return y.clone() if y.device.type == "cuda" else y  # CUDA-graph outputs are reused by the next replay
        fn = self._trace(x)
        if torch.is_inference_mode_enabled():
            # TorchScript frozen graphs accept inference tensors; run without autograd bookkeeping.
            return fn(x)
        with torch.no_grad():
            return fn(x)


def compile_for_inference(model: nn.Module, device_type: str = "cpu") -> Callable[[torch.Tensor], torch.Tensor]:
    """``torch.compile`` for inference: static shapes and inductor freezing (weights folded, convs pre-packed).

    On CUDA the compiled graph is also replayed as a CUDA graph (``triton.cudagraphs``, what
    ``mode="reduce-overhead"`` turns on), since the engine's size buckets make shapes static; outputs then
    live in graph-owned memory, which :class:`OptimizedModel` copies out. Compilation happens lazily on
    the first call per input shape; run it under ``torch.no_grad`` or ``torch.inference_mode``, otherwise
    inductor cannot freeze.
    """
    from bench.engine.precision import isa_capped_below_hardware

    # torch 2.14.1: with ATen capped below the CPU's ISA (ATEN_CPU_CAPABILITY=avx2 on an AVX-512 machine),
    # frozen (pre-packed) convolutions return NaN; unfrozen compiled graphs are exact. Freeze only when
    # ATen runs the ISA the hardware has (always the case unless a user sets the cap).
    options: dict[str, Any] = {"freezing": device_type != "cpu" or not isa_capped_below_hardware()}
    if device_type == "cuda":
        options["triton.cudagraphs"] = True
    return torch.compile(model, dynamic=False, options=options)


def optimize_model(model: nn.Module, method: str = "jit") -> nn.Module:
    """Return ``model`` itself for ``"none"``, otherwise an :class:`OptimizedModel` wrapping it.

    Example:
        >>> from bench.factory import create_derainer
        >>> m = create_derainer("identity")
        >>> optimize_model(m, "none") is m
        True
    """
    return model if method == "none" else OptimizedModel(model, method)


@dataclass
class Comparison:
    """Eager-vs-optimised throughput over the same images (best-of-N, A/B alternated)."""

    method: str
    images: int
    eager_s: list[float] = field(default_factory=list)
    optimized_s: list[float] = field(default_factory=list)
    setup_s: float = 0.0
    max_abs_diff: float = 0.0
    load_average: tuple[float, float, float] | None = None
    precision_used: str = "fp32"  # what the optimised path really ran in (bf16 falls back where not native)

    @property
    def eager_img_s(self) -> float:
        return self.images / min(self.eager_s)

    @property
    def optimized_img_s(self) -> float:
        return self.images / min(self.optimized_s)

    @property
    def speedup(self) -> float:
        """Best-of-N ratio (optimised images/s over eager images/s)."""
        return self.optimized_img_s / self.eager_img_s

    @property
    def median_speedup(self) -> float:
        return statistics.median(self.eager_s) / statistics.median(self.optimized_s)


def eager_loop(model: nn.Module, batch: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """The baseline: ``model(x)`` per image under ``torch.no_grad``, default memory format, fp32."""
    with torch.no_grad():
        return [model(x) for x in batch]


def plain_eager(model: nn.Module) -> nn.Module:
    """The same weights with built-in layout optimisations switched off (a copy if anything changes).

    MSPFN runs its body in channels-last by default (``MSPFN(channels_last=True)``), which is itself an
    optimisation over the plain NCHW loop; the plain baseline turns it off.

    Example:
        >>> from bench.factory import create_derainer
        >>> m = create_derainer("mspfn_tiny", weights=None)
        >>> plain_eager(m).channels_last, m.channels_last
        (False, True)
    """
    if getattr(model, "channels_last", None) is True:
        import copy

        model = copy.deepcopy(model)
        # torch types Module.__setattr__ for tensors and submodules only; plain attributes work at run time
        model.channels_last = False  # type: ignore[assignment]
    return model


def compare(
    model: nn.Module,
    inputs: Sequence[torch.Tensor],
    method: str = "jit",
    *,
    repeats: int = 3,
    batch_size: int = 1,
    channels_last: bool = False,
    baseline: nn.Module | None = None,
    device: str = "cpu",
    precision: str = "fp32",
) -> tuple[Comparison, list[torch.Tensor], list[torch.Tensor]]:
    """Time the eager loop and the optimised path over the same padded ``(1, 3, H, W)`` inputs.

    Rounds alternate eager/optimised so that background load hits both alike; the optimised path
    runs under ``torch.inference_mode`` with equal-size inputs stacked ``batch_size`` at a time, in
    ``precision`` (``bf16``/``fp16`` autocast on CUDA, ``bf16`` on a CPU with native bf16, fp32 with a
    note elsewhere: :func:`bench.engine.precision.autocast_dtype`; the eager loop stays fp32).
    ``baseline`` is the module of the eager loop (default ``model``; :func:`plain_eager` gives the
    plain NCHW one); it must hold the same weights.

    Returns:
        The comparison, the eager outputs and the optimised outputs (one float32 CPU
        ``(1, 3, H, W)`` per input).

    Example:
        >>> from bench.factory import create_derainer
        >>> m = create_derainer("mspfn_tiny", weights=None)
        >>> c, _, _ = compare(m, [torch.rand(1, 3, 16, 16)], "jit", repeats=1)
        >>> c.max_abs_diff < 1e-4
        True
    """
    import os

    dev = torch.device(device)
    dtype = autocast_dtype(precision, dev.type)  # None: fp32 (asked for, or the fallback where not native)
    model = model.eval().to(dev)
    eager_model = (model if baseline is None else baseline).eval().to(dev)
    model_opt = optimize_model(_channels_last_copy(model) if channels_last else model, method)
    batch = [t.to(dev) for t in inputs]

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    def run_fast() -> list[torch.Tensor]:
        outs: list[torch.Tensor] = []
        with torch.inference_mode(), autocast(dev.type, dtype):
            for i in range(0, len(batch), batch_size):
                chunk = list(batch[i : i + batch_size])
                if len({tuple(t.shape) for t in chunk}) == 1:
                    xb = torch.cat(chunk)
                    if channels_last:
                        xb = xb.contiguous(memory_format=torch.channels_last)
                    outs.extend(y[None].contiguous() for y in model_opt(xb))
                else:
                    for t in chunk:
                        t = t.contiguous(memory_format=torch.channels_last) if channels_last else t
                        outs.append(model_opt(t).contiguous())
        sync()
        return outs

    def run_eager() -> list[torch.Tensor]:
        outs = eager_loop(eager_model, batch)
        sync()
        return outs

    t0 = time.perf_counter()
    opt_out = run_fast()  # warm-up / trace / compile
    setup = time.perf_counter() - t0
    eager_out = run_eager()
    result = Comparison(method=method, images=len(inputs), setup_s=setup, precision_used=precision_name(dtype))
    for _ in range(repeats):
        t0 = time.perf_counter()
        eager_out = run_eager()
        result.eager_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        opt_out = run_fast()
        result.optimized_s.append(time.perf_counter() - t0)
    eager_out = [y.float().cpu() for y in eager_out]
    opt_out = [y.float().cpu() for y in opt_out]
    result.max_abs_diff = max(float((a - b).abs().max()) for a, b in zip(eager_out, opt_out, strict=True))
    result.load_average = os.getloadavg() if hasattr(os, "getloadavg") else None
    return result, eager_out, opt_out


def _channels_last_copy(model: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(model).to(memory_format=torch.channels_last)


def psnr_y_check(
    eager: Sequence[torch.Tensor], optimized: Sequence[torch.Tensor], clean: Sequence[np.ndarray]
) -> tuple[float, float]:
    """Mean ``psnr_y`` vs clean of the eager and the optimised outputs (cropped, rounded to uint8).

    Example:
        >>> img = np.full((8, 8, 3), 128, np.uint8)
        >>> t = torch.full((1, 3, 8, 8), 0.5)
        >>> a, b = psnr_y_check([t], [t], [img])
        >>> a == b
        True
    """
    from bench.data.images import quantize
    from bench.metrics.fidelity import psnr_y

    def score(outs: Sequence[torch.Tensor]) -> float:
        vals = []
        for y, ref in zip(outs, clean, strict=True):
            h, w = ref.shape[:2]
            vals.append(psnr_y(quantize(y[0, :, :h, :w].clamp(0, 1), "round"), ref))
        return float(np.mean(vals))

    return score(eager), score(optimized)
