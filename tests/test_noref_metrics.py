"""NIQE, SSEQ (and their LIBSVM predictor) against the original MATLAB code, plus ``bench score``."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np
import pytest

from bench.metrics import brisque, libsvm, niqe, sseq
from bench.metrics.base import MetricSpec
from tests.conftest import missing_data

REPO = Path(__file__).resolve().parents[1]


def _calibration_csv() -> Path | None:
    data = Path(os.environ.get("BENCH_DATA") or REPO.parent / "shared" / "data")
    path = data.parent / "calibration" / "noref_reference.csv"
    return path if path.is_file() else None


def _calibration_rows() -> list[dict[str, str]]:
    path = _calibration_csv()
    if path is None:
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


ROWS = _calibration_rows()
ROW_IDS = [r["file"] for r in ROWS] or ["missing"]


@pytest.fixture(scope="module")
def calibration_scores(data_root: Path) -> dict[str, tuple[float, float]]:
    """NIQE and SSEQ of every calibration image, computed once with the batched functions."""
    from bench.data.images import read_image

    if not ROWS:
        missing_data("noref_reference.csv not found")
    os.environ.setdefault("BENCH_DATA", str(data_root))
    images = [read_image(data_root / r["file"]) for r in ROWS]
    n = niqe.niqe_batch(images)
    s = sseq.sseq_batch(images)
    return {r["file"]: (a, b) for r, a, b in zip(ROWS, n, s, strict=True)}


def _row(file: str) -> dict[str, str]:
    if not ROWS:
        missing_data("noref_reference.csv not found")
    return next(r for r in ROWS if r["file"] == file)


@pytest.mark.calibration
@pytest.mark.parametrize("file", ROW_IDS)
def test_niqe_matches_matlab(file: str, calibration_scores: dict[str, tuple[float, float]]) -> None:
    row = _row(file)
    expected = float(row["niqe"])
    # Exact where there are no exactly flat regions; floating-point noise decides ~0 MSCN signs elsewhere.
    # (measured: exact to ~1e-11 without flat pixels; the worst flat-pixel image is off by 1.6 %)
    rtol = 1e-8 if int(row["niqe_flat_pixels"]) == 0 else 2e-2
    assert calibration_scores[file][0] == pytest.approx(expected, rel=rtol)


@pytest.mark.calibration
@pytest.mark.parametrize("file", ROW_IDS)
def test_sseq_matches_matlab(file: str, calibration_scores: dict[str, tuple[float, float]]) -> None:
    expected = float(_row(file)["sseq"])
    # Measured agreement with the MATLAB code: max |Δ| 1.5e-4 over the calibration images.
    assert calibration_scores[file][1] == pytest.approx(expected, abs=1e-3)


@pytest.mark.calibration
def test_niqe_is_exact_without_flat_regions(calibration_scores: dict[str, tuple[float, float]]) -> None:
    exact = [r for r in ROWS if int(r["niqe_flat_pixels"]) == 0]
    assert exact
    for r in exact:
        assert calibration_scores[r["file"]][0] == pytest.approx(float(r["niqe"]), rel=1e-8)


@pytest.mark.parametrize(
    ("name", "model_hint"),
    [("niqe", "niqe_pris_params.npz"), ("sseq", "model.mat"), ("brisque", "brisque_model_live.yml")],
)
def test_registered_metric_contract(name: str, model_hint: str) -> None:
    from bench.registries import METRICS

    spec = METRICS.get(name)
    assert isinstance(spec, MetricSpec)
    assert spec.name == name and spec.mode == "NR" and spec.higher_is_better is False
    assert spec.summary and model_hint in spec.reference_impl and spec.batch_fn is not None
    if name == "niqe":
        assert "NOT MATLAB's built-in" in spec.reference_impl


def test_batch_equals_single_and_mixed_sizes(data_root: Path) -> None:
    from bench.data.images import read_image

    images = [
        read_image(data_root / "rain/Real147/9.jpg"),
        read_image(data_root / "images/iqa-calibration/ref_dir/I03.bmp"),
        read_image(data_root / "rain/Real147/10.jpg"),
    ]
    batch_n = niqe.NIQE.batch_fn(images, None)
    batch_s = sseq.SSEQ.batch_fn(images, None)
    for img, bn, bs in zip(images, batch_n, batch_s, strict=True):
        assert niqe.NIQE(img) == pytest.approx(bn, rel=1e-12)
        assert sseq.SSEQ(img) == pytest.approx(bs, rel=1e-9)  # BLAS sums depend on the batch size
    assert niqe.NIQE.batch_fn([], None) == [] and sseq.SSEQ.batch_fn([], None) == []


def test_missing_model_files_raise_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from bench.paths import MissingDataError

    monkeypatch.setenv("BENCH_WEIGHTS", str(tmp_path))
    img = np.zeros((96, 96, 3), dtype=np.uint8)
    with pytest.raises(MissingDataError, match=r"niqe_pris_params\.npz"):
        niqe.niqe(img)
    with pytest.raises(MissingDataError, match=r"sseq/model\.mat"):
        sseq.sseq(img)
    with pytest.raises(MissingDataError, match=r"brisque_model_live\.yml"):
        brisque.brisque(img)


def test_niqe_rejects_images_smaller_than_a_block(data_root: Path) -> None:
    with pytest.raises(ValueError, match="at least 96x96"):
        niqe.niqe(np.zeros((95, 300, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        niqe.niqe(np.zeros((100, 100, 3), dtype=np.float32))


# --- NIQE internals -------------------------------------------------------------------------------


def test_gamma_grid_is_matlab_colon() -> None:
    grid = niqe.matlab_colon(0.2, 0.001, 10.0)
    assert grid.size == 9801 and grid[0] == 0.2 and grid[-1] == pytest.approx(10.0, abs=1e-12)
    np.testing.assert_allclose(np.diff(grid), 0.001, atol=1e-12)


def test_grid_search_equals_exhaustive_matlab_min(rng: np.random.Generator) -> None:
    _gam, r_gam = niqe._gamma_table()
    targets = np.concatenate(
        [
            rng.uniform(0.0, 1.0, 2000),  # includes targets outside the table on both sides
            r_gam[rng.integers(0, r_gam.size, 50)],  # exactly on grid points
            (r_gam[:-1] + r_gam[1:])[rng.integers(0, r_gam.size - 1, 50)] / 2,  # midpoints (ties)
            [np.nan, np.inf, -np.inf],
        ]
    )
    fast = niqe._grid_argmin(r_gam, targets)
    slow = niqe._grid_argmin_exhaustive(r_gam, targets)
    np.testing.assert_array_equal(fast[:-2], slow[:-2])
    assert fast[-3] == 0  # NaN → MATLAB's min returns index 1


def test_aggd_fit_of_gaussian_and_one_sided_data(rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 200_000))
    x[1] *= 3.0
    alpha, bl, br = niqe.estimate_aggd(x)
    np.testing.assert_allclose(alpha, 2.0, atol=0.05)
    # For a Gaussian the AGGD betas are sigma * sqrt(2).
    np.testing.assert_allclose(bl, [math.sqrt(2), 3 * math.sqrt(2)], rtol=0.03)
    np.testing.assert_allclose(br, [math.sqrt(2), 3 * math.sqrt(2)], rtol=0.03)
    alpha, bl, br = niqe.estimate_aggd(np.abs(x[:1]))  # no negative values: MATLAB's NaN path
    assert alpha[0] == pytest.approx(0.2) and math.isnan(bl[0]) and not math.isnan(br[0])


def test_gaussian_window_and_pinv() -> None:
    w = niqe.gaussian_window()
    assert w.shape == (7, 7) and w.sum() == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_allclose(w, w.T, atol=0)
    a = np.diag([4.0, 2.0, 0.0])
    np.testing.assert_allclose(niqe.matlab_pinv(a), np.diag([0.25, 0.5, 0.0]))


def test_niqe_pristine_window_matches_model_file(data_root: Path) -> None:
    from bench.paths import resolve_weights_file

    with np.load(resolve_weights_file(niqe.MODEL_FILE)) as data:
        np.testing.assert_allclose(niqe.gaussian_window(), data["gaussian_window"], rtol=1e-12, atol=1e-15)


# --- SSEQ internals -------------------------------------------------------------------------------


def test_spatial_entropy_and_pooling() -> None:
    blocks = np.stack(
        [
            np.arange(64, dtype=np.uint8).reshape(8, 8),
            np.full((8, 8), 9, np.uint8),
            np.repeat(np.array([0, 255], np.uint8), 32).reshape(8, 8),
        ]
    )
    np.testing.assert_allclose(sseq.spatial_entropy(blocks), [6.0, 0.0, 1.0], atol=1e-12)
    mu, skew = sseq.pool(np.array([5.0, 1.0, 2.0, 3.0, 4.0]))
    # n = 5: sorted values ceil(1.0)=1 … ceil(4.0)=4 (1-based) → mean(1, 2, 3, 4); symmetric → skew 0.
    assert mu == pytest.approx(2.5) and skew == pytest.approx(0.0, abs=1e-15)


def test_dct_matrix_is_matlab_dct2() -> None:
    from scipy.fft import dctn

    d = sseq.dct_matrix()
    np.testing.assert_allclose(d @ d.T, np.eye(8), atol=1e-14)
    block = np.random.default_rng(1).random((8, 8))
    np.testing.assert_allclose(d @ block @ d.T, dctn(block, norm="ortho"), atol=1e-12)


def test_spectral_entropy_of_flat_block_is_near_zero() -> None:
    value = sseq.spectral_entropy(np.zeros((1, 8, 8)))[0]
    # DC → 1e-8, normalised to 1; the 63 zero coefficients become 1e-8 each.
    assert value == pytest.approx(-63 * 1e-8 * math.log2(1e-8), rel=1e-9)


def test_sseq_features_shape_and_padding(rng: np.random.Generator) -> None:
    img = rng.integers(0, 256, size=(37, 45, 3), dtype=np.uint8)  # not a multiple of 8: zero padding
    f = sseq.sseq_features(img)
    assert f.shape == (12,) and np.isfinite(f).all()


# --- LIBSVM predictor -----------------------------------------------------------------------------


def test_multiclass_probability_recovers_consistent_pairwise() -> None:
    p = np.array([0.1, 0.2, 0.3, 0.15, 0.25])
    r = p[:, None] / (p[:, None] + p[None, :])
    np.fill_diagonal(r, 0.0)
    est = libsvm.multiclass_probability(r)
    assert est.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(est, p, atol=5e-3)


def test_sigmoid_predict_is_stable() -> None:
    d = np.array([-1000.0, -1.0, 0.0, 1.0, 1000.0])
    out = libsvm.sigmoid_predict(d, np.array(1.0), np.array(0.0))
    np.testing.assert_allclose(out, 1 / (1 + np.exp(np.clip(d, -700, 700))), atol=1e-15)
    assert np.isfinite(out).all()


def test_sseq_model_structure(data_root: Path) -> None:
    model = sseq.load_model()
    clf = model.classifier
    assert clf.svm_type == libsvm.C_SVC and clf.kernel_type == libsvm.RBF and clf.n_class == 5
    assert clf.gamma == pytest.approx(1 / 12) and clf.svs.shape == (int(clf.n_sv.sum()), 12)
    assert all(r.svm_type == libsvm.NU_SVR for r in model.regressors)
    x = model.scale(np.tile((model.fmin + model.fmax) / 2, (3, 1)))
    np.testing.assert_allclose(x, 0.0, atol=1e-12)
    prob = clf.predict_probability(x)
    np.testing.assert_allclose(prob.sum(axis=1), 1.0, atol=1e-9)
    assert set(clf.predict(x)) <= set(clf.labels)


# --- BRISQUE (OpenCV's quality module) -----------------------------------------------------------

# cv2.quality.QualityBRISQUE_compute(cv2.imread(file), brisque_model_live.yml, brisque_range_live.yml) with
# opencv-contrib-python-headless 5.0.0.93 (the contrib build is not a dependency; values recorded here).
BRISQUE_REFERENCE: list[tuple[str, float]] = [
    ("images/iqa-calibration/dist_dir/I03.bmp", 84.464027),
    ("images/iqa-calibration/dist_dir/I04.bmp", 0.000000),
    ("images/iqa-calibration/dist_dir/I06.bmp", 1.292915),
    ("images/iqa-calibration/dist_dir/I08.bmp", 7.911005),
    ("images/iqa-calibration/dist_dir/I19.bmp", 83.813362),
    ("images/iqa-calibration/ref_dir/I03.bmp", 5.235432),
    ("images/iqa-calibration/ref_dir/I06.bmp", 1.319509),
    ("images/iqa-calibration/ref_dir/I08.bmp", 4.868052),
    ("images/iqa-calibration/ref_dir/I19.bmp", 16.982347),
    ("weights/iqa/sseq/reference_img.bmp", 51.580971),
    ("rain/Real147/1.jpg", 8.836930),
    ("rain/Real147/3.jpg", 25.925095),
    ("rain/Real147/8.jpg", 31.489494),
    ("rain/Real147/10.jpg", 38.680759),
]


def _kernel_rounding_sigma(model: brisque.BRISQUEModel, features: np.ndarray, trials: int = 200) -> float:
    """The score's standard deviation when each float32 RBF kernel value moves by one ulp (seeded signs).

    That is what differs between CPUs: OpenCV's float32 ``exp`` (and blur/resize kernels) dispatch per
    instruction set, and the SVR multiplies each kernel value by an alpha of up to ±1024 over 774
    support vectors. The decision function here is written independently, in float64.
    """
    x = -1 + 2 * (features.astype(np.float64) - model.feature_min) / (model.feature_max - model.feature_min)
    distances = ((model.support_vectors.astype(np.float64) - x[None]) ** 2).sum(axis=1)
    kernel = np.exp(-model.gamma * distances).astype(np.float32).astype(np.float64)
    alpha = model.alpha.ravel()
    signs = np.random.default_rng(0).choice([-1.0, 1.0], size=(trials, kernel.size))
    moved = (alpha * kernel * signs * 2.0**-24).sum(axis=1)  # score change of each ±1-ulp pattern
    return float(np.std(moved))


@pytest.mark.calibration
def test_brisque_matches_opencv_quality(data_root: Path) -> None:
    """Ours vs ``cv2.quality`` values recorded on an AVX2 CPU, within 4 sigma of float32 rounding noise.

    The noise model is measured here, on this machine (sigma ≈ 1.1e-3 per image); observed deviations are
    <= 2.2e-3 on an AVX-512 CPU and <= 1e-3 on an AVX2 one. A real error (a wrong feature, a wrong
    scaling, a wrong kernel) moves the score by far more than 4 sigma.
    """
    from bench.data.images import read_image

    model = brisque.load_model()
    for file, expected in BRISQUE_REFERENCE:
        image = read_image(data_root / file)
        features = brisque.brisque_features(image)
        got = float(model.predict(features[None])[0])
        assert got == brisque.brisque(image)  # the public function is this code path
        if expected == 0.0:  # clamped at 0 on both sides (the raw decision is negative)
            assert got == 0.0, file
            continue
        bound = 4 * _kernel_rounding_sigma(model, features)
        assert abs(got - expected) <= bound, (file, got, expected, bound)


def test_brisque_aggd_fit_follows_opencv_walk(rng: np.random.Generator) -> None:
    x = rng.standard_normal((300, 300)).astype(np.float32)
    lsig, _, g = brisque.aggd_fit(x)
    assert g == pytest.approx(2.0, abs=0.05) and lsig == pytest.approx(1.0, rel=0.02)
    x[:10] = np.nan  # NaN pixels count as zeros (OpenCV's max/min/patchNaNs semantics)
    lsig2, _, _ = brisque.aggd_fit(x)
    assert math.isfinite(lsig2)


# --- bench score ----------------------------------------------------------------------------------


def test_cli_score_folder_with_unreadable_file(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.cli import main
    from bench.data.images import read_image, write_image

    folder = tmp_path / "imgs"
    (folder / "sub").mkdir(parents=True)
    img = read_image(data_root / "images/iqa-calibration/ref_dir/I04.bmp")
    write_image(folder / "sub" / "10.png", img)
    write_image(folder / "2.png", img[:200, :300])
    (folder / "broken.png").write_bytes(b"not an image")
    code = main(
        [
            "score",
            "--metrics",
            "niqe",
            "--metrics",
            "sseq",
            str(folder),
            "--no-progress",
            "--output",
            str(tmp_path / "out.csv"),
        ]
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 1  # one file failed
    assert lines[0] == "file,niqe,sseq,error"
    rows = list(csv.DictReader(lines))
    assert [r["file"] for r in rows] == ["2.png", "broken.png", "sub/10.png"]  # natural order, recursive
    # The CLI gives what the library gives for the same pixels (calibration is tested above).
    assert float(rows[2]["niqe"]) == pytest.approx(niqe.niqe_batch([img])[0], abs=1e-9)
    assert float(rows[2]["sseq"]) == pytest.approx(sseq.sseq_batch([img])[0], abs=1e-9)
    assert rows[1]["error"] and math.isnan(float(rows[1]["niqe"]))
    assert not rows[0]["error"] and math.isfinite(float(rows[0]["sseq"]))
    assert (tmp_path / "out.csv").read_text().splitlines() == lines


def test_cli_score_full_reference_needs_ref(data_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.cli import main

    dist = data_root / "images/iqa-calibration/dist_dir"
    ref = data_root / "images/iqa-calibration/ref_dir"
    assert main(["score", "-m", "psnr_y", str(dist / "I03.bmp")]) == 2
    assert "need --ref" in capsys.readouterr().err
    code = main(
        [
            "score",
            "-m",
            "psnr_y",
            "-m",
            "niqe",
            str(dist / "I03.bmp"),
            str(dist / "I08.bmp"),
            "--ref",
            str(ref),
            "--no-progress",
        ]
    )
    rows = list(csv.DictReader(capsys.readouterr().out.strip().splitlines()))
    assert code == 0 and [r["file"] for r in rows] == ["I03.bmp", "I08.bmp"]
    assert all(10 < float(r["psnr_y"]) < 60 for r in rows)
    code = main(["score", "-m", "psnr_y", str(dist / "I03.bmp"), "--ref", str(ref / "I03.bmp"), "--no-progress"])
    single = list(csv.DictReader(capsys.readouterr().out.strip().splitlines()))
    assert code == 0 and single[0]["psnr_y"] == rows[0]["psnr_y"]
