"""`bench report`: the paper's Tables 4–6 next to stored records, pivots, figures and the HTML page.

Golden files: ``tests/data/records/*.json`` (hand-written records) → ``tests/data/golden/*.md|csv``, compared
exactly. After an intended change of the rendering, regenerate them with ``BENCH_UPDATE_GOLDEN=1 pytest
tests/test_report.py`` and review the diff.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.data.images import write_image
from bench.registries import DERAINERS
from bench.report.common import ArrowColumn
from bench.report.downstream import CLEAN, RAIN_INPUT, downstream_table
from bench.report.html import render_page
from bench.report.paper import pivot_table, render_requested, requested_tables, table6
from bench.report.published import load_published
from bench.report.tables import render_run_summary
from bench.results.record import find_records

HERE = Path(__file__).resolve().parent
RECORDS = HERE / "data" / "records"
GOLDEN = HERE / "data" / "golden"
UPDATE = os.environ.get("BENCH_UPDATE_GOLDEN") == "1"

GOLDEN_CASES = {
    "table4": {"table": "4"},
    "table4_wide": {"table": "4", "wide": True},
    "table5_wide": {"table": "5", "wide": True},
    "default": {},
    "table5": {"table": "5"},
    "table6": {"table": "6"},
    "pivot_derainer_dataset_psnr": {"pivot": "derainer:dataset:psnr_y"},
    "pivot_label_task_seconds": {"pivot": "label,weights:task:seconds"},
}


def _records() -> list[dict]:
    return [rec for _, rec in find_records(RECORDS)]


def _cell(markdown: str, text: str) -> bool:
    """Whether a Markdown table has a cell that reads ``text`` (columns are padded by tabulate)."""
    return re.search(rf"\|\s*{re.escape(text)}\s*\|", markdown) is not None


def _row(table, prefix: str) -> dict:
    rows = [r for r in table.rows if str(r["name"]) == prefix] or [
        r for r in table.rows if str(r["name"]).startswith(prefix)
    ]
    assert len(rows) == 1, [r["name"] for r in table.rows]
    return rows[0]


# ---------------------------------------------------------------------------------------------- golden files
@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_golden_markdown_and_csv(case: str) -> None:
    text, csv_text = render_requested(_records(), fmt="markdown", **GOLDEN_CASES[case])
    for suffix, got in (("md", text + "\n"), ("csv", csv_text)):
        path = GOLDEN / f"{case}.{suffix}"
        if UPDATE:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(got, encoding="utf-8")
        assert path.is_file(), f"missing golden file {path} (run with BENCH_UPDATE_GOLDEN=1 once)"
        assert got == path.read_text(encoding="utf-8"), f"{path.name} differs from the rendered output"


# ---------------------------------------------------------------------------------------------- Table 4
def test_table4_places_ours_next_to_paper_with_difference() -> None:
    tables = requested_tables(_records(), table="4", wide=True)
    rain100l = next(t for t in tables if "Rain100L, 2 images, quantize=trunc, crop 8: ours vs" in t.title)
    prenet = _row(rain100l, "PReNet (Rain100L)")
    # the newest of the two prenet records is used (37.40, not the superseded 30.0)
    assert prenet["ours.psnr"] == 37.40
    assert prenet["paper.psnr"] == 32.44
    assert prenet["delta.psnr"] == pytest.approx(37.40 - 32.44)
    assert prenet["delta.ssim"] == pytest.approx(0.9781 - 0.950)
    # the weights' own published score is compared with the same variant only (psnr_y_float)
    assert prenet["w.psnr"] == 37.48
    assert prenet["wdelta.psnr"] == pytest.approx(37.45 - 37.48)
    mspfn = _row(rain100l, "MSPFN (Rain13K)")
    assert mspfn["delta.psnr"] == pytest.approx(32.10 - 32.40)
    # paper rows without a record keep their published cells; ours is missing, not dropped
    didmdn = _row(rain100l, "DIDMDN")
    assert didmdn["ours.psnr"] is None and didmdn["paper.psnr"] == 25.23
    # a "nan" string in a record is a missing cell
    identity = _row(rain100l, "identity")
    assert identity["ours.fsim"] is None
    md = rain100l.to_markdown()
    assert "PSNR ours (psnr_y, Y, trunc, crop 8) ↑" in md and "PSNR paper (psnr_y, Y, trunc, crop 8) ↑" in md
    assert _cell(md, "**37.40**") and "collapsed to the newest" in "\n".join(tables[0].notes)
    # datasets of the paper with no record: the published cells, all of them
    published = next(t for t in tables if t.title.startswith("Table 4 as published"))
    md = published.to_markdown()
    for value in ("22.77", "14.92", "0.592", "32.82", "0.960", "30.75"):
        assert value in md
    # measured-only dataset keeps its row, protocol and issues note
    train = next(t for t in tables if "RainTrainL" in t.title)
    assert [r["name"] for r in train.rows] == ["MSPFN-light (paper's MSPFN*)"]
    assert "1 file(s) could not be used" in train.to_markdown()
    assert "quantize=round, crop 8" in train.title


def test_every_metric_header_has_an_arrow() -> None:
    text_columns = {"published variant", "our protocol (quantize, crop)"}
    one_protocol = [r for r in _records() if r["config"].get("quantize") == "trunc"]
    for table in requested_tables(one_protocol, table="2,3,4,5,6", pivot="derainer:dataset:psnr_y", wide=True):
        for col in table.columns:
            if col.title in text_columns:
                continue
            assert col.header.endswith(("↑", "↓")), (table.title, col.header)
            assert isinstance(col, ArrowColumn) or col.higher_is_better is not None


# ---------------------------------------------------------------------------------------------- Table 5 / 6
def test_table5_lower_is_better_and_rain_input_row() -> None:
    t = next(t for t in requested_tables(_records(), table="5", wide=True) if "Real200, " in t.title)
    assert _row(t, RAIN_INPUT)["ours.niqe"] == 5.1
    mspfn = _row(t, "MSPFN")
    assert mspfn["delta.niqe"] == pytest.approx(4.400 - 4.459)
    md = t.to_markdown()
    assert "NIQE ours (niqe) ↓" in md and _cell(md, "**4.400**")  # the smallest NIQE is bold


def test_table6_downstream_blocks() -> None:
    tables = table6(_records())
    det = next(t for t in tables if t.title.startswith("Table 6 — detection on coco8-rain"))
    names = [r["name"] for r in det.rows]
    assert names[0] == RAIN_INPUT and names[-1] == CLEAN
    prenet = _row(det, "PReNet (Rain100L)")
    assert prenet["recall"] == pytest.approx(55.0) and prenet["gain.recall"] == pytest.approx(15.0)
    assert prenet["recovery.recall"] == pytest.approx(50.0)
    md = det.to_markdown()
    assert "Evaluator: yolo; weights yolov8n_int8.tflite" in md and "score_threshold=0.6" in md
    assert "match_iou=0.5" in md and "Ground truth: COCO boxes" in md
    assert _cell(md, "60.00") and "**" not in md.split("Clean (upper bound)")[1].split("\n")[0]
    seg = next(t for t in tables if t.title.startswith("Table 6 — semantic on BDD150"))
    assert "PSEUDO LABELS" in seg.to_markdown()
    # a folder named BDD150 without the card's manifest is not the paper's set: no paper cells, and why
    assert seg.title.endswith("(measured only)") and "paper.miou" not in _row(seg, "MSPFN")
    assert "no manifest.json in /nonexistent/BDD150" in seg.to_markdown()
    # the paper's detection block (COCO350/BDD350) is printed as published, with its evaluator
    published = next(t for t in tables if t.title.startswith("Table 6 (detection) as published"))
    assert "YOLOv3" in published.title and "32.56" in published.to_markdown()


def _card_manifest(root: Path, card_name: str = "bdd150", n_items: int | None = None) -> str:
    """A manifest as `bench synth --dataset <card>` writes it (the fields the card is checked against)."""
    from bench.data.builders import RainMix, load_card
    from bench.results.record import stable_hash

    card = load_card(card_name)
    manifest = {
        "dataset": card_name,
        "seed": card["rain"]["seed"],
        "config": {
            "size": card["size"],
            "selection": {"rule": card["selection"]["rule"]},
            "mix": RainMix.from_card(card["rain"]).to_dict(),
        },
        "items": [{"name": f"{i}.png"} for i in range(card["selection"]["size"] if n_items is None else n_items)],
    }
    root.mkdir(parents=True, exist_ok=True)
    text = json.dumps(manifest)
    (root / "manifest.json").write_text(text)
    return stable_hash(text, 64)


def test_table6_paper_cells_only_for_the_cards_set(tmp_path: Path) -> None:
    """#22 item 8: the paper's columns and Δ attach only when the manifest matches the card."""
    records = [r for r in _records() if r["task"] == "semantic"]
    for rec in records:
        rec["dataset"]["path"] = str(tmp_path / "bdd150")
        rec["dataset"]["manifest_sha256"] = _card_manifest(tmp_path / "bdd150")
        rec["dataset"]["n_scored"] = 150
    seg = next(t for t in table6(records) if t.title.startswith("Table 6 — semantic on BDD150"))
    assert "150 images" in seg.title and "ours vs" in seg.title
    mspfn = _row(seg, "MSPFN")
    assert mspfn["paper.miou"] == 35.90 and mspfn["delta.miou"] == pytest.approx(40.0 - 35.90)
    assert mspfn["delta.psnr_t6"] == pytest.approx(22.0 - 22.48)
    assert _row(seg, RAIN_INPUT)["paper.mpa"] == 33.29
    # a subset of the set (6 of 150 scored), or a set built with another count: measured only, with the reason
    for rec in records:
        rec["dataset"]["n_scored"] = 6
    seg = next(t for t in table6(records) if t.title.startswith("Table 6 — semantic on BDD150"))
    assert seg.title.endswith("(measured only)") and "6 of its 150 images scored" in seg.to_markdown()
    for rec in records:
        rec["dataset"]["manifest_sha256"] = _card_manifest(tmp_path / "bdd150", n_items=6)
        rec["dataset"]["n_scored"] = 6
    seg = next(t for t in table6(records) if t.title.startswith("Table 6 — semantic on BDD150"))
    assert "6 images, the card selects 150" in seg.to_markdown() and "paper.miou" not in _row(seg, "MSPFN")


