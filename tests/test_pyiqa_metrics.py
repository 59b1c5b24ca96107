"""pyiqa metrics as ``pyiqa:<name>`` bench metrics, cross-checked against bench's own on RainTrainL pairs.

pyiqa is installed by scripts/test.sh with ``--no-deps`` plus ``huggingface_hub`` (the one dependency
its import and the weight-free metrics need; its full dependency list would put opencv-python-headless
over opencv and pull in transformers, datasets, bitsandbytes, tensorboard, numba ...). Only metrics that need no download run here (pyiqa.OFFLINE set, plus ``niqe_matlab`` whose
parameter file is made from bench's own NIQE model); network downloads are never attempted.

Measured conventions (RainTrainL pairs 1-8, float32 inputs x/255):

* ``pyiqa:psnr`` = ``psnr_rgb`` (max |Δ| 6.9e-5 dB: float32).
* ``pyiqa:psnry`` is on YIQ's full-range Y (0.299, 0.587, 0.114), unrounded: = ``psnr_y_float`` −
  20·log10(255/219) (= −1.3227 dB, studio vs full range) to 7.2e-5 dB; ``psnr_y`` (rounded studio Y) differs
  by the same 1.32 dB plus rounding.
* ``pyiqa:ssim`` is Wang's SSIM (11×11 Gaussian σ 1.5, valid) on round(255·Y_YIQ), with the contrast-
  structure term clipped at 0 (ReLU): that reference to 4.2e-7; it is 0.0098 below ``ssim_y`` on average
  (up to 0.020), because the constants C1, C2 act on a different luma range.
* ``pyiqa:fsim`` is FSIMc (chromatic): = ``fsimc`` to 8.7e-7.
* ``pyiqa:niqe_matlab`` with the LIVE pristine model = ``niqe`` to 6.7e-4.
"""

from __future__ import annotations

import io
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyiqa", reason="pyiqa not installed (pip install 'bench-derain[pyiqa]')")

from bench.data.images import read_image
from bench.metrics.base import StreamingMetric
from bench.metrics.fidelity import _filter_valid, gaussian_window_1d
from bench.registries import METRICS

REPO = Path(__file__).resolve().parents[1]
IDS = (1, 2, 3)


