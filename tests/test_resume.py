"""Runs survive faults: kill -9 and resume, content-addressed caches that miss exactly what changed,
corrupt cache entries detected and recomputed (design.md principles 5, 8, 10)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.results.record import read_record
from bench.tasks.config import RunConfig
from bench.tasks.downstream import DetectionTask
from tests.conftest import comparable, save_tiny_weights, write_scene_pairs

REPO = Path(__file__).resolve().parents[1]
N_IMAGES = 12


def _paired_set(root: Path, n: int = N_IMAGES, size: tuple[int, int] = (64, 72)) -> Path:
    return write_scene_pairs(
        root,
        range(1, n + 1),
        np.random.default_rng(5),
        size=size,
        background=50,
        objects=3,
        margin=min(size) - 12,
        box=(10, 12),
        bright=150,
    )


def _env(cache: Path) -> dict[str, str]:
    env = {**os.environ, "BENCH_CACHE": str(cache), "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    env.pop("BENCH_PROGRESS", None)
    return env


def _at_least(minimum: int, value: int) -> int:
    return value if value >= minimum else 0


def _run_until(cmd: list[str], env: dict[str, str], done: Any, timeout: float = 120.0) -> int:
    """Start the CLI, SIGKILL it as soon as ``done()`` is non-zero; returns that value (progress at the kill)."""
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            progress = done()
            if progress:
                os.kill(proc.pid, signal.SIGKILL)
                break
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                pytest.fail(f"the run ended (code {proc.returncode}) before it could be killed: {err[-2000:]}")
            time.sleep(0.01)
        else:
            pytest.fail("the run made no progress before the timeout")
    finally:
        if proc.poll() is None and time.monotonic() >= deadline:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    return int(progress)


def _journal_rows(runs: Path) -> list[dict[str, Any]]:
    rows = []
    for path in (runs / ".partial").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue  # torn last line
            if not obj.get("_header"):
                rows.append(obj)
    return rows


@pytest.mark.slow
def test_restoration_killed_with_sigkill_resumes_to_the_same_record(tmp_path: Path) -> None:
    data = _paired_set(tmp_path / "set")
    cmd = [
        sys.executable,
        "-m",
        "bench",
        "run",
        "--derainer",
        "mspfn_tiny",
        "--weights",
        "none",
        "--task",
        "restoration",
        "--dataset",
        str(data),
        "--seed",
        "3",
    ]
    env = _env(tmp_path / "cache")
    reference = subprocess.run(
        [*cmd, "--output-dir", str(tmp_path / "ref")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert reference.returncode == 0, reference.stderr
    ref = read_record(next((tmp_path / "ref").glob("*.json")))

    runs = tmp_path / "runs"
    killed_at = _run_until([*cmd, "--output-dir", str(runs)], env, lambda: _at_least(3, len(_journal_rows(runs))))
    finished = _journal_rows(runs)  # what the killed run had durably written
    assert 3 <= killed_at <= len(finished) < N_IMAGES
    assert not list(runs.glob("*.json")), "no record may exist before the run completes"

    resumed = subprocess.run(
        [*cmd, "--output-dir", str(runs)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(finished)} of {N_IMAGES} items already done, {N_IMAGES - len(finished)} to go" in resumed.stderr
    record = read_record(next(runs.glob("*.json")))
    assert comparable(record) == comparable(ref)
    assert record["metrics"] == ref["metrics"]
    # finished rows were reused verbatim (their timing included), only the rest was computed
    by_id = {r["id"]: r for r in record["rows"]}
    for row in finished:
        assert by_id[row["id"]] == row
    assert record["timings"]["resumed_items"] == len(finished)
    assert record["timings"]["computed_items"] == N_IMAGES - len(finished)
    assert not list((runs / ".partial").glob("*.jsonl")), "the journal is removed once the record is written"


def _count_entries(cache: Path, namespace: str) -> int:
    folder = cache / namespace
    return len(list(folder.rglob("*.npz"))) if folder.is_dir() else 0


@pytest.mark.slow
def test_detection_killed_with_sigkill_resumes_from_the_caches(tmp_path: Path) -> None:
    data = _paired_set(tmp_path / "set")
    cmd = [
        sys.executable,
        "-m",
        "bench",
        "run",
        "--derainer",
        "mspfn_tiny",
        "--weights",
        "none",
        "--task",
        "detection",
        "--dataset",
        str(data),
        "-o",
        "evaluator=dummy_detector",
    ]
    reference = subprocess.run(
        [*cmd, "--output-dir", str(tmp_path / "ref")],
        cwd=REPO,
        env=_env(tmp_path / "ref-cache"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert reference.returncode == 0, reference.stderr
    ref = read_record(next((tmp_path / "ref").glob("*.json")))

    cache, runs = tmp_path / "cache", tmp_path / "runs"
    env = _env(cache)
    _run_until([*cmd, "--output-dir", str(runs)], env, lambda: _at_least(3, _count_entries(cache, "derained")))
    done = _count_entries(cache, "derained")
    assert 3 <= done < N_IMAGES
    assert not list(runs.glob("*.json"))

    resumed = subprocess.run(
        [*cmd, "--output-dir", str(runs)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert resumed.returncode == 0, resumed.stderr
    record = read_record(next(runs.glob("*.json")))
    assert comparable(record) == comparable(ref)
    # only the images the killed run had not derained were derained again
    assert record["timings"]["cache"]["derained"] == {"hits": done, "misses": N_IMAGES - done, "corrupt": 0}


# ---------------------------------------------------------------------------------------------- caches
def _detection(tmp_path: Path, data: Path, **changes: Any) -> dict[str, Any]:
    cfg = RunConfig(
        task="detection",
        derainer="mspfn_tiny",
        weights="none",
        dataset=str(data),
        output_dir=str(tmp_path / "runs"),
        options={"evaluator": "dummy_detector"},
    )
    for key, value in changes.items():
        setattr(cfg, key, value)
    return DetectionTask(cfg).run()


def test_changed_weight_file_misses_exactly_the_derained_entries(tmp_path: Path) -> None:
    data = _paired_set(tmp_path / "set", n=4, size=(40, 48))
    weights = tmp_path / "w.pt"
    save_tiny_weights(weights, 1)
    first = _detection(tmp_path, data, weights=str(weights))
    assert first["timings"]["cache"]["derained"] == {"hits": 0, "misses": 4, "corrupt": 0}
    again = _detection(tmp_path, data, weights=str(weights))
    assert again["timings"]["cache"]["derained"] == {"hits": 4, "misses": 0, "corrupt": 0}
    assert again["timings"]["cache"]["predictions"] == {"hits": 12, "misses": 0, "corrupt": 0}
    assert comparable(again) == comparable(first)

    save_tiny_weights(weights, 2)  # same path, new content (another sha256)
    changed = _detection(tmp_path, data, weights=str(weights))
    assert changed["derainer"]["weights"]["sha256"] != first["derainer"]["weights"]["sha256"]
    assert changed["timings"]["cache"]["derained"] == {"hits": 0, "misses": 4, "corrupt": 0}
    # clean and rainy predictions do not depend on the derainer: all 8 reused; the 4 derained recomputed
    assert changed["timings"]["cache"]["predictions"] == {"hits": 8, "misses": 4, "corrupt": 0}
    assert changed["metrics"]["clean.map50_95"] == first["metrics"]["clean.map50_95"]
    assert changed["metrics"]["derained.psnr_y"] != first["metrics"]["derained.psnr_y"]


def test_changed_option_misses_exactly_the_affected_entries(tmp_path: Path) -> None:
    data = _paired_set(tmp_path / "set", n=4, size=(40, 48))
    rounded = _detection(tmp_path, data)
    truncated = _detection(tmp_path, data, quantize="trunc")
    assert truncated["timings"]["cache"]["derained"] == {"hits": 0, "misses": 4, "corrupt": 0}
    assert truncated["timings"]["cache"]["predictions"] == {"hits": 8, "misses": 4, "corrupt": 0}
    assert truncated["metrics"]["derained.psnr_y"] != rounded["metrics"]["derained.psnr_y"]
    # and back: every entry of the first protocol is still there
    back = _detection(tmp_path, data)
    assert back["timings"]["cache"]["derained"] == {"hits": 4, "misses": 0, "corrupt": 0}
    assert comparable(back) == comparable(rounded)


def test_corrupt_cache_entries_are_detected_logged_and_recomputed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = _paired_set(tmp_path / "set", n=4, size=(40, 48))
    first = _detection(tmp_path, data)
    cache = Path(os.environ["BENCH_CACHE"])
    derained = sorted((cache / "derained").rglob("*.npz"))
    predictions = sorted((cache / "predictions").rglob("*.npz"))
    assert len(derained) == 4 and len(predictions) == 12
    raw = bytearray(derained[0].read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one flipped byte
    derained[0].write_bytes(bytes(raw))
    predictions[3].write_bytes(predictions[3].read_bytes()[:20])  # truncated
    caplog.set_level("WARNING")
    second = _detection(tmp_path, data)
    assert second["timings"]["cache"]["derained"] == {"hits": 3, "misses": 0, "corrupt": 1}
    assert second["timings"]["cache"]["predictions"]["corrupt"] == 1
    assert sum("is corrupt" in r.getMessage() for r in caplog.records) == 2
    assert comparable(second) == comparable(first)  # recomputed, never silently used
    third = _detection(tmp_path, data)  # the recomputed entries were written back
    assert third["timings"]["cache"]["derained"] == {"hits": 4, "misses": 0, "corrupt": 0}