def test_clean_row_is_never_bold() -> None:
    rec = {
        "task": "semantic",
        "derainer": {"name": "x"},
        "dataset": {"name": "d"},
        "config": {},
        "metrics": {"clean.miou": 1.0, "rainy.miou": 0.1, "derained.miou": 0.3},
    }
    rec2 = json.loads(json.dumps(rec))
    rec2["derainer"]["name"] = "y"
    rec2["metrics"]["derained.miou"] = 0.2
    table = downstream_table([rec, rec2])
    assert table.best()["miou"] == pytest.approx(30.0)
    clean_line = next(line for line in table.to_markdown().splitlines() if line.startswith(f"| {CLEAN}"))
    assert "**" not in clean_line
    # gain is derived from stored aggregates when a record lacks it
    assert _row(table, "x")["gain.miou"] == pytest.approx(20.0)


def test_run_summary_uses_downstream_table_for_downstream_records() -> None:
    recs = [r for r in _records() if r["task"] == "detection"]
    text = render_run_summary(recs)
    assert text.splitlines()[4].startswith(f"| {RAIN_INPUT}")


# ---------------------------------------------------------------------------------------------- pivot
def test_pivot_fields_and_missing_cells() -> None:
    t = pivot_table(_records(), "derainer:dataset:psnr_y")
    identity = _row(t, "identity")
    assert identity["Rain100L"] == 26.90 and identity.get("Real200") is None
    assert "—" in t.to_markdown()
    t = pivot_table(_records(), "derainer:task:derained.miou")
    assert _row(t, "mspfn_light")["semantic"] == pytest.approx(0.35)
    with pytest.raises(ValueError, match="ROWS:COLUMNS:VALUE"):
        pivot_table(_records(), "derainer:psnr_y")


