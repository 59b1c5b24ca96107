"""`bench report` never puts incompatible records in one table (issue 21, "Defects seen").

Each test builds records the way the defects were seen: a trunc run under a quantize=round header, rows
scored on 3, 30 and 200 images side by side, a shard record shown as a row, two folders named `mine`
merged, duplicates repeated in Markdown while HTML kept the newest, the Clean row bold in Markdown.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from bench.cli import main
from bench.report.downstream import CLEAN, downstream_table
from bench.report.grouping import groups, select
from bench.report.tables import group_tables
from bench.results.frames import dataset_identity, load, protocol_id, protocol_text, scored_ids_hash

RECORDS = Path(__file__).resolve().parent / "data" / "records"


def _restoration(
    derainer: str, folder: Path, n: int, quantize: str = "round", created: str = "2026-01-01T00:00:00+00:00"
) -> dict[str, Any]:
    rec = json.loads((RECORDS / "restoration-Rain100L-prenet.json").read_text())
    rec["derainer"] = {"name": derainer, "params": 1, "weights": None, "reported": {}}
    rec["dataset"] = {"name": folder.name, "path": str(folder), "n_scored": n}
    rec["config"] = {"task": "restoration", "quantize": quantize, "crop_multiple": 1, "options": {}}
    rec["rows"] = [{"id": str(i), "psnr_y": 20.0 + i} for i in range(n)]
    rec["metrics"] = {"psnr_y": 20.0 + n / 10 + (quantize == "trunc"), "ssim_y": 0.8}
    rec["created"] = created
    rec["run_id"] = f"{derainer}-{folder.parent.name}-{n}-{quantize}-{created}"
    return rec


def _write(root: Path, records: list[dict[str, Any]]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i, rec in enumerate(records):
        (root / f"r{i:02d}.json").write_text(json.dumps(rec))


def _mixed_folder(tmp_path: Path) -> Path:
    """Mixed protocols, subsets (3, 30, 200 images), a shard, two folders named `mine` and a duplicate."""
    a, b = tmp_path / "a" / "mine", tmp_path / "b" / "mine"
    shard = _restoration("prenet", a, 1)
    shard["config"]["shard"] = "0/2"
    records = [
        _restoration("prenet", a, 3, "trunc"),
        _restoration("identity", a, 3, "round"),
        _restoration("prenet", a, 3, "round"),
        _restoration("identity", a, 30),
        _restoration("prenet", a, 200),
        _restoration("identity", a, 200),
        shard,
        _restoration("identity", b, 3),
        _restoration("prenet", b, 3, created="2026-01-01T00:00:00+00:00"),
        _restoration("prenet", b, 3, created="2026-02-01T00:00:00+00:00"),  # the newer duplicate
    ]
    runs = tmp_path / "runs"
    _write(runs, records)
    return runs


def _cells(markdown: str) -> str:
    """The table lines of a Markdown rendering (not its bold title)."""
    return "\n".join(line for line in markdown.splitlines() if line.startswith("|"))


def _rows_records(table: Any) -> list[dict[str, Any]]:
    return [r["_record"] for r in table.rows if isinstance(r.get("_record"), dict)]


def test_report_over_a_mixed_folder_gives_only_homogeneous_tables(tmp_path: Path) -> None:
    runs = _mixed_folder(tmp_path)
    tables = group_tables([dict(rec) for rec in map(json.loads, (p.read_text() for p in sorted(runs.glob("*.json"))))])
    assert len(tables) == 5  # (a: trunc/3, round/3, round/30, round/200), (b: round/3) and nothing else
    seen = 0
    for table in tables:
        recs = _rows_records(table)
        seen += len(recs)
        assert len({(dataset_identity(r), protocol_id(r), scored_ids_hash(r)) for r in recs}) == 1, table.title
        assert all(not r["config"].get("shard") for r in recs)
        # the header's protocol and image count are those of every row
        assert all(protocol_text(r) in table.title for r in recs), table.title
        assert all(f"{r['dataset']['n_scored']} images" in table.title for r in recs), table.title
    assert seen == 8  # 10 records − 1 shard − 1 superseded duplicate
    titles = [t.title for t in tables]
    assert sum("mine (" in t for t in titles) == len(titles)  # two folders named mine are told apart by path
    notes = "\n".join(n for t in tables for n in t.notes)
    assert "1 shard record(s) not shown" in notes and "merge first" in notes
    assert "1 older duplicate record(s)" in notes


def test_trunc_record_never_under_a_round_header(tmp_path: Path) -> None:
    """Defect: `prenet (Rain100L)` run with --quantize trunc sat in a table titled quantize=round."""
    a = tmp_path / "Rain100L"
    tables = group_tables([_restoration("identity", a, 3, "round"), _restoration("prenet", a, 3, "trunc")])
    assert len(tables) == 2
    for table in tables:
        (rec,) = _rows_records(table)
        assert f"quantize={rec['config']['quantize']}" in table.title


def test_subsets_are_not_ranked_side_by_side(tmp_path: Path) -> None:
    """Defect: rows scored on 3, 30 and 200 images side by side, one bolded as best."""
    a = tmp_path / "Rain100L"
    tables = group_tables([_restoration("prenet", a, n) for n in (3, 30, 200)])
    assert [len(t.rows) for t in tables] == [1, 1, 1]
    assert all("**" not in _cells(t.to_markdown()) for t in tables)
    mixed = group_tables([_restoration("prenet", a, n) for n in (3, 30, 200)], allow_mixed=True)
    assert len(mixed) == 1 and len(mixed[0].rows) == 3
    assert "MIXED subsets" in mixed[0].title and "**" not in _cells(mixed[0].to_markdown())


def test_shard_record_is_not_a_row(tmp_path: Path) -> None:
    shard = _restoration("prenet", tmp_path / "s", 1)
    shard["config"]["shard"] = "1/4"
    selection = select([shard, _restoration("identity", tmp_path / "s", 4)])
    assert [r["derainer"]["name"] for r in selection.records] == ["identity"]
    (table,) = group_tables([shard])
    assert not table.rows and "merge first" in table.to_markdown()


def test_two_folders_named_mine_are_two_tables(tmp_path: Path) -> None:
    """Defect: two different folders both named `mine` merged into one table (`restoration on mine`)."""
    recs = [_restoration("prenet", tmp_path / "x" / "mine", 3), _restoration("prenet", tmp_path / "y" / "mine", 3)]
    found = groups(select(recs).records)
    assert len(found) == 2
    assert {g.title_dataset for g in found} == {
        f"mine ({tmp_path / 'x' / 'mine'})",
        f"mine ({tmp_path / 'y' / 'mine'})",
    }


@pytest.mark.parametrize("fmt", ["markdown", "csv", "latex", "html"])
def test_duplicates_collapse_with_a_note_in_every_format(tmp_path: Path, fmt: str) -> None:
    """Defect: identical rows repeated in Markdown while HTML silently kept the newest."""
    a = tmp_path / "Rain100L"
    old = _restoration("prenet", a, 3, created="2026-01-01T00:00:00+00:00")
    new = _restoration("prenet", a, 3, created="2026-03-01T00:00:00+00:00")
    new["metrics"]["psnr_y"] = 33.33
    runs = tmp_path / "runs"
    _write(runs, [old, new])
    out = tmp_path / f"report.{fmt}"
    argv = ["report", "--runs", str(runs), "--format", fmt, "--output", str(out)]
    assert main(argv) == 0
    text = out.read_text()
    assert "1 older duplicate record(s)" in text and "collapsed to the newest" in text
    assert "33.33" in text
    if fmt != "html":  # the page's plots name the model too
        assert text.count("PReNet") == 1


@pytest.mark.parametrize("fmt", ["markdown", "latex", "html", "csv"])
def test_clean_row_never_bold_in_any_format(fmt: str) -> None:
    """Defect: the Clean row was bolded in Markdown although the HTML said the upper bound is never bold."""
    rec = json.loads((RECORDS / "semantic-BDD150-mspfn.json").read_text())
    worse = copy.deepcopy(rec)
    worse["derainer"]["name"] = "identity"
    worse["metrics"]["derained.miou"] = 0.1
    table = downstream_table([rec, worse])
    text = table.render(fmt)
    chunks = text.split("<tr") if fmt == "html" else text.splitlines()
    line = next(chunk for chunk in chunks if CLEAN in chunk)
    assert "**" not in line and "textbf" not in line and "<b>" not in line and "font-weight" not in line
    if fmt != "csv":
        assert any(m in text for m in ("**", "textbf", "<b>"))  # the best derainer is still bold


def test_html_to_a_terminal_is_refused(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Defect: `report --format html` without --output dumped ~230 kB into the terminal."""
    import sys

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert main(["report", "--runs", str(RECORDS), "--format", "html"]) != 0
    captured = capsys.readouterr()
    assert "--output FILE" in captured.err and "<html" not in captured.out


