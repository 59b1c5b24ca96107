"""The TF-graph MSPFN variants and the TF checkpoint converter (issue #25), against TensorFlow itself.

The reference is a TF 1.x-style graph written for this project (``tests/tf_mspfn_reference.py``: names
under ``generator/``, ``conv2d_transpose`` stride-1 layers, ``SAME`` padding, BGR in [-1, 1]), saved with
a real ``Saver`` and random weights; the converted PyTorch model must reproduce its output. TensorFlow
runs in child processes only (loaded here, it would crash later tests that import Triton). It is the
optional extra ``[tf]``, installed by ``scripts/test.sh``: these tests skip without it locally and fail
without it in CI (``BENCH_REQUIRE_DATA=1``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from bench.cli import main
from bench.convert.mspfn_tf import mspfn_tf_mapping
from bench.convert.tf_checkpoint import (
    CheckpointMismatchError,
    TensorFlowMissingError,
    convert_tf_checkpoint,
    is_tf_checkpoint,
    resolve_tf_checkpoint,
    tensorflow_available,
)
from bench.engine.inference import InferenceEngine, pad_to_multiple
from bench.factory import create_derainer
from derainers.mspfn import MSPFN, ConvAct, UpAct, mspfn_official, mspfn_official_train, mspfn_release
from tests.conftest import REPO, REQUIRE_DATA

TOL = 1e-4  # max |Δ| of the derained image in the graph's [-1, 1] units
SMALL = {"num_ffm": 2, "channels": 16, "lstm_hidden": (8, 12, 16), "lstm_input": 8, "rm_mid": 8}


REFERENCE = REPO / "tests" / "tf_mspfn_reference.py"


@pytest.fixture(scope="module")
def tf() -> None:
    """TensorFlow (the ``[tf]`` extra) is installed: skipped locally when absent, a failure in CI."""
    if not tensorflow_available():
        if REQUIRE_DATA:  # scripts/test.sh installs the extra: in CI a missing TensorFlow is a failure
            pytest.fail("tensorflow is not installed (pip install -e '.[tf]')", pytrace=False)
        pytest.skip("the [tf] extra (tensorflow) is not installed")


def run_tf(tmp_path: Path, job: dict[str, Any]) -> None:
    """Run a job of ``tests/tf_mspfn_reference.py`` in a child process (TensorFlow stays out of pytest)."""
    job_file = tmp_path / f"job-{job['kind']}-{len(list(tmp_path.glob('job-*')))}.json"
    job_file.write_text(json.dumps(job))
    proc = subprocess.run([sys.executable, str(REFERENCE), str(job_file)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]


def tf_graph(
    tmp_path: Path, cfg: dict[str, Any], ffm: str, x: np.ndarray, prefix: Path, seed: int, extra: bool = False
) -> np.ndarray:
    """Build the official graph for ``cfg`` with random weights, save it at ``prefix``, run it on ``x``."""
    np.save(tmp_path / "graph-input.npy", x)
    job = {"kind": "graph", "shape": list(x.shape), "config": cfg, "ffm": ffm, "seed": seed}
    job.update(prefix=str(prefix), input=str(tmp_path / "graph-input.npy"), output=str(tmp_path / "graph-out.npy"))
    run_tf(tmp_path, {**job, "extra_variables": extra})
    return np.load(tmp_path / "graph-out.npy")


# ----------------------------------------------------------------------------- the TF reference graph
def astronaut_crop(h: int, w: int) -> torch.Tensor:
    """A natural RGB crop in [0, 1], ``(1, 3, h, w)`` (scikit-image's shipped astronaut)."""
    from skimage import data

    img = data.astronaut()[40 : 40 + h, 150 : 150 + w]
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float() / 255.0


def to_graph_input(rgb: torch.Tensor) -> np.ndarray:
    """RGB ``(1, 3, H, W)`` in [0, 1] → the official script's input: BGR NHWC in [-1, 1]."""
    return (rgb.flip(1).permute(0, 2, 3, 1).numpy() * 2.0 - 1.0).astype(np.float32)


def graph_to_rgb(out: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(out).permute(0, 3, 1, 2).flip(1)  # still [-1, 1]


# ----------------------------------------------------------------------------- tests
def test_stride2_layers_follow_tf_same_for_even_and_odd_sizes(tf: None, tmp_path: Path) -> None:
    gen = torch.Generator().manual_seed(0)
    sizes = ((8, 8), (12, 7), (9, 13))
    cases, layers = {}, []
    for i, (h, w) in enumerate(sizes):
        x = torch.randn(1, 5, h, w, generator=gen)
        down, up = ConvAct(5, 4, stride=2, padding="tf_same"), UpAct(5, 4, padding="tf_same")
        layers.append((x, down, up))
        cases[f"x{i}"] = x.permute(0, 2, 3, 1).numpy()
        cases[f"down{i}"] = down.conv.weight.detach().permute(2, 3, 1, 0).numpy()  # [kh, kw, in, out]
        cases[f"up{i}"] = up.conv.weight.detach().permute(2, 3, 1, 0).numpy()  # [in, out, ..] → [kh, kw, out, in]
    np.savez(tmp_path / "layers.npz", **cases)
    run_tf(tmp_path, {"kind": "layers", "input": str(tmp_path / "layers.npz"), "output": str(tmp_path / "ref.npz")})
    with np.load(tmp_path / "ref.npz") as ref:
        for i, (x, down, up) in enumerate(layers):
            got = down.conv(down.pad(x)).detach().permute(0, 2, 3, 1).numpy()
            assert got.shape == ref[f"down{i}"].shape and np.abs(got - ref[f"down{i}"]).max() < 1e-5, sizes[i]
            if sizes[i][0] % 2 == 0:  # an even input is padded bottom only by TF: the symmetric default is shifted
                default = ConvAct(5, 4, stride=2)
                default.load_state_dict(down.state_dict())
                assert np.abs(default.conv(x).detach().permute(0, 2, 3, 1).numpy() - ref[f"down{i}"]).max() > 1e-2
            got_up = up.crop(up.conv(x)).detach().permute(0, 2, 3, 1).numpy()
            assert got_up.shape == ref[f"up{i}"].shape and np.abs(got_up - ref[f"up{i}"]).max() < 1e-5, sizes[i]


@pytest.mark.slow
def test_official_test_graph_full_width_matches_tensorflow(
    tf: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """TEST_MSPFN_M17N1.py at the release's widths (859 variables, 15.8 M) at 96×96, through the CLI."""
    start = time.perf_counter()
    prefix = tmp_path / "MSPFN" / "epoch50"
    rgb = astronaut_crop(96, 96)
    ref = graph_to_rgb(tf_graph(tmp_path, mspfn_official().config, "BCM", to_graph_input(rgb), prefix, seed=1))
    converted = tmp_path / "official.pt"
    args = ["convert", "--from", "tf-checkpoint", f"{prefix}.index", "--derainer", "mspfn_official", "--output"]
    assert main([*args, str(converted)]) == 0
    assert str(converted) in capsys.readouterr().out
    model = create_derainer("mspfn_official", weights=str(converted))
    card = model.weights_info["card"]
    assert card["mapping"] == "mspfn-tf/1" and card["ffm_scope"] == "BCM" and card["variables"] == 859
    assert card["parameters"] == 15_823_424 and set(card["files"]) == {
        "epoch50.index",
        "epoch50.data-00000-of-00001",
        "epoch50.meta",
    }
    with torch.inference_mode():
        got = model(rgb) * 2.0 - 1.0
    delta = (got - ref).abs().max().item()
    print(f"mspfn_official 96x96: max |delta| {delta:.2e} (output range ±{ref.abs().max().item():.2f})")
    assert delta <= TOL
    print(f"full-width test: {time.perf_counter() - start:.1f} s")


@pytest.fixture(scope="module")
def small_train_checkpoint(tf: None, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.Tensor]:
    """MSPFN.py's layout (URAB scopes, N=(1,3,3)) at small widths, with an optimizer slot and a step counter.

    Returns the checkpoint prefix and the graph's output (RGB, [-1, 1]) for the 97×131 astronaut crop
    padded as the inference engine pads it.
    """
    tmp = tmp_path_factory.mktemp("small-train")
    padded, _ = pad_to_multiple(astronaut_crop(97, 131), 8)  # what the inference engine does: reflect-pad
    assert padded.shape[-2:] == (104, 136)
    cfg = mspfn_official_train(**SMALL).config
    out = tf_graph(tmp, cfg, "URAB", to_graph_input(padded), tmp / "train" / "epoch3", seed=2, extra=True)
    return tmp / "train" / "epoch3", graph_to_rgb(out)[..., :97, :131]


@pytest.mark.slow
def test_training_graph_small_odd_size_through_the_harness(
    small_train_checkpoint: tuple[Path, torch.Tensor], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The small training-graph checkpoint at 97×131 through the inference engine's padding and cropping.

    Loaded with ``--weights <the TF checkpoint's folder>``: converted once into ``$BENCH_CACHE``.
    """
    import bench.convert.tf_checkpoint as tf_checkpoint

    prefix, ref = small_train_checkpoint
    rgb = astronaut_crop(97, 131)
    model = create_derainer("mspfn_official_train", weights=str(prefix.parent), **SMALL)
    assert "tf_converted" in model.weights_info["path"] and model.config["num_ffm"] == 2
    card = model.weights_info["card"]
    assert card["ignored_variables"] == 2 and card["ffm_scope"] == "URAB" and card["mapping"] == "mspfn-tf/1"
    monkeypatch.setattr(tf_checkpoint, "read_tf_checkpoint", None)  # a second use must not convert again
    again = create_derainer("mspfn_official_train", weights=f"{prefix}.index", **SMALL)
    assert again.weights_info["path"] == model.weights_info["path"]
    engine = InferenceEngine(model)
    got = engine.derain_tensor(rgb) * 2.0 - 1.0
    delta = (got - ref).abs().max().item()
    print(f"mspfn_official_train (small) 97x131: max |delta| {delta:.2e}")
    assert got.shape == (1, 3, 97, 131) and delta <= TOL
    # the default (PyTorch) stride-2 padding with the same weights is a one-pixel shift: far off
    shifted = MSPFN(**{**model.config, "padding": "pytorch"}).eval()
    shifted.load_state_dict(model.state_dict())
    assert (InferenceEngine(shifted).derain_tensor(rgb) * 2.0 - 1.0 - ref).abs().max().item() > 1e-2


@pytest.mark.slow
def test_converter_refuses_a_checkpoint_of_another_graph(
    small_train_checkpoint: tuple[Path, torch.Tensor], tmp_path: Path
) -> None:
    prefix, _ = small_train_checkpoint
    # the same widths but N = 1: exactly the second and third CAUs of the 1/2 and full-scale URABs are extra
    with pytest.raises(CheckpointMismatchError) as info:
        convert_tf_checkpoint(prefix, "mspfn_official", tmp_path / "x.pt", **SMALL)
    err = info.value
    assert not err.missing and not err.misshaped and len(err.unexpected) == 2 * 2 * 2 * 10
    assert all("_RCAB2/" in name or "_RCAB3/" in name for name in err.unexpected)
    assert "generator/URAB2_0/group_1_RCAB2/conv2d/kernel" in err.unexpected
    # the released widths: everything is mis-shaped or missing, and the message says so in one line
    with pytest.raises(CheckpointMismatchError) as info:
        convert_tf_checkpoint(prefix, "mspfn_official_train", tmp_path / "x.pt")
    err = info.value
    assert err.misshaped and err.missing and not err.unexpected
    assert ("generator/rnn1/weight", (3, 3, 16, 3), (3, 3, 64, 3)) in err.misshaped
    assert "generator/URAB4_2/down4_3/weight" in err.missing
    message = str(err)
    assert "\n" not in message and "mis-shaped" in message and "(+" in message
    assert not (tmp_path / "x.pt").exists()


def test_variable_inventory_matches_the_official_graphs() -> None:
    for factory, count, params in ((mspfn_official, 859, 15_823_424), (mspfn_official_train, 1539, 20_995_776)):
        model = factory()
        maps = mspfn_tf_mapping(model, "BCM")
        assert len(maps) == count == len({m.tf_name for m in maps}) and model.num_parameters() == params
    with pytest.raises(ValueError, match="mspfn_official"):
        mspfn_tf_mapping(mspfn_release())


def test_default_mspfn_variants_are_unchanged() -> None:
    """Trained weights of mspfn / mspfn_light depend on the default padding: it is PyTorch's, config unchanged."""
    from derainers.mspfn import mspfn_light, mspfn_tiny

    for model in (mspfn_tiny(), mspfn_light()):
        assert "padding" not in model.config and "channel_order" not in model.config
        ups = [m for m in model.modules() if isinstance(m, UpAct)]
        assert ups and all(m.conv.padding == (1, 1) and m.conv.output_padding == (1, 1) for m in ups)
        assert not any(hasattr(m, "pad") for m in model.modules() if isinstance(m, ConvAct))


def test_checkpoint_paths_resolve_without_tensorflow(tmp_path: Path) -> None:
    folder = tmp_path / "MSPFN"
    folder.mkdir()
    for name in ("epoch50.index", "epoch50.data-00000-of-00002", "epoch50.data-00001-of-00002", "epoch50.meta"):
        (folder / name).write_bytes(b"x")
    for form in ("epoch50", "epoch50.index", "epoch50.meta", "epoch50.data-00001-of-00002"):
        files = resolve_tf_checkpoint(folder / form)
        assert files.prefix == folder / "epoch50" and len(files.data) == 2 and files.meta is not None
    assert resolve_tf_checkpoint(folder).prefix == folder / "epoch50"  # the only checkpoint of a folder
    (folder / "checkpoint").write_text('model_checkpoint_path: "epoch50"\n')
    assert resolve_tf_checkpoint(folder).prefix == folder / "epoch50"
    (folder / "epoch50.data-00001-of-00002").unlink()
    assert not is_tf_checkpoint(folder / "epoch50")
    with pytest.raises(FileNotFoundError, match="incomplete data shards"):
        resolve_tf_checkpoint(folder / "epoch50")
    assert not is_tf_checkpoint(tmp_path / "model.pt") and not is_tf_checkpoint("Rain100L")


def test_missing_tensorflow_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("ckpt.index", "ckpt.data-00000-of-00001"):
        (tmp_path / name).write_bytes(b"x")
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # import tensorflow → ImportError
    with pytest.raises(TensorFlowMissingError, match=r"pip install 'bench-derain\[tf\]'"):
        convert_tf_checkpoint(tmp_path / "ckpt", "mspfn_official")
    assert main(["convert", "--from", "tf-checkpoint", str(tmp_path / "ckpt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'bench-derain[tf]'" in err


def test_converter_modules_import_no_tensorflow() -> None:
    code = (
        "import sys, bench, bench.cli, bench.factory, bench.convert.tf_checkpoint, bench.cli.convert; "
        "bench.cli.build_parser(); sys.exit(1 if 'tensorflow' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_tensorflow_never_loaded_into_this_process() -> None:
    """Last in the file: TensorFlow ran in child processes only (loaded here, Triton imports would crash)."""
    assert "tensorflow" not in sys.modules
