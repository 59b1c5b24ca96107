"""Padding, tiling and batching of the inference engine."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from bench.engine.inference import InferenceConfig, InferenceEngine, bucket_by_size, pad_to_multiple
from derainers.base import Derainer, DerainerCard


class _LocalConv(Derainer):
    """A 3x3-receptive-field model: tiling with any overlap >= 2 must reproduce it exactly."""

    card = DerainerCard(name="local", summary="", size_multiple=4)

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[-1] % 4 == 0 and x.shape[-2] % 4 == 0
        return x - 0.1 * self.conv(x)


def test_pad_to_multiple_and_crop_back() -> None:
    x = torch.rand(1, 3, 21, 30)
    padded, (h, w) = pad_to_multiple(x, 8)
    assert padded.shape[-2:] == (24, 32) and (h, w) == (21, 30)
    assert torch.equal(padded[..., :21, :30], x)
    tiny, _ = pad_to_multiple(torch.rand(1, 3, 3, 3), 8)
    assert tiny.shape[-2:] == (8, 8)


def test_any_size_runs_and_keeps_shape() -> None:
    torch.manual_seed(0)
    engine = InferenceEngine(_LocalConv())
    img = np.random.default_rng(0).integers(0, 256, (37, 45, 3), dtype=np.uint8)
    out = engine.derain([img])[0]
    assert out.shape == (3, 37, 45)


def test_tiled_equals_untiled_for_local_model() -> None:
    torch.manual_seed(0)
    model = _LocalConv()
    img = np.random.default_rng(1).integers(0, 256, (100, 130, 3), dtype=np.uint8)
    whole = InferenceEngine(model).derain([img])[0]
    tiled = InferenceEngine(model, InferenceConfig(tile=48, overlap=16, batch_size=3)).derain([img])[0]
    # Tile borders are discarded, so only the image border (reflect vs padded context) may differ.
    assert (whole - tiled)[:, 2:-2, 2:-2].abs().max() < 1e-5


def test_tiled_mspfn_tiny_agrees_with_whole() -> None:
    from bench.factory import create_derainer

    torch.manual_seed(0)
    model = create_derainer("mspfn_tiny", weights=None)
    img = np.random.default_rng(2).integers(0, 256, (128, 160, 3), dtype=np.uint8)
    whole = InferenceEngine(model).derain([img])[0]
    tiled = InferenceEngine(model, InferenceConfig(tile=96, overlap=64)).derain([img])[0]
    diff = (whole - tiled).abs()
    assert diff.mean() < 1e-3, float(diff.mean())


def test_batching_preserves_order_and_results() -> None:
    torch.manual_seed(0)
    model = _LocalConv()
    rng = np.random.default_rng(3)
    imgs = [rng.integers(0, 256, s, dtype=np.uint8) for s in [(16, 16, 3), (20, 24, 3), (16, 16, 3)]]
    assert list(bucket_by_size(imgs)) == [[0, 2], [1]]
    one = [InferenceEngine(model).derain([i])[0] for i in imgs]
    batched = InferenceEngine(model, InferenceConfig(batch_size=4)).derain(imgs)
    for a, b in zip(one, batched, strict=True):
        assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_matches_cpu() -> None:
    torch.manual_seed(0)
    model = _LocalConv()
    img = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    cpu = InferenceEngine(model).derain([img])[0]
    gpu = InferenceEngine(model, InferenceConfig(device="cuda")).derain([img])[0]
    assert torch.allclose(cpu, gpu, atol=1e-4)


class _Cropping(nn.Module):
    """A broken derainer: drops the last row and column."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., :-1, :-1]


def test_a_derainer_that_changes_the_size_is_a_clear_error() -> None:
    engine = InferenceEngine(_Cropping())
    with pytest.raises(ValueError, match=r"derainer _Cropping returned a batch of shape \(1, 3, 15, 19\)"):
        engine.derain([np.zeros((16, 20, 3), dtype=np.uint8)])
