"""The checks of ``bench validate`` (:class:`Validator`): one method per clause of the plugin contract.

Each returns ``(status, message)``; :func:`bench.validate.validate_derainer` runs them in report order.
"""

from __future__ import annotations

import logging
import math
import time
import traceback
from typing import Any, Literal

import torch
import torch.nn.functional as F

logger = logging.getLogger(__name__)

Status = Literal["PASS", "FAIL", "SKIP"]

#: Output values further than this outside [0, 1] fail the range check (the harness clamps small excursions).
RANGE_SLACK: float = 0.5
#: Largest difference (on the [0, 1] scale) between an image derained alone and inside a batch.
BATCH_TOLERANCE: float = 1e-3
#: Largest difference between two calls on the same input.
DETERMINISM_TOLERANCE: float = 1e-5
#: The odd size run through the inference engine (height, width).
ODD_SIZE: tuple[int, int] = (37, 53)
#: Base size of the test batches (height, width), rounded up to the card's size multiple.
BASE_SIZE: tuple[int, int] = (64, 96)
#: The speed/memory size (width, height) and the smaller one used with ``quick``.
SPEED_SIZE: tuple[int, int] = (640, 480)
QUICK_SPEED_SIZE: tuple[int, int] = (160, 120)


# ---------------------------------------------------------------------------------------------- inputs
def _round_up(value: int, multiple: int) -> int:
    return math.ceil(value / multiple) * multiple


