"""Baseline derainers: architectures, parameter counts, strict loading of the published weights."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bench.data.images import quantize, read_image, to_tensor
from bench.fileio import file_sha256
from bench.metrics.fidelity import psnr_y
from bench.registries import DERAINERS
from derainers import classical, ddn, derainnet, prenet, rescan, umrl
from derainers.base import Derainer
from derainers.guided_filter import box_mean, box_sum, guided_filter
from derainers.legacy_pickle import LEGACY_MAGIC, LegacyPickleError, load_legacy_module_state_dict
from tests.conftest import missing_data

REGISTERED = ["prenet", "prenet_r", "prn", "prn_r", "rescan", "ddn", "derainnet", "umrl", "guided_filter"]

FACTORIES: dict[str, Callable[..., Derainer]] = {
    "prenet": prenet.prenet,
    "prenet_r": prenet.prenet_r,
    "prn": prenet.prn,
    "prn_r": prenet.prn_r,
    "prenet_real": prenet.prenet_real,
    "rescan": rescan.rescan,
    "ddn": ddn.ddn,
    "derainnet": derainnet.derainnet,
    "umrl": umrl.umrl,
    "guided_filter": classical.guided_filter,
}

# Every published weights file: (factory name, tag).
CHECKPOINTS = [(name, source.tag) for name, factory in FACTORIES.items() for source in factory().card.weights]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("prenet", 168_963),
        ("prn", 95_107),
        ("prenet_r", 94_979),
        ("prn_r", 21_123),
        ("rescan", 149_823),
        ("ddn", 57_369),
        ("derainnet", 754_691),
        ("prenet_real", 168_963),
        ("guided_filter", 0),
    ],
)
def test_parameter_counts(name: str, expected: int) -> None:
    assert FACTORIES[name]().num_parameters() == expected


@pytest.mark.parametrize("name", REGISTERED)
def test_registered_factory_card_name(name: str) -> None:
    model = DERAINERS.get(name)()
    assert isinstance(model, Derainer)
    assert model.card.name == name
    assert model.card.summary and model.card.paper
    if model.card.default_weights is not None:
        assert model.card.weights_for(model.card.default_weights) is not None


@pytest.mark.parametrize("name", list(FACTORIES))
def test_forward_shape_and_finite(name: str) -> None:
    torch.manual_seed(0)
    model = FACTORIES[name]().eval()
    m = model.card.size_multiple
    h, w = (32, 48) if m == 16 else (36, 44)
    x = torch.rand(2, 3, h, w, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = model(x)
    assert y.shape == x.shape
    assert y.dtype == x.dtype
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", [n for n in FACTORIES if FACTORIES[n]().card.trainable])
def test_trainable_one_step(name: str) -> None:
    torch.manual_seed(0)
    model = FACTORIES[name]().train()
    m = model.card.size_multiple
    size = 32 if m == 16 else 36
    gen = torch.Generator().manual_seed(2)
    rainy, clean = torch.rand(2, 3, size, size, generator=gen), torch.rand(2, 3, size, size, generator=gen)
    loss = model.training_loss(model(rainy), clean)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    used = [g for g in grads if g is not None]  # UMRL keeps a few modules its forward never uses
    assert len(used) >= 0.9 * len(grads)
    assert all(torch.isfinite(g).all() for g in used)


def test_prenet_loss_is_negative_ssim() -> None:
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    model = prenet.prenet()
    assert float(model.training_loss(x, x)) == pytest.approx(-1.0, abs=1e-6)
    noisy = (x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(4))).clamp(0, 1)
    assert -1.0 < float(model.training_loss(noisy, x)) < -0.3


def test_rescan_stages_and_output() -> None:
    model = rescan.rescan().eval()
    x = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        rains = model.rain_layers(x)
        out = model(x)
    assert len(rains) == 4
    torch.testing.assert_close(out, x - rains[-1])
    assert [u.conv_xz.dilation[0] for u in model.rnns] == [1, 1, 2, 4, 8]


def test_prenet_recursive_variant_reuses_one_block() -> None:
    model = prenet.prenet_r()
    assert not hasattr(model, "res_conv2")
    assert model._blocks() == [model.res_conv1] * 5


# ------------------------------------------------------------------ guided filter
def test_box_sum_matches_convolution() -> None:
    x = torch.rand(2, 3, 37, 41, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    r = 5
    kernel = torch.ones(3, 1, 2 * r + 1, 2 * r + 1, dtype=torch.float64)
    reference = F.conv2d(F.pad(x, (r, r, r, r)), kernel, groups=3)
    torch.testing.assert_close(box_sum(x, r), reference, rtol=0, atol=1e-10)


def test_guided_filter_properties() -> None:
    const = torch.full((1, 3, 40, 40), 0.3, dtype=torch.float64)
    torch.testing.assert_close(guided_filter(const, const, 15, 1.0), const)
    x = torch.rand(1, 3, 40, 40, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    # ε → ∞: a → 0, the output is the box mean of the box mean.
    torch.testing.assert_close(guided_filter(x, x, 4, 1e12), box_mean(box_mean(x, 4), 4), rtol=0, atol=1e-9)
    # ε → 0: edge-preserving, the output tends to the input.
    assert float((guided_filter(x, x, 2, 1e-9) - x).abs().max()) < 1e-4


def test_classical_streak_orientation_and_suppression() -> None:
    img = torch.full((1, 3, 64, 64), 0.4)
    img[..., :, 20] = 0.9  # a bright vertical streak
    assert float(classical.streak_normal_angle(img - img.mean())[0]) == pytest.approx(0.0, abs=1e-6)
    out = classical.guided_filter()(img)
    assert float((out - 0.4).abs().max()) < float((img - 0.4).abs().max()) / 3


# ------------------------------------------------------------------ published weights
def _weights_file(data_root: Path, name: str, tag: str) -> tuple[Path, str | None]:
    source = FACTORIES[name]().card.weights_for(tag)
    assert source is not None
    path = data_root / "weights" / source.path
    if not path.is_file():
        missing_data(f"{path} not present")
    return path, source.sha256


@pytest.mark.parametrize(("name", "tag"), CHECKPOINTS)
def test_published_weights_load_strictly(data_root: Path, name: str, tag: str) -> None:
    path, sha = _weights_file(data_root, name, tag)
    assert sha is not None and file_sha256(path) == sha
    model = FACTORIES[name]()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    info = model.load_weights(path, expected_sha256=sha)  # strict=True inside
    assert info["sha256"] == sha
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert len(changed) >= len(before) // 2


def test_every_weights_file_is_claimed(data_root: Path) -> None:
    folder = data_root / "weights" / "derainers"
    if not folder.is_dir():
        missing_data("no derainer weights")
    claimed = {FACTORIES[n]().card.weights_for(t).path for n, t in CHECKPOINTS}  # type: ignore[union-attr]
    present = {str(p.relative_to(data_root / "weights")) for p in folder.rglob("*.pth")}
    assert present <= claimed, sorted(present - claimed)


def test_wrong_sha_is_refused(data_root: Path) -> None:
    path, _ = _weights_file(data_root, "prn_r", "Rain100L")
    with pytest.raises(ValueError, match="sha256"):
        prenet.prn_r().load_weights(path, expected_sha256="0" * 64)


def test_legacy_reader_agrees_with_torch_load(data_root: Path) -> None:
    path, _ = _weights_file(data_root, "prenet", "Rain100L")
    reference = torch.load(path, map_location="cpu", weights_only=True)
    ours = load_legacy_module_state_dict(path)
    assert list(ours) == list(reference)
    assert all(torch.equal(ours[k], reference[k]) for k in reference)


def test_ddn_whole_model_pickle_is_read_without_code(data_root: Path) -> None:
    path, _ = _weights_file(data_root, "ddn", "Rain100L")
    state = load_legacy_module_state_dict(path)
    assert all(k.startswith("module.") for k in state)
    assert state["module.b1.0.weight"].shape == (16, 3, 3, 3)
    assert state["module.b3.1.running_var"].shape == (3,)


def test_ddn_loads_by_path_as_by_tag(data_root: Path) -> None:
    """``--weights PATH`` of the legacy whole-model pickle works like the tag (the factory's first look at
    the file for stored model options must not refuse it)."""
    from bench.factory import create_derainer

    path, sha = _weights_file(data_root, "ddn", "Rain100L")
    by_path, by_tag = create_derainer("ddn", weights=str(path)), create_derainer("ddn", weights="Rain100L")
    assert by_path.weights_info["sha256"] == by_tag.weights_info["sha256"] == sha
    for a, b in zip(by_path.state_dict().values(), by_tag.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_legacy_tensor_views_keep_their_offset() -> None:
    from derainers.legacy_pickle import _rebuild_tensor

    view = torch.arange(10.0)[4:8]  # a storage view, as a legacy pickle's persistent id gives
    assert _rebuild_tensor(view, 0, (2,), (1,)).tolist() == [4.0, 5.0]
    assert _rebuild_tensor(view, 1, (2, 1), (1, 1)).tolist() == [[5.0], [6.0]]


class _Evil:
    def __reduce__(self) -> tuple[Any, ...]:
        import os

        return (os.system, ("echo should-not-run",))


def test_legacy_reader_refuses_foreign_globals(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        for obj in (LEGACY_MAGIC, 1001, {"protocol_version": 1001}, _Evil()):
            pickle.dump(obj, f, protocol=2)
    with pytest.raises(LegacyPickleError, match="refused global"):
        load_legacy_module_state_dict(path)


# ------------------------------------------------------------------ real images
def _pairs(data_root: Path, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    folder = data_root / "rain" / "RainTrainL"
    if not folder.is_dir():
        missing_data("RainTrainL not present")
    return [
        (read_image(folder / "rain" / f"norain-{i}.png"), read_image(folder / "norain" / f"norain-{i}.png"))
        for i in range(1, n + 1)
    ]


def _gain(
    model: Derainer, pairs: list[tuple[np.ndarray, np.ndarray]], crop: int | None = None, quant: str = "round"
) -> tuple[float, float]:
    before, after = [], []
    for rain, clean in pairs:
        if crop is not None:
            rain, clean = rain[:crop, :crop], clean[:crop, :crop]
        m = model.card.size_multiple
        h, w = rain.shape[0] // m * m, rain.shape[1] // m * m
        rain, clean = rain[:h, :w], clean[:h, :w]
        with torch.no_grad():
            out = quantize(model(to_tensor(rain)), quant)  # type: ignore[arg-type]
        before.append(psnr_y(rain, clean))
        after.append(psnr_y(out, clean))
    return float(np.mean(before)), float(np.mean(after))


@pytest.mark.parametrize(("name", "tag", "min_gain"), [("prenet", "Rain100L", 5.0), ("ddn", "Rain100L", 3.0)])
def test_real_weights_derain_crops(data_root: Path, name: str, tag: str, min_gain: float) -> None:
    """Fast check on 160×160 crops of RainTrainL 1–3 (training data of these weights)."""
    path, sha = _weights_file(data_root, name, tag)
    model = FACTORIES[name]()
    model.load_weights(path, expected_sha256=sha)
    model.eval()
    rainy, derained = _gain(model, _pairs(data_root, 3), crop=160)
    assert derained > rainy + min_gain, (rainy, derained)


def test_umrl_official_inference_derains(data_root: Path) -> None:
    path, sha = _weights_file(data_root, "umrl", "JORDER")
    model = umrl.umrl()
    model.load_weights(path, expected_sha256=sha)
    model.eval()
    rainy, derained = _gain(model, _pairs(data_root, 2))
    assert derained > rainy + 1.0, (rainy, derained)


@pytest.mark.slow
def test_prenet_rain100l_via_factory_on_raintrainl(data_root: Path) -> None:
    """PReNet-Rain100L on full RainTrainL pairs 1–3 (measured: 27.67 → 38.89 dB psnr_y, trunc)."""
    from bench.factory import create_derainer

    _weights_file(data_root, "prenet", "Rain100L")
    model = create_derainer("prenet", weights="Rain100L")
    assert model.weights_info["tag"] == "Rain100L"
    assert model.weights_info["sha256"] == model.card.weights_for("Rain100L").sha256  # type: ignore[union-attr]
    assert not model.training
    rainy, derained = _gain(model, _pairs(data_root, 3), quant="trunc")
    assert derained > rainy + 8.0, (rainy, derained)


def test_umrl_output_does_not_depend_on_the_batch() -> None:
    """The official test normalises each image with its own statistics (train-mode BN, one image at a time):
    batching images together must not change any of them."""
    from bench.engine.inference import InferenceConfig, InferenceEngine

    model = umrl.umrl()
    images = [np.random.default_rng(k).integers(0, 256, (32, 48, 3), dtype=np.uint8) for k in range(2)]
    one = InferenceEngine(model, InferenceConfig(batch_size=1)).derain(images)
    two = InferenceEngine(model, InferenceConfig(batch_size=2)).derain(images)
    for a, b in zip(one, two, strict=True):  # batched convolutions round differently: float noise only
        assert float((a - b).abs().max()) < 1e-4  # batch statistics pooled over 2 images: ~0.1
