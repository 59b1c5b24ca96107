"""scripts/ship_weights.py end to end: a trained run becomes fp16 weights (in parts when large), a card whose
validation scores a fresh ``bench run`` reproduces, and a curve; the factory then loads it by tag."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

from bench.fileio import file_sha256
from derainers.base import WeightsSource
from tests.conftest import write_offset_pairs

REPO = Path(__file__).resolve().parents[1]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ship_weights", REPO / "scripts" / "ship_weights.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def trained_run(tmp_path: Path) -> tuple[Path, Path]:
    """mspfn_tiny trained 4 steps on 12 synthetic pairs (the last 2 held back)."""
    from bench.train import TrainConfig, Trainer

    data = write_offset_pairs(tmp_path / "pairs", range(1, 13), np.random.default_rng(3), size=(32, 40))
    out = tmp_path / "run"
    config = TrainConfig(
        derainer="mspfn_tiny",
        train=str(data),
        output_dir=str(out),
        steps=4,
        val_split=2,
        batch_size=2,
        patch_size=16,
        val_every=2,
        log_every=1,
        progress=False,
        tensorboard=False,
        device="cpu",
        workers=0,
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        Trainer(config).fit()
    finally:
        torch.set_num_threads(threads)
    return data, out


def test_ship_in_parts_and_load_by_tag(
    trained_run: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import derainers.shipped as shipped
    from bench.factory import create_derainer
    from bench.tasks.common import derainer_info

    data, run = trained_run
    ship = _script()
    weights_dir = tmp_path / "pkg" / "weights"
    weights_dir.mkdir(parents=True)
    monkeypatch.setattr(ship, "REPO", tmp_path)
    monkeypatch.setattr(ship, "WEIGHTS_DIR", weights_dir)
    monkeypatch.setattr(ship, "CURVES_DIR", tmp_path / "reports" / "training")
    argv = ["--run-dir", str(run), "--derainer", "mspfn_tiny", "--tag", "Test", "--val-ids", "11-12"]
    argv += ["--hardware", "test machine", "--note", "unit test", "--max-part-bytes", "20000"]
    assert ship.main(argv) == 0

    card = json.loads((weights_dir / "mspfn_tiny-Test.json").read_text())
    parts = card["parts"]
    assert len(parts) >= 2 and all(p["bytes"] <= 20000 for p in parts)
    assert sum(p["bytes"] for p in parts) == card["bytes"]
    assert not (weights_dir / card["file"]).exists()  # only the parts are shipped
    assert card["training"]["steps"] == 4 and card["training"]["hardware"] == "test machine"
    assert card["training"]["steps_per_second"]["overall"] > 0
    assert card["training"]["command"].startswith("python -m bench train --derainer mspfn_tiny")
    assert card["validation"]["ids"] == "11-12" and card["validation"]["images"] == 2
    assert (tmp_path / card["curve"]["csv"]).is_file() and (tmp_path / card["curve"]["png"]).is_file()

    monkeypatch.setattr(shipped, "WEIGHTS_DIR", weights_dir)
    shipped.shipped_cards.cache_clear()
    try:
        model = create_derainer("mspfn_tiny", weights="Test")
    finally:
        shipped.shipped_cards.cache_clear()
    info = derainer_info(model, "mspfn_tiny")
    assert info["random_init"] is False and info["weights"]["sha256"] == card["sha256"]
    source = WeightsSource(
        tag="Test", path=card["file"], sha256=card["sha256"], packaged=True, parts=tuple(p["file"] for p in parts)
    )
    joined = shipped.join_parts(source, weights_dir)
    assert file_sha256(joined) == card["sha256"]

    # The card's scores are what a user's `bench run` on the held-back ids gives with the shipped file.
    from bench.cli import main

    argv = ["run", "--derainer", "mspfn_tiny", "--weights", str(joined), "--task", "restoration"]
    argv += ["--dataset", str(data), "--ids", "11-12", "--metrics", "psnr_y", "ssim_y"]
    assert main([*argv, "--output-dir", str(tmp_path / "check")]) == 0
    (path,) = (tmp_path / "check").glob("*.json")
    metrics = json.loads(path.read_text())["metrics"]
    assert metrics["psnr_y"] == pytest.approx(card["validation"]["metrics"]["psnr_y"], abs=1e-9)
    assert metrics["ssim_y"] == pytest.approx(card["validation"]["metrics"]["ssim_y"], abs=1e-12)
