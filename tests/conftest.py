"""Shared fixtures: the real data root (skip when absent) and small synthetic images."""

from __future__ import annotations

import os
from pathlib import Path

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
needs_data = pytest.mark.skipif(SHARED is None, reason="real data not found: set BENCH_DATA or place ../shared/data")


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The real data root (``$BENCH_DATA`` or ``../shared/data``); skips the test when absent."""
    if SHARED is None:
        pytest.skip("real data not found: set BENCH_DATA or place ../shared/data beside the repo")
    return SHARED


@pytest.fixture(scope="session")
def calibration_dir() -> Path:
    if CALIBRATION is None or not CALIBRATION.is_dir():
        pytest.skip("calibration values not found (../shared/calibration)")
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
