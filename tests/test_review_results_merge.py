"""Review of ``bench merge``: shards that must not merge (another effective precision, another bench), and
``bench merge --runs`` going on past a group whose files are damaged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.registries import TASKS
from bench.results.merge import MergeError, merge_shards
from bench.results.record import read_record, write_record
from bench.results.state import state_path
from bench.tasks.config import RunConfig
from tests.conftest import write_scene_pairs


def _shards(tmp_path: Path, n: int = 2, **config: object) -> list[Path]:
    data = tmp_path / "set"
    if not data.is_dir():
        write_scene_pairs(data, range(1, 6), np.random.default_rng(0), size=(24, 32), objects=1, margin=16)
    base = RunConfig(
        task="restoration",
        derainer="identity",
        weights="none",
        dataset=str(data),
        metrics=["psnr_y"],
        output_dir=str(tmp_path / "runs"),
        workers=0,
        **config,  # type: ignore[arg-type]
    )
    task_cls = TASKS.get("restoration")
    return [Path(task_cls(RunConfig(**{**base.to_dict(), "shard": f"{i}/{n}"})).run()["_path"]) for i in range(n)]


def _edit(path: Path, section: str, key: str, value: object) -> None:
    record = read_record(path)
    record[section][key] = value  # type: ignore[literal-required]
    write_record(record, path)


def test_shards_computed_in_different_precisions_do_not_merge(tmp_path: Path) -> None:
    paths = _shards(tmp_path, precision="auto")
    merge_shards(paths, tmp_path / "ok.json")  # alike: they merge
    _edit(paths[1], "derainer", "precision", "bf16")  # --precision auto on a machine with native bf16
    with pytest.raises(MergeError, match="precision='bf16' vs 'fp32'"):
        merge_shards(paths, tmp_path / "mixed.json")


def test_shards_of_different_bench_versions_do_not_merge(tmp_path: Path) -> None:
    paths = _shards(tmp_path)
    _edit(paths[0], "env", "bench", "0.0.1")
    with pytest.raises(MergeError, match=r"bench 0\.0\.1"):
        merge_shards(paths, tmp_path / "mixed.json")


def test_merge_runs_reports_a_damaged_group_and_merges_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _shards(tmp_path)
    bad = _shards(tmp_path, quantize="trunc")
    state_path(bad[0]).write_bytes(b"PK\x03\x04 torn")  # half-copied from another machine
    state_path(bad[1]).unlink()
    code = main(["merge", "--runs", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 1
    assert "state file" in err
    merged = [p for p in (tmp_path / "runs").glob("*.json") if "shard" not in p.name]
    assert len(merged) == 1 and read_record(merged[0])["config"]["quantize"] == "round"
    assert good[0].is_file()