def test_frames_pivot_equals_the_rendered_numbers(tmp_path: Path) -> None:
    """The pivot of bench.results.load(...) gives the numbers of the rendered tables (their CSV)."""
    import io

    import pandas as pd

    runs = _mixed_folder(tmp_path)
    df = load(runs)
    df = df[df.shard.isna()].sort_values("created")
    df = df.drop_duplicates(["label", "dataset_id", "protocol_id", "ids_hash", "metric"], keep="last")
    pivot = df.pivot_table(index=["dataset_id", "protocol_id", "ids_hash", "label"], columns="metric", values="value")
    records = [json.loads(p.read_text()) for p in sorted(runs.glob("*.json"))]
    compared = 0
    for table in group_tables(records):
        rendered = pd.read_csv(io.StringIO(table.to_csv()), comment="#")
        headers = {c.key: c.header for c in table.columns}
        for (_, cells), row in zip(rendered.iterrows(), table.rows):
            rec = row["_record"]
            key = (dataset_identity(rec), protocol_id(rec), scored_ids_hash(rec), cells["method"])
            for metric in ("psnr_y", "ssim_y"):
                assert cells[headers[metric]] == pytest.approx(pivot.loc[key, metric]), (table.title, key, metric)
                compared += 1
    assert compared == 2 * len(pivot) == 16  # every record of the pivot is in exactly one table


