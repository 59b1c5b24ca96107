"""A resumed or repeated run reuses rows and records only of the same run: the protocol names the weights by
path or tag and the data by name, so the weights' sha256, the resolved data root and the bench version are
compared too (journal header, ``bench run``'s finished record). The derain cache is keyed on everything that
changes the derained pixels or their stored seconds (optimize, channels_last, device type, tiled batch size).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from bench import _version
from bench.api import run_config
from bench.cli.run import finished_record
from bench.results.journal import Journal
from bench.tasks.common import open_journal
from bench.tasks.config import RunConfig, record_name
from bench.tasks.downstream import DetectionTask
from bench.tasks.restoration import RestorationTask
from tests.conftest import save_tiny_weights, write_offset_pairs

N_IMAGES = 5


class _Killed(BaseException):
    """Stands for a kill in the middle of a run (not an item error: it ends the run)."""


def _pairs(root: Path, offset: int = 20) -> Path:
    return write_offset_pairs(root, range(1, N_IMAGES + 1), np.random.default_rng(offset), offset=offset)


def _config(tmp_path: Path, dataset: object, **changes: Any) -> RunConfig:
    options: dict[str, Any] = {"task": "restoration", "derainer": "identity", "workers": 0, **changes}
    return RunConfig(dataset=str(dataset), output_dir=str(tmp_path / "runs"), **options)


def _interrupted(config: RunConfig, after: int = 2) -> None:
    """Run ``config`` until ``after`` items are journaled, then stop it as a kill would (no record)."""
    process = RestorationTask.process
    calls = 0

    def dying(self: RestorationTask, sample: Any, derained: np.ndarray) -> dict[str, Any]:
        nonlocal calls
        if calls == after:
            raise _Killed
        calls += 1
        return process(self, sample, derained)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(RestorationTask, "process", dying)
        with pytest.raises(_Killed):
            RestorationTask(config).run()
    journals = list((Path(str(config.output_dir)) / ".partial").glob("*.jsonl"))
    assert len(journals) == 1 and len(journals[0].read_text().splitlines()) == after + 1  # header + rows


def _messages(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage() and r.levelno >= logging.INFO]


# ---------------------------------------------------------------------------------------------- the journal
def test_an_unchanged_run_still_resumes(tmp_path: Path) -> None:
    data = _pairs(tmp_path / "set")
    weights = tmp_path / "w.pt"
    save_tiny_weights(weights, 1)
    for changes in ({}, {"derainer": "mspfn_tiny", "weights": str(weights)}):  # no weights; a weights file
        config = _config(tmp_path / str(len(changes)), data, **changes)
        _interrupted(config)
        record = RestorationTask(config).run()
        assert record["timings"]["resumed_items"] == 2
        assert record["timings"]["computed_items"] == N_IMAGES - 2


def test_weights_retrained_at_the_same_path_start_the_journal_over(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = _pairs(tmp_path / "set")
    weights = tmp_path / "w.pt"
    save_tiny_weights(weights, 1)
    config = _config(tmp_path, data, derainer="mspfn_tiny", weights=str(weights))
    _interrupted(config)
    save_tiny_weights(weights, 2)  # same path, new content (another sha256)
    caplog.set_level(logging.INFO)
    record = RestorationTask(config).run()
    assert record["timings"]["resumed_items"] == 0
    assert record["timings"]["computed_items"] == N_IMAGES
    assert len(_messages(caplog, "weights changed (sha256")) == 1
    assert "starting over" in _messages(caplog, "weights changed")[0]
    fresh = RestorationTask(_config(tmp_path / "fresh", data, derainer="mspfn_tiny", weights=str(weights))).run()
    assert record["metrics"] == fresh["metrics"]  # every row is the new weights'


def test_another_data_root_starts_the_journal_over(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    _pairs(first / "rain" / "Rain12", offset=20)
    _pairs(second / "rain" / "Rain12", offset=60)  # the same set name, other images
    _interrupted(_config(tmp_path, "Rain12", data_root=str(first)))
    caplog.set_level(logging.INFO)
    record = RestorationTask(_config(tmp_path, "Rain12", data_root=str(second))).run()
    assert record["timings"]["resumed_items"] == 0
    assert len(_messages(caplog, "data root changed")) == 1
    fresh = RestorationTask(_config(tmp_path / "fresh", "Rain12", data_root=str(second))).run()
    assert record["metrics"] == fresh["metrics"]


def test_another_bench_version_starts_the_journal_over(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _pairs(tmp_path / "set")
    config = _config(tmp_path, data)
    _interrupted(config)
    monkeypatch.setattr(_version, "__version__", "999.0.0")
    caplog.set_level(logging.INFO)
    record = RestorationTask(config).run()
    assert record["timings"]["resumed_items"] == 0
    assert len(_messages(caplog, "bench version changed")) == 1


def test_a_journal_without_the_identity_is_not_resumed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = _config(tmp_path, _pairs(tmp_path / "set"))
    stem = record_name(config, "identity", "set")
    Journal(Path(str(config.output_dir)) / ".partial" / f"{stem}.jsonl", header=config.protocol()).append(
        {"id": "1", "psnr_y": 99.0}
    )  # as an older bench wrote it: the protocol alone
    caplog.set_level(logging.INFO)
    assert len(open_journal(config, stem)) == 0
    assert len(_messages(caplog, "older bench")) == 1


# ---------------------------------------------------------------------------------------------- finished records
def test_retrained_weights_do_not_reuse_the_finished_record(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    weights = tmp_path / "w.pt"
    save_tiny_weights(weights, 1)
    config = _config(tmp_path, _pairs(tmp_path / "set"), derainer="mspfn_tiny", weights=str(weights))
    record = run_config(config)
    found = finished_record(config)
    assert found is not None and str(found[0]) == record["_path"]
    save_tiny_weights(weights, 2)
    caplog.set_level(logging.INFO)
    assert finished_record(config) is None
    assert len(_messages(caplog, "weights changed (sha256")) == 1


def test_another_bench_data_does_not_reuse_the_finished_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    _pairs(first / "rain" / "Rain12", offset=20)
    _pairs(second / "rain" / "Rain12", offset=60)
    monkeypatch.setenv("BENCH_DATA", str(first))
    config = _config(tmp_path, "Rain12")  # no --data-root: $BENCH_DATA decides
    run_config(config)
    assert finished_record(config) is not None
    monkeypatch.setenv("BENCH_DATA", str(second))
    caplog.set_level(logging.INFO)
    assert finished_record(config) is None
    assert len(_messages(caplog, "data root changed")) == 1


def test_another_bench_version_does_not_reuse_the_finished_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path, _pairs(tmp_path / "set"))
    run_config(config)
    assert finished_record(config) is not None
    monkeypatch.setattr(_version, "__version__", "999.0.0")
    assert finished_record(config) is None


def test_a_record_without_its_data_root_is_not_reused(tmp_path: Path) -> None:
    config = _config(tmp_path, _pairs(tmp_path / "set"))
    path = Path(run_config(config)["_path"])
    assert finished_record(config) is not None
    stored = json.loads(path.read_text())
    del stored["env"]["data_root"]  # as an older bench wrote it
    path.write_text(json.dumps(stored))
    assert finished_record(config) is None


# ---------------------------------------------------------------------------------------------- the derain cache
def _derainer_key(**changes: Any) -> str:
    config = RunConfig(task="detection", derainer="identity", options={"evaluator": "dummy_detector"}, **changes)
    task = DetectionTask(config)
    task.setup(torch.nn.Identity(), {"name": "identity", "weights": None, "precision": "fp32"})
    return task.derainer_key


def test_the_derain_cache_key_holds_what_changes_pixels_or_seconds() -> None:
    base = _derainer_key()
    assert _derainer_key(optimize="jit") != base
    assert _derainer_key(channels_last=True) != base
    assert _derainer_key(device="cuda") != base
    assert _derainer_key(device="cuda:0") == _derainer_key(device="cuda:1")  # the type, not the index
    assert _derainer_key(batch_size=4) == base  # one image a forward pass: batch size changes nothing
    assert _derainer_key(tile=16, batch_size=4) != _derainer_key(tile=16)  # tiles are batched


def test_channels_last_misses_the_derain_cache(tmp_path: Path) -> None:
    from tests.conftest import write_scene_pairs

    data = write_scene_pairs(tmp_path / "set", range(1, 4), np.random.default_rng(5), size=(40, 48))
    config = _config(tmp_path, data, task="detection", options={"evaluator": "dummy_detector"})
    assert DetectionTask(config).run()["timings"]["cache"]["derained"]["misses"] == 3
    config.channels_last = True
    assert DetectionTask(config).run()["timings"]["cache"]["derained"] == {"hits": 0, "misses": 3, "corrupt": 0}
