"""bench.train.convergence: the rule that decides when a training run has converged, read on the trend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.train.convergence import history_from_metrics, main, plateau


def test_a_flat_noisy_curve_converges_although_its_best_keeps_creeping_up() -> None:
    rng = np.random.default_rng(0)
    steps = range(1000, 50001, 1000)
    rising = [(s, 30 + 6 * (1 - np.exp(-s / 8000))) for s in steps]  # saturates: +0.02 dB over the last 20 %
    noisy = [(s, v + float(rng.normal(0, 0.1))) for s, v in rising]
    result = plateau(noisy)
    assert result.window == (40000, 50000) and result.checkpoints == 11
    assert abs(result.trend_db) < 0.15  # noise of 0.1 dB per point, 11 points
    exact = plateau(rising)
    assert exact.converged and 0 < exact.trend_db < 0.05
    assert exact.best_gain_db == pytest.approx(rising[-1][1] - rising[38][1])


def test_a_curve_still_rising_is_not_converged() -> None:
    history = [(s, 30 + s / 10000) for s in range(1000, 40001, 1000)]  # +0.1 dB per 1,000 steps
    result = plateau(history)
    assert not result.converged
    assert result.window == (32000, 40000)
    assert result.trend_db == pytest.approx(0.8)
    assert result.as_dict()["rule"].startswith("least-squares rise of val psnr_y over the last 20% of steps")


def test_too_few_points_never_converge_and_bad_input_is_refused() -> None:
    assert not plateau([(1000, 30.0), (2000, 30.0)]).converged  # 1 point in the window
    assert plateau([(1000, 30.0)]).best_gain_db is None
    with pytest.raises(ValueError, match="no validation history"):
        plateau([])
    with pytest.raises(ValueError, match="fraction"):
        plateau([(1, 1.0)], fraction=0)


def test_command_line_reads_metrics_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = ["step,loss,lr,val_psnr_y,val_ssim_y,seconds"]
    rows += [f"{s},0.01,1e-4,{30 + (s >= 8000) * 0.01:.3f},0.9,{s}" for s in range(1000, 10001, 1000)]
    rows.insert(3, "2500,0.01,1e-4,,,2500")  # a training-only row is skipped
    path = tmp_path / "metrics.csv"
    path.write_text("\n".join(rows) + "\n")
    import csv

    with path.open() as handle:
        assert len(history_from_metrics(csv.DictReader(handle))) == 10
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "steps 8000-10000 (3 checkpoints)" in out and "converged" in out and "not converged" not in out
    # as documented, `python -m`, in a fresh interpreter: no runpy warning, no torch import
    import subprocess
    import sys

    probe = (
        "import runpy, sys\n"
        "try:\n    runpy.run_module('bench.train.convergence', run_name='__main__')\n"
        "except SystemExit as stop:\n    assert not stop.code, stop.code\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    proc = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-c", probe, str(path)],
        capture_output=True, text=True, check=False, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "steps 8000-10000 (3 checkpoints)" in proc.stdout and proc.stderr == ""


def test_the_trainer_logs_the_trend_at_each_validation(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    import torch

    from bench.train import TrainConfig, Trainer
    from tests.conftest import write_offset_pairs

    data = write_offset_pairs(tmp_path / "pairs", range(1, 7), np.random.default_rng(0), size=(24, 24))
    config = TrainConfig(
        derainer="mspfn_tiny", train=str(data), output_dir=str(tmp_path / "run"), steps=10, val_split=2,
        batch_size=1, patch_size=16, val_every=1, log_every=1, progress=False, tensorboard=False, device="cpu",
        workers=0,
    )  # fmt: skip
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with caplog.at_level(logging.INFO, logger="bench.train.trainer"):
            result = Trainer(config).fit()
    finally:
        torch.set_num_threads(threads)
    lines = [r.getMessage() for r in caplog.records if "val psnr_y" in r.getMessage()]
    assert len(lines) == 10
    assert "trend" not in lines[6]  # step 7: the window (steps >= 5.6) holds 2 points
    history = [(int(v["step"]), float(v["psnr_y"])) for v in result.validations]
    expected = plateau(history)
    assert expected.window == (8, 10)
    assert lines[-1].endswith(
        f"trend over steps 8-10: {expected.trend_db:+.3f} dB ({'converged' if expected.converged else 'not converged'})"
    )