# ---------------------------------------------------------------------------------------------- published data
def test_published_data_is_consistent() -> None:
    pub = load_published()
    for method, derainer in pub.methods.items():
        assert derainer is None or derainer in DERAINERS, (method, derainer)
    t4 = pub.tables["4"]
    sets = ("Test100", "Rain100H", "Rain100L", "Test2800", "Test1200")
    for method, rows in t4.rows.items():
        for i, col in enumerate(t4.columns):
            mean = sum(rows[s][i] for s in sets) / 5
            average = rows["Average"][i]
            if method == "MSPFN w/o Eloss" and col.key == "psnr":
                assert mean == pytest.approx(30.472) and average == 30.51  # the paper's own inconsistency
                continue
            assert abs(mean - average) < (0.0065 if col.key == "psnr" else 0.0011), (method, col.key)
    assert pub.value("6:semantic", "MSPFN", "BDD150", "miou") == 35.90
    assert pub.value("5", "UMRL", "ris", "sseq") == 43.45  # dataset aliases are case-insensitive
    assert pub.weights_scores("prenet", "rain100l").scores["Rain100L"]["psnr_y_float"] == 37.48
    assert pub.variants["psnr"].quantize == "trunc" and pub.variants["psnr"].crop_multiple == 8


# ---------------------------------------------------------------------------------------------- CLI
def test_cli_latex_and_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "report",
            "--runs",
            str(RECORDS),
            "--table",
            "4",
            "--wide",
            "--format",
            "latex",
            "--output",
            str(tmp_path / "t4.tex"),
            "--csv",
            str(tmp_path / "t4.csv"),
        ]
    )
    assert code == 0
    tex = (tmp_path / "t4.tex").read_text()
    assert "\\toprule" in tex and "\\textbf{37.40}" in tex and "$\\uparrow$" in tex
    assert (tmp_path / "t4.csv").read_text() == (GOLDEN / "table4_wide.csv").read_text()


