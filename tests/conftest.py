"""Shared fixtures: the real data root (skip when absent, fail in CI) and small synthetic images.

Tests that need ``../shared/data`` (or ``$BENCH_DATA``) skip with a reason when it is absent, so a fresh
clone without the data still runs the rest. With ``BENCH_REQUIRE_DATA=1`` (set by ``.ci/run``) every such
skip is a failure instead: in CI a broken data path cannot pass as a row of skips.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
_DEFAULT_SHARED = REPO.parent / "shared" / "data"


def shared_data_root() -> Path | None:
    value = os.environ.get("BENCH_DATA")
    root = Path(value) if value else _DEFAULT_SHARED
    return root.resolve() if root.is_dir() else None


SHARED = shared_data_root()
CALIBRATION = (SHARED.parent / "calibration") if SHARED is not None else None
#: ``BENCH_REQUIRE_DATA=1``: missing real data fails the test instead of skipping it (CI sets it).
REQUIRE_DATA = os.environ.get("BENCH_REQUIRE_DATA", "").strip() not in ("", "0")


def missing_data(reason: str) -> NoReturn:
    """Skip a test whose real data or weights are absent; fail it when ``BENCH_REQUIRE_DATA=1``."""
    if REQUIRE_DATA:
        pytest.fail(f"BENCH_REQUIRE_DATA=1 and {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_configure(config: pytest.Config) -> None:
    """The test process keeps freed memory as ``bench``'s command line does (bench.engine.allocator), from
    the first test on: timings do not depend on whether an in-process ``bench`` command ran earlier."""
    from bench.engine.allocator import retain_freed_memory

    retain_freed_memory()


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The real data root (``$BENCH_DATA`` or ``../shared/data``); skips (or, in CI, fails) when absent."""
    if SHARED is None:
        missing_data("real data not found: set BENCH_DATA or place ../shared/data beside the repo")
    return SHARED


#: Mark a test that reads the data root through ``$BENCH_DATA`` without taking the fixture.
needs_data = pytest.mark.usefixtures("data_root")


@pytest.fixture(scope="session")
def calibration_dir() -> Path:
    if CALIBRATION is None or not CALIBRATION.is_dir():
        missing_data("calibration values not found (../shared/calibration)")
    return CALIBRATION


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep caches and runs of every test out of the user's folders; point BENCH_DATA at shared data."""
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path_factory.mktemp("bench-cache")))
    if SHARED is not None and "BENCH_DATA" not in os.environ:
        monkeypatch.setenv("BENCH_DATA", str(SHARED))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def random_image(rng: np.random.Generator, h: int = 40, w: int = 56) -> np.ndarray:
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


# ------------------------------------------------------------------ shared helpers of the test files
# (imported as ``from tests.conftest import ...``; each was written again in several test files)


def comparable(record: dict[str, Any]) -> dict[str, Any]:
    """A record without what legitimately differs between runs (when, where, how fast)."""
    out = json.loads(json.dumps(record))
    for key in ("created", "env", "timings", "_path"):
        out.pop(key, None)
    out["config"].pop("output_dir", None)
    for row in out["rows"]:
        row.pop("seconds", None)
    return out


def identity_restoration_argv(dataset: object, *options: str) -> list[str]:
    """``bench run --derainer identity --task restoration --dataset DATASET OPTIONS...`` as ``main``'s argv."""
    return ["run", "--derainer", "identity", "--task", "restoration", "--dataset", str(dataset), *options]


def write_offset_pairs(
    root: Path,
    names: Iterable[object],
    rng: np.random.Generator,
    size: tuple[int, int] = (24, 32),
    offset: int = 20,
) -> Path:
    """A paired set ``root/{norain,rain}/NAME.png``: random clean images, rainy = clean + ``offset``."""
    from bench.data.images import write_image

    for name in names:
        clean = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        write_image(root / "norain" / f"{name}.png", clean)
        write_image(root / "rain" / f"{name}.png", np.clip(clean.astype(int) + offset, 0, 255).astype(np.uint8))
    return root


def write_scene_pairs(
    root: Path,
    names: Iterable[object],
    rng: np.random.Generator,
    *,
    size: tuple[int, int] = (48, 64),
    background: int = 40,
    objects: int = 4,
    margin: int = 40,
    box: tuple[int, int] = (8, 10),
    bright: int = 180,
    noise: int = 90,
) -> Path:
    """A paired set of dark scenes with ``objects`` bright boxes (something for a detector to find);
    rainy = clean + uniform noise in ``[0, noise)``."""
    from bench.data.images import write_image

    for name in names:
        clean = rng.integers(0, background, (*size, 3), dtype=np.uint8)
        for y, x in rng.integers(0, margin, (objects, 2)):
            clean[y : y + box[0], x : x + box[1]] = rng.integers(bright, 256, 3)
        rainy = np.clip(clean.astype(int) + rng.integers(0, noise, clean.shape), 0, 255).astype(np.uint8)
        write_image(root / "norain" / f"{name}.png", clean)
        write_image(root / "rain" / f"{name}.png", rainy)
    return root


def write_yolo_source(root: Path, n: int = 6) -> Path:
    """A YOLO-layout source (``images/val``, ``labels/val``, ``data.yaml``): noise images with one labelled
    green box that the dummy detector finds (half of its class-1 cell of the 4x4 grid)."""
    from PIL import Image

    rng = np.random.default_rng(3)
    (root / "images" / "val").mkdir(parents=True)
    (root / "labels" / "val").mkdir(parents=True)
    for i in range(n):
        image = rng.integers(0, 20, (96, 128, 3)).astype(np.uint8)
        image[24:36, 32:64] = (0, 255, 0)
        Image.fromarray(image).save(root / "images" / "val" / f"{i:03d}.png")
        (root / "labels" / "val" / f"{i:03d}.txt").write_text("1 0.375 0.3125 0.25 0.125\n")
    (root / "data.yaml").write_text("names: [person, bicycle]\n")
    return root


def save_tiny_weights(path: Path, seed: int) -> None:
    """An ``mspfn_tiny`` state dict at ``path``, visibly different per ``seed`` (a "retrained" weights file)."""
    import torch

    from bench.factory import create_derainer

    torch.manual_seed(seed)
    model = create_derainer("mspfn_tiny", weights=None)
    for p in model.parameters():
        p.data.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(seed)) * 0.05)
    torch.save(model.state_dict(), path)


@pytest.fixture
def one_thread() -> Iterator[None]:
    """One intra-op thread for the test (the CI machine's 2 cores are shared by parallel jobs: faster, stable)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
