"""The paper's Tables 4–6 beside our records stay honest (review of the report, "confirmed defects").

Each test builds records the way a defect was seen: a newer FSIM-only run hiding an older PSNR/SSIM run,
two checkpoints loaded by path both labelled ``MSPFN`` (one kept, or two indistinguishable rows), a
randomly initialised network bolded beside the paper's columns, the paper's rows under a protocol the
paper did not use, DDN's published PSNR compared with another variant depending on the record, a 2-image
run compared with whole-set means without a word, and LaTeX that did not compile.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from bench.report.compact import compact_table
from bench.report.paper_tables import paper_table
from bench.report.table import latex_escape
from bench.report.tables import group_tables

RECORDS = Path(__file__).resolve().parent / "data" / "records"


def _record(name: str) -> dict[str, Any]:
    return json.loads((RECORDS / f"{name}.json").read_text())


def _mspfn(run_id: str, created: str = "2026-01-02T00:00:00+00:00", **metrics: float) -> dict[str, Any]:
    rec = _record("restoration-Rain100L-mspfn")  # MSPFN (Rain13K) on Rain100L, trunc / crop 8, 2 images
    rec["run_id"], rec["created"] = run_id, created
    if metrics:
        rec["metrics"] = dict(metrics)
    return rec


def _checkpoint(rec: dict[str, Any], path: str, sha: str, psnr: float) -> dict[str, Any]:
    out = copy.deepcopy(rec)
    out["derainer"]["weights"] = {"path": path, "sha256": sha * 32}
    out["metrics"]["psnr_y"] = psnr
    out["run_id"] = f"{out['run_id']}-{Path(path).stem}-{sha}"
    return out


def _ours(table: Any) -> list[dict[str, Any]]:
    """Rows of our records (not the paper's, not the rainy input)."""
    return [r for r in table.rows if "(paper)" not in str(r["name"]) and not str(r["name"]).startswith("Rain input")]


def _cells(row: dict[str, Any]) -> list[Any]:
    return [v for k, v in row.items() if k != "name" and not k.startswith("_") and v is not None]


# ---------------------------------------------------------------------------------------------- duplicates
def test_a_newer_record_of_other_metrics_never_hides_an_older_ones() -> None:
    """Defect: a newer FSIM-only record collapsed the older PSNR/SSIM one; Table 4 showed — for PSNR/SSIM."""
    old = _mspfn("old", "2026-01-01T00:00:00+00:00", psnr_y=32.1, ssim_y=0.93)
    new = _mspfn("new", "2026-01-03T00:00:00+00:00", fsim=0.94)
    wide = paper_table([old, new], "4")[0]
    (row,) = [r for r in wide.rows if r.get("_record")]
    assert (row["ours.psnr"], row["ours.ssim"], row["ours.fsim"]) == (32.1, 0.93, 0.94)
    notes = "\n".join(wide.notes)
    assert "merged metric by metric" in notes and "psnr_y, ssim_y from old" in notes
    (compact, *_) = compact_table([old, new], "4")
    (ours,) = _ours(compact)
    assert _cells(ours) == ["32.10/0.9300/0.9400"]
    (group,) = group_tables([old, new])
    (line,) = group.rows
    assert (line["psnr_y"], line["ssim_y"], line["fsim"]) == (32.1, 0.93, 0.94)
    # the newest value of a metric wins; an older record adding nothing is collapsed as before
    newer = _mspfn("newer", "2026-01-04T00:00:00+00:00", psnr_y=33.0, fsim=0.95)
    (row,) = [r for r in paper_table([old, new, newer], "4")[0].rows if r.get("_record")]
    assert (row["ours.psnr"], row["ours.ssim"], row["ours.fsim"]) == (33.0, 0.93, 0.95)
    assert "2 older duplicate record(s)" in "\n".join(paper_table([old, new, newer], "4")[0].notes)


# ---------------------------------------------------------------------------------------------- labels
def test_two_checkpoints_of_one_model_are_two_rows_with_distinct_labels() -> None:
    """Defect: two checkpoints loaded by path (both "MSPFN"): compact kept the first, wide showed two "MSPFN"."""
    base = _mspfn("r")
    a = _checkpoint(base, "/ck/a.pt", "aa", 30.0)
    b = _checkpoint(base, "/ck/b.pt", "bb", 33.0)
    (compact, *_) = compact_table([a, b], "4")
    assert {r["name"]: _cells(r) for r in _ours(compact)} == {
        "MSPFN (a.pt)": ["30.00/0.9300/0.9400"],
        "MSPFN (b.pt)": ["33.00/0.9300/0.9400"],
    }
    wide = paper_table([a, b], "4")[0]
    assert sorted((r["name"], r["ours.psnr"]) for r in wide.rows if r.get("_record")) == [
        ("MSPFN (a.pt)", 30.0),
        ("MSPFN (b.pt)", 33.0),
    ]
    (group,) = group_tables([a, b])
    assert sorted(r["name"] for r in group.rows) == ["MSPFN (a.pt)", "MSPFN (b.pt)"]
    # the same file name in two run folders: told apart by the sha256
    c = _checkpoint(base, "/runs/one/last.pt", "cc", 31.0)
    d = _checkpoint(base, "/runs/two/last.pt", "dd", 32.0)
    names = sorted(r["name"] for r in _ours(compact_table([c, d], "4")[0]))
    assert names == ["MSPFN (sha256 cccccccc)", "MSPFN (sha256 dddddddd)"]


def test_one_checkpoint_on_two_sets_stays_one_row() -> None:
    a = _checkpoint(_mspfn("r"), "/ck/a.pt", "aa", 30.0)
    h = copy.deepcopy(a)
    h["dataset"] = {**h["dataset"], "name": "Rain100H", "path": "/nonexistent/Rain100H"}
    h["metrics"]["psnr_y"], h["run_id"] = 25.0, "h"
    (compact, *_) = compact_table([a, h], "4")
    (row,) = _ours(compact)
    assert row["name"] == "MSPFN" and sorted(_cells(row)) == ["25.00/0.9300/0.9400", "30.00/0.9300/0.9400"]


# ---------------------------------------------------------------------------------------------- random init
def _random(rec: dict[str, Any], value_key: str, value: float) -> dict[str, Any]:
    out = copy.deepcopy(rec)
    out["derainer"] = {"name": "mspfn", "random_init": True, "weights": None, "params": 1}
    out["run_id"] = "random"
    out["metrics"][value_key] = value
    return out


@pytest.mark.parametrize("layout", ["compact", "wide"])
def test_random_init_never_sits_beside_the_papers_numbers(layout: str) -> None:
    """Defect: "MSPFN (random init)" was a row of Table 5 and the bold best NIQE/SSEQ."""
    prenet = _record("noref-Real200-prenet")
    rand = _random(_record("noref-Real200-mspfn"), "derained.niqe", 3.1)
    build = compact_table if layout == "compact" else paper_table
    tables = build([rand, prenet], "5")
    text = "\n".join(t.to_markdown() for t in tables)
    assert "random init" not in "\n".join(line for line in text.splitlines() if line.startswith("|"))
    assert "3.100" not in text
    notes = "\n".join(tables[0].notes)
    assert "1 record(s) of randomly initialised networks left out (MSPFN (random init))" in notes
    assert "`bench report` without `--table` shows them" in notes
    # Table 4 too, and the group tables still show the record, labelled
    rand4 = _random(_mspfn("r"), "psnr_y", 99.0)
    assert not any("random" in str(r["name"]) for t in build([rand4], "4") for r in t.rows)
    (group,) = group_tables([rand4])
    assert [r["name"] for r in group.rows] == ["MSPFN (random init)"]


def test_random_init_is_left_out_of_table6(monkeypatch: pytest.MonkeyPatch) -> None:
    import bench.report.table6 as t6

    monkeypatch.setattr(t6, "paper_set_mismatch", lambda rec, name: None)  # as if on the paper's set
    recs = [_record(f"detection-coco8-rain-{n}") for n in ("identity", "prenet")]
    for rec in recs:
        rec["dataset"]["name"] = "coco350"
    rand = _random(recs[1], "derained.precision", 0.99)
    tables = t6.table6([*recs, rand])
    block = tables[0]
    assert "ours vs" in block.title and not any("random" in str(r["name"]) for r in block.rows)
    assert block.best().get("precision") == 60.0  # PReNet, not the random network's 99 %
    assert "randomly initialised networks left out" in "\n".join(block.notes)
    assert any("(random init)" in str(r["name"]) for t in group_tables([*recs, rand]) for r in t.rows)


# ---------------------------------------------------------------------------------------------- protocol
def test_paper_rows_go_with_the_papers_protocol() -> None:
    """Defect: the paper's rows went with whichever protocol sorted first ("round" < "trunc")."""
    trunc = _mspfn("trunc")  # the paper's protocol: trunc, crop 8
    rounded = copy.deepcopy(trunc)
    rounded["config"].update(quantize="round", crop_multiple=1)
    rounded["metrics"]["psnr_y"], rounded["run_id"] = 32.4, "round"
    first, second = compact_table([rounded, trunc], "4")
    assert "quantize=trunc, crop 8; paper rows" in first.title
    assert any("(paper)" in str(r["name"]) for r in first.rows)
    assert "quantize=round" in second.title and not any("(paper)" in str(r["name"]) for r in second.rows)
    assert not any("No record has the paper's protocol" in n for n in first.notes)
    (only,) = compact_table([rounded], "4")
    assert any("(paper)" in str(r["name"]) for r in only.rows)
    assert any("No record has the paper's protocol" in n and "quantize=round" in n for n in only.notes)


# ---------------------------------------------------------------------------------------------- DDN
def test_ddn_published_psnr_is_one_variant_with_or_without_the_cards_copy() -> None:
    """Defect: the YAML said bare ``psnr`` (compared with psnr_y), the card ``psnr_rgb_float``: Δ 1.32 or −0.38."""
    from bench.report.published import load_published
    from derainers.ddn import DDN

    pub = load_published()
    for ws in (w for w in pub.weights if w.derainer == "ddn"):
        card = next((s for s in DDN.card.weights if s.tag.lower() == ws.tag.lower()), None)
        assert card is not None and {k: dict(v) for k, v in card.reported.items()} == ws.scores
        assert "RGB float" in ws.protocol and "not stated" not in ws.protocol
    rec = _mspfn("ddn")
    rec["derainer"] = {"name": "ddn", "params": 57369, "weights": {"tag": "Rain100L", "sha256": "32" * 32}}
    rec["metrics"] = {"psnr_y": 34.9, "ssim_y": 0.95, "psnr_rgb": 33.2}
    with_card = copy.deepcopy(rec)
    with_card["derainer"]["reported"] = {"Rain100L": {"psnr_rgb_float": 33.58}}
    rows = []
    for r in (rec, with_card):
        table = paper_table([r], "4")[0]
        rows.append(next(x for x in table.rows if x.get("_record")))
        assert any("No Δ to the weights' published psnr_rgb_float" in n for n in table.notes)
    assert [(x["w.psnr"], x["wdelta.psnr"]) for x in rows] == [(33.58, None), (33.58, None)]  # never vs psnr_y


# ---------------------------------------------------------------------------------------------- partial runs
def test_a_partial_run_beside_whole_set_means_says_so() -> None:
    rec = _mspfn("two")  # 2 of Rain100L's 100 images
    expected = "Rain100L: our records scored 2 of its 100 images"
    assert any(expected in n for n in paper_table([rec], "4")[0].notes)
    assert any(expected in n for n in compact_table([rec], "4")[0].notes)
    whole = copy.deepcopy(rec)
    whole["dataset"]["n_scored"] = 100
    assert not any("our records scored" in n for n in paper_table([whole], "4")[0].notes)


# ---------------------------------------------------------------------------------------------- LaTeX
def test_latex_escapes_markup_and_the_tables_symbols() -> None:
    assert latex_escape("Δ PSNR (ours − paper) {x} $1 ~a^b") == (
        "$\\Delta$ PSNR (ours $-$ paper) \\{x\\} \\$1 \\textasciitilde{}a\\textasciicircum{}b"
    )
    assert latex_escape("\\") == "\\textbackslash{}"  # the braces it adds are not escaped again
    tex = paper_table([_mspfn("r")], "4")[0].to_latex()
    body = tex.split("\\caption", 1)[1]
    assert "$\\Delta$ PSNR (ours $-$ paper)" in body and "Δ" not in body and "−" not in body
