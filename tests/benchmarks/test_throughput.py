"""CPU throughput of every registered derainer (64×64) and of the metrics (481×321), via pytest-benchmark.

Quick by construction (fixed small rounds through ``benchmark.pedantic``); works with
``--benchmark-disable`` (each body then runs once, as a smoke test). Store numbers with::

    .venv/bin/pytest tests/benchmarks -m "benchmark and not slow" --benchmark-json=.benchmarks/throughput.json

(drop ``and not slow`` to include the full-width MSPFN variants).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.registries import DERAINERS, METRICS

pytestmark = pytest.mark.benchmark

SIDE = 32
METRIC_NAMES = ("psnr_y", "ssim_y", "fsim", "niqe", "sseq")
# Full-width MSPFN variants take 10-30 s each just to build (13-22 M parameters) on a loaded 2-core CPU.
BIG = {
    "mspfn",
    "mspfn_m10n3",
    "mspfn_m17n2",
    "mspfn_m13n2",
    "mspfn_m8n5",
    "mspfn_m30n1",
    "mspfn_release",
    "mspfn_official",
    "mspfn_official_train",
}
# Of the full-width variants only the flagship is timed here (the others are the same blocks at other
# depths; building each costs 10-45 s of the suite's 10-minute budget). `bench perf` times any of them.
TIMED_BIG = {"mspfn"}
DERAINER_PARAMS = [
    pytest.param(n, marks=pytest.mark.slow) if DERAINERS.canonical(n) in BIG else n
    for n in DERAINERS.names()
    if DERAINERS.canonical(n) not in BIG - TIMED_BIG
]


@pytest.fixture(scope="module", autouse=True)
def _threads() -> None:
    """Fix the thread count so that stored numbers are comparable between runs."""
    before = torch.get_num_threads()
    torch.set_num_threads(min(2, before))
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("name", DERAINER_PARAMS)
def test_derainer_throughput(benchmark, name: str) -> None:
    from bench.factory import create_derainer

    model = create_derainer(name, weights=None)
    multiple = max(1, int(getattr(model.card, "size_multiple", 1)))
    side = -(-SIDE // multiple) * multiple
    x = torch.rand((1, 3, side, side), generator=torch.Generator().manual_seed(0))

    def step() -> torch.Tensor:
        with torch.inference_mode():
            return model(x)

    out = benchmark.pedantic(step, rounds=3, iterations=1, warmup_rounds=1)
    assert out.shape == x.shape
    assert torch.isfinite(out).all()
    benchmark.extra_info.update({"pixels": side * side, "unit": "s per 1 image"})


@pytest.fixture(scope="module")
def image_pair() -> tuple[np.ndarray, np.ndarray]:
    """A 481×321 (W×H) smooth test image and a noisy copy, seeded."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:321, 0:481]
    base = np.stack([128 + 100 * np.sin(xx / 23.0 + c) * np.cos(yy / 17.0) for c in range(3)], axis=-1)
    clean = np.clip(base + rng.normal(0, 5, base.shape), 0, 255).astype(np.uint8)
    noisy = np.clip(clean + rng.normal(0, 12, clean.shape), 0, 255).astype(np.uint8)
    return noisy, clean


@pytest.mark.parametrize("metric", METRIC_NAMES)
def test_metric_throughput(benchmark, metric: str, image_pair: tuple[np.ndarray, np.ndarray]) -> None:
    spec = METRICS.get(metric)
    noisy, clean = image_pair
    if spec.mode == "FR":
        value = benchmark.pedantic(spec.fn, args=(noisy, clean), rounds=3, iterations=1, warmup_rounds=1)
    else:
        value = benchmark.pedantic(spec.fn, args=(noisy,), rounds=3, iterations=1, warmup_rounds=1)
    assert np.isfinite(value)
    benchmark.extra_info.update({"size": "481x321"})
