"""scripts/gpu_train.sh, dry-run on CPU: unpack a pack, train in two time-limited chunks (the second resumes),
bring back best.pt in parts with metrics and config, and ship what came back with scripts/ship_weights.py."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.data.pack import pack_pairs
from tests.conftest import write_offset_pairs

REPO = Path(__file__).resolve().parents[1]


def _chunk(tmp_path: Path, seconds: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        DEVICE="cpu", DERAINER="mspfn_tiny", STEPS="4", BATCH="2", PATCH="16", VAL_EVERY="2", WORKERS="0",
        OPTIMIZE="none", PY=sys.executable, PACK=str(tmp_path / "set.zip"), WORK=str(tmp_path / "work"),
        OUT=str(tmp_path / "out"), CHUNK_SECONDS=seconds, OMP_NUM_THREADS="1",
    )  # fmt: skip
    return subprocess.run(
        ["bash", str(REPO / "scripts" / "gpu_train.sh")], env=env, capture_output=True, text=True, timeout=300
    )


def test_two_chunks_then_ship(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_offset_pairs(tmp_path / "pairs", range(1, 25), np.random.default_rng(5), size=(32, 40))
    pack_pairs(tmp_path / "pairs", tmp_path / "set.zip")

    first = _chunk(tmp_path, "0")  # stops after step 1, resumable
    assert first.returncode == 0, first.stdout + first.stderr
    assert "step 1/4" in first.stdout and "time-limit" in first.stdout
    second = _chunk(tmp_path, "600")  # resumes from last.pt, finishes
    assert second.returncode == 0, second.stdout + second.stderr
    assert "step 4/4" in second.stdout and "24 pairs" in first.stdout

    out = tmp_path / "out"
    parts = sorted(out.glob("best.pt.part*"))
    assert parts and all(p.stat().st_size <= 15 * 2**20 for p in parts)
    assert {"metrics.csv", "config.json", "log.txt"} <= {p.name for p in out.iterdir()}

    run = tmp_path / "back"
    run.mkdir()
    (run / "best.pt").write_bytes(b"".join(p.read_bytes() for p in parts))
    for name in ("metrics.csv", "config.json"):
        (run / name).write_bytes((out / name).read_bytes())
    import torch

    payload = torch.load(run / "best.pt", map_location="cpu", weights_only=True)
    assert "optimizer" not in payload and payload["step"] in (2, 4) and "training" in payload

    spec = importlib.util.spec_from_file_location("ship_weights", REPO / "scripts" / "ship_weights.py")
    assert spec is not None and spec.loader is not None
    ship = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ship)
    monkeypatch.setattr(ship, "REPO", tmp_path)
    monkeypatch.setattr(ship, "WEIGHTS_DIR", tmp_path / "weights")
    monkeypatch.setattr(ship, "CURVES_DIR", tmp_path / "curves")
    (tmp_path / "weights").mkdir()
    (tmp_path / "work").rename(tmp_path / "device-was-here")  # the device's unpacked copy is not here
    argv = ["--run-dir", str(run), "--derainer", "mspfn_tiny", "--tag", "Gpu", "--hardware", "dry run"]
    argv += ["--val-dataset", str(tmp_path / "pairs")]  # the original of the device's copy
    with pytest.raises(SystemExit, match="not the run's held-out ids 5-24: 5-20 left out"):
        ship.main([*argv, "--val-ids", "21-24"])  # not all of the run's held-out pairs: refused
    assert ship.main(argv) == 0  # the run's held-out ids (--val-split 20 of 24), from the checkpoint
    card = json.loads((tmp_path / "weights" / "mspfn_tiny-Gpu.json").read_text())
    assert card["training"]["steps"] == payload["step"] and card["validation"]["images"] == 20
    assert card["validation"]["ids"] == "5-24"
    assert card["validation"]["dataset"] == str(tmp_path / "pairs")
