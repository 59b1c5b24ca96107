"""The data policy of the suite: real-data tests skip locally without data and fail in CI (BENCH_REQUIRE_DATA=1)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA_TEST = "tests/test_fidelity.py::test_raintrainl_matches_matlab"  # takes the ``data_root`` fixture


def _pytest(tmp_path: Path, require: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("BENCH_REQUIRE_DATA", "PYTEST_ADDOPTS")}
    env["BENCH_DATA"] = str(tmp_path / "no-such-data")
    env["COLUMNS"] = "400"  # the short summary line is not truncated
    if require is not None:
        env["BENCH_REQUIRE_DATA"] = require
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:benchmark", DATA_TEST],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("require", [None, "0"])
def test_missing_data_skips_locally(tmp_path: Path, require: str | None) -> None:
    result = _pytest(tmp_path, require)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout and "real data not found" in result.stdout


def test_missing_data_fails_when_required(tmp_path: Path) -> None:
    result = _pytest(tmp_path, "1")
    assert result.returncode == 1, result.stdout + result.stderr
    # a fixture that fails reports the test as an error: not passed, not skipped
    assert (
        "1 error" in result.stdout
        and "Failed: BENCH_REQUIRE_DATA=1" in result.stdout
        and "skipped" not in result.stdout
    )


def test_ci_script_requires_data() -> None:
    """``.ci/run`` (what CI executes) sets the variable, so CI cannot pass with the data tests skipped."""
    text = (REPO / ".ci" / "run").read_text()
    assert "BENCH_REQUIRE_DATA=1" in text
