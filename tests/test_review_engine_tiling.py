"""Review of the inference engine: tile seams are cross-faded, bad settings and non-uint8 input are errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from bench.engine.inference import InferenceConfig, InferenceEngine, _axis_weights, _tile_starts


class _TileMean(nn.Module):
    """Each tile becomes its own mean colour: any seam between tiles shows as a jump between pixels."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3), keepdim=True).expand_as(x).clone()


def _ramp_image(height: int, width: int) -> np.ndarray:
    row = np.linspace(0, 255, width).astype(np.uint8)
    return np.ascontiguousarray(np.broadcast_to(row[None, :, None], (height, width, 3)))


@pytest.mark.parametrize(("tile", "overlap"), [(64, 32), (50, 20), (48, 16)])
def test_neighbouring_tiles_are_cross_faded_not_cut(tile: int, overlap: int) -> None:
    img = _ramp_image(40, 200)
    out = InferenceEngine(_TileMean(), InferenceConfig(tile=tile, overlap=overlap)).derain([img])[0]
    row = out[0, 20].numpy()
    starts = _tile_starts(200, tile, tile - overlap)
    means = [float(img[0, s : s + tile, 0].mean()) / 255.0 for s in starts]
    step = max(abs(b - a) for a, b in itertools.pairwise(means))
    # A hard cut between two tiles jumps by the whole difference of their means; a cross-fade over
    # the middle half of the overlap by a fraction of it (1 / (overlap // 2 + 1)).
    assert float(np.abs(np.diff(row)).max()) < 0.25 * step
    assert row.min() >= min(means) - 1e-6 and row.max() <= max(means) + 1e-6  # convex blend only


@pytest.mark.parametrize(
    ("size", "tile", "overlap", "regular"),
    [(160, 64, 32, True), (200, 64, 32, False), (65, 64, 32, False), (130, 48, 16, False), (97, 32, 0, False)],
)
def test_axis_weights_cover_every_pixel_and_sum_to_one_between_pairs(
    size: int, tile: int, overlap: int, regular: bool
) -> None:
    starts = _tile_starts(size, tile, max(tile - overlap, 1))
    total = np.zeros(size, dtype=np.float64)
    for start, w in zip(starts, _axis_weights(starts, tile, overlap // 4), strict=True):
        assert w.min() >= 0.0 and w.max() <= 1.0
        total[start : start + tile] += w
    # Where only two tiles meet, their fades sum to 1; a last tile flush with the edge may share pixels
    # with two others (the engine divides by the summed weights), but never leaves one uncovered.
    assert total.min() > 1.0 - 1e-5
    assert total.max() < (1.0 + 1e-5 if regular else 1.1)


def test_tiled_output_does_not_depend_on_the_batch_size() -> None:
    torch.manual_seed(0)
    model = nn.Conv2d(3, 3, 3, padding=1)
    img = np.random.default_rng(0).integers(0, 256, (70, 90, 3), dtype=np.uint8)
    one = InferenceEngine(model, InferenceConfig(tile=32, overlap=8, batch_size=1)).derain([img])[0]
    many = InferenceEngine(model, InferenceConfig(tile=32, overlap=8, batch_size=5)).derain([img])[0]
    assert float((one - many).abs().max()) < 1e-5


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (InferenceConfig(tile=32, overlap=-8), "overlap"),
        (InferenceConfig(batch_size=0), "batch_size"),
        (InferenceConfig(tile=0), "tile"),
    ],
)
def test_settings_that_lose_pixels_are_refused(config: InferenceConfig, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        InferenceEngine(nn.Identity(), config)


@pytest.mark.parametrize(
    "image",
    [np.full((8, 8, 3), 0.5, dtype=np.float32), np.zeros((8, 8), dtype=np.uint8), np.zeros((8, 8, 4), np.uint8)],
)
def test_derain_refuses_what_is_not_uint8_rgb(image: np.ndarray) -> None:
    """A float image in [0, 1] would otherwise be divided by 255 again and derained as black."""
    with pytest.raises(ValueError, match=r"uint8 \(H, W, 3\)"):
        InferenceEngine(nn.Identity()).derain([image])


class _ShapeRecorder(nn.Module):
    """Identity that records the (H, W) of every batch it is given."""

    def __init__(self, multiple: int) -> None:
        super().__init__()
        self.card = type("Card", (), {"size_multiple": multiple})()
        self.shapes: list[tuple[int, int]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.shapes.append((int(x.shape[-2]), int(x.shape[-1])))
        return x.clone()


def test_tiles_are_a_multiple_of_the_model_size_so_none_is_padded() -> None:
    model = _ShapeRecorder(multiple=8)
    img = _ramp_image(40, 100)
    out = InferenceEngine(model, InferenceConfig(tile=30, overlap=8)).derain([img])[0]
    # was: 30-pixel tiles, each reflect-padded to 32 (interior tiles saw mirrored pixels, not their neighbours)
    assert model.shapes and all(shape == (24, 24) for shape in model.shapes), model.shapes
    np.testing.assert_allclose(out.permute(1, 2, 0).numpy() * 255.0, img, atol=1e-3)


def test_cli_refuses_a_negative_overlap() -> None:
    from bench.cli import main

    with pytest.raises(SystemExit):
        main(["run", "--derainer", "identity", "--task", "restoration", "--overlap", "-4"])
