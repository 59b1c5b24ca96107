"""Review of the report and statistics code: each test failed before its fix (see the test's docstring)."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from bench.report.breakdown import ap_tables
from bench.report.conditions import _operating_point
from bench.report.figures import _error_bars
from bench.report.grids import comparison_grid
from bench.report.intervals import summary_lines
from bench.report.pivot import pivot_table
from bench.report.table import Column, Table
from bench.stats.bootstrap import BootstrapSettings
from bench.stats.intervals import Member, compare, record_intervals
from bench.stats.samples import OperatingPoint, RecordData, record_data

SETTINGS = BootstrapSettings(n_resamples=200)


# ---------------------------------------------------------------------------------------------- rendering
def test_markdown_escapes_pipes_and_line_breaks_in_cells() -> None:
    """A ``|`` in a row name (a weights file ``a|b.pt``) ended the cell and shifted every column after it."""
    t = Table("t", [Column("v", "v")], rows=[{"name": "MSPFN (a|b.pt)", "v": 1.0}, {"name": "two\nlines", "v": 2.0}])
    body = [line for line in t.to_markdown().splitlines() if line.startswith("|")]
    assert len(body) == 4  # header, rule, two rows: no row broken by a newline
    for line in body:
        assert len(line.replace("\\|", "").split("|")) == 4, line  # | name | v | -> 3 separators
    assert "MSPFN (a\\|b.pt)" in body[2]


def test_cells_that_print_the_same_best_value_are_all_bold() -> None:
    """30.004 and 30.001 both print 30.00, but only the first was bold, as if it were better."""
    rows: list[dict[str, object]] = [{"name": "a", "v": 30.004}, {"name": "b", "v": 30.001}, {"name": "c", "v": 29.0}]
    md = Table("t", [Column("v", "v", True)], rows=rows).to_markdown()
    assert md.count("**30.00**") == 2 and "**29.00**" not in md


def test_a_bound_row_is_never_bold_even_when_it_equals_the_best() -> None:
    """A Clean (upper bound) row whose value equals the best derainer's was bold in the base Table."""
    rows: list[dict[str, object]] = [
        {"name": "a", "v": 1.0},
        {"name": "b", "v": 2.0},
        {"name": "Clean", "v": 2.0, "_unranked": True},
    ]
    clean = Table("t", [Column("v", "v", True)], rows=rows).to_markdown().splitlines()[-1]
    assert clean.startswith("| Clean") and "**" not in clean


def test_csv_notes_with_line_breaks_stay_comments() -> None:
    """A note with a line break (an error message) put its second line into the CSV as a data row."""
    text = Table("t", [Column("v", "v")], rows=[{"name": "a", "v": 1.0}], notes=["first\nsecond"]).to_csv()
    data = [row for row in csv.reader(io.StringIO(text)) if row and not row[0].startswith("#")]
    assert data == [["method", "v"], ["a", "1.0"]]


# ---------------------------------------------------------------------------------------------- AP breakdown
def _breakdown(person: float, car: float) -> dict[str, Any]:
    per_class = {"0": {"ap": person, "n_objects": 5}, "2": {"ap": car, "n_objects": 3}}
    return {"bbox": {"per_class": per_class, "by_size": {}}}


def _ap_record(name: str, person: float, car: float) -> dict[str, Any]:
    return {
        "task": "detection",
        "run_id": name,
        "created": name,
        "derainer": {"name": name},
        "dataset": {"name": "d", "path": "/nonexistent/d"},
        "config": {},
        "metrics": {"derained.map50": 0.5},
        "rows": [{"id": "1"}],
        "evaluator": {"name": "yolo"},
        "ap_breakdown": {
            "rainy": _breakdown(0.1, 0.2),
            "clean": _breakdown(0.3, 0.4),
            "derained": _breakdown(person, car),
        },
    }


def test_ap_breakdown_does_not_rank_classes_within_a_derainer() -> None:
    """Each derainer column bolded its best *class*: MSPFN's 50 % on cars was bold though PReNet had 60 %."""
    table = ap_tables([_ap_record("prenet", 0.2, 0.6), _ap_record("mspfn", 0.25, 0.5)])[0]
    assert table.best() == {}
    assert not any("**" in line for line in table.to_markdown().splitlines() if line.startswith("|"))


