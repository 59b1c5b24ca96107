"""MSPFN (derainers/mspfn.py) and its loss (bench/engine/losses.py), checked against mspfn_spec.md."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest
import torch

from bench.engine.losses import charbonnier, edge_loss, laplacian_edges, mspfn_loss
from derainers import mspfn as mm
from derainers.mspfn import MSPFN, ConvLSTMCell


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------- parameter counts
# (label, factory, paper count in M, table)
PAPER_ROWS: list[tuple[str, Callable[..., MSPFN], float, str]] = [
    ("M10N3", mm.mspfn_m10n3, 13.22, "Table 2/3"),
    ("M17N1", mm.mspfn, 13.35, "Table 3"),
    ("M17N2", mm.mspfn_m17n2, 17.20, "Table 3"),
    ("M13N2", mm.mspfn_m13n2, 13.63, "Table 3"),
    ("M8N5", mm.mspfn_m8n5, 14.56, "Table 3"),
    ("M30N1", mm.mspfn_m30n1, 21.81, "Table 3"),
    ("M5N1 light (MSPFN*)", mm.mspfn_light, 1.65, "Table 3"),
]


def _meta_count(factory: Callable[..., MSPFN], **kwargs: object) -> int:
    """Parameter count of a model built on the meta device (no memory, no initialisation cost)."""
    with torch.device("meta"):
        return factory(**kwargs).num_parameters()


@pytest.fixture(scope="module")
def paper_counts() -> dict[str, int]:
    return {label: _meta_count(factory) for label, factory, _paper, _table in PAPER_ROWS}


def test_meta_count_equals_real_count() -> None:
    assert _meta_count(mm.mspfn_light) == mm.mspfn_light().num_parameters()


def test_parameter_counts_match_paper_tables(paper_counts: dict[str, int]) -> None:
    """Every Table 2-3 row within 2 % of the paper with the spec's layout at paper widths (§9, variant B)."""
    lines = [f"{'model':<22}{'ours (M)':>10}{'paper (M)':>11}{'diff %':>9}"]
    failures = []
    for label, _factory, paper, _table in PAPER_ROWS:
        ours = paper_counts[label] / 1e6
        diff = 100.0 * (ours - paper) / paper
        lines.append(f"{label:<22}{ours:>10.3f}{paper:>11.2f}{diff:>+9.2f}")
        if abs(diff) > 2.0:
            failures.append(label)
    print("\n" + "\n".join(lines))
    assert not failures, f"rows beyond 2 %: {failures}\n" + "\n".join(lines)


def test_parameter_counts_spec_table_b_exact(paper_counts: dict[str, int]) -> None:
    """The spec's §9 variant-B column (paper widths), to its two decimals."""
    expected = {"M10N3": 12.98, "M17N1": 13.11, "M17N2": 16.99, "M13N2": 13.39, "M8N5": 14.37, "M30N1": 21.84}
    for label, millions in expected.items():
        assert round(paper_counts[label] / 1e6, 2) == pytest.approx(millions, abs=1e-9), label
    # Table 2 Model6 (M6N3) and Model3 (no FFM) at paper widths, as listed in the spec.
    assert round(_meta_count(MSPFN, num_ffm=6, cau_per_scale=3) / 1e6, 2) == pytest.approx(8.47)
    assert round(_meta_count(MSPFN, num_ffm=0) / 1e6, 2) == pytest.approx(1.70)


def test_component_counts_exact() -> None:
    """Component sizes of spec §9 at release widths, exactly."""
    assert _count(mm.CAU(64, 4)) == 76_064
    with torch.device("meta"):
        model = mm.mspfn_release()
    head = _count(model.head1) + _count(model.head2) + _count(model.head4)
    assert head == 5_376
    assert _count(model.cfm) == 4_038_880
    assert _count(model.rm) == 369_856
    assert _count(model.cfm.rru1.lstm.gates) == 288 * 1024 * 9 + 1024 == 2_655_232
    for n in (1, 3):
        assert _count(mm.FineFusion(64, (n, n, n))) == 442_944 + 228_192 * n
    assert model.num_parameters() == pytest.approx(15.823e6, rel=1e-3)
    release_training_graph = _meta_count(MSPFN, num_ffm=17, cau_per_scale=(1, 3, 3), lstm_hidden=(64, 128, 256))
    assert release_training_graph == pytest.approx(20.996e6, rel=1e-3)
    assert _meta_count(mm.mspfn_light) == pytest.approx(1.666e6, rel=1e-3)
    assert _meta_count(mm.mspfn_light, urab_levels=1) == pytest.approx(1.251e6, rel=1e-3)


