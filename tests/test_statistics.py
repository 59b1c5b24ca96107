"""Paired-bootstrap intervals, paired tests and power (bench.stats, docs/statistics.md).

Properties pinned here: the fast mAP equals pycocotools on the full set (1e-9); identity-vs-identity gains
have the interval [0, 0] exactly; 95 % intervals cover a known effect in 92–97.5 % of 400 seeded
repetitions; their half-width shrinks as 1/√n; the same seed and records give the same intervals.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.evaluators.base import Detections, GroundTruth
from bench.evaluators.scoring import CocoDetectionScorer, CocoInstanceScorer
from bench.evaluators.semantic_scoring import SemanticScorer
from bench.results.merge import merge_shards
from bench.results.state import read_state, state_path
from bench.stats.bootstrap import (
    BootstrapSettings,
    Interval,
    holm,
    resample_counts,
    sign_flip_test,
)
from bench.stats.fast_map import CocoMatches
from bench.stats.intervals import Member, compare, record_intervals
from bench.stats.power import images_needed, power_at
from bench.stats.samples import ConfusionStatistic, OperatingPoint, operating_point_counts, record_data
from bench.stats.synthetic import synthetic_detections, synthetic_truths
from bench.tasks.config import RunConfig
from bench.tasks.downstream import DetectionTask
from bench.tasks.semantic import SemanticTask
from tests.conftest import write_scene_pairs

REPO = Path(__file__).resolve().parents[1]


def _pycoco(truths, dets, shapes, scorer_cls=CocoDetectionScorer, **kwargs) -> tuple[float, ...]:
    scorer = scorer_cls(**kwargs)
    scorer.update(dets, truths, shapes=shapes)
    out = scorer.compute()
    if scorer_cls is CocoInstanceScorer:
        return out["mask_map50_95"], out["mask_map50"], out["box_map50_95"], out["box_map50"]
    return out["map50_95"], out["map50"]


# ---------------------------------------------------------------------------------------------- fast mAP
@pytest.mark.parametrize("seed, n, max_dets", [(0, 40, 100), (1, 25, 5), (2, 60, 100)])
def test_fast_map_equals_pycocotools_on_the_full_set(seed: int, n: int, max_dets: int) -> None:
    rng = np.random.default_rng(seed)
    truths, shapes = synthetic_truths(rng, n)  # empty images and crowd regions included
    dets = synthetic_detections(rng, truths, shapes, quality=0.6, clutter=30)
    dets[0] = Detections.empty()  # an image without detections
    dets[1].scores[:5] = 0.5  # ties in score
    ref = _pycoco(truths, dets, shapes, max_dets=max_dets)
    matches = CocoMatches.build(truths, dets, shapes, max_dets=max_dets)
    fast = matches.evaluate(np.ones((1, n)))
    assert abs(fast["map50_95"][0] - ref[0]) <= 1e-9 and abs(fast["map50"][0] - ref[1]) <= 1e-9
    # a resample equals pycocotools on the multiset of images it draws (copies of an image are new images);
    # exact when no two detections tie in score (with ties, pycocotools' own order depends on the listing)
    for det in dets:
        det.scores = det.scores + rng.uniform(0, 1e-6, len(det.scores))
    matches = CocoMatches.build(truths, dets, shapes, max_dets=max_dets)
    weights = resample_counts(n, 3, seed=seed)
    fast = matches.evaluate(weights)
    for b in range(3):
        drawn = np.repeat(np.arange(n), weights[b].astype(int))
        ref = _pycoco(
            [truths[i] for i in drawn], [dets[i] for i in drawn], [shapes[i] for i in drawn], max_dets=max_dets
        )
        assert abs(fast["map50_95"][b] - ref[0]) <= 1e-9 and abs(fast["map50"][b] - ref[1]) <= 1e-9


def test_fast_map_segm_equals_pycocotools() -> None:
    rng = np.random.default_rng(5)
    truths, shapes = synthetic_truths(rng, 12, size=(48, 64))
    dets = synthetic_detections(rng, truths, shapes, quality=0.7, clutter=6)

    def masks(boxes: np.ndarray) -> np.ndarray:
        out = np.zeros((len(boxes), 48, 64), dtype=bool)
        for k, (x1, y1, x2, y2) in enumerate(np.clip(boxes, 0, [64, 48, 64, 48]).astype(int)):
            out[k, y1 : max(y2, y1 + 1), x1 : max(x2, x1 + 1)] = True
        return out

    for gt in truths:
        gt.masks = masks(gt.boxes)
    for det in dets:
        det.masks = masks(det.boxes)
    ref = _pycoco(truths, dets, shapes, CocoInstanceScorer)
    for iou_type, (m, m50) in (("segm", ref[:2]), ("bbox", ref[2:])):
        fast = CocoMatches.build(truths, dets, shapes, iou_type=iou_type).evaluate(np.ones((1, 12)))  # type: ignore[arg-type]
        assert abs(fast["map50_95"][0] - m) <= 1e-9 and abs(fast["map50"][0] - m50) <= 1e-9


def test_fast_map_edge_cases() -> None:
    gt = GroundTruth(np.array([[0, 0, 10, 10.0]]), np.array([0]))
    none = CocoMatches.build([gt, gt], [Detections.empty(), Detections.empty()], [(20, 20)] * 2)
    assert none.evaluate(np.ones((1, 2)))["map50_95"].tolist() == [0.0]  # ground truth, no detection: 0
    empty = GroundTruth()
    det = Detections(np.array([[0, 0, 4, 4.0]]), np.array([0.9]), np.array([1]))
    no_gt = CocoMatches.build([empty], [det], [(20, 20)])
    assert np.isnan(no_gt.evaluate(np.ones((1, 1)))["map50"][0])  # no ground truth at all: undefined
    with pytest.raises(ValueError, match="weights for 3 images"):
        none.evaluate(np.ones((1, 3)))


def test_operating_point_and_confusion_statistics_equal_the_scorers() -> None:
    rng = np.random.default_rng(3)
    truths, shapes = synthetic_truths(rng, 30)
    dets = synthetic_detections(rng, truths, shapes, quality=0.6)
    scorer = CocoDetectionScorer()
    scorer.update(dets, truths, shapes=shapes)
    ref = scorer.compute()
    counts = np.array([operating_point_counts(t, d, 0.6, 0.5) for t, d in zip(truths, dets)])
    got = OperatingPoint("rainy", counts).evaluate(np.ones((1, 30)))
    for key in ("precision", "recall", "iou", "iou_overlap", "iou_matched", "iou_gt_best", "iou_det_best"):
        assert got[f"rainy.{key}"][0] == pytest.approx(ref[key], abs=1e-12), key

    maps = [rng.integers(0, 4, (6, 7)) for _ in range(5)]
    labels = [np.where(rng.random((6, 7)) < 0.1, 255, rng.integers(0, 4, (6, 7))) for _ in range(5)]
    whole = SemanticScorer(4)
    per_image = []
    for p, t in zip(maps, labels):
        whole.add(p, t)
        one = SemanticScorer(4)
        one.add(p, t)
        per_image.append(one.confusion)
    got = ConfusionStatistic("clean", np.stack(per_image)).evaluate(np.ones((1, 5)))
    for key, value in whole.compute().items():
        assert got[f"clean.{key}"][0] == pytest.approx(value, abs=1e-12)


# ---------------------------------------------------------------------------------------------- intervals
def _noref_record(rainy: np.ndarray, derained: np.ndarray) -> dict:
    rows = [
        {"id": str(i), "rainy.m": float(a), "derained.m": float(b)} for i, (a, b) in enumerate(zip(rainy, derained))
    ]
    metrics = {"rainy.m": float(rainy.mean()), "derained.m": float(derained.mean())}
    metrics["gain.m"] = metrics["derained.m"] - metrics["rainy.m"]
    return {"task": "noref", "rows": rows, "metrics": metrics}


def test_coverage_of_a_known_effect() -> None:
    """95 % intervals of a per-image gain cover the true effect in 92–97.5 % of 400 seeded repetitions."""
    effect, covered = 0.3, 0
    for rep in range(400):
        rng = np.random.default_rng(1000 + rep)
        rainy = rng.normal(25.0, 3.0, 50)
        derained = rainy + effect + rng.normal(0.0, 1.0, 50)
        gain = record_intervals(_noref_record(rainy, derained), None)["metrics"]["gain.m"]
        covered += gain["lo"] <= effect <= gain["hi"]
    assert 0.92 <= covered / 400 <= 0.975, covered


def test_half_width_shrinks_as_one_over_sqrt_n() -> None:
    widths = {}
    for n in (20, 80):
        halves = []
        for rep in range(60):
            rng = np.random.default_rng([n, rep])
            rainy = rng.normal(25.0, 3.0, n)
            derained = rainy + 0.5 + rng.normal(0.0, 1.0, n)
            gain = Interval.from_dict(record_intervals(_noref_record(rainy, derained), None)["metrics"]["gain.m"])
            halves.append(gain.half_width)
        widths[n] = float(np.mean(halves))
    assert widths[20] / widths[80] == pytest.approx(2.0, abs=0.3)


def test_same_seed_same_intervals_and_another_seed_differs() -> None:
    rng = np.random.default_rng(0)
    record = _noref_record(rng.normal(0, 1, 30), rng.normal(0.2, 1, 30))
    first = record_intervals(record, None, BootstrapSettings(seed=7))
    assert record_intervals(record, None, BootstrapSettings(seed=7)) == first
    assert record_intervals(record, None, BootstrapSettings(seed=8)) != first
    assert first["settings"] == {"method": "percentile", "level": 0.95, "n_resamples": 1000, "seed": 7}
    bca = record_intervals(record, None, BootstrapSettings(method="bca"))["metrics"]["gain.m"]
    assert bca["lo"] < record["metrics"]["gain.m"] < bca["hi"]


def test_paired_tests_and_holm() -> None:
    assert sign_flip_test(np.zeros(8), 1000, 0) == (1.0, "sign-flip (exact)")
    assert sign_flip_test(np.ones(10), 1000, 0) == (2 / 1024, "sign-flip (exact)")  # all 2^10 sign patterns
    p, name = sign_flip_test(np.full(40, 0.2) + np.random.default_rng(0).normal(0, 0.1, 40), 2000, 0)
    assert name == "sign-flip" and p < 0.01
    assert holm([0.01, 0.04, 0.03]) == [0.03, 0.06, 0.06]
    assert images_needed(sigma=2.0, delta=1.0) == 32 and power_at(32, 2.0, 1.0) > 0.8


# ---------------------------------------------------------------------------------------------- tasks and reports
def _paired_set(root: Path, n: int = 6) -> None:
    write_scene_pairs(root, [f"img{i}" for i in range(n)], np.random.default_rng(0))


def _config(tmp_path: Path, task: str = "detection", **kw: object) -> RunConfig:
    evaluator = "dummy_segmenter" if task == "semantic" else "dummy_detector"
    fields: dict[str, object] = {
        "task": task,
        "derainer": "identity",
        "dataset": str(tmp_path / "set"),
        "output_dir": str(tmp_path / "runs"),
        "weights": "none",
        "options": {"evaluator": evaluator},
    }
    return RunConfig(**{**fields, **kw})  # type: ignore[arg-type]


def test_identity_gain_interval_is_exactly_zero(tmp_path: Path) -> None:
    _paired_set(tmp_path / "set")
    record = DetectionTask(_config(tmp_path)).run()
    block = record["intervals"]
    assert block["n_images"] == 6 and block["settings"]["n_resamples"] == 1000
    for key in ("map50_95", "map50", "precision", "recall", "iou", "iou_matched", "iou_gt_best"):
        gain = block["metrics"][f"gain.{key}"]
        assert (gain["lo"], gain["hi"], gain["p_value"]) == (0.0, 0.0, 1.0), key
    # the same per-image data rebuilds the record's numbers (full set, weights 1)
    data = record_data(record, read_state(state_path(record["_path"])))
    point = data.evaluate(np.ones((1, 6)))
    for key in ("rainy.map50_95", "derained.recall", "clean.map50"):
        assert point[key][0] == pytest.approx(record["metrics"][key], abs=1e-9)
    # identity vs identity, derainer against derainer: [0, 0] for every score, PSNR included
    member = Member("identity", record, data)
    for comparison in compare([member, Member("again", record, data)], ["map50_95", "recall", "psnr_y"]):
        assert (comparison.interval.lo, comparison.interval.hi) == (0.0, 0.0)


def test_semantic_intervals_and_merge(tmp_path: Path) -> None:
    _paired_set(tmp_path / "set")
    whole = SemanticTask(_config(tmp_path, "semantic", output_dir=str(tmp_path / "one"))).run()
    assert set(whole["intervals"]["metrics"]) >= {"rainy.miou", "gain.miou", "derained.pixel_acc"}
    state = read_state(state_path(whole["_path"]))
    assert state["semantic.rainy.per_image"].shape[0] == 6
    point = record_data(whole, state).evaluate(np.ones((1, 6)))
    assert point["rainy.miou"][0] == pytest.approx(whole["metrics"]["rainy.miou"], abs=1e-12)
    paths = []
    for i in range(2):
        rec = SemanticTask(_config(tmp_path, "semantic", shard=f"{i}/2", output_dir=str(tmp_path / "sh"))).run()
        paths.append(rec["_path"])
    out, merged = merge_shards(paths, tmp_path / "merged.json")
    assert merged["intervals"] == whole["intervals"]  # the merge rebuilds the intervals from the same images
    assert "semantic.ids" in read_state(state_path(out))


def test_run_summary_and_report_ci(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _paired_set(tmp_path / "set")
    common = ["--task", "detection", "--dataset", str(tmp_path / "set"), "-o", "evaluator=dummy_detector"]
    runs = ["--output-dir", str(tmp_path / "runs")]
    assert main(["run", "--derainer", "identity", "mspfn_tiny", "--weights", "none", *common, *runs]) == 0
    out = capsys.readouterr().out
    assert "gain pp [95% CI]" in out and "95 % paired-bootstrap interval" in out
    assert max(len(line) for line in out.splitlines()) <= 120  # the end-of-run summary fits a terminal
    assert "identity: +0.00 pp [+0.00, +0.00], p = 1.000 — not distinguishable from zero on 6 images." in out

    assert (
        main(
            ["report", "--runs", str(tmp_path / "runs"), "--ci", "--holm", "--power", "--csv", str(tmp_path / "t.csv")]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "**Paired comparisons — detection on" in text and "mspfn_tiny (random init) − identity: mAP50-95" in text
    assert "p (Holm)" in text and "**Power — detection on" in text
    assert "95% lo" in (tmp_path / "t.csv").read_text()
    page = tmp_path / "page.html"
    assert main(["report", "--runs", str(tmp_path / "runs"), "--ci", "--format", "html", "--output", str(page)]) == 0
    assert 'title="95% interval [' in page.read_text()  # HTML cells show their interval on hover
    assert main(["report", "--runs", str(tmp_path / "runs"), "--ci"]) == 0
    first = capsys.readouterr().out
    assert main(["report", "--runs", str(tmp_path / "runs"), "--ci"]) == 0
    assert capsys.readouterr().out == first  # same seed, same records: same intervals
    assert main(["report", "--runs", str(tmp_path / "runs"), "--ci", "--ci-seed", "3", "--ci-resamples", "200"]) == 0
    assert "200 resamples, seed 3" in capsys.readouterr().out
    assert main(["report", "--runs", str(tmp_path / "runs")]) == 0
    assert "±" not in capsys.readouterr().out  # intervals only with --ci
    stored = json.loads(next((tmp_path / "runs").glob("*identity*.json")).read_text())
    assert stored["intervals"]["metrics"]["gain.map50_95"]["test"] == "bootstrap"


def test_timing_benchmark_script_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import bench_stats
    finally:
        sys.path.remove(str(REPO / "scripts"))
    assert bench_stats.main(["--images", "12", "--derainers", "2", "--resamples", "50", "--clutter", "8"]) == 0
    assert "bench report --ci, all 2 records' intervals" in capsys.readouterr().out


def test_summary_of_records_without_per_image_data_says_so() -> None:
    from bench.report.tables import render_run_summary
    from bench.results.record import find_records

    records = [r for _, r in find_records(REPO / "tests" / "data" / "records") if r["task"] == "detection"]
    text = render_run_summary(records)
    assert "(no interval: the record holds no per-image data to resample)" in text
    assert "No intervals for" in text


@pytest.mark.slow
def test_readme_main_job_prints_its_gain_with_an_interval(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m bench run --derainer identity prenet --task detection` (embedded set, real YOLO and PReNet)."""
    import re

    assert main(["run", "--derainer", "identity", "prenet", "--task", "detection", "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Gain in mAP50-95 (derained − rainy) with its 95 % paired-bootstrap interval" in out
    assert max(len(line) for line in out.splitlines()) <= 120  # no line of the README main job's summary wraps
    line = next(line for line in out.splitlines() if line.strip().startswith("PReNet ("))
    assert re.match(r"\s+PReNet \(\S+\): [+-]\d+\.\d\d pp \[[+-]\d+\.\d\d, [+-]\d+\.\d\d\], p [=<] [\d.]+ — ", line), (
        line
    )
    assert line.endswith(("on 5 images.", "(5 images)."))


def test_summary_says_when_the_test_and_the_interval_disagree() -> None:
    from bench.report.intervals import summary_lines

    def record(lo: float, hi: float, p: float) -> dict[str, object]:
        interval = {"estimate": 0.02, "lo": lo, "hi": hi, "se": 0.01, "p_value": p}
        return {
            "task": "detection",
            "derainer": {"name": "x"},
            "metrics": {"gain.map50_95": 0.02},
            "intervals": {
                "n_images": 5,
                "settings": {"n_resamples": 1000, "seed": 0},
                "metrics": {"gain.map50_95": interval},
            },
        }

    said = [summary_lines([record(*case)])[1] for case in ((-0.01, 0.05, 0.03), (0.01, 0.05, 0.2), (-0.01, 0.05, 0.4))]
    assert said[0].endswith("paired test rejects 0, interval does not: too few images (5) to say.")
    assert said[1].endswith("interval excludes 0, paired test does not: too few images (5).")
    assert said[2].endswith("not distinguishable from zero on 5 images.")
