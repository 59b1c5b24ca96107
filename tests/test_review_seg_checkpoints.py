"""Review of the segmentation evaluators: weights files as users get them, and ESPNetv2 size checks."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import missing_data


def _reference_checkpoint(state: dict[str, object], path: Path) -> None:
    """What torchvision's ``references/{segmentation,detection}/train.py`` saves each epoch."""
    import torch

    torch.save(
        {
            "model": state,
            "optimizer": {"state": {}, "param_groups": [{"lr": 0.01, "params": [0]}]},
            "lr_scheduler": {"last_epoch": 3, "base_lrs": [0.01]},
            "epoch": 2,
            "args": argparse.Namespace(model="lraspp_mobilenet_v3_large", lr=0.01, aux_loss=False, epochs=30),
        },
        path,
    )


def test_torchvision_seg_loads_a_reference_training_checkpoint(tmp_path: Path) -> None:
    """Defect: the checkpoint of torchvision's reference script (it holds an ``argparse.Namespace``) was refused
    by ``torch.load(weights_only=True)`` with a raw UnpicklingError."""
    import torch

    from bench.evaluators.torchvision_seg import TorchvisionSegmenter

    torch.manual_seed(0)
    seg = TorchvisionSegmenter("lraspp_mobilenet_v3_large", weights=None, num_classes=19, device="cpu")
    path = tmp_path / "model_2.pth"
    _reference_checkpoint(seg.model.state_dict(), path)
    again = TorchvisionSegmenter("lraspp_mobilenet_v3_large", weights=path, num_classes=19, device="cpu")
    image = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    np.testing.assert_array_equal(again.predict([image])[0], seg.predict([image])[0])
    assert again.describe()["weights_sha256"]


def test_torchvision_loader_still_refuses_arbitrary_objects(tmp_path: Path) -> None:
    import torch

    from bench.engine.checkpoint import UnsafeCheckpointError
    from bench.evaluators.torchvision_seg import load_torchvision_state_dict

    path = tmp_path / "odd.pth"
    torch.save({"model": {"w": torch.zeros(1)}, "extra": Path("x")}, path)
    with pytest.raises(UnsafeCheckpointError):
        load_torchvision_state_dict(path)


def test_maskrcnn_loads_a_reference_training_checkpoint(tmp_path: Path) -> None:
    """Defect: Mask R-CNN fine-tuned with torchvision's detection reference script did not load (same cause)."""
    import torch
    from torchvision.models.detection import maskrcnn_resnet50_fpn

    from bench.evaluators.maskrcnn import MaskRCNN

    torch.manual_seed(2)
    reference = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91)
    path = tmp_path / "model_25.pth"
    _reference_checkpoint(reference.state_dict(), path)
    loaded = MaskRCNN(path, min_size=64, max_size=64).model.state_dict()
    for key in ("backbone.body.conv1.weight", "roi_heads.mask_predictor.mask_fcn_logits.weight"):
        torch.testing.assert_close(loaded[key], reference.state_dict()[key])


def test_espnetv2_tag_and_other_input_size_is_a_clear_error(data_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect: ``weights="1024x512", input_size=(512, 256)`` crashed with a bare KeyError."""
    from bench.evaluators.espnetv2 import ESPNetv2Segmenter

    if not (data_root / "weights/semseg/espnetv2_s_2.0_city_1024x512.pth").is_file():
        missing_data("ESPNetv2 1024x512 weights not found")
    monkeypatch.setenv("BENCH_DATA", str(data_root))
    monkeypatch.delenv("BENCH_WEIGHTS", raising=False)
    with pytest.raises(ValueError, match="does not match the weights"):
        ESPNetv2Segmenter(weights="1024x512", input_size=(512, 256), device="cpu")