# ----------------------------------------------------------------------------- cards and factories
FACTORIES = [
    "mspfn",
    "mspfn_m10n3",
    "mspfn_m17n2",
    "mspfn_m13n2",
    "mspfn_m8n5",
    "mspfn_m30n1",
    "mspfn_release",
    "mspfn_light",
    "mspfn_tiny",
]


def test_cards_and_registry() -> None:
    from bench.factory import create_derainer
    from bench.registries import DERAINERS

    for name in FACTORIES:
        factory = DERAINERS.get(name)
        assert factory is getattr(mm, name)
    tiny = create_derainer("mspfn_tiny", weights=None)
    assert isinstance(tiny, MSPFN)
    assert tiny.card.name == "mspfn_tiny"
    assert not tiny.training
    card = mm.mspfn_tiny().card
    assert card.size_multiple == 8 and card.default_tile == 512 and card.patch_size == 96
    assert card.trainable and card.weights == () and card.default_weights is None
    assert "CVPR 2020" in card.paper and card.notes
    assert mm.mspfn_light().card.size_multiple == 16
    assert mm.mspfn_tiny(urab_levels=3).card.size_multiple == 32


def test_card_names_equal_registered_names() -> None:
    # Building the large models takes ~1 s each; names are set before any layer is built, so use tiny widths.
    small = {"channels": 4, "lstm_hidden": 4, "lstm_input": 4, "rm_mid": 4, "num_ffm": 1}
    for name in FACTORIES:
        assert getattr(mm, name)(**small).card.name == name


def test_factory_overrides_and_name_is_fixed() -> None:
    model = mm.mspfn_tiny(num_ffm=2, cau_per_scale=(1, 2, 3))
    assert len(model.ffms) == 2
    assert [len(u.caus) for u in (model.ffms[0].urab4, model.ffms[0].urab2, model.ffms[0].urab1)] == [1, 2, 3]
    with pytest.raises(TypeError):
        mm.mspfn_tiny(name="other")
    with pytest.raises(ValueError):
        mm.mspfn_tiny(pyramid="laplacian")
    with pytest.raises(ValueError):
        mm.mspfn_tiny(lstm_hidden=(4, 4))


