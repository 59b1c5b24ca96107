"""One schema for a downstream evaluator's identity in records (bench.evaluators.info), and readers that
accept the old ``sha256`` key of records written before it (issue 19)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.evaluators.dummy import DummyDetector, DummySegmenter
from bench.evaluators.info import EvaluatorInfo, evaluator_record, normalized, weights_sha256
from bench.report.downstream import evaluator_note
from bench.results.frames import evaluator_options, protocol_id

ROOT = Path(__file__).resolve().parents[1]
SHA = "a7" * 32


def _record(**evaluator: Any) -> dict[str, Any]:
    return {
        "task": "semantic",
        "config": {"quantize": "round", "crop_multiple": 1, "options": {"evaluator": "espnetv2"}},
        "evaluator": {"name": "espnetv2", "evaluator": "espnetv2", "weights": "/w/espnetv2.pth", **evaluator},
    }


def test_info_is_the_flat_record_mapping_and_reads_back() -> None:
    info = EvaluatorInfo("YoloDetector", "/w/y.tflite", SHA, backend="ultralytics", options={"conf": 0.001})
    stored = evaluator_record("yolo", info)
    assert stored == {
        "name": "yolo",
        "evaluator": "YoloDetector",
        "backend": "ultralytics",
        "weights": "/w/y.tflite",
        "weights_sha256": SHA,
        "conf": 0.001,
    }
    assert dict(info) == info.to_record() and info["conf"] == 0.001
    back = EvaluatorInfo.from_record({**stored, "scoring": {"max_dets": 100}})
    assert back == info  # name and scoring are the task's, not the evaluator's
    with pytest.raises(ValueError, match="sha256"):
        EvaluatorInfo("x", None, None, options={"sha256": SHA})


def test_builtin_evaluators_describe_themselves_in_the_schema() -> None:
    for model in (DummyDetector(), DummySegmenter()):
        info = model.describe()
        assert isinstance(info, EvaluatorInfo)
        assert info.weights is None and info.weights_sha256 is None
        assert "weights_sha256" in evaluator_record("dummy", info)


def test_a_plugin_mapping_with_the_old_key_is_stored_in_the_schema() -> None:
    stored = evaluator_record("plugin", {"evaluator": "Mine", "weights": "w.pt", "sha256": SHA, "conf": 0.5})
    assert stored == {"name": "plugin", "evaluator": "Mine", "weights": "w.pt", "weights_sha256": SHA, "conf": 0.5}
    assert normalized({"sha256": SHA, "weights_sha256": None}) == {"weights_sha256": SHA}


def test_readers_give_the_same_answer_for_the_old_and_the_new_key() -> None:
    old, new = _record(sha256=SHA), _record(weights_sha256=SHA)
    assert weights_sha256(old["evaluator"]) == weights_sha256(new["evaluator"]) == SHA
    assert evaluator_options(old) == evaluator_options(new)
    assert evaluator_options(new)["weights_sha256"] == SHA[:16]
    assert protocol_id(old) == protocol_id(new)  # old and new records group together in reports
    assert evaluator_note(old) == evaluator_note(new)
    assert f"(sha256 {SHA[:12]})" in evaluator_note(old)


def test_committed_records_with_the_old_key_stay_readable() -> None:
    # verbatim copy of reports/runs/semantic-RainCityscapes-identity-5f469ced.json as committed in 0cfd644, before
    # the schema (the committed reports have since been regenerated with the new key)
    path = ROOT / "tests/data/legacy/semantic-RainCityscapes-identity-0cfd644.json"
    record = json.loads(path.read_text())
    assert "sha256" in record["evaluator"] and "weights_sha256" not in record["evaluator"]  # written before
    expected = record["evaluator"]["sha256"]
    assert evaluator_options(record)["weights_sha256"] == expected[:16]
    assert f"sha256 {expected[:12]}" in evaluator_note(record)
    assert EvaluatorInfo.from_record(record["evaluator"]).weights_sha256 == expected
