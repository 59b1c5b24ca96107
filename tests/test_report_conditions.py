"""``bench report --conditions``: day/night and rain-preset splits and confidence sweeps from a stored record
(#22 item 9): the cells are record_splits' numbers, the CLI prints them, HTML draws the precision-recall curves."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pytest

from bench.cli import main
from tests.conftest import write_yolo_source


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A detection record (identity, dummy detector) on a set with day and night presets, on disk."""
    from bench.data.builders import RainMix, build_labelled

    root = tmp_path_factory.mktemp("conditions")
    write_yolo_source(root / "src")
    mix = RainMix(presets=(("coco350-day", 1.0), ("coco350-night", 1.0)))
    build_labelled(root / "src", root / "set", seed=4, mix=mix, progress=False)
    args = ["run", "--derainer", "identity", "--task", "detection", "--dataset", str(root / "set")]
    code = main(
        [
            *args,
            "--output-dir",
            str(root / "runs"),
            "-o",
            "evaluator=dummy_detector",
            "-o",
            "score_threshold=0.2",
            "--no-progress",
        ]
    )
    assert code == 0
    return root / "runs"


def _records(runs: Path) -> list[dict]:
    from bench.results.record import find_records

    out = []
    for path, rec in find_records(runs):
        rec["_path"] = str(path)
        out.append(dict(rec))
    return out


def _same(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=1e-12)  # type: ignore[arg-type]


def test_condition_tables_are_record_splits_numbers(stored: Path) -> None:
    from bench.report.conditions import TABLE_THRESHOLDS, condition_tables
    from bench.stats.conditions import record_splits

    (record,) = _records(stored)
    splits = record_splits(record["_path"])
    assert set(splits) == {"time_of_day", "rain_preset"} and set(splits["time_of_day"]) == {"day", "night"}
    tables = condition_tables([record])
    by_title = {t.title.split(" — ")[0]: t for t in tables}
    assert "By time of day" in by_title and "By rain preset" in by_title
    scores = by_title["By time of day"]
    assert len(scores.rows) == 2 * 3  # day, night × rainy, identity, clean
    for row in scores.rows:
        value, label = str(row["name"]).split(" · ")
        condition = {"Rain input (rainy)": "rainy", "Clean (upper bound)": "clean"}.get(label, "derained")
        block = splits["time_of_day"][value]
        assert row["n"] == block["n_images"]
        for key in ("precision", "recall", "iou", "map50", "map50_95"):
            expected = block[condition][key]
            assert _same(row[key], None if math.isnan(expected) else 100 * expected), (row["name"], key)
    clean = [row for row in scores.rows if "Clean" in str(row["name"])]
    assert [row["recall"] for row in clean] == [100.0, 100.0]  # the operating point (score >= 0.2) finds every box
    sweep = by_title["Confidence sweep, time of day = night (3 images)"]
    assert [row["name"] for row in sweep.rows] == [f"{t:.1f}" for t in TABLE_THRESHOLDS]
    for i, condition in ((0, "rainy"), (1, "derained"), (2, "clean")):
        points = {p["threshold"]: p for p in splits["time_of_day"]["night"][condition]["sweep"]}
        for row in sweep.rows:
            point = points[float(str(row["name"]))]
            for col, key in ((f"p{i}", "precision"), (f"r{i}", "recall")):
                assert _same(row[col], None if math.isnan(point[key]) else 100 * point[key]), (condition, row)
    # the dummy detector finds every clean box at a low threshold: the sweep is not all zeros
    assert sweep.rows[0]["r2"] == 100.0


def test_cli_prints_the_splits_and_html_draws_pr_curves(stored: Path, tmp_path: Path) -> None:
    from bench.stats.conditions import record_splits

    (record,) = _records(stored)
    splits = record_splits(record["_path"])
    out = tmp_path / "conditions.csv"
    assert main(["report", "--runs", str(stored), "--conditions", "--format", "csv", "--output", str(out)]) == 0
    text = out.read_text()
    night_rows = [r for r in csv.reader(io.StringIO(text)) if r and r[0] == "night · Rain input (rainy)"]
    assert len(night_rows) == 1
    n, precision = night_rows[0][1], night_rows[0][2]
    assert int(n) == splits["time_of_day"]["night"]["n_images"]
    expected = splits["time_of_day"]["night"]["rainy"]["precision"]
    assert (precision == "" and math.isnan(expected)) or float(precision) == pytest.approx(100 * expected)
    # without --conditions the default report has no split
    plain = tmp_path / "plain.csv"
    assert main(["report", "--runs", str(stored), "--format", "csv", "--output", str(plain)]) == 0
    assert "night · Rain input" not in plain.read_text()
    page = tmp_path / "report.html"
    assert main(["report", "--runs", str(stored), "--format", "html", "--output", str(page)]) == 0
    html = page.read_text()
    assert "By time of day" in html and "precision–recall by time of day" in html
    assert "precision–recall by rain preset" in html and "data:image/png;base64," in html
