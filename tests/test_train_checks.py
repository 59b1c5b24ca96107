"""What a run checks before it trains (bench/train/resume.py): a resume keeps the run's schedule, optimiser,
architecture and data or is refused; a new run does not write into another run's folder; the weights a run
starts from are recorded by sha256; weights load only into the architecture they were trained for."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.engine.checkpoint import load_checkpoint
from bench.fileio import file_sha256
from bench.train import TrainConfig, Trainer, export_weights
from tests.conftest import write_offset_pairs

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture
def pairs(tmp_path: Path) -> Path:
    """10 synthetic pairs named 1..10 (the last 2 held back)."""
    return write_offset_pairs(tmp_path / "pairs", range(1, 11), np.random.default_rng(4), size=(24, 32))


def _config(data: Path, out: Path, **kw: object) -> TrainConfig:
    base: dict[str, object] = {
        "derainer": "mspfn_tiny",
        "train": str(data),
        "output_dir": str(out),
        "steps": 3,
        "val_split": 2,
        "batch_size": 2,
        "patch_size": 16,
        "val_every": 3,
        "log_every": 1,
        "lr_step": 2,
        "progress": False,
        "tensorboard": False,
        "device": "cpu",
    }
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def _cli_argv(data: Path, out: Path) -> list[str]:
    argv = ["train", "--derainer", "mspfn_tiny", "--train", str(data), "--val-split", "2", "--steps", "2"]
    return [*argv, "--batch-size", "2", "--patch-size", "16", "--val-every", "2", "--lr-step", "2",
            "--output-dir", str(out), "--no-progress", "--device", "cpu"]  # fmt: skip


# ------------------------------------------------------------------ 1: schedule / optimiser options at a resume
def test_resume_refuses_changed_schedule_optimiser_and_architecture(pairs: Path, tmp_path: Path) -> None:
    """The checkpoint's scheduler and optimiser states would override these options while the run records
    them: refused, naming each, with nothing written."""
    out = tmp_path / "run"
    cfg = _config(pairs, out)
    Trainer(cfg).fit()
    before = {name: (out / name).read_bytes() for name in ("last.pt", "config.json", "metrics.csv")}
    resume = dataclasses.replace(cfg, steps=5, resume=str(out / "last.pt"))
    changes = {
        "lr_step": (100, "--lr-step 100 (the run: 2)"),
        "lr": (1e-3, "--lr 0.001 (the run: 0.0002)"),
        "lr_gamma": (0.1, "--lr-gamma 0.1 (the run: 0.5)"),
        "lr_floor": (1e-5, "--lr-floor 1e-05 (the run: 1e-06)"),
        "schedule": ("exp", "--schedule exp (the run: step)"),
        "betas": ((0.5, 0.9), "--betas 0.5 0.9 (the run: 0.9 0.999)"),
        "adam_eps": (1e-6, "--adam-eps 1e-06 (the run: 1e-08)"),
        "weight_decay": (1e-4, "--weight-decay 0.0001 (the run: 0)"),
        "model_kwargs": ({"pyramid": "gaussian"}, "--model-arg {'pyramid': 'gaussian'} (the run: {})"),
    }
    for name, (value, message) in changes.items():
        with pytest.raises(ValueError, match="a resume cannot change") as err:
            Trainer(dataclasses.replace(resume, **{name: value})).fit()
        assert message in str(err.value), name
    for name, data in before.items():
        assert (out / name).read_bytes() == data, name
    # what may change at a resume still does: --steps, --stop-when-converged, --min-steps, grad clipping
    extended = dataclasses.replace(resume, stop_when_converged=True, min_steps=5, grad_clip=1.0)
    assert Trainer(extended).fit().step == 5
    assert load_checkpoint(out / "last.pt")["training"]["config"]["min_steps"] == 5


def test_cli_resume_with_a_changed_schedule_is_a_clear_error(
    pairs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.cli import main

    out = tmp_path / "cli"
    assert main(_cli_argv(pairs, out)) == 0
    capsys.readouterr()
    assert main(["train", "--output-dir", str(out), "--resume", "--steps", "4", "--lr-step", "100"]) == 2
    err = capsys.readouterr().err
    assert "a resume cannot change --lr-step 100 (the run: 2)" in err and "Traceback" not in err
    assert main(["train", "--output-dir", str(out), "--resume", "--steps", "4", "--no-progress"]) == 0
    assert "step 4/4" in capsys.readouterr().out


# ------------------------------------------------------------------ 5: the data at a resume
def test_resume_refuses_other_data_and_accepts_a_copy(
    pairs: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "run"
    cfg = _config(pairs, out)
    Trainer(cfg).fit()
    resume = dataclasses.replace(cfg, steps=4, resume=str(out / "last.pt"))
    with pytest.raises(ValueError, match=r"cannot resume on other data: the held-out ids \[8, 9, 10\]"):
        Trainer(dataclasses.replace(resume, val_split=3)).fit()
    changed = tmp_path / "changed"
    shutil.copytree(pairs, changed)
    write_offset_pairs(changed, [11], np.random.default_rng(9), size=(24, 32))  # one pair more
    with pytest.raises(ValueError, match=r"are not the run's .*pairs added, removed, renamed or changed in size"):
        Trainer(dataclasses.replace(resume, train=str(changed))).fit()
    copy = tmp_path / "copy"  # the same pairs elsewhere (another data root, a machine's copy): the same run
    shutil.copytree(pairs, copy)
    with caplog.at_level(logging.WARNING):
        assert Trainer(dataclasses.replace(resume, train=str(copy))).fit().step == 4
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


# ------------------------------------------------------------------ 6: a new run in an old folder
def test_a_new_run_refuses_a_folder_with_another_runs_checkpoints(
    pairs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without this, a new run that never validates reported the old run's best.pt as its own."""
    from bench.cli import main

    out = tmp_path / "run"
    Trainer(_config(pairs, out)).fit()
    assert (out / "best.pt").is_file()
    with pytest.raises(ValueError, match=r"already holds a run's last.pt and best.pt: continue that run with --resume"):
        Trainer(_config(pairs, out, val_split=0, seed=1)).fit()
    assert main([*_cli_argv(pairs, out), "--seed", "1"]) == 2
    assert "or choose another --output-dir" in capsys.readouterr().err
    other = tmp_path / "other"  # a resume of a checkpoint from another folder into this one: the same
    Trainer(_config(pairs, other, steps=2)).fit()
    with pytest.raises(ValueError, match="already holds"):
        Trainer(_config(pairs, out, resume=str(other / "last.pt"))).fit()
    fresh = Trainer(_config(pairs, tmp_path / "fresh", val_split=0)).fit()  # an empty folder: fine
    assert fresh.best_checkpoint is None and fresh.last_checkpoint == tmp_path / "fresh" / "last.pt"


