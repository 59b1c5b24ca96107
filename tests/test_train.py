"""The generic trainer: schedules, patch stream, checkpoints and exact resume, CLI, DDP, real data."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from bench.data.images import write_image
from bench.data.paired import detect_pairs
from bench.engine.checkpoint import load_checkpoint
from bench.engine.patches import PatchDataset, PatchSampler, PatchSpec, dihedral, split_pairs
from bench.engine.schedule import LRSchedule, ScheduledLR
from bench.train import TrainConfig, Trainer, export_weights
from derainers.base import Derainer, DerainerCard

REPO = Path(__file__).resolve().parents[1]


class TinyConv(Derainer):
    """One 3×3 convolution predicting the rain layer (derained = rainy − conv(rainy))."""

    card = DerainerCard(name="tiny_conv", summary="test model", size_multiple=1, patch_size=16)

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, rainy: torch.Tensor) -> torch.Tensor:
        return rainy - self.conv(rainy)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture
def paired_set(tmp_path: Path) -> Path:
    """12 synthetic rainy/clean pairs (40×56) named 1..12, in the RainTrainL layout."""
    rng = np.random.default_rng(7)
    root = tmp_path / "pairs"
    for i in range(1, 13):
        yy, xx = np.mgrid[0:40, 0:56]
        base = 100 + 60 * np.sin(xx / (4 + i)) + 40 * np.cos(yy / 5)
        clean = np.clip(np.stack([base, base * 0.8 + 20, 255 - base], axis=2), 0, 255).astype(np.uint8)
        streaks = (rng.random((40, 56)) < 0.05).astype(np.float64) * 90
        rainy = np.clip(clean + streaks[:, :, None], 0, 255).astype(np.uint8)
        write_image(root / "rain" / f"{i}.png", rainy)
        write_image(root / "norain" / f"{i}.png", clean)
    return root


def _config(data: Path, out: Path, **kw) -> TrainConfig:
    base = {
        "derainer": "mspfn_tiny",
        "train": str(data),
        "output_dir": str(out),
        "steps": 6,
        "val_split": 2,
        "batch_size": 2,
        "patch_size": 16,
        "val_every": 3,
        "log_every": 1,
        "progress": False,
        "tensorboard": False,
        "device": "cpu",
    }
    base.update(kw)
    return TrainConfig(**base)


# ------------------------------------------------------------------------------------------- schedules
def test_step_schedule_is_the_papers() -> None:
    s = LRSchedule.create("step")
    assert (s.lr, s.gamma, s.step_size, s.floor) == (2e-4, 0.5, 20000, 1e-6)
    assert s(0) == s(19_999) == 2e-4
    assert s(20_000) == s(39_999) == 1e-4
    assert s(40_000) == 5e-5
    assert s(7 * 20_000) == pytest.approx(2e-4 / 128)
    assert s(8 * 20_000) == 1e-6  # 2e-4/256 = 7.8e-7 is floored
    assert s(10**8) == 1e-6


def test_exp_schedule_is_the_releases() -> None:
    s = LRSchedule.create("exp")
    for step in (0, 1, 12_345, 20_000, 100_000):
        assert s(step) == pytest.approx(5e-4 * 0.8 ** (step / 20000) + 1e-6, rel=1e-12)
    assert s(0) == pytest.approx(5.01e-4)
    assert s(10_000) < s(9_999)  # continuous, not a staircase


def test_scheduled_lr_sets_rates_and_round_trips() -> None:
    opt = torch.optim.Adam(nn.Linear(2, 2).parameters())
    sched = ScheduledLR(opt, LRSchedule("step", 1e-3, 2, 0.5, 1e-4))
    rates = []
    for _ in range(8):
        rates.append(opt.param_groups[0]["lr"])
        sched.step()
    assert rates == [1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4, 2.5e-4, 1.25e-4, 1.25e-4]
    assert opt.param_groups[0]["lr"] == 1e-4  # floored
    other = ScheduledLR(torch.optim.Adam(nn.Linear(2, 2).parameters()), LRSchedule())
    other.load_state_dict(sched.state_dict())
    assert other.last_step == 8 and other.get_last_lr() == [1e-4]
    with pytest.raises(ValueError, match="unknown schedule"):
        LRSchedule.create("cosine")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------- patches
def test_val_split_is_last_pairs_in_natural_order(paired_set: Path) -> None:
    pairs = detect_pairs(paired_set).pairs
    train, val = split_pairs(pairs, 3)
    assert [p.id for p in val] == ["10", "11", "12"]  # natural, not lexicographic, order
    assert [p.id for p in train] == [str(i) for i in range(1, 10)]
    with pytest.raises(ValueError, match="leaves no training"):
        split_pairs(pairs, 12)


def test_sampler_is_deterministic_and_ranks_differ() -> None:
    a = PatchSampler(10, 4, seed=3)
    b = PatchSampler(10, 4, seed=3)
    assert [a.batch(k) for k in range(6)] == [b.batch(k) for k in range(6)]
    it = iter(PatchSampler(10, 4, seed=3, next_batch=4))
    assert next(it) == a.batch(4)  # resuming at batch 4 gives batch 4
    assert PatchSampler(10, 4, seed=4).batch(0) != a.batch(0)
    r0 = PatchSampler(10, 4, seed=3, rank=0, world_size=2)
    r1 = PatchSampler(10, 4, seed=3, rank=1, world_size=2)
    assert r0.batch(0) != r1.batch(0)
    # one epoch over both ranks visits every image exactly once (10 images; 5 samples per step pair)
    r0 = PatchSampler(10, 5, seed=3, rank=0, world_size=2)
    r1 = PatchSampler(10, 5, seed=3, rank=1, world_size=2)
    seen = [s.index for s in r0.batch(0) + r1.batch(0)]
    assert sorted(seen) == list(range(10))
    transforms = {s.transform for k in range(20) for s in a.batch(k)}
    assert transforms == set(range(8))
    per_batch = PatchSampler(10, 4, seed=3, augment="batch").batch(1)
    assert len({s.transform for s in per_batch}) == 1


def test_dihedral_group() -> None:
    image = np.arange(2 * 3 * 1).reshape(2, 3, 1)
    outs = [dihedral(image, t) for t in range(8)]
    assert len({o.tobytes() + bytes(o.shape) for o in outs}) == 8  # all distinct
    assert np.array_equal(outs[0], image)
    assert np.array_equal(outs[2], image[::-1, ::-1])
    assert np.array_equal(outs[4], image[:, ::-1])


def test_patches_are_aligned_crops(paired_set: Path) -> None:
    pairs = detect_pairs(paired_set).pairs
    ds = PatchDataset(pairs, 16)
    rainy_img, clean_img = ds.load(0)
    for t in range(8):
        rainy, clean = ds[PatchSpec(0, 0.5, 0.25, t)]
        assert rainy.shape == clean.shape == (3, 16, 16) and rainy.dtype == torch.uint8
        y, x = int(0.5 * (40 - 16 + 1)), int(0.25 * (56 - 16 + 1))
        expect_r = dihedral(rainy_img[y : y + 16, x : x + 16], t)
        expect_c = dihedral(clean_img[y : y + 16, x : x + 16], t)
        assert np.array_equal(rainy.permute(1, 2, 0).numpy(), expect_r)  # same transform on both
        assert np.array_equal(clean.permute(1, 2, 0).numpy(), expect_c)
    corner, _ = ds[PatchSpec(0, 0.999999, 0.999999, 0)]
    assert np.array_equal(corner.permute(1, 2, 0).numpy(), rainy_img[-16:, -16:])
    big = PatchDataset(pairs, 64)[PatchSpec(0, 0.0, 0.0, 0)][0]  # larger than the 40×56 image: padded
    assert big.shape == (3, 64, 64)


# ------------------------------------------------------------------------------------------- trainer
def test_resume_is_bit_exact(paired_set: Path, tmp_path: Path) -> None:
    straight = Trainer(_config(paired_set, tmp_path / "straight")).fit()
    first = Trainer(_config(paired_set, tmp_path / "split", steps=3)).fit()
    second = Trainer(_config(paired_set, tmp_path / "split", resume=str(tmp_path / "split" / "last.pt"))).fit()
    assert len(straight.losses) == 6 and first.step == 3 and second.start_step == 3 and second.step == 6
    assert straight.losses == first.losses + second.losses  # exact float equality
    assert straight.lrs == first.lrs + second.lrs
    a = load_checkpoint(tmp_path / "straight" / "last.pt")
    b = load_checkpoint(tmp_path / "split" / "last.pt")
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for key, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][key]), key
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values(), strict=True):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert a["training"]["val_history"] == b["training"]["val_history"]
    # the CSV of the resumed run has each step once
    steps = [int(line.split(",")[0]) for line in (tmp_path / "split" / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_continue_from_exported_weights_on_a_new_machine(paired_set: Path, tmp_path: Path) -> None:
    """--init-weights W --start-step N: the schedule and the data stream go on from step N (only Adam restarts),
    so the first loss after the cut equals the uninterrupted run's, and the rates are the same."""
    straight = Trainer(_config(paired_set, tmp_path / "straight", lr_step=2, lr_gamma=0.5)).fit()
    first = Trainer(_config(paired_set, tmp_path / "first", steps=3, lr_step=2, lr_gamma=0.5)).fit()
    weights = export_weights(tmp_path / "first" / "last.pt", tmp_path / "w.pt", dtype="fp32")
    cont = _config(
        paired_set, tmp_path / "new-machine", lr_step=2, lr_gamma=0.5, init_weights=str(weights), start_step=3
    )
    second = Trainer(cont).fit()
    assert second.start_step == 3 and second.step == 6 and len(second.losses) == 3
    assert first.lrs + second.lrs == straight.lrs and first.losses == straight.losses[:3]
    assert second.losses[0] == straight.losses[3]  # same weights, same batch: Adam's state only matters after
    assert second.losses[1:] != straight.losses[4:]  # fresh moment estimates: not a bit-exact resume
    steps = [
        int(line.split(",")[0]) for line in (tmp_path / "new-machine" / "metrics.csv").read_text().splitlines()[1:]
    ]
    assert steps == [4, 5, 6]
    config = json.loads((tmp_path / "new-machine" / "config.json").read_text())["config"]
    assert config["start_step"] == 3 and config["init_weights"] == str(weights)
    weights.unlink()  # a resume needs only its checkpoint, not the weights the run started from
    resumed = Trainer(dataclasses.replace(cont, steps=7, resume=str(tmp_path / "new-machine" / "last.pt"))).fit()
    assert resumed.start_step == 6 and resumed.step == 7
    with pytest.raises(ValueError, match="--init-weights"):
        _config(paired_set, tmp_path / "x", start_step=3)
    with pytest.raises(ValueError, match="start step"):
        _config(paired_set, tmp_path / "x", init_weights=str(weights), start_step=7)


