"""Weights loaded by path from a ``bench train`` checkpoint say whether their run had finished.

Defect: ``derainer_info`` kept only path/sha256/tag/status of the loaded file and dropped the checkpoint's
``training`` block, so a mid-run ``last.pt`` (step 300 of 100000) got the plain label, never "interim".
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.factory import create_derainer
from bench.results.labels import derainer_label
from bench.tasks.common import derainer_info
from tests.conftest import write_offset_pairs

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _train(data: Path, out: Path, steps: int, time_limit: float | None = None) -> Path:
    """mspfn_tiny trained on ``data`` by ``bench.train`` (``time_limit`` 0: stop after the first step)."""
    from bench.train import TrainConfig, Trainer

    config = TrainConfig(
        derainer="mspfn_tiny",
        train=str(data),
        output_dir=str(out),
        steps=steps,
        val_split=2,
        batch_size=2,
        patch_size=16,
        val_every=steps,
        log_every=1,
        progress=False,
        tensorboard=False,
        device="cpu",
        workers=0,
    )
    Trainer(config).fit(time_limit=time_limit)
    return out / "last.pt"


def test_a_mid_run_checkpoint_is_interim_and_a_finished_one_is_not(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = write_offset_pairs(tmp_path / "pairs", range(1, 9), np.random.default_rng(3), size=(32, 40))
    mid = _train(data, tmp_path / "mid", steps=50, time_limit=0.0)  # stops after step 1 of 50
    with caplog.at_level(logging.WARNING, logger="bench.tasks.common"):
        info = derainer_info(create_derainer("mspfn_tiny", weights=str(mid)), "mspfn_tiny")
    step = int(torch.load(mid, weights_only=True)["training"]["step"])
    assert 1 <= step < 50
    weights = info["weights"]
    assert weights["training"] == {"step": step, "planned_steps": 50}
    assert weights["status"] == f"interim: step {step} of 50" and "unfinished training run" in caplog.text
    assert info["random_init"] is False and weights["path"] == str(mid) and len(weights["sha256"]) == 64
    assert derainer_label({"derainer": info}) == "mspfn_tiny (interim)"

    done = _train(data, tmp_path / "done", steps=2)
    info = derainer_info(create_derainer("mspfn_tiny", weights=str(done)), "mspfn_tiny")
    assert info["weights"]["training"] == {"step": 2, "planned_steps": 2} and "status" not in info["weights"]
    assert derainer_label({"derainer": info}) == "mspfn_tiny"


def test_a_run_that_converged_before_its_plan_is_final(tmp_path: Path) -> None:
    model = create_derainer("mspfn_tiny", weights=None)
    path = tmp_path / "best.pt"
    training = {"format": 1, "step": 40, "config": {"steps": 100}, "converged_at": 40}
    torch.save({"state_dict": model.state_dict(), "model_kwargs": {}, "card": {}, "training": training}, path)
    info = derainer_info(create_derainer("mspfn_tiny", weights=str(path)), "mspfn_tiny")
    assert info["weights"]["training"] == {"step": 40, "planned_steps": 100, "converged_at": 40}
    assert "status" not in info["weights"] and derainer_label({"derainer": info}) == "mspfn_tiny"
    bare = tmp_path / "bare.pt"  # a plain state dict: nothing to say about training
    torch.save(model.state_dict(), bare)
    info = derainer_info(create_derainer("mspfn_tiny", weights=str(bare)), "mspfn_tiny")
    assert set(info["weights"]) == {"path", "sha256"}


def test_a_shipped_file_loaded_by_path_keeps_its_cards_tag_and_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file of interim shipped weights, given by path instead of by tag, is still labelled interim."""
    import json

    import derainers.shipped as shipped
    from bench.fileio import file_sha256

    folder = tmp_path / "weights"
    folder.mkdir()
    whole = folder / "mspfn_tiny-Run.pt"
    torch.save({k: v.half() for k, v in create_derainer("mspfn_tiny", weights=None).state_dict().items()}, whole)
    card = {"derainer": "mspfn_tiny", "tag": "Run", "file": whole.name, "sha256": file_sha256(whole)}
    card.update(validation={}, training={"steps": 3, "planned_steps": 9, "finished": None})
    (folder / "mspfn_tiny-Run.json").write_text(json.dumps(card))
    monkeypatch.setattr(shipped, "WEIGHTS_DIR", folder)
    shipped.shipped_cards.cache_clear()
    try:
        info = derainer_info(create_derainer("mspfn_tiny", weights=str(whole)), "mspfn_tiny")
    finally:
        shipped.shipped_cards.cache_clear()
    assert info["weights"]["tag"] == "Run" and info["weights"]["status"] == "interim: step 3 of 9"
    assert derainer_label({"derainer": info}) == "mspfn_tiny (Run, interim)"