def test_bars_start_at_the_rainy_input_with_values_printed(tmp_path: Path) -> None:
    """Defect: the psnr_y bar chart's axis started near 25 dB and exaggerated differences; no values shown."""
    from matplotlib.figure import Figure

    from bench.report.figures import _baseline_bars, restoration_plots

    ax = Figure().add_subplot()
    _baseline_bars(ax, ["a", "b"], [30.0, 24.5], 25.0, 2)
    assert [p.get_y() for p in ax.patches] == [25.0, 25.0]  # every bar starts at the stated baseline
    assert [round(p.get_height(), 6) for p in ax.patches] == [5.0, -0.5]
    assert {t.get_text() for t in ax.texts} == {"30.00", "24.50"}
    lo, hi = ax.get_ylim()
    assert lo < 24.5 and hi > 30.0
    a = tmp_path / "Rain100L"
    recs = [_restoration("identity", a, 3), _restoration("prenet", a, 3, created="2026-05-01T00:00:00+00:00")]
    recs[1]["metrics"]["psnr_y"] = 31.0
    plots = restoration_plots(recs)
    assert len(plots) == 1 and plots[0][1].startswith(b"\x89PNG")
    assert "Rain100L, 3 images" in plots[0][0]
    # two subsets of one set: two charts, never one
    assert len(restoration_plots([*recs, _restoration("prenet", a, 30)])) == 2


def test_signed_numbers_never_read_minus_zero() -> None:
    """The README job printed `[-0.00, +5.00]` for an interval whose lower end is -1e-16."""
    from bench.report.table import CellInterval
    from bench.report.tables import _fmt

    assert _fmt(2.0, 2, CellInterval(-1e-16, 5.0), signed=True) == "+2.00 [+0.00, +5.00]"


