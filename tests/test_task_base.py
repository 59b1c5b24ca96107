"""The Task base (bench.tasks.base): a new task is one small file; the toy psnr_only task end to end."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bench.data.images import write_image
from bench.metrics.fidelity import psnr_y
from bench.registries import TASKS
from bench.results.merge import merge_shards
from bench.tasks.config import RunConfig
from bench.tasks.noref import aggregate as noref_aggregate

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def psnr_only() -> Iterator[None]:
    TASKS.add("psnr_only", "bench.tasks.psnr_only:PsnrOnlyTask", summary="toy", origin="test")
    try:
        yield
    finally:
        TASKS._entries.pop("psnr_only", None)
        TASKS._aliases.pop("psnr_only", None)


def _pairs(root: Path, n: int = 5) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(3)
    images = {}
    for i in range(1, n + 1):
        clean = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
        rainy = np.clip(clean.astype(int) + rng.integers(0, 60, clean.shape), 0, 255).astype(np.uint8)
        write_image(root / "norain" / f"{i}.png", clean)
        write_image(root / "rain" / f"{i}.png", rainy)
        images[str(i)] = (rainy, clean)
    (root / "rain" / "9.png").write_bytes(b"not a png")  # an unreadable item: an issue, not a row
    write_image(root / "norain" / "9.png", images["1"][1])
    return images


def test_psnr_only_runs_end_to_end_and_merges(psnr_only: None, tmp_path: Path) -> None:
    images = _pairs(tmp_path / "set")
    base = {"task": "psnr_only", "derainer": "identity", "dataset": str(tmp_path / "set"), "weights": None}
    record = TASKS.get("psnr_only")(RunConfig(**base, output_dir=str(tmp_path / "one"))).run()
    expected = {i: psnr_y(rainy, clean) for i, (rainy, clean) in images.items()}  # identity: derained == rainy
    assert [r["id"] for r in record["rows"]] == ["1", "2", "3", "4", "5"]
    assert {r["id"]: r["psnr_y"] for r in record["rows"]} == pytest.approx(expected)
    assert record["metrics"]["psnr_y"] == pytest.approx(float(np.mean(list(expected.values()))))
    assert record["dataset"]["n_scored"] == 5 and record["dataset"]["n_skipped"] == 1
    assert [i["path"] for i in record["issues"]] == [str(tmp_path / "set" / "rain" / "9.png")]
    assert all(r["seconds"] >= 0 for r in record["rows"])
    on_disk = json.loads(Path(record["_path"]).read_text())
    assert on_disk["metrics"] == record["metrics"] and on_disk["task"] == "psnr_only"

    shards = [
        TASKS.get("psnr_only")(RunConfig(**base, shard=f"{k}/2", output_dir=str(tmp_path / "shards"))).run()
        for k in range(2)
    ]
    _, merged = merge_shards([Path(s["_path"]) for s in shards], tmp_path / "merged.json")
    assert merged["metrics"] == record["metrics"]  # the merge aggregates through the task, as the run does
    assert [r["id"] for r in merged["rows"]] == [r["id"] for r in record["rows"]]


def test_psnr_only_is_the_worked_example_in_the_docs() -> None:
    code = (ROOT / "bench" / "tasks" / "psnr_only.py").read_text()
    docs = (ROOT / "docs" / "architecture.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", docs, flags=re.S)
    assert code in blocks, "docs/architecture.md must show bench/tasks/psnr_only.py verbatim"
    assert len(code.splitlines()) < 100


def test_noref_gain_compares_the_same_rows() -> None:
    rows = [
        {"id": "1", "rainy.niqe": 6.0, "derained.niqe": 5.0},
        {"id": "2", "rainy.niqe": 10.0},  # its derained score failed: in neither mean
    ]
    metrics = noref_aggregate(rows, ["niqe"])
    assert metrics == {"rainy.niqe": 6.0, "derained.niqe": 5.0, "gain.niqe": -1.0}