# ------------------------------------------------------------------ 7: the weights a run starts from
def test_the_starting_weights_are_recorded_by_sha256(pairs: Path, tmp_path: Path) -> None:
    first = tmp_path / "first"
    Trainer(_config(pairs, first, steps=2)).fit()
    weights = export_weights(first / "last.pt", tmp_path / "w.pt", dtype="fp32")
    out = tmp_path / "continued"
    cont = _config(pairs, out, steps=3, init_weights=str(weights), start_step=2)
    Trainer(cont).fit()
    expected = {"weights": str(weights), "tag": None, "file": "w.pt", "sha256": file_sha256(weights)}
    assert json.loads((out / "config.json").read_text())["init_weights"] == expected
    assert load_checkpoint(out / "last.pt")["training"]["init_weights"] == expected
    weights.unlink()  # a resume keeps the record (it needs only its checkpoint)
    Trainer(dataclasses.replace(cont, steps=4, resume=str(out / "last.pt"))).fit()
    assert load_checkpoint(out / "last.pt")["training"]["init_weights"] == expected
    assert json.loads((out / "config.json").read_text())["init_weights"] == expected
    assert load_checkpoint(first / "last.pt")["training"]["init_weights"] is None  # random init


# ------------------------------------------------------------------ 2: weights and the architecture
def test_load_weights_refuses_another_architecture(tmp_path: Path) -> None:
    """Same-shaped weights of another architecture used to load without a word and compute something else."""
    from bench.factory import create_derainer
    from derainers.mspfn import mspfn_tiny

    other = mspfn_tiny(value_range="symmetric", pyramid="gaussian")
    kwargs = {"value_range": "symmetric", "pyramid": "gaussian"}
    torch.save({"state_dict": other.state_dict(), "model_kwargs": kwargs}, tmp_path / "kw.pt")
    torch.save({"state_dict": other.state_dict(), "architecture": other.architecture()}, tmp_path / "arch.pt")
    for name in ("kw.pt", "arch.pt"):
        default = mspfn_tiny()
        with pytest.raises(
            ValueError, match=r"another architecture .*pyramid: the file's 'gaussian', the model's 'avg'"
        ):
            default.load_weights(tmp_path / name)
        mspfn_tiny(**kwargs).load_weights(tmp_path / name)  # the right one loads
    # the factory builds a file's architecture from its model_kwargs; an explicit other value is refused
    assert create_derainer("mspfn_tiny", weights=tmp_path / "kw.pt").config["pyramid"] == "gaussian"
    with pytest.raises(ValueError, match="value_range: the file's 'symmetric', the model's 'unit'"):
        create_derainer("mspfn_tiny", weights=tmp_path / "kw.pt", value_range="unit")
    # files that carry no architecture (official weights, bare state dicts) and non-architecture options load
    torch.save(mspfn_tiny().state_dict(), tmp_path / "bare.pt")
    mspfn_tiny().load_weights(tmp_path / "bare.pt")
    extra = {"cau_per_scale": 1, "lstm_hidden": (4, 4, 8), "channels_last": False}
    torch.save({"state_dict": mspfn_tiny().state_dict(), "model_kwargs": extra}, tmp_path / "same.pt")
    mspfn_tiny().load_weights(tmp_path / "same.pt")


def test_resume_builds_the_checkpoints_architecture(pairs: Path, tmp_path: Path) -> None:
    """A run started from a weights file with model_kwargs trains that file's architecture (the factory reads
    them from the file); its resume builds the same one, though the run's own model_kwargs are empty."""
    from derainers.mspfn import mspfn_tiny

    torch.manual_seed(0)
    start = mspfn_tiny(pyramid="gaussian")
    torch.save({"state_dict": start.state_dict(), "model_kwargs": {"pyramid": "gaussian"}}, tmp_path / "g.pt")
    out = tmp_path / "run"
    cfg = _config(pairs, out, steps=2, init_weights=str(tmp_path / "g.pt"), val_split=0)
    Trainer(cfg).fit()
    assert load_checkpoint(out / "last.pt")["architecture"]["pyramid"] == "gaussian"
    assert Trainer(dataclasses.replace(cfg, steps=3, resume=str(out / "last.pt"))).fit().step == 3
    assert load_checkpoint(out / "last.pt")["architecture"]["pyramid"] == "gaussian"