# ---------------------------------------------------------------------------------------------- HTML + browser
def _records_with_images(root: Path) -> Path:
    """A tiny detection set on disk: rainy/clean pairs, derained images and predictions of two derainers."""
    rng = np.random.default_rng(3)
    data = root / "set"
    runs = root / "runs"
    for i in range(1, 4):
        clean = np.zeros((96, 128, 3), np.uint8)
        clean[:, :, 0] = np.linspace(0, 255, 128, dtype=np.uint8)[None, :]
        clean[:, :, 1] = np.linspace(0, 255, 96, dtype=np.uint8)[:, None]
        clean[20:60, 30:80] = (250, 250, 40)
        rainy = np.clip(clean.astype(int) + rng.integers(0, 90, clean.shape), 0, 255).astype(np.uint8)
        write_image(data / "rain" / f"{i}.png", rainy)
        write_image(data / "norain" / f"{i}.png", clean)
    base = json.loads((RECORDS / "detection-coco8-rain-prenet.json").read_text())
    for name in ("identity", "prenet"):
        rec = json.loads(json.dumps(base))
        rec["derainer"]["name"] = name
        rec["dataset"]["path"] = str(data)
        rec["rows"] = [{"id": str(i), "file": f"{i}.png"} for i in range(1, 4)]
        images = runs / "images" / name
        preds = {}
        for i in range(1, 4):
            img = np.asarray(rng.integers(0, 256, (96, 128, 3)), np.uint8)
            write_image(images / f"{i}.png", img)
            preds[str(i)] = {c: [[30.0, 20.0, 80.0, 60.0, 0.9, 2]] for c in ("clean", "rainy", "derained")}
        (images / "predictions.json").write_text(json.dumps(preds))
        rec["images_dir"] = str(images)
        rec["predictions_file"] = str(images / "predictions.json")
        (runs / f"detection-{name}.json").write_text(json.dumps(rec))
    for path in RECORDS.glob("restoration-*.json"):
        shutil.copy(path, runs / path.name)
    return runs


def test_html_page_is_self_contained(tmp_path: Path) -> None:
    runs = _records_with_images(tmp_path)
    records = [r for _, r in find_records(runs)]
    page = render_page(records, requested_tables(records, table="all"))
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "Table 4 (PSNR/SSIM/FSIM)" in page and "Table 6 — detection" in page
    # 2 examples x (rainy, identity, prenet, clean) = 3 x 4 crops, plus plots; all embedded, nothing linked
    assert page.count("<img") >= 12 + 2
    assert "src='http" not in page and 'src="http' not in page
    srcs = re.findall(r"src='([^']+)'", page)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