def test_time_limit_stops_resumably(paired_set: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A call that reaches its time limit stops after that step with last.pt saved; resuming finishes the run
    exactly as an uninterrupted one."""
    from bench.cli import main

    straight = Trainer(_config(paired_set, tmp_path / "straight")).fit()
    cut = Trainer(_config(paired_set, tmp_path / "cut")).fit(time_limit=0.0)
    assert cut.timed_out and cut.step == 1 and load_checkpoint(tmp_path / "cut" / "last.pt")["step"] == 1
    rest = Trainer(_config(paired_set, tmp_path / "cut", resume=str(tmp_path / "cut" / "last.pt"))).fit()
    assert not rest.timed_out and rest.step == 6
    assert straight.losses == cut.losses + rest.losses
    out = tmp_path / "cli"
    argv = ["train", "--derainer", "mspfn_tiny", "--train", str(paired_set), "--output-dir", str(out)]
    argv += ["--steps", "4", "--val-split", "2", "--batch-size", "2", "--patch-size", "16", "--no-progress"]
    assert main([*argv, "--time-limit", "0"]) == 0
    assert "step 1/4" in capsys.readouterr().out
    assert main(["train", "--output-dir", str(out), "--resume", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "step 4/4" in text and "time-limit" not in text  # the limit is not stored with the run


def test_stop_when_converged_ends_the_run_and_stays_done(
    paired_set: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With lr 1e-20 (no weight moves by an ulp that shows in uint8 outputs) every validation scores the same: the trend is 0 dB, so the rule (>= 3 checkpoints in the
    last 20 % of the steps) first holds at step 10 with a validation every step. The run ends there with
    the step in last.pt; resuming it does nothing, --no-stop-when-converged goes on."""
    from bench.cli import main

    out = tmp_path / "flat"
    flat = _config(paired_set, out, steps=30, val_every=1, lr=1e-20, lr_floor=1e-20, stop_when_converged=True)
    result = Trainer(flat).fit()
    assert result.converged_at == 10 and result.step == 10 and len(result.validations) == 10
    assert len({v["psnr_y"] for v in result.validations}) == 1  # the premise: nothing changed
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt["step"] == 10 and ckpt["training"]["converged_at"] == 10
    again = Trainer(dataclasses.replace(flat, resume=str(out / "last.pt"))).fit()
    assert again.step == 10 and again.losses == [] and again.converged_at == 10
    assert main(["train", "--output-dir", str(out), "--resume", "--steps", "12", "--no-stop-when-converged"]) == 0
    assert "step 12/12" in capsys.readouterr().out
    assert load_checkpoint(out / "last.pt")["training"]["converged_at"] is None
    late = Trainer(dataclasses.replace(flat, output_dir=str(tmp_path / "late"), min_steps=12)).fit()
    assert late.converged_at == 12  # the rule is not judged before --min-steps
    # without the option the same run goes to --steps
    plain_run = Trainer(_config(paired_set, tmp_path / "plain", steps=12, val_every=1, lr=1e-20, lr_floor=1e-20)).fit()
    assert plain_run.converged_at is None and plain_run.step == 12


def test_earlier_history_comes_from_the_shipped_card(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run continued from shipped weights at step N judges convergence on the card's points up to N."""
    from bench.train import convergence

    card = {"tag": "T", "training": {"val_history": [{"step": s, "psnr_y": 30.0 + s} for s in (1, 2, 3, 4)]}}
    monkeypatch.setattr("derainers.shipped.shipped_cards", lambda derainer: (card,))
    assert [v["step"] for v in convergence.earlier_history("x", "T", 3)] == [1, 2, 3]
    assert convergence.earlier_history("x", "other-tag", 3) == []
    assert convergence.earlier_history("x", "T", 0) == [] and convergence.earlier_history("x", None, 3) == []


def test_loader_workers_give_the_same_stream(paired_set: Path, tmp_path: Path) -> None:
    inline = Trainer(_config(paired_set, tmp_path / "w0", steps=3, val_split=0)).fit()
    workers = Trainer(_config(paired_set, tmp_path / "w2", steps=3, val_split=0, workers=2)).fit()
    assert workers.losses == inline.losses


def test_checkpoint_contents_and_weights_only(paired_set: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = Trainer(_config(paired_set, out, steps=3, val_every=3)).fit()
    assert result.last_checkpoint == out / "last.pt" and result.best_checkpoint == out / "best.pt"
    assert {p.name for p in out.iterdir()} >= {"last.pt", "best.pt", "metrics.csv", "config.json"}
    ckpt = torch.load(out / "last.pt", map_location="cpu", weights_only=True)
    assert set(ckpt) >= {"state_dict", "model_kwargs", "card", "training", "optimizer", "scheduler", "rng", "step"}
    assert ckpt["architecture"]["channels"] == 8 and ckpt["architecture"]["lstm_hidden"] == [4, 4, 8]
    assert ckpt["step"] == 3
    assert ckpt["card"]["name"] == "mspfn_tiny" and ckpt["card"]["training_steps"] == 3
    assert ckpt["card"]["validation"]["pairs"] == 2
    assert ckpt["card"]["validation"]["psnr_y"] == pytest.approx(result.best_psnr_y)
    assert len(ckpt["card"]["dataset_sha256"]) == 64
    assert ckpt["training"]["config"]["batch_size"] == 2
    assert ckpt["training"]["dataset"]["val_ids"] == ["11", "12"]
    assert ckpt["rng"]["ranks"][0]["sampler"]["next_batch"] == 3
    # the scores in the card are the real validation scores of the checkpointed weights
    from bench.data.images import read_image, to_tensor
    from bench.factory import create_derainer
    from bench.metrics.fidelity import psnr_y

    model = create_derainer("mspfn_tiny", weights=out / "last.pt")
    scores = []
    for i in (11, 12):
        rainy = read_image(paired_set / "rain" / f"{i}.png")
        clean = read_image(paired_set / "norain" / f"{i}.png")
        with torch.no_grad():
            derained = model(to_tensor(rainy))
        scores.append(psnr_y((derained[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy(), clean))
    assert float(np.mean(scores)) == pytest.approx(ckpt["card"]["validation"]["psnr_y"], abs=1e-6)
    # weights-only export
    exported = export_weights(out / "best.pt", tmp_path / "ship.pt", dtype="fp16")
    shipped = torch.load(exported, map_location="cpu", weights_only=True)
    assert set(shipped) == {"state_dict", "model_kwargs", "architecture", "card"}
    assert shipped["architecture"] == ckpt["architecture"] == model.architecture()
    assert all(v.dtype == torch.float16 for v in shipped["state_dict"].values() if v.is_floating_point())
    half = create_derainer("mspfn_tiny", weights=exported)
    x = to_tensor(read_image(paired_set / "rain" / "1.png"))[:, :, :32, :48]
    with torch.no_grad():
        assert torch.allclose(half(x), model(x), atol=5e-3)


def test_tiny_conv_options(paired_set: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A user model passed in directly; no validation split; grad clipping; bf16 amp falls back to fp32 on a CPU
    without native bf16 (emulated here on any CPU), so the run is identical to an fp32 one."""
    import bench.engine.precision as precision

    monkeypatch.setattr(precision, "cpu_bf16_native", lambda: False)
    clip = torch.nn.utils.clip_grad_norm_
    norms: list[tuple[float, float]] = []

    def recording_clip(parameters, max_norm, *args, **kwargs):
        parameters = list(parameters)
        before = clip(parameters, max_norm, *args, **kwargs)
        after = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in parameters]))
        norms.append((float(before), float(after)))
        return before

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", recording_clip)
    torch.manual_seed(0)
    model = TinyConv()
    init = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = _config(
        paired_set, tmp_path / "a", derainer="tiny_conv", val_split=0, patch_size=None, grad_clip=0.01, amp="bf16"
    )
    result = Trainer(cfg, model=model).fit()
    assert result.best_psnr_y is None and result.best_checkpoint is None and result.last_checkpoint is not None
    assert not (tmp_path / "a" / "best.pt").exists()
    assert len(norms) == 6 and all(b > 0.01 and a <= 0.01 * 1.0001 for b, a in norms)  # clipping was active
    model_b = TinyConv()
    model_b.load_state_dict(init)
    again = Trainer(dataclasses.replace(cfg, output_dir=str(tmp_path / "b"), amp="none"), model=model_b).fit()
    assert again.losses == result.losses
    assert json.loads((tmp_path / "a" / "config.json").read_text())["autocast"] == "fp32"


def test_cpu_bf16_training_is_bf16_where_native(paired_set: Path, tmp_path: Path) -> None:
    """On a CPU with native bf16 the forward pass runs under bf16 autocast: losses differ from fp32 by bf16
    rounding only (loss and master weights stay fp32), and config.json records the precision."""
    from bench.engine.precision import cpu_bf16_native

    if not cpu_bf16_native():
        pytest.skip("this CPU has no native bf16 (the fallback is tested by test_tiny_conv_options)")
    torch.manual_seed(0)
    model = TinyConv()
    init = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = _config(paired_set, tmp_path / "a", derainer="tiny_conv", val_split=0, patch_size=None, amp="bf16")
    bf16 = Trainer(cfg, model=model).fit()
    model_b = TinyConv()
    model_b.load_state_dict(init)
    fp32 = Trainer(dataclasses.replace(cfg, output_dir=str(tmp_path / "b"), amp="none"), model=model_b).fit()
    assert bf16.losses != fp32.losses
    assert bf16.losses == pytest.approx(fp32.losses, rel=2e-2)
    written = json.loads((tmp_path / "a" / "config.json").read_text())
    assert written["autocast"] == "bfloat16" and written["cpu"]["bf16_native"] is True
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_rejects_bad_options(paired_set: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="size multiple"):
        Trainer(_config(paired_set, tmp_path, patch_size=20)).fit()
    with pytest.raises(ValueError, match="not trainable"):
        Trainer(_config(paired_set, tmp_path, derainer="identity")).fit()
    with pytest.raises(ValueError, match="amp"):
        _config(paired_set, tmp_path, amp="fp8")


# ------------------------------------------------------------------------------------------- CLI
def test_cli_parses_model_args() -> None:
    from bench.cli.train import parse_model_args

    assert parse_model_args(["M=5", "lstm-widths=4,4,8", "gaussian=true", "name=avg", "eps=1e-3"]) == {
        "M": 5,
        "lstm_widths": (4, 4, 8),
        "gaussian": True,
        "name": "avg",
        "eps": 1e-3,
    }
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_model_args(["M5"])


def test_cli_train_and_resume(
    paired_set: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from bench.cli import main

    out = tmp_path / "cli"
    args = [
        "train",
        "--derainer",
        "mspfn_tiny",
        "--train",
        str(paired_set),
        "--val-split",
        "2",
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--patch-size",
        "16",
        "--val-every",
        "2",
        "--output-dir",
        str(out),
        "--no-progress",
        "--device",
        "cpu",
    ]
    assert main(args) == 0
    summary = capsys.readouterr().out
    assert "trained mspfn_tiny: step 2/2" in summary and "best val psnr_y" in summary
    assert {"last.pt", "best.pt", "metrics.csv", "config.json"} <= {p.name for p in out.iterdir()}
    # --resume without a path continues from OUTPUT_DIR/last.pt, with the stored configuration
    assert main(["train", "--output-dir", str(out), "--resume", "--steps", "4", "--no-progress"]) == 0
    assert "step 4/4" in capsys.readouterr().out
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt["step"] == 4 and ckpt["training"]["config"]["patch_size"] == 16
    assert main(["train", "--output-dir", str(tmp_path / "none"), "--resume"]) == 2  # clear error, no traceback
    newer = load_checkpoint(out / "last.pt")  # a checkpoint of newer code, with an option this one lacks
    newer["training"]["config"]["an_option_from_the_future"] = 1
    torch.save(newer, out / "newer.pt")
    with caplog.at_level("WARNING", logger="bench.cli.train"):
        assert main(["train", "--output-dir", str(out), "--resume", str(out / "newer.pt"), "--no-progress"]) == 0
    assert "written by newer code: ignoring its options an_option_from_the_future" in caplog.text
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_torchrun_ddp_two_cpu_processes(paired_set: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "bench",
        "train",
        "--derainer",
        "mspfn_tiny",
        "--train",
        str(paired_set),
        "--val-split",
        "2",
        "--steps",
        "4",
        "--batch-size",
        "2",
        "--patch-size",
        "16",
        "--val-every",
        "2",
        "--output-dir",
        str(out),
        "--no-progress",
        "--device",
        "cpu",
    ]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("trained mspfn_tiny: step 4/4") == 1  # only rank 0 reports
    ckpt = torch.load(out / "last.pt", map_location="cpu", weights_only=True)
    assert ckpt["step"] == 4 and ckpt["training"]["world_size"] == 2
    samplers = [r["sampler"] for r in ckpt["rng"]["ranks"]]
    assert [s["rank"] for s in samplers] == [0, 1] and all(s["next_batch"] == 4 for s in samplers)
    assert (out / "best.pt").is_file() and (out / "metrics.csv").is_file()
    print(f"torchrun 2x CPU, 4 steps: {time.perf_counter() - started:.1f} s")


# ------------------------------------------------------------------------------------------- real data
@pytest.mark.slow
def test_mspfn_tiny_loss_falls_on_raintrainl(data_root: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(
        derainer="mspfn_tiny",
        train="RainTrainL",
        data_root=str(data_root),
        val_split=20,
        steps=40,
        batch_size=4,
        patch_size=48,
        val_every=1000,
        log_every=10,
        progress=False,
        tensorboard=False,
        device="cpu",
        lr=1e-3,
        output_dir=str(tmp_path / "real"),
    )
    result = Trainer(cfg).fit()
    losses = result.losses
    assert len(losses) == 40 and all(np.isfinite(losses))
    head, tail = float(np.mean(losses[:5])), float(np.mean(losses[-5:]))
    print(f"mspfn_tiny on RainTrainL: mean loss first 5 steps {head:.4f}, last 5 steps {tail:.4f}")
    assert tail < 0.8 * head
    ckpt = load_checkpoint(tmp_path / "real" / "last.pt")
    assert ckpt["training"]["dataset"]["train_pairs"] == 180
    assert ckpt["training"]["dataset"]["val_ids"][0] == "181"
