"""``bench reproduce``: runs the checks the shared data allows, skips the rest with reasons, writes the docs."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bench.cli import main
from bench.reproduce.checks import Context, all_checks, select
from bench.reproduce.render import BEGIN, END, render_markdown, write_docs
from bench.reproduce.runner import run_checks
from bench.results.record import read_record
from tests.conftest import missing_data

QUICK = ["matlab-psnr-ssim", "prenet-rain100l", "umrl", "params-mspfn_light", "espnetv2-*"]


def test_checks_run_on_the_shared_data_and_skip_the_rest(
    data_root: Path, calibration_dir: Path, tmp_path: Path
) -> None:
    ctx = Context(limit=2, output_dir=str(tmp_path), data_root=str(data_root), calibration_dir=calibration_dir)
    outcomes = run_checks(select(all_checks(), QUICK), ctx)
    by_check: dict[str, list] = {}
    for o in outcomes:
        by_check.setdefault(o.check.name, []).append(o)

    matlab = by_check["matlab-psnr-ssim"]
    assert [o.metric for o in matlab] == ["psnr_y", "ssim_y", "psnr_rgb", "psnr_y_float", "ssim_y_float"]
    with (calibration_dir / "psnr_ssim_raintrainl.csv").open(newline="") as fh:
        first_two = list(csv.DictReader(fh))[:2]
    for o in matlab:
        assert o.status == "measured" and o.n_items == 2
        assert o.published == pytest.approx(sum(float(r[o.metric]) for r in first_two) / 2, abs=1e-12)
        assert o.delta is not None and abs(o.delta) < 1e-6  # the MATLAB agreement the calibration tests pin

    (params,) = by_check["params-mspfn_light"]
    from bench.factory import create_derainer

    count = sum(p.numel() for p in create_derainer("mspfn_light", weights=None).parameters()) / 1e6
    assert params.status == "measured" and params.measured == pytest.approx(count) and params.published == 1.65

    prenet = by_check["prenet-rain100l"]
    assert [o.published for o in prenet] == [37.48, 0.979]
    if (data_root / "rain/Rain100L").is_dir():
        assert all(o.status == "measured" for o in prenet)
    else:
        assert all(o.status == "skipped" and "Rain100L" in o.reason for o in prenet)
    assert all(o.status == "skipped" and o.reason for n in ("umrl", "espnetv2-cityscapes-test") for o in by_check[n])


def test_absent_data_is_a_skip_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCH_CALIBRATION", raising=False)
    empty = tmp_path / "data"
    empty.mkdir()
    ctx = Context(limit=1, output_dir=str(tmp_path / "runs"), data_root=str(empty))
    outcomes = run_checks(select(all_checks(), ["matlab-fsim", "prenet-rain100h"]), ctx)
    assert {o.status for o in outcomes} == {"skipped"}
    assert any("MATLAB reference values" in o.reason for o in outcomes if o.check.name == "matlab-fsim")
    assert any("Rain100H" in o.reason for o in outcomes if o.check.name == "prenet-rain100h")
    text = render_markdown(outcomes)
    assert "0 measured" in text and "## Measured" not in text and "`prenet-rain100h`" in text


def test_cli_prints_the_table_writes_the_report_and_regenerates_the_docs(
    data_root: Path, calibration_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "reproduction.md"
    docs.write_text(f"# Title\n\nHand-written part.\n\n{BEGIN}\nold table\n{END}\n\n## After\n\nMore text.\n")
    argv = ["reproduce", "--only", "matlab-fsim", "umrl", "--limit", "1", "--output-dir", str(tmp_path / "runs")]
    argv += ["--output", str(tmp_path / "report.md"), "--write-docs", str(docs), "--data-root", str(data_root)]
    argv += ["--calibration", str(calibration_dir)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "| `matlab-fsim` |" in out and "| published | measured | Δ |" in out.replace("---:", "")
    assert (tmp_path / "report.md").read_text() == out
    text = docs.read_text()
    assert text.startswith("# Title\n\nHand-written part.\n") and text.endswith("## After\n\nMore text.\n")
    assert "old table" not in text and text.count(BEGIN) == 1 and "`matlab-fsim`" in text
    assert "`bench reproduce --only matlab-fsim umrl --limit 1 --write-docs`" in text
    write_docs(docs, f"{BEGIN}\nnew\n{END}")
    assert docs.read_text().count(END) == 1 and "\nnew\n" in docs.read_text()


def test_only_matches_names_patterns_and_groups() -> None:
    checks = all_checks()
    names = [c.name for c in checks]
    assert len(names) == len(set(names))
    assert {c.name for c in select(checks, ["prenet"])} == {"prenet-rain100l", "prenet-rain100h", "prenet-rain1400"}
    assert {c.group for c in select(checks, ["params"])} == {"params"}
    with pytest.raises(ValueError, match="matches no check"):
        select(checks, ["no-such-check"])


def test_every_runnable_weights_check_names_a_registered_derainer_and_set() -> None:
    from bench.factory import get_factory
    from bench.registries import DATASETS

    weights = [c for c in all_checks() if c.group == "weights" and c.measure is not None]
    assert weights
    for check in weights:
        derainer, dataset = check.subject.split(" ")[0], check.dataset
        get_factory(derainer)
        assert dataset in DATASETS and check.expected


def test_a_weights_check_loads_the_named_weights_and_scores_under_their_protocol(
    data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rain100L is not in the shared data: two RainTrainL pairs in Rain100L's folder exercise the run path."""
    from bench.data.images import read_image, write_image

    weights = data_root / "weights" / "derainers/prenet/Rain100L/PReNet6/net_latest.pth"
    if not weights.is_file():
        missing_data(f"PReNet Rain100L weights not found at {weights}")
    fake = tmp_path / "data" / "rain" / "Rain100L"
    for i in (1, 2):
        for sub in ("rain", "norain"):
            (fake / sub).mkdir(parents=True, exist_ok=True)
            image = read_image(data_root / "rain/RainTrainL" / sub / f"norain-{i}.png")
            write_image(fake / sub / f"norain-{i}.png", image[:96, :128])  # small: the test stays fast
    monkeypatch.setenv("BENCH_WEIGHTS", str(data_root / "weights"))
    ctx = Context(limit=2, output_dir=str(tmp_path / "runs"), data_root=str(tmp_path / "data"))
    outcomes = run_checks(select(all_checks(), ["prenet-rain100l"]), ctx)
    assert [(o.metric, o.status, o.n_items) for o in outcomes] == [
        ("psnr_y_float", "measured", 2),
        ("ssim_y_float", "measured", 2),
    ]
    assert all(o.reason == "--limit 2: not the published set" for o in outcomes)
    (record_path,) = (tmp_path / "runs").glob("*.json")
    record = read_record(record_path)
    assert record["derainer"]["weights"]["tag"] == "Rain100L" and record["derainer"]["weights"]["sha256"]
    assert record["config"]["quantize"] == "trunc" and record["config"]["crop_multiple"] == 1
    assert outcomes[0].measured == pytest.approx(record["metrics"]["psnr_y_float"])


def test_a_check_that_errors_fails_and_the_command_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.reproduce import checks as catalogue
    from bench.reproduce.checks import Check, CheckError, Expected

    def broken(ctx: Context) -> catalogue.Measurement:
        raise CheckError("weights were not loaded")

    check = Check("broken", "weights", "x", "y", "p", "s", (Expected("psnr_y", 30.0),), measure=broken)
    monkeypatch.setattr(catalogue, "all_checks", lambda: [check])
    assert main(["reproduce", "--output-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "1 failed" in out and "CheckError: weights were not loaded" in out