# ----------------------------------------------------------------------------- forward
@pytest.mark.parametrize("size", [(96, 96), (64, 120)])
@pytest.mark.parametrize("pyramid", ["avg", "gaussian"])
@pytest.mark.parametrize("value_range", ["unit", "symmetric"])
def test_tiny_forward_shape_finite(size: tuple[int, int], pyramid: str, value_range: str) -> None:
    model = mm.mspfn_tiny(pyramid=pyramid, value_range=value_range, seed=0).eval()
    x = _rand(2, 3, *size)
    with torch.inference_mode():
        y = model(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert torch.isfinite(y).all()
    assert y.is_contiguous()
    assert not torch.equal(y, x)


def test_light_forward_two_level_urab() -> None:
    model = mm.mspfn_light(seed=0).eval()
    x = _rand(1, 3, 64, 48)
    with torch.inference_mode():
        y = model(x)
    assert y.shape == x.shape and torch.isfinite(y).all()


def test_rejects_bad_sizes() -> None:
    model = mm.mspfn_tiny()
    with pytest.raises(ValueError, match="multiples of 8"):
        model(_rand(1, 3, 60, 64))
    with pytest.raises(ValueError):
        model(_rand(1, 1, 64, 64))
    with pytest.raises(ValueError, match="multiples of 16"):
        mm.mspfn_light(num_ffm=1)(_rand(1, 3, 40, 48))


def test_batch_independence() -> None:
    model = mm.mspfn_tiny(seed=1).eval()
    x = _rand(3, 3, 64, 64, seed=2)
    with torch.inference_mode():
        together = model(x)
        alone = torch.cat([model(x[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-5)


def test_channels_last_option_same_result() -> None:
    a = mm.mspfn_tiny(seed=3, channels_last=True).eval()
    b = mm.mspfn_tiny(seed=3, channels_last=False).eval()
    x = _rand(2, 3, 64, 96, seed=4)
    with torch.inference_mode():
        ya, yb = a(x), b(x)
        yc = a(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(ya, yb, rtol=1e-5, atol=1e-5)
    assert ya.is_contiguous()
    assert yc.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("value_range", ["unit", "symmetric"])
def test_zero_rain_layer_is_identity(value_range: str) -> None:
    """Output = I − R*: with the last conv zeroed the model returns its input in both value ranges."""
    model = mm.mspfn_tiny(value_range=value_range, seed=0).eval()
    torch.nn.init.zeros_(model.rm.out.weight)
    x = _rand(1, 3, 32, 40)
    with torch.inference_mode():
        torch.testing.assert_close(model(x), x, rtol=0, atol=1e-6)


def test_symmetric_range_halves_the_rain_layer() -> None:
    """In [-1, 1] mode the model subtracts R*/2 in [0, 1] terms, R* computed on 2x − 1."""
    model = mm.mspfn_tiny(value_range="symmetric", seed=5).eval()
    x = _rand(1, 3, 32, 32, seed=6)
    with torch.inference_mode():
        expected = x - 0.5 * model.rain_layer(2 * x - 1)
        torch.testing.assert_close(model(x), expected, rtol=1e-5, atol=1e-6)


def test_avg_pyramid_is_box_filter() -> None:
    model = mm.mspfn_tiny()
    x = _rand(1, 3, 16, 24)
    i2, i4 = model.input_pyramid(x)
    torch.testing.assert_close(i2[0, :, 1, 2], x[0, :, 2:4, 4:6].mean(dim=(1, 2)))
    torch.testing.assert_close(i4[0, :, 2, 3], x[0, :, 8:12, 12:16].mean(dim=(1, 2)))


def test_gaussian_pyramid_matches_opencv_pyrdown() -> None:
    import cv2

    model = mm.mspfn_tiny(pyramid="gaussian")
    img = np.random.default_rng(0).random((24, 40, 3), dtype=np.float32)
    x = torch.from_numpy(img).permute(2, 0, 1)[None]
    i2, i4 = model.input_pyramid(x)
    ref2 = cv2.pyrDown(img)
    ref4 = cv2.pyrDown(ref2)
    np.testing.assert_allclose(i2[0].permute(1, 2, 0).numpy(), ref2, rtol=0, atol=1e-5)
    np.testing.assert_allclose(i4[0].permute(1, 2, 0).numpy(), ref4, rtol=0, atol=1e-5)


# ----------------------------------------------------------------------------- Conv-LSTM
def test_convlstm_single_step_equals_full_cell_from_zero_state() -> None:
    """The fast zero-state path equals the full i,j,f,o cell on cat[x, 0]; dead weights get zero grads."""
    torch.manual_seed(0)
    cell = ConvLSTMCell(5, 6)
    torch.nn.init.normal_(cell.gates.weight, std=0.3, generator=torch.Generator().manual_seed(1))
    torch.nn.init.normal_(cell.gates.bias, std=0.3, generator=torch.Generator().manual_seed(2))
    x = _rand(2, 5, 7, 9)
    h_fast, c_fast = cell(x)
    zeros = torch.zeros(2, 6, 7, 9)
    h_full, c_full = cell(x, (zeros, zeros))
    torch.testing.assert_close(h_fast, h_full, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(c_fast, c_full, rtol=1e-5, atol=1e-6)
    # Manual TF BasicConvLSTMCell: gates split i, j, f, o; forget bias +1.
    gates = torch.nn.functional.conv2d(torch.cat((x, zeros), 1), cell.gates.weight, cell.gates.bias, padding=1)
    i, j, f, o = gates.split(6, dim=1)
    c_ref = zeros * torch.sigmoid(f + 1.0) + torch.sigmoid(i) * torch.tanh(j)
    torch.testing.assert_close(h_fast, torch.tanh(c_ref) * torch.sigmoid(o), rtol=1e-5, atol=1e-6)
    h_fast.square().sum().backward()
    grad = cell.gates.weight.grad
    assert grad is not None
    assert torch.count_nonzero(grad[:, 5:]) == 0  # the h-half of the input
    assert torch.count_nonzero(grad[12:18]) == 0  # the f gate
    assert torch.count_nonzero(grad[:12, :5]) > 0 and torch.count_nonzero(grad[18:, :5]) > 0
    # A non-zero state uses the forget gate.
    h2, _ = cell(x, (torch.ones(2, 6, 7, 9), zeros))
    assert not torch.allclose(h2, h_fast)


def test_initialisation() -> None:
    model = mm.mspfn_tiny(seed=7)
    for module in model.modules():
        if isinstance(module, torch.nn.PReLU):
            assert torch.count_nonzero(module.weight) == 0
        if isinstance(module, ConvLSTMCell):
            w = module.gates.weight
            assert w.abs().max() <= 2e-3 and 0 < w.std() < 1.5e-3
            assert torch.count_nonzero(module.gates.bias) == 0
    cau = model.ffms[0].urab1.caus[0]
    assert torch.count_nonzero(cau.conv1.bias) == 0
    fan = 8 * 9
    bound = (6.0 / (fan + fan)) ** 0.5
    w = cau.conv1.weight
    assert w.abs().max() <= bound and w.abs().max() > 0.8 * bound
    same = mm.mspfn_tiny(seed=7).state_dict()
    other = mm.mspfn_tiny(seed=8).state_dict()
    for key, value in model.state_dict().items():
        assert torch.equal(value, same[key]), key
    assert not torch.equal(model.head1.conv.weight, other["head1.conv.weight"])


def test_state_dict_round_trip(tmp_path) -> None:
    model = mm.mspfn_tiny(seed=9).eval()
    path = tmp_path / "tiny.pt"
    torch.save(model.state_dict(), path)
    other = mm.mspfn_tiny(seed=10).eval()
    other.load_weights(path)
    x = _rand(1, 3, 32, 32)
    with torch.inference_mode():
        torch.testing.assert_close(other(x), model(x), rtol=0, atol=0)


# ----------------------------------------------------------------------------- losses
def test_laplacian_of_constant_is_zero_inside() -> None:
    x = torch.full((2, 3, 9, 11), 0.75)  # exactly representable: the interior is exactly 0
    lap = laplacian_edges(x)
    assert lap.shape == x.shape
    assert torch.count_nonzero(lap[..., 1:-1, 1:-1]) == 0
    # Zero padding: a corner sees 3 neighbours (8 − 3 = 5), an edge pixel 5 (8 − 5 = 3).
    torch.testing.assert_close(lap[0, 0, 0, 0], torch.tensor(0.75 * 5))
    torch.testing.assert_close(lap[0, 0, 0, 5], torch.tensor(0.75 * 3))
    torch.testing.assert_close(
        laplacian_edges(torch.full((1, 3, 6, 6), 0.7))[..., 1:-1, 1:-1], torch.zeros(1, 3, 4, 4), rtol=0, atol=1e-6
    )


def test_laplacian_kernel_per_channel() -> None:
    x = torch.zeros(1, 3, 5, 5)
    x[0, 1, 2, 2] = 1.0
    lap = laplacian_edges(x)
    assert torch.count_nonzero(lap[0, 0]) == 0 and torch.count_nonzero(lap[0, 2]) == 0
    expected = -torch.ones(3, 3)
    expected[1, 1] = 8.0
    torch.testing.assert_close(lap[0, 1, 1:4, 1:4], expected)


def test_losses_values_and_ordering() -> None:
    clean = _rand(2, 3, 24, 24, seed=11)
    noise = _rand(2, 3, 24, 24, seed=12) - 0.5
    bad, good = clean + 0.4 * noise, clean + 0.1 * noise
    assert float(charbonnier(clean, clean)) == pytest.approx(1e-3, rel=1e-4)
    assert mspfn_loss(good, clean) < mspfn_loss(bad, clean)
    assert edge_loss(good, clean) < edge_loss(bad, clean)
    torch.testing.assert_close(mspfn_loss(bad, clean, edge_weight=0.0), charbonnier(bad, clean))
    lap_diff = laplacian_edges(bad) - laplacian_edges(clean)
    manual = torch.sqrt((bad - clean) ** 2 + 1e-6).mean() + 0.05 * torch.sqrt(lap_diff**2 + 1e-6).mean()
    torch.testing.assert_close(mspfn_loss(bad, clean), manual, rtol=1e-5, atol=1e-7)


def test_model_training_loss_options() -> None:
    clean = _rand(1, 3, 16, 16, seed=13)
    pred = clean + 0.1 * (_rand(1, 3, 16, 16, seed=14) - 0.5)
    model = mm.mspfn_tiny()
    torch.testing.assert_close(model.training_loss(pred, clean), mspfn_loss(pred, clean, 0.05))
    no_edge = mm.mspfn_tiny(edge_weight=0.0)
    torch.testing.assert_close(no_edge.training_loss(pred, clean), charbonnier(pred, clean))
    sym = mm.mspfn_tiny(value_range="symmetric")
    torch.testing.assert_close(sym.training_loss(pred, clean), mspfn_loss(2 * pred - 1, 2 * clean - 1, 0.05))


# ----------------------------------------------------------------------------- training
def test_gradient_steps_reduce_loss() -> None:
    model = mm.mspfn_tiny(seed=0).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    clean = _rand(2, 3, 32, 32, seed=15)
    rainy = (clean + 0.3 * (_rand(2, 3, 32, 32, seed=16) > 0.9).float()).clamp(0, 1)
    losses = []
    for _ in range(4):
        opt.zero_grad(set_to_none=True)
        loss = model.training_loss(model(rainy), clean)
        loss.backward()
        for name, p in model.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
        opt.step()
        losses.append(loss.item())
    assert all(np.isfinite(losses))
    assert losses[-1] < losses[0]


#: mspfn_tiny's budget for one 96x96 forward + backward on one thread: what keeps the training tests fast.
#: Recorded against it, not asserted (a timing measures the machine): 2-core AMD EPYC, AVX2 only, 2026-12-03.
TINY_STEP_BUDGET_S = 1.0


@pytest.mark.benchmark
def test_tiny_forward_backward_speed(benchmark) -> None:
    """One 96x96 patch forward + backward on a single thread, recorded beside the 1 s budget (a warning above).

    One thread makes the measurement robust on a shared machine (OpenMP threads spin badly when other
    processes hold the cores); the global thread count is restored afterwards.
    """
    import warnings

    model = mm.mspfn_tiny(seed=0).train()
    x = _rand(1, 3, 96, 96)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)

    def step() -> None:
        model.zero_grad(set_to_none=True)
        model.training_loss(model(x), x).backward()

    try:
        step()  # warm-up
        benchmark.pedantic(step, rounds=3, iterations=1)
    finally:
        torch.set_num_threads(threads)
    best = float(benchmark.stats.stats.min)
    benchmark.extra_info.update(best_seconds=best, budget_seconds=TINY_STEP_BUDGET_S)
    if best > TINY_STEP_BUDGET_S:
        warnings.warn(f"mspfn_tiny 96x96 forward+backward took {best:.2f} s on one thread", stacklevel=1)
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


# ----------------------------------------------------------------------------- slow: real sizes
@pytest.mark.slow
def test_light_720p_inference_cpu() -> None:
    """MSPFN* at 1280x720 (BDD frames, Table 6). About 4 s on an idle 2-core CPU; the time is reported,
    not asserted, because wall time on a shared machine measures the neighbours as much as the model."""
    model = mm.mspfn_light(seed=0).eval()
    x = _rand(1, 3, 720, 1280)
    with torch.inference_mode():
        start = time.perf_counter()
        y = model(x)
        elapsed = time.perf_counter() - start
    print(f"\nmspfn_light 1280x720 CPU forward: {elapsed:.2f} s ({torch.get_num_threads()} threads)")
    assert y.shape == x.shape and torch.isfinite(y).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (the seeded init draws on the CPU)")
def test_seeded_init_is_the_same_on_cuda() -> None:
    cpu = mm.mspfn_tiny()
    cpu.reset_parameters(seed=3)
    gpu = mm.mspfn_tiny().to("cuda")
    gpu.reset_parameters(seed=3)  # was: a CPU generator used on CUDA tensors (RuntimeError)
    for name, tensor in cpu.state_dict().items():
        assert torch.equal(gpu.state_dict()[name].cpu(), tensor), name
