"""Per-class AP, AP by object size, image conditions in rows, and sweeps/splits from stored detections (#22 item 9)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from bench.evaluators.base import Detections, GroundTruth
from bench.evaluators.scoring import CocoDetectionScorer
from bench.stats.conditions import confidence_sweep, group_ids, split_scores
from tests.conftest import write_yolo_source


def test_ap_breakdown_per_class_and_size() -> None:
    """Class 0 (a large object) found exactly, class 2 (a small one) missed: AP 1 and 0, by size alike."""
    gt = GroundTruth(np.array([[0, 0, 120, 120.0], [200, 200, 210, 210]]), np.array([0, 2]))
    det = Detections(np.array([[0, 0, 120, 120.0], [100, 200, 110, 210]]), np.array([0.9, 0.8]), np.array([0, 2]))
    scorer = CocoDetectionScorer()
    scorer.update([det], [gt], shapes=[(256, 256)])
    scores = scorer.compute()
    breakdown = scorer.ap_breakdown()["bbox"]
    per_class = breakdown["per_class"]
    assert set(per_class) == {"0", "2"}  # classes with objects, by contiguous class index
    assert per_class["0"] == pytest.approx({"ap": 1.0, "ap50": 1.0, "n_objects": 1})
    assert per_class["2"] == pytest.approx({"ap": 0.0, "ap50": 0.0, "n_objects": 1})
    assert scores["map50_95"] == pytest.approx(np.mean([c["ap"] for c in breakdown["per_class"].values()]))
    by_size = breakdown["by_size"]
    assert by_size["large"] == pytest.approx({"ap": 1.0, "ap50": 1.0, "n_objects": 1})  # 14400 px² >= 96²
    assert by_size["small"]["ap"] == 0.0 and by_size["small"]["n_objects"] == 1  # 100 px² < 32²
    assert by_size["medium"] == {"ap": None, "ap50": None, "n_objects": 0}  # no medium object: undefined
    assert breakdown["area_ranges"]["small"] == [0.0, 32.0**2]


def test_confidence_sweep_counts() -> None:
    gt = GroundTruth(np.array([[0, 0, 10, 10.0], [20, 20, 30, 30]]), np.array([0, 0]))
    det = Detections(
        np.array([[0, 0, 10, 10.0], [20, 20, 30, 30], [40, 40, 50, 50]]), np.array([0.9, 0.5, 0.7]), np.zeros(3, int)
    )
    entries = [("a", (64, 64), gt, {"rainy": det})]
    sweep = confidence_sweep(entries, "rainy", thresholds=(0.4, 0.6, 0.8, 0.95))
    assert [(p["tp"], p["fp"], p["fn"]) for p in sweep] == [(2, 1, 0), (1, 1, 1), (1, 0, 1), (0, 0, 2)]
    assert [p["recall"] for p in sweep] == [1.0, 0.5, 0.5, 0.0]
    assert sweep[0]["precision"] == pytest.approx(2 / 3) and math.isnan(sweep[3]["precision"])
    assert confidence_sweep(entries, "rainy", thresholds=(0.4,), ids=["b"])[0]["tp"] == 0


def test_conditions_in_rows_breakdown_in_record_and_splits_from_state(tmp_path: Path) -> None:
    from bench.data.builders import RainMix, build_labelled
    from bench.results.state import DetectionLog, read_state, state_path
    from bench.tasks.config import RunConfig
    from bench.tasks.downstream import DetectionTask

    write_yolo_source(tmp_path / "src")
    mix = RainMix(presets=(("coco350-day", 1.0), ("coco350-night", 1.0)))
    build_labelled(tmp_path / "src", tmp_path / "set", seed=4, mix=mix, progress=False)
    cfg = RunConfig(
        task="detection",
        derainer="identity",
        dataset=str(tmp_path / "set"),
        output_dir=str(tmp_path / "runs"),
        weights=None,
        options={"evaluator": "dummy_detector", "score_threshold": 0.2},
    )
    record = DetectionTask(cfg).run()
    rows = record["rows"]
    assert record["metrics"]["clean.map50"] > 0 and sum(r["clean.tp"] for r in rows) > 0
    assert {r["rain_preset"] for r in rows} == {"coco350-day", "coco350-night"}
    assert all(r["time_of_day"] == ("night" if r["rain_preset"] == "coco350-night" else "day") for r in rows)
    assert set(record["ap_breakdown"]) == {"clean", "rainy", "derained"}
    assert set(record["ap_breakdown"]["rainy"]["bbox"]["per_class"]) <= {"0", "1"}

    entries = list(DetectionLog.replay(read_state(state_path(record["_path"])), ("clean", "rainy", "derained")))
    splits = split_scores(entries, rows, record["evaluator"]["scoring"], thresholds=(0.2,))
    assert set(splits) == {"time_of_day", "rain_preset"}
    from bench.stats.conditions import record_splits

    stored = record_splits(record["_path"], thresholds=(0.2,))  # from the files alone (NaN-safe comparison)
    assert json.dumps(stored, sort_keys=True) == json.dumps(splits, sort_keys=True)
    night = group_ids(rows, "time_of_day")["night"]
    assert splits["time_of_day"]["night"]["n_images"] == len(night)
    for cond in ("clean", "rainy", "derained"):
        # the groups' operating-point counts add up to the record's per-image counts
        for field in ("time_of_day", "rain_preset"):
            tp = sum(block[cond]["sweep"][0]["tp"] for block in splits[field].values())
            assert tp == sum(r[f"{cond}.tp"] for r in rows)
        whole = confidence_sweep(entries, cond, thresholds=(0.2,))[0]
        if not math.isnan(whole["precision"]):
            assert whole["precision"] == pytest.approx(record["metrics"][f"{cond}.precision"])


def test_ap_breakdown_without_detections_is_zero_where_objects_are() -> None:
    gt = GroundTruth(np.array([[0, 0, 120, 120.0]]), np.array([3]))
    scorer = CocoDetectionScorer()
    scorer.update([Detections(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int))], [gt], shapes=[(128, 128)])
    assert scorer.compute()["map50_95"] == 0.0
    breakdown = scorer.ap_breakdown()["bbox"]
    assert breakdown["per_class"] == {"3": {"ap": 0.0, "ap50": 0.0, "n_objects": 1}}
    assert breakdown["by_size"]["large"]["ap"] == 0.0 and breakdown["by_size"]["small"]["ap"] is None
