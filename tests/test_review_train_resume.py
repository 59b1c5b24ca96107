"""Trainer review cases: bad held-back pairs fail before training, checkpoint formats from newer code."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.data.images import ImageReadError, write_image
from bench.engine.checkpoint import load_checkpoint
from bench.train import TrainConfig, Trainer

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _pairs(root: Path, n: int = 8, small_last: bool = False) -> Path:
    rng = np.random.default_rng(3)
    for i in range(1, n + 1):
        h, w = (8, 8) if small_last and i == n else (32, 40)
        clean = rng.integers(40, 200, (h, w, 3), dtype=np.uint8)
        rainy = np.clip(clean.astype(np.int16) + 50 * (rng.random((h, w, 1)) < 0.05), 0, 255).astype(np.uint8)
        write_image(root / "rain" / f"{i}.png", rainy)
        write_image(root / "norain" / f"{i}.png", clean)
    return root


def _config(data: Path, out: Path, **kw: object) -> TrainConfig:
    base: dict[str, object] = {
        "derainer": "mspfn_tiny",
        "train": str(data),
        "output_dir": str(out),
        "steps": 4,
        "val_split": 2,
        "batch_size": 2,
        "patch_size": 16,
        "val_every": 2,
        "log_every": 1,
        "progress": False,
        "tensorboard": False,
        "device": "cpu",
    }
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def _logged_steps(out: Path) -> list[int]:
    path = out / "metrics.csv"
    if not path.is_file():
        return []
    return [int(line.split(",")[0]) for line in path.read_text().splitlines()[1:]]


def test_a_held_back_image_too_small_for_ssim_fails_before_the_first_step(tmp_path: Path) -> None:
    """Found at the first validation it cost ``val_every`` steps (nothing saved: last.pt comes after it)."""
    data = _pairs(tmp_path / "pairs", small_last=True)
    out = tmp_path / "run"
    with pytest.raises(ImageReadError, match=r"8\.png.*8x8 is smaller than the 11x11 ssim_y window"):
        Trainer(_config(data, out)).fit()
    assert _logged_steps(out) == [] and not (out / "last.pt").exists()


def test_an_unreadable_held_back_image_fails_before_the_first_step(tmp_path: Path) -> None:
    data = _pairs(tmp_path / "pairs")
    (data / "norain" / "8.png").write_bytes(b"not a png")
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=r"8\.png"):
        Trainer(_config(data, out)).fit()
    assert _logged_steps(out) == [] and not (out / "last.pt").exists()


def test_resume_refuses_a_checkpoint_format_newer_than_this_code(tmp_path: Path) -> None:
    data = _pairs(tmp_path / "pairs")
    out = tmp_path / "run"
    cfg = _config(data, out, steps=2)
    Trainer(cfg).fit()
    payload = load_checkpoint(out / "last.pt")
    payload["training"]["format"] = 99
    torch.save(payload, out / "last.pt")
    with pytest.raises(ValueError, match="format 99 is newer"):
        Trainer(dataclasses.replace(cfg, steps=4, resume=str(out / "last.pt"))).fit()
    assert _logged_steps(out) == [1, 2]  # the log of the refused resume is untouched
    payload["training"]["format"] = 1
    torch.save(payload, out / "last.pt")
    resumed = Trainer(dataclasses.replace(cfg, steps=4, resume=str(out / "last.pt"))).fit()
    assert resumed.start_step == 2 and resumed.step == 4 and _logged_steps(out) == [1, 2, 3, 4]