@pytest.mark.parametrize("wide", [False, True])
def test_notes_said_once_and_no_paper_boilerplate_for_ad_hoc_folders(tmp_path: Path, wide: bool) -> None:
    """Defect: every ad-hoc folder got a 'Table 4 metrics — <folder>' block with six lines of paper
    boilerplate, and the same notes repeated under every block."""
    from bench.report.paper import render_requested

    recs = [_restoration("prenet", tmp_path / name, 3) for name in ("mine1", "mine2", "mine3")]
    recs += [json.loads((RECORDS / "restoration-Rain100L-prenet.json").read_text())]
    recs += [json.loads((RECORDS / name).read_text()) for name in ("detection-coco8-rain-identity.json",)]
    recs += [json.loads((RECORDS / name).read_text()) for name in ("detection-coco8-rain-prenet.json",)]
    recs[-1]["dataset"]["path"] = "/elsewhere/coco8-rain"  # a second detection block with the same notes
    text, csv_text = render_requested(recs, table="4,6", wide=wide)
    caption = "Table 4. Average PSNR/SSIM/FSIM on the synthetic test sets"
    assert text.count(caption) == 1 and csv_text.count(caption) == 1
    assert text.count("s/img: measured forward time") == 1
    assert text.count("All baselines in Table 4 were retrained") == 1


def test_html_shows_per_class_ap_and_ap_by_size_when_records_have_them() -> None:
    """#22 item 9 (display): the records' stored ap_breakdown is shown in the HTML report, nothing rescored."""
    from bench.report.html import render_page

    recs = [json.loads((RECORDS / n).read_text()) for n in ("detection-coco8-rain-identity.json",)]
    recs += [json.loads((RECORDS / "detection-coco8-rain-prenet.json").read_text())]
    assert "Per-class AP" not in render_page(recs, [])  # no breakdown stored: no section

    def block(ap: float) -> dict[str, Any]:
        return {
            "bbox": {
                "per_class": {
                    "0": {"ap": ap, "ap50": ap, "n_objects": 7},
                    "2": {"ap": None, "ap50": None, "n_objects": 1},
                },
                "by_size": {"small": {"ap": ap / 2, "ap50": ap, "n_objects": 3}, "large": {"ap": ap, "n_objects": 4}},
            }
        }

    for rec, derained in zip(recs, (0.25, 0.375)):
        rec["ap_breakdown"] = {"clean": block(0.5), "rainy": block(0.25), "derained": block(derained)}
    page = render_page(recs, [])
    section = page.split("Per-class AP and AP by object size", 1)[1]
    assert "person (0)" in section and "car (2)" in section and "small" in section and "large" in section
    assert "37.50" in section and "50.00" in section and "18.75" in section  # derained, clean, small AP in %
    assert "PReNet (Rain100L)" in section


@pytest.mark.parametrize("task", ["restoration", "detection", "semantic", "noref"])
def test_run_summary_fits_120_columns(task: str) -> None:
    """The end-of-run summary of `bench run`: the numbers that answer the question, no line over 120."""
    from bench.report.tables import render_run_summary

    recs = [json.loads(p.read_text()) for p in sorted(RECORDS.glob(f"{task}-*.json"))]
    for rec in recs:  # long labels and stored intervals on every metric, as real records have
        rec["derainer"]["weights"] = {"tag": "Rain1400-long-weights-tag"}
        rec["intervals"] = {
            "metrics": {k: {"estimate": 1.0, "lo": 0.5, "hi": 1.5, "se": 0.1} for k in rec["metrics"]},
            "n_images": 2,
            "settings": {"n_resamples": 1000, "seed": 0},
        }
    text = render_run_summary(recs)
    assert max(len(line) for line in text.splitlines()) <= 120, text
    assert "(Rain1400-long-weights-tag)" in text
    if task == "restoration":
        assert "Also measured:" in text or len({k for r in recs for k in r["metrics"]}) <= 4
