"""ESPNetv2 sizes (#22 item 11): 16:9 frames keep their aspect ratio, 512x256 images use the 512x256 weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.evaluators.espnetv2 import ESPNetv2Segmenter, network_input


def test_network_input_keeps_the_aspect_ratio() -> None:
    assert network_input((1280, 720), (1024, 512), "keep_aspect") == (1024, 576)  # BDD100K: not squashed to 2:1
    assert network_input((1280, 720), (1024, 512), "stretch") == (1024, 512)  # EdgeNets' own script
    assert network_input((2048, 1024), (1024, 512), "keep_aspect") == (1024, 512)  # Cityscapes: unchanged
    assert network_input((640, 480), (1024, 512), "keep_aspect") == (1024, 768)
    assert network_input((512, 256), (512, 256), "keep_aspect") == (512, 256)


def test_random_weights_run_a_16_9_frame_at_its_aspect_ratio() -> None:
    seg = ESPNetv2Segmenter(weights=None, input_size=(128, 64), device="cpu")
    frame = np.random.default_rng(0).integers(0, 256, (72, 128, 3), dtype=np.uint8)
    assert seg.plan((128, 72)) == ((128, 64), (128, 80))  # 72 * 128 / 128 = 72 -> 80 (multiple of 16)
    assert tuple(seg.logits([frame]).shape) == (1, 20, 80, 128)
    assert seg.predict([frame])[0].shape == (72, 128)
    stretched = ESPNetv2Segmenter(weights=None, input_size=(128, 64), device="cpu", resize="stretch")
    assert tuple(stretched.logits([frame]).shape) == (1, 20, 64, 128)
    with pytest.raises(ValueError, match="resize must be"):
        ESPNetv2Segmenter(weights=None, resize="squash")  # type: ignore[arg-type]


def test_default_weights_pick_the_512x256_file_for_512x256_images(data_root: Path) -> None:
    seg = ESPNetv2Segmenter(device="cpu")
    assert sorted(seg.models) == [(512, 256), (1024, 512)]
    info = seg.describe()
    assert set(info["weights_by_size"]) == {"1024x512", "512x256"} and all(info["weights_by_size"].values())
    assert seg.plan((512, 256)) == ((512, 256), (512, 256))
    assert seg.plan((1280, 720)) == ((1024, 512), (1024, 576))
    rng = np.random.default_rng(1)
    small = rng.integers(0, 256, (256, 512, 3), dtype=np.uint8)
    frame = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    labels = seg.predict([small, frame])  # one call, two sizes: grouped, returned in input order
    assert [lab.shape for lab in labels] == [(256, 512), (720, 1280)]
    only_512 = ESPNetv2Segmenter(weights="512x256", device="cpu")
    assert np.array_equal(labels[0], only_512.predict([small])[0])
    assert tuple(seg.logits([frame]).shape) == (1, 20, 576, 1024)