def synthetic_rainy(n: int, height: int, width: int, seed: int) -> torch.Tensor:
    """A deterministic batch of smooth "photos" with thin bright streaks, float32 in [0, 1].

    Every image of the batch is different (batch-independence needs distinct images).

    Example:
        >>> x = synthetic_rainy(2, 20, 30, seed=0)
        >>> tuple(x.shape), float(x.min()) >= 0.0, float(x.max()) <= 1.0
        ((2, 3, 20, 30), True, True)
    """
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand((n, 3, max(height // 8, 2), max(width // 8, 2)), generator=gen)
    base = F.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)
    drops = (torch.rand((n, 1, height, width), generator=gen) > 0.99).float()
    kernel = torch.eye(9).flip(1)[None, None] / 3.0  # a 9-pixel diagonal streak
    streaks = F.conv2d(drops, kernel, padding=4).clamp(0, 1)
    return (0.85 * base + 0.6 * streaks).clamp(0, 1).contiguous()


def _shape(t: Any) -> str:
    if isinstance(t, torch.Tensor):
        return "x".join(str(s) for s in t.shape)
    return type(t).__name__


def describe_error(err: BaseException) -> str:
    last = traceback.extract_tb(err.__traceback__)[-1:] if err.__traceback__ else []
    where = f" (at {last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno})" if last else ""
    return f"{type(err).__name__}: {err}{where}"


# ---------------------------------------------------------------------------------------------- checks
class Validator:
    """Runs the checks on one built model; each ``check_*`` returns ``(status, message)``."""

    def __init__(self, model: Any, device: str, quick: bool, seed: int, *, random_init: bool = False) -> None:
        self.model = model
        self.random_init = random_init
        self.device = device
        self.quick = quick
        self.seed = seed
        card = getattr(model, "card", None)
        multiple = getattr(card, "size_multiple", 1)
        self.multiple = multiple if isinstance(multiple, int) and multiple >= 1 else 1
        self.h, self.w = (_round_up(s, self.multiple) for s in BASE_SIZE)

    def forward(self, x: torch.Tensor, device: str | None = None) -> Any:
        device = device or self.device
        with torch.inference_mode():
            return self.model(x.to(device))

    def _expect_tensor(self, y: Any, x: torch.Tensor) -> str | None:
        if not isinstance(y, torch.Tensor):
            return (
                f"forward returned {type(y).__name__} for input {_shape(x)}; expected one tensor "
                "(return only the derained batch, not a tuple of intermediate outputs)"
            )
        return None

    def _forward_synthetic(self, n: int, offset: int) -> tuple[torch.Tensor, Any, str | None]:
        """``n`` synthetic rainy images (seed ``self.seed + offset``), the model's output, and its problem."""
        x = synthetic_rainy(n, self.h, self.w, self.seed + offset)
        y = self.forward(x)
        return x, y, self._expect_tensor(y, x)

    # -- card
    def check_card(self) -> tuple[Status, str]:
        from derainers.base import REQUIRED_CARD_FIELDS, DerainerCard

        card = getattr(self.model, "card", None)
        if not isinstance(card, DerainerCard):
            return "FAIL", (
                f"model.card is {type(card).__name__}; expected a derainers.base.DerainerCard "
                "(set the class attribute `card = DerainerCard(...)`)"
            )
        problems = []
        for name in REQUIRED_CARD_FIELDS:
            value = getattr(card, name, None)
            if name == "size_multiple":
                if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                    problems.append(f"size_multiple is {value!r}; expected an integer >= 1")
            elif not isinstance(value, str) or not value.strip():
                problems.append(f"field {name!r} is empty")
        for source in card.weights:
            if source.sha256 is not None and (
                len(source.sha256) != 64 or any(ch not in "0123456789abcdef" for ch in source.sha256.lower())
            ):
                problems.append(f"weights {source.tag!r}: sha256 {source.sha256!r} is not 64 hex digits")
        if card.default_weights is not None and card.weights_for(card.default_weights) is None:
            problems.append(f"default_weights {card.default_weights!r} is not the tag of any weights source")
        if problems:
            return "FAIL", "; ".join(problems)
        weights = ", ".join(s.tag for s in card.weights) or "none"
        return "PASS", (
            f"name {card.name!r}, size multiple {card.size_multiple}, paper {card.paper!r}, weights sources: {weights}"
        )

    # -- shape
    def check_shape(self) -> tuple[Status, str]:
        x, y, problem = self._forward_synthetic(2, 0)
        if problem:
            return "FAIL", problem
        if tuple(y.shape) != tuple(x.shape):
            return "FAIL", f"got {_shape(y)} for input {_shape(x)}; expected the input's shape"
        return "PASS", f"{_shape(y)} for input {_shape(x)}"

    # -- range
    def check_range(self) -> tuple[Status, str]:
        _, y, problem = self._forward_synthetic(2, 1)
        if problem:
            return "FAIL", problem
        y = y.detach().float().cpu()
        finite = torch.isfinite(y)
        if not bool(finite.all()):
            bad = int((~finite).sum())
            return "FAIL", f"{bad} of {y.numel()} output values are NaN or infinite"
        lo, hi = float(y.min()), float(y.max())
        span = f"values span [{lo:.3g}, {hi:.3g}]"
        if lo < -RANGE_SLACK or hi > 1.0 + RANGE_SLACK:
            if self.random_init:
                return "SKIP", (
                    f"{span}, outside [0, 1], but the model is randomly initialised (no weights): "
                    "the range is only meaningful with trained weights (pass --weights)"
                )
            hint = ""
            if hi > 2.0 and lo >= -RANGE_SLACK:
                hint = " (0-255 values? return floats in [0, 1])"
            elif lo < -RANGE_SLACK and hi <= 1.0 + RANGE_SLACK:
                hint = " (values in [-1, 1]? map them back to [0, 1])"
            return "FAIL", f"{span}; expected derained images near [0, 1]{hint}"
        return "PASS", f"{span} (the harness clamps to [0, 1])"

    # -- dtype and device
    def _check_dtype_device(self, device: str) -> tuple[Status, str]:
        x = synthetic_rainy(1, self.h, self.w, self.seed + 2)
        model = self.model
        moved = False
        if device != self.device:
            model = self.model.to(device)
            moved = True
        try:
            with torch.inference_mode():
                y = model(x.to(device))
        finally:
            if moved:
                self.model.to(self.device)
        problem = self._expect_tensor(y, x)
        if problem:
            return "FAIL", problem
        problems = []
        if y.dtype != torch.float32:
            problems.append(f"float32 in, {str(y.dtype).removeprefix('torch.')} out; expected float32")
        if y.device.type != torch.device(device).type:
            problems.append(f"input on {device}, output on {y.device}; expected the input's device")
        if problems:
            return "FAIL", "; ".join(problems)
        return "PASS", f"float32 in, float32 out, on {y.device}"

    def check_dtype_cpu(self) -> tuple[Status, str]:
        return self._check_dtype_device("cpu")

    def check_dtype_cuda(self) -> tuple[Status, str]:
        if not torch.cuda.is_available():
            return "SKIP", "CUDA is not available on this machine"
        return self._check_dtype_device("cuda")

    # -- batch independence
    def check_batch(self) -> tuple[Status, str]:
        x, batched, problem = self._forward_synthetic(3, 3)
        if problem:
            return "FAIL", problem
        if tuple(batched.shape) != tuple(x.shape):
            return "FAIL", f"got {_shape(batched)} for a batch {_shape(x)}; cannot compare images"
        worst = 0.0
        for i in range(x.shape[0]):
            single = self.forward(x[i : i + 1])
            diff = float((batched[i].float().cpu() - single[0].float().cpu()).abs().max())
            worst = max(worst, diff)
            if diff > BATCH_TOLERANCE:
                return "FAIL", (
                    f"image {i} differs by {diff:.3g} when batched with others "
                    f"(max abs difference to the image derained alone; tolerance {BATCH_TOLERANCE:g}). "
                    "Batch statistics (BatchNorm in train mode, normalising over dim 0) leak "
                    "between images"
                )
        return "PASS", f"3 images batched vs alone: max abs difference {worst:.3g} (tolerance {BATCH_TOLERANCE:g})"

    # -- determinism
    def check_determinism(self) -> tuple[Status, str]:
        x = synthetic_rainy(1, self.h, self.w, self.seed + 4)
        a, b = self.forward(x), self.forward(x)
        problem = self._expect_tensor(a, x)
        if problem:
            return "FAIL", problem
        diff = float((a.float() - b.float()).abs().max())
        if diff > DETERMINISM_TOLERANCE:
            return "FAIL", (
                f"two calls on the same input differ by {diff:.3g} (max abs; tolerance "
                f"{DETERMINISM_TOLERANCE:g}); dropout or random noise active in eval mode?"
            )
        return "PASS", f"two calls on the same input differ by {diff:.3g} (max abs)"

    # -- odd sizes through the harness
    def check_odd_size(self) -> tuple[Status, str]:
        from bench.engine.inference import InferenceConfig, InferenceEngine, pad_to_multiple

        h, w = ODD_SIZE
        x = synthetic_rainy(1, h, w, self.seed + 5)
        padded, _ = pad_to_multiple(x, self.multiple)
        try:
            y = self.forward(padded)
        except Exception as err:
            return "FAIL", (
                f"forward failed on {_shape(padded)} (a {h}x{w} image padded by the harness to "
                f"multiples of card.size_multiple={self.multiple}): {describe_error(err)}; "
                "is size_multiple right?"
            )
        problem = self._expect_tensor(y, padded)
        if problem:
            return "FAIL", problem
        if tuple(y.shape) != tuple(padded.shape):
            pad_note = (
                f" (a {h}x{w} image padded by the harness to multiples of {self.multiple})"
                if padded.shape != x.shape
                else ""
            )
            return "FAIL", (
                f"got {_shape(y)} for input {_shape(padded)}{pad_note}; forward must return the "
                "input's size (crop away any internal padding)"
            )
        engine = InferenceEngine(self.model, InferenceConfig(device=self.device))
        image = (x[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
        out = engine.derain([image])[0]
        if tuple(out.shape) != (3, h, w):
            return "FAIL", f"the harness returned {_shape(out)} for a {h}x{w} image; expected 3x{h}x{w}"
        how = (
            f"padded to {_shape(padded)} (multiple {self.multiple}) and cropped back"
            if padded.shape != x.shape
            else "no padding needed (size multiple 1)"
        )
        return "PASS", f"odd {h}x{w} image: {how}; output 3x{h}x{w}"

    # -- inference_mode and the input
    def check_inference_mode(self) -> tuple[Status, str]:
        x = synthetic_rainy(1, self.h, self.w, self.seed + 6)
        with torch.inference_mode():
            y_inf = self.model(x.to(self.device))
        with torch.no_grad():
            y_ref = self.model(x.to(self.device))
        problem = self._expect_tensor(y_inf, x)
        if problem:
            return "FAIL", problem
        diff = float((y_inf.float() - y_ref.float()).abs().max())
        if diff > DETERMINISM_TOLERANCE:
            return "FAIL", (f"output under torch.inference_mode differs from torch.no_grad by {diff:.3g} (max abs)")
        return "PASS", f"runs under torch.inference_mode; equal to torch.no_grad (max abs difference {diff:.3g})"

    def check_input_untouched(self) -> tuple[Status, str]:
        x = synthetic_rainy(1, self.h, self.w, self.seed + 7).to(self.device)
        before = x.clone()
        with torch.inference_mode():
            self.model(x)
        diff = float((x - before).abs().max())
        if diff > 0:
            return "FAIL", (
                f"forward modified its input in place (max change {diff:.3g}); the harness reuses "
                "inputs: clone before in-place operations"
            )
        return "PASS", "forward leaves its input unchanged"

    # -- speed and memory
    def check_speed(self) -> tuple[Status, str]:
        width, height = QUICK_SPEED_SIZE if self.quick else SPEED_SIZE
        h, w = _round_up(height, self.multiple), _round_up(width, self.multiple)
        x = synthetic_rainy(1, h, w, self.seed + 8).to(self.device)
        on_cuda = x.device.type == "cuda"
        rss_before = _rss_peak_mb()
        if on_cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        seconds: list[float] = []
        for _ in range(2):  # the first forward at a new size includes one-time set-up (kernels, allocator)
            t0 = time.perf_counter()
            with torch.inference_mode():
                self.model(x)
            if on_cuda:
                torch.cuda.synchronize()
            seconds.append(time.perf_counter() - t0)
        if on_cuda:
            memory = f"peak GPU memory {(torch.cuda.max_memory_allocated() - base) / 2**20:.0f} MB above the model"
        else:
            after = _rss_peak_mb()
            memory = "peak process memory (RSS) " + (
                f"{after:.0f} MB (+{max(after - rss_before, 0.0):.0f} MB during the forward)"
                if after is not None and rss_before is not None
                else "unknown"
            )
        note = " (--quick: smaller than the standard 640x480)" if self.quick else ""
        return "PASS", (
            f"forward at {width}x{height}{note} on {x.device}: {seconds[1]:.3f} s "
            f"(first call {seconds[0]:.3f} s); {memory}"
        )


def _rss_peak_mb() -> float | None:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
