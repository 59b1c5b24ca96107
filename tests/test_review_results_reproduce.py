"""Review of ``bench reproduce``: a check must not count as measured when it compared nothing."""

from __future__ import annotations

from typing import Any

import pytest

from bench.reproduce import checks as catalogue
from bench.reproduce.check_types import Check, Context, Expected, Measurement
from bench.reproduce.matlab_checks import _compare_rows
from bench.reproduce.render import summary_line
from bench.reproduce.runner import run_checks


def test_a_measurement_with_nothing_to_compare_is_not_measured() -> None:
    def measure(ctx: Context) -> Measurement:
        return Measurement(values={"psnr_y": 30.0}, n_items=3)  # no expected value, no reference value

    check = Check("empty", "metric", "x", "y", "p", "s", (), measure=measure)
    (outcome,) = run_checks([check], Context())
    assert outcome.status == "failed" and "no published or reference value" in outcome.reason
    assert "0 published numbers compared" in summary_line([outcome])


def test_a_run_that_scored_no_image_fails_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    def evaluate(*args: Any, **kwargs: Any) -> dict[str, Any]:
        # every image skipped: a downstream scorer of no images still gives a finite number (COCOeval's -1)
        return {
            "derainer": {"weights": None},
            "dataset": {"n_skipped": 4},
            "metrics": {"clean.map50": -1.0},
            "rows": [],
        }

    monkeypatch.setattr("bench.api.evaluate", evaluate)

    def measure(ctx: Context) -> Measurement:
        return catalogue._evaluate(
            ctx, derainer="identity", task="detection", dataset="coco8", weights=None, keys={"map50": "clean.map50"}
        )

    check = Check("no-images", "downstream", "x", "coco8", "p", "s", (Expected("map50", 0.6),), measure=measure)
    (outcome,) = run_checks([check], Context())
    assert outcome.status == "failed"
    assert "no image was scored" in outcome.reason


def test_reference_images_left_unscored_are_said() -> None:
    reference = {"1": {"psnr_y": 20.0}, "2": {"psnr_y": 21.0}, "3": {"psnr_y": 22.0}}
    measured = {"1": {"psnr_y": 20.0}}
    out = _compare_rows(reference, measured, ["psnr_y"])
    assert out.n_items == 1
    assert "2 of 3 reference images not scored" in out.notes["psnr_y"]


def test_images_skipped_by_a_measured_run_are_said(monkeypatch: pytest.MonkeyPatch) -> None:
    record = {"derainer": {"weights": None}, "dataset": {"n_skipped": 2}, "metrics": {"psnr_y": 30.0}, "rows": [{}]}
    monkeypatch.setattr("bench.api.evaluate", lambda *a, **k: record)

    def measure(ctx: Context) -> Measurement:
        return catalogue._evaluate(
            ctx, derainer="identity", task="restoration", dataset="Rain100L", weights=None, keys={"psnr_y": "psnr_y"}
        )

    check = Check("partial", "weights", "x", "Rain100L", "p", "s", (Expected("psnr_y", 31.0),), measure=measure)
    (outcome,) = run_checks([check], Context())
    assert outcome.status == "measured" and "2 image(s) skipped" in outcome.reason
    (limited,) = run_checks([check], Context(limit=5))
    assert limited.reason == "--limit 5: not the published set; 2 image(s) skipped (the record's issues)"