@pytest.fixture(scope="module")
def pairs(data_root: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    root = data_root / "rain" / "RainTrainL"
    return [
        (read_image(root / "rain" / f"norain-{i}.png"), read_image(root / "norain" / f"norain-{i}.png")) for i in IDS
    ]


def _values(name: str, pairs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    spec = METRICS.get(name)
    if spec.mode == "FR":
        return np.array([spec(a, b) for a, b in pairs])
    return np.array([spec(a) for a, _ in pairs])


def _yiq_y255(image: np.ndarray) -> np.ndarray:
    """pyiqa's ``to_y_channel(x, 255, 'yiq')``: float32 YIQ luma of x/255, times 255, rounded."""
    x = image.astype(np.float32) / np.float32(255)
    y = x[..., 0] * np.float32(0.299) + x[..., 1] * np.float32(0.587) + x[..., 2] * np.float32(0.114)
    return np.round(y * np.float32(255)).astype(np.float64)


def _ssim_relu(a: np.ndarray, b: np.ndarray) -> float:
    """Wang 2003 SSIM (valid, 11x11 Gaussian) with the contrast-structure map clipped at 0, as pyiqa does."""
    w = gaussian_window_1d(11, 1.5)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu1, mu2 = _filter_valid(a, w), _filter_valid(b, w)
    s1 = _filter_valid(a * a, w) - mu1 * mu1
    s2 = _filter_valid(b * b, w) - mu2 * mu2
    s12 = _filter_valid(a * b, w) - mu1 * mu2
    cs = np.maximum((2 * s12 + c2) / (s1 + s2 + c2), 0.0)
    return float((((2 * mu1 * mu2 + c1) / (mu1 * mu1 + mu2 * mu2 + c1)) * cs).mean())


def test_psnr_and_fsim_agree_with_bench(pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
    assert np.abs(_values("pyiqa:psnr", pairs) - _values("psnr_rgb", pairs)).max() < 2e-4
    studio = 20 * math.log10(255 / 219)  # studio-range (219 levels) vs full-range luma
    psnry = _values("pyiqa:psnry", pairs)
    assert np.abs(psnry - (_values("psnr_y_float", pairs) - studio)).max() < 2e-4
    assert np.abs(psnry - _values("psnr_y", pairs)).min() > 1.0  # a different Y: never mix the two
    assert np.abs(_values("pyiqa:fsim", pairs) - _values("fsimc", pairs)).max() < 5e-6


def test_ssim_convention(pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
    ssim = _values("pyiqa:ssim", pairs)
    reference = np.array([_ssim_relu(_yiq_y255(a), _yiq_y255(b)) for a, b in pairs])
    assert np.abs(ssim - reference).max() < 2e-6
    gap = _values("ssim_y", pairs) - ssim
    assert 1e-3 < gap.mean() < 0.03  # studio-range rounded Y (bench) scores higher on these pairs


def test_specs_stream_and_batch(pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
    spec = METRICS.get("pyiqa:psnr")
    assert (spec.mode, spec.higher_is_better, spec.unit) == ("FR", True, "dB")
    assert "PolyForm-Noncommercial" in spec.reference_impl and spec.batch_fn is not None
    images = [pairs[0][0], pairs[1][0][:100, :120], pairs[2][0]]  # two shapes: batched per shape
    refs = [pairs[0][1], pairs[1][1][:100, :120], pairs[2][1]]
    stream = StreamingMetric(spec)
    values = stream.update(images, refs)
    assert values == pytest.approx([spec(a, b) for a, b in zip(images, refs, strict=True)], abs=1e-5)
    assert stream.compute() == pytest.approx(float(np.mean(values)))
    piqe = METRICS.get("pyiqa:PIQE")  # names are case-insensitive; no-reference, lower is better
    assert (piqe.name, piqe.mode, piqe.higher_is_better) == ("pyiqa:piqe", "NR", False)
    scores = StreamingMetric(piqe).update([a for a, _ in pairs])
    assert all(0.0 <= s <= 100.0 for s in scores)
    with pytest.raises(ValueError, match="full-reference"):
        spec(pairs[0][0])
    with pytest.raises(ValueError, match="differ in shape"):
        spec(pairs[0][0], pairs[0][1][:10])


def test_unknown_and_distribution_metrics() -> None:
    from bench.registry import UnknownNameError

    with pytest.raises(UnknownNameError, match="Did you mean pyiqa:lpips"):
        METRICS.get("pyiqa:lpipz")
    with pytest.raises(ValueError, match="distribution"):
        METRICS.get("pyiqa:fid")


@pytest.fixture
def pyiqa_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Empty weights folder and empty pyiqa / torch caches (nothing of the user's is read or written)."""
    import pyiqa.utils.download_util as download_util

    monkeypatch.setenv("BENCH_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(download_util, "DEFAULT_CACHE_DIR", str(tmp_path / "pyiqa-cache"))
    return tmp_path


def test_weights_come_from_the_weights_folder(
    pyiqa_cache: Path, data_root: Path, pairs: list[tuple[np.ndarray, np.ndarray]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import scipy.io

    from bench.metrics.pyiqa_metrics import pyiqa_metric

    model = np.load(data_root / "weights" / "iqa" / "niqe_pris_params.npz")  # bench's LIVE pristine model
    folder = pyiqa_cache / "weights" / "iqa" / "pyiqa"
    folder.mkdir(parents=True)
    (pyiqa_cache / "weights" / "iqa" / "niqe_pris_params.npz").symlink_to(
        data_root / "weights/iqa/niqe_pris_params.npz"
    )
    scipy.io.savemat(
        folder / "niqe_matlab_params.mat",
        {"mu_prisparam": model["mu_pris_param"], "cov_prisparam": model["cov_pris_param"]},
    )
    spec = pyiqa_metric("niqe_matlab")
    assert (spec.mode, spec.higher_is_better) == ("NR", False)
    assert (pyiqa_cache / "pyiqa-cache" / "niqe_matlab_params.mat").resolve() == (folder / "niqe_matlab_params.mat")
    images = [a for a, _ in pairs]
    ours = np.array([METRICS.get("niqe")(im) for im in images])
    assert np.abs(np.array(spec.batch_fn(images, None)) - ours).max() < 2e-3


def test_missing_weights_are_one_clear_line(pyiqa_cache: Path) -> None:
    from bench.metrics.pyiqa_metrics import pyiqa_metric
    from bench.paths import MissingDataError

    with pytest.raises(MissingDataError) as err:
        pyiqa_metric("niqe")
    message = str(err.value)
    assert "\n" not in message and "niqe_modelparameters.mat" in message and "never downloads" in message
    assert str(pyiqa_cache / "weights" / "iqa" / "pyiqa") in message and "http" in message
    with pytest.raises(MissingDataError, match=r"alexnet-owt-7be5be79\.pth"):  # torchvision's weights inside lpips
        pyiqa_metric("lpips")


def test_bench_score_with_pyiqa(
    tmp_path: Path, pairs: list[tuple[np.ndarray, np.ndarray]], capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.cli import main
    from bench.data.images import write_image

    for i, (rainy, clean) in enumerate(pairs[:2]):
        write_image(tmp_path / "rain" / f"{i}.png", rainy)
        write_image(tmp_path / "clean" / f"{i}.png", clean)
    code = main(
        [
            *("score", str(tmp_path / "rain"), "--ref", str(tmp_path / "clean")),
            *("--metrics", "pyiqa:psnr", "pyiqa:fsim", "--no-progress"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    import csv

    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["file"] for r in rows] == ["0.png", "1.png"] and all(r["error"] == "" for r in rows)
    for row, (rainy, clean) in zip(rows, pairs[:2], strict=True):
        assert float(row["pyiqa:psnr"]) == pytest.approx(METRICS.get("psnr_rgb")(rainy, clean), abs=2e-4)
        assert float(row["pyiqa:fsim"]) == pytest.approx(METRICS.get("fsimc")(rainy, clean), abs=5e-6)


def test_without_pyiqa_bench_score_fails_in_one_line(tmp_path: Path) -> None:
    from bench.data.images import write_image

    write_image(tmp_path / "a.png", np.zeros((16, 16, 3), np.uint8))
    code = (
        "import sys; sys.modules['pyiqa'] = None; from bench.cli import main; "  # as if pyiqa were not installed
        f"sys.exit(main(['score', {str(tmp_path / 'a.png')!r}, '--ref', {str(tmp_path / 'a.png')!r}, "
        "'--metrics', 'pyiqa:psnr', 'pyiqa:fsim']))"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert out.returncode == 2 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert (
        lines[0].startswith("error: metric pyiqa:psnr needs pyiqa") and "pip install 'bench-derain[pyiqa]'" in lines[0]
    )