# ---------------------------------------------------------------------------------------------- conditions
def test_operating_point_note_names_the_variant_that_was_rescored() -> None:
    """Records from before the IoU readings are rescored with 'matched' pairs, but the note said 'overlap'."""
    assert "'matched'" in _operating_point({}) and "'overlap'" in _operating_point({"iou_variant": "overlap"})


# ---------------------------------------------------------------------------------------------- one image
def _mean_member(name: str, values: list[float]) -> Member:
    rows = [{"id": str(i), "psnr_y": v} for i, v in enumerate(values)]
    return Member(name, {}, record_data({"rows": rows, "metrics": {"psnr_y": 0.0}}, None))


def _set_level_member(name: str, tp: float) -> Member:
    counts = np.array([[tp, 1.0, 1.0, *([0.5, 1.0] * 4)]])
    return Member(name, {}, RecordData(["a"], [OperatingPoint("derained", counts, iou_variant="matched")], {}))


def test_a_difference_on_one_image_has_no_interval_and_no_bootstrap_p() -> None:
    """On one image every resample is that image: the interval was [Δ, Δ] (marked as excluding 0) and the
    shifted bootstrap gave p = 1/(1 + B), 'p < 0.001', from a single image."""
    (mean,) = compare([_mean_member("a", [20.0]), _mean_member("b", [21.0])], ["psnr_y"], SETTINGS)
    assert mean.interval.estimate == 1.0 and math.isnan(mean.interval.lo) and math.isnan(mean.interval.hi)
    assert not mean.interval.excludes_zero() and mean.interval.p_value == 1.0  # exact sign-flip: cannot reject
    (ratio,) = compare([_set_level_member("a", 1.0), _set_level_member("b", 3.0)], ["precision"], SETTINGS)
    assert ratio.interval.estimate > 0 and not ratio.interval.excludes_zero()
    assert ratio.interval.p_value is None and ratio.interval.test is None
    (two,) = compare([_mean_member("a", [20.0, 22.0]), _mean_member("b", [21.0, 23.5])], ["psnr_y"], SETTINGS)
    assert (two.interval.lo, two.interval.hi) == (1.0, 1.5)  # two images: an interval as before


def test_a_record_of_one_image_has_no_interval_and_says_why() -> None:
    rows = [{"id": "a", "rainy.psnr_y": 20.0, "derained.psnr_y": 22.0}]
    metrics = {"rainy.psnr_y": 20.0, "derained.psnr_y": 22.0, "gain.psnr_y": 2.0}
    block = record_intervals({"task": "noref", "rows": rows, "metrics": metrics}, None, SETTINGS)
    gain = block["metrics"]["gain.psnr_y"]
    assert gain["estimate"] == 2.0 and math.isnan(gain["lo"]) and math.isnan(gain["hi"])
    rec = {
        "task": "detection",
        "derainer": {"name": "x"},
        "rows": [{"id": "a"}],
        "metrics": {"rainy.map50_95": 0.1, "derained.map50_95": 0.3, "gain.map50_95": 0.2},
        "intervals": {
            "n_images": 1,
            "settings": SETTINGS.describe(),
            "metrics": {"gain.map50_95": {"estimate": 0.2, "lo": "nan", "hi": "nan", "se": "nan"}},
        },
    }
    (line,) = summary_lines([rec])[1:]
    assert "+20.00 pp" in line and "1 image cannot show" in line and "per-image data" not in line


# ---------------------------------------------------------------------------------------------- pivot
def test_pivot_labels_random_networks_and_leaves_shards_out() -> None:
    """A random-init MSPFN replaced the trained MSPFN's cell under the row 'mspfn' (the newest record
    wins), and a shard (a quarter of the images) was shown, bold, as the model's score."""
    base = {"task": "restoration", "dataset": {"name": "Rain100L"}, "config": {"quantize": "trunc", "crop_multiple": 8}}
    records = [
        {**base, "derainer": {"name": "mspfn"}, "metrics": {"psnr_y": 38.0}, "created": "1"},
        {**base, "derainer": {"name": "mspfn", "random_init": True}, "metrics": {"psnr_y": 12.0}, "created": "2"},
        {
            **base,
            "derainer": {"name": "prenet"},
            "metrics": {"psnr_y": 40.0},
            "created": "3",
            "config": {"shard": "0/4"},
        },
    ]
    t = pivot_table(records, "derainer:dataset:psnr_y")
    assert [(r["name"], r.get("Rain100L")) for r in t.rows] == [("mspfn", 38.0), ("mspfn (random init)", 12.0)]
    assert any("1 shard record(s) not shown" in n for n in t.notes)
    assert [r["name"] for r in pivot_table(records, "label:dataset:psnr_y").rows] == ["MSPFN", "MSPFN (random init)"]