@pytest.mark.slow
@pytest.mark.skipif(
    _chromium() is None, reason="no chromium on PATH (apt-get install -y chromium) — browser test skipped"
)
def test_html_page_in_headless_chromium(tmp_path: Path) -> None:
    from PIL import Image

    runs = _records_with_images(tmp_path)
    # and a Table 6 block on the paper's own COCO350 set (manifest matches the card): paper and Δ columns
    sha = _card_manifest(tmp_path / "coco350", "coco350")
    for path in list(runs.glob("detection-*.json")):
        rec = json.loads(path.read_text())
        rec["dataset"].update(name="COCO350", path=str(tmp_path / "coco350"), manifest_sha256=sha, n_scored=350)
        rec.pop("images_dir")
        (runs / f"coco350-{path.name}").write_text(json.dumps(rec))
    page = tmp_path / "report.html"
    assert main(["report", "--runs", str(runs), "--format", "html", "--output", str(page)]) == 0
    assert "Table 6 — detection on COCO350, 350 images" in page.read_text() and "Δ Precision" in page.read_text()
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    shot = tmp_path / "shot.png"
    browser = _chromium()
    assert browser is not None
    subprocess.run(
        [browser, *flags, f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri()],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert shot.is_file() and shot.stat().st_size > 20_000
    with Image.open(shot) as im:
        pixels = np.asarray(im.convert("RGB"))
    assert pixels.shape[:2] == (2000, 1280)
    assert pixels.std() > 10 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200  # text, tables, images
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", page.as_uri()], check=True, capture_output=True, text=True, timeout=120
    ).stdout
    assert dom.count('class="bench"') >= 4 and "Table 6 — detection" in dom
    assert dom.count("<img") >= 14 and "data:image/png;base64," in dom

    # Tables 4-6 fit a 1400x900 window: no table box and not the page scrolls sideways
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE_JS + "</body>"), encoding="utf-8")
    shot = tmp_path / "shot1400.png"
    subprocess.run(
        [browser, *flags, f"--screenshot={shot}", "--window-size=1400,900", probe.as_uri()],
        check=True,
        capture_output=True,
        timeout=120,
    )
    with Image.open(shot) as im:
        assert im.size == (1400, 900)
    dom = subprocess.run(
        [browser, *flags, "--window-size=1400,900", "--dump-dom", probe.as_uri()],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    found = re.search(r"<pre id=\"probe\">(.*?)</pre>", dom, re.S)
    assert found, "the probe script did not run"
    measured = json.loads(html.unescape(found.group(1)))
    assert {m["title"][:7] for m in measured} >= {"Table 4", "Table 5", "Table 6"}, measured
    for m in measured:
        assert m["scroll"] <= m["client"], m  # the table's box does not scroll
        assert m["page"] <= m["window"], m  # nor does the page


#: Measures, after load, whether the box of every Table 4-6 scrolls horizontally (written into the DOM).
PROBE_JS = """<script>
window.addEventListener('load', () => {
  const out = [];
  document.querySelectorAll('table.bench').forEach(t => {
    const cap = t.querySelector('caption');
    const title = cap ? cap.textContent : '';
    if (!/^Table [456]/.test(title)) return;
    const box = t.closest('.scroll') || t.parentElement;
    out.push({title: title.slice(0, 80), scroll: box.scrollWidth, client: box.clientWidth,
              page: document.documentElement.scrollWidth, window: window.innerWidth});
  });
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def test_grid_draws_boxes_and_crops(tmp_path: Path) -> None:
    from bench.report.grids import comparison_grid

    runs = _records_with_images(tmp_path)
    recs = [r for _, r in find_records(runs) if r["task"] == "detection"]
    grid = comparison_grid(recs, n_examples=2, width=64)
    assert grid is not None and [r.item_id for r in grid.rows] == ["1", "2"]
    assert [c[0] for c in grid.rows[0].cells] == ["rainy", "identity (Rain100L)", "PReNet (Rain100L)", "clean"]
    import io

    from PIL import Image

    for _, png, caption in grid.rows[0].cells:
        assert png is not None and caption.startswith("1 boxes")
        with Image.open(io.BytesIO(png)) as im:
            assert im.size == (64, 48)


def test_no_records_no_crash() -> None:
    text, _ = render_requested([], table="all")
    assert "Table 4 (PSNR/SSIM/FSIM) as published" in text and "Table 6 (semantic) as published" in text


def test_cells_never_show_negative_zero() -> None:
    from bench.report.table import Column, Table

    table = Table(
        title="t",
        columns=[Column("gain", "gain", None, 2)],
        rows=[{"name": "a", "gain": -0.001}, {"name": "b", "gain": -0.0}, {"name": "c", "gain": -0.5}],
    )
    cells = [table.cell(r, table.columns[0]) for r in table.rows]
    assert cells == ["0.00", "0.00", "-0.50"]


def test_table6_markdown_fits_a_terminal_and_wide_keeps_the_blocks_whole() -> None:
    """Defect: Table 6's Markdown blocks were 400-500 characters wide in a terminal."""
    wide_text, wide_csv = render_requested(_records(), table="6", fmt="markdown", wide=True)
    text, csv_text = render_requested(_records(), table="6", fmt="markdown")
    assert max(len(line) for line in wide_text.splitlines()) > 400  # --wide: one block per group, as before
    assert max(len(line) for line in text.splitlines()) <= 120
    assert csv_text == wide_csv  # the CSV always holds the whole blocks
    measured = lambda md: md[: md.index("**Table 6 (detection) as published")]  # noqa: E731
    headers = lambda md: [h.strip() for line in md.splitlines() if line.startswith("| method") for h in line.split("|")]  # noqa: E731
    assert set(headers(measured(text))) == set(headers(measured(wide_text)))  # every column shown, in some part
    # the paper's blocks as published: the paper's cell style, one column per set (--wide: a column per metric)
    assert "COCO350, BDD350; cells: PSNR/SSIM/s/img/Precision (%)/Recall (%)/IoU (%)**" in text
    assert _cell(text, "17.53/0.765/0.220/31.31/37.92/60.75") and _cell(text, "14.79/0.648/—/23.03/29.60/55.50")
    assert "COCO350 PSNR paper (psnr_y, Y) ↑ |" in wide_text and "COCO350 PSNR paper" not in text
    assert "(columns 4–6 of 18)" in text  # a metric stays in one part with its gain and recovery:
    assert re.search(r"\|\s+mAP50-95 \(%\) ↑ \|\s+gain mAP50-95 \(pp\) ↑ \|\s+recovery mAP50-95 \(%\) ↑ \|\n", text)
    assert _cell(text, "**45.00**") and _cell(wide_text, "**45.00**")  # best over all rows, also in a part
    detection = next(t for t in table6(_records()) if t.title.startswith("Table 6 — detection"))
    assert text.count("The paper reports no numbers on this set") == 1  # notes after the last part only
    assert len(detection.width_parts(120)) == 6 and detection.width_parts(10_000) == [detection]


def test_html_cells_carry_their_interval_as_a_tooltip() -> None:
    """Defect: the pandas rendering dropped the HTML cells' ``title`` (the 95 % interval on hover)."""
    from bench.report.table import CellInterval, Column, Table

    table = Table(
        title="t",
        columns=[Column("psnr", "psnr", True, 2), Column("n", "n", None, 0)],
        rows=[
            {"name": "a", "psnr": 30.0, "n": 3.0, "_ci": {"psnr": CellInterval(29.5, 30.25, marked=True)}},
            {"name": "b", "psnr": 28.0, "n": 3.0},
        ],
    )
    cells = re.findall(r"<td[^>]*>[^<]*(?:<b>[^<]*</b>)?</td>", table.to_html())
    assert len(cells) == 6
    tipped = [c for c in cells if "title=" in c]
    assert tipped == [c for c in cells if "30.00" in c] and len(tipped) == 1
    assert 'title="95% interval [29.50, 30.25]"' in tipped[0] and "30.00 ± 0.38*" in tipped[0]
    assert "title=" not in Table("u", table.columns, rows=[table.rows[1]]).to_html()  # no interval, no tooltip


def test_random_downstream_weights_are_flagged_under_the_table() -> None:
    from bench.report.downstream import evaluator_note

    note = evaluator_note({"config": {"options": {}}, "evaluator": {"name": "maskrcnn", "random_weights": True}})
    assert "RANDOM WEIGHTS" in note
    assert "RANDOM" not in evaluator_note({"config": {"options": {}}, "evaluator": {"name": "yolo"}})