# ---------------------------------------------------------------------------------------------- labels
def _weights_record(path: str, lo: float, hi: float, images_dir: str = "") -> dict[str, Any]:
    return {
        "task": "detection",
        "derainer": {"name": "mspfn", "weights": {"path": path}},
        "dataset": {"name": "d", "path": "/nonexistent/d"},
        "rows": [{"id": "1"}],
        "metrics": {"gain.map50": 0.1, "derained.psnr_y": 20.0},
        "intervals": {"metrics": {"gain.map50": {"estimate": 0.1, "lo": lo, "hi": hi, "se": 0.01}}},
        **({"images_dir": images_dir} if images_dir else {}),
    }


def test_error_bars_of_two_checkpoints_of_one_model_are_their_own() -> None:
    """Two MSPFN checkpoints shared the label 'MSPFN': the second one's interval was drawn on both points."""
    bars = _error_bars([_weights_record("/r/a.pt", 0.05, 0.15), _weights_record("/r/b.pt", 0.0, 0.3)], "gain.map50")
    assert set(bars) == {"MSPFN (a.pt)", "MSPFN (b.pt)"}
    assert np.allclose(bars["MSPFN (a.pt)"], [[0.05], [0.05]]) and np.allclose(bars["MSPFN (b.pt)"], [[0.1], [0.2]])


def test_comparison_grid_draws_each_checkpoints_own_boxes(tmp_path: Path) -> None:
    """The grid looked boxes up by label: both MSPFN columns showed the second checkpoint's detections."""
    from bench.data.images import write_image

    records = []
    for name, n_boxes in (("a", 1), ("b", 3)):
        folder = tmp_path / name
        folder.mkdir()
        write_image(folder / "1.png", np.full((16, 16, 3), 128, np.uint8))
        boxes = [[1.0, 1.0, 8.0, 8.0, 0.9, 0]] * n_boxes
        (folder / "predictions.json").write_text(json.dumps({"1": {"derained": boxes}}), encoding="utf-8")
        rec = _weights_record(f"/r/{name}.pt", 0.0, 0.1, images_dir=str(folder))
        rec["predictions_file"] = str(folder / "predictions.json")
        records.append(rec)
    grid = comparison_grid(records, n_examples=1)
    assert grid is not None
    cells = {label: caption for label, _, caption in grid.rows[0].cells}
    assert cells["MSPFN (a.pt)"].startswith("1 boxes") and cells["MSPFN (b.pt)"].startswith("3 boxes")


def test_an_interval_stored_over_one_image_by_an_older_bench_is_not_shown_as_certain() -> None:
    """Records written before the fix hold [Δ, Δ] and the bootstrap's p = 1/(1 + B) for one image."""
    from bench.report.intervals import record_cell_interval

    stored = {"estimate": 0.2, "lo": 0.2, "hi": 0.2, "se": 0.0, "p_value": 1 / 1001, "test": "bootstrap"}
    rec = {
        "task": "detection",
        "derainer": {"name": "x"},
        "rows": [{"id": "a"}],
        "metrics": {"rainy.map50_95": 0.1, "derained.map50_95": 0.3, "gain.map50_95": 0.2},
        "intervals": {"n_images": 1, "settings": SETTINGS.describe(), "metrics": {"gain.map50_95": stored}},
    }
    assert record_cell_interval(rec, "gain.map50_95", 100.0, difference=True) is None
    (line,) = summary_lines([rec])[1:]
    assert "p <" not in line and "an improvement" not in line and "1 image cannot show" in line
