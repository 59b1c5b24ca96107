"""End to end: `bench run --task restoration`, the run record, `bench report`, `bench ls`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.data.images import write_image
from bench.results.record import SCHEMA_VERSION, read_record
from tests.conftest import identity_restoration_argv, write_offset_pairs


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_identity_on_raintrainl_matches_calibration(
    data_root: Path, calibration_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        capsys,
        *identity_restoration_argv("RainTrainL"),
        "--data-root",
        str(data_root),
        "--limit",
        "20",
        "--output-dir",
        str(tmp_path),
    )
    assert code == 0
    assert "psnr_y ↑" in out and "| identity |" in out
    records = list(tmp_path.glob("*.json"))
    assert len(records) == 1
    rec = read_record(records[0])
    assert rec["schema_version"] == SCHEMA_VERSION
    assert (
        rec["task"] == "restoration"
        and rec["dataset"]["name"] == "RainTrainL"
        and rec["derainer"]["name"] == "identity"
    )
    assert rec["config"]["quantize"] == "round" and rec["config"]["crop_multiple"] == 1
    assert {"torch", "git", "device", "python"} <= set(rec["env"])
    assert rec["timings"]["total"] > 0
    ids = [r["id"] for r in rec["rows"]]
    assert ids == [str(i) for i in range(1, 21)]
    with open(calibration_dir / "psnr_ssim_raintrainl.csv") as f:
        reference = {r["pair_id"]: r for r in csv.DictReader(f)}
    for row in rec["rows"]:
        ref = reference[row["id"]]
        assert abs(row["psnr_y"] - float(ref["psnr_y"])) < 1e-8
        assert abs(row["ssim_y"] - float(ref["ssim_y"])) < 1e-8
        assert abs(row["psnr_rgb"] - float(ref["psnr_rgb"])) < 1e-8
        assert abs(row["psnr_y_float"] - float(ref["psnr_y_float"])) < 1e-8
        assert abs(row["ssim_y_float"] - float(ref["ssim_y_float"])) < 1e-8
    mean = np.mean([float(reference[str(i)]["psnr_y"]) for i in range(1, 21)])
    assert rec["metrics"]["psnr_y"] == pytest.approx(mean, abs=1e-6)

    code, out, _ = _run(capsys, "report", "--runs", str(tmp_path), "--csv", str(tmp_path / "t.csv"))
    assert code == 0 and "**" in out and "ssim_y ↑" in out
    assert (tmp_path / "t.csv").read_text().startswith("method,psnr_y ↑")


def _tiny_set(root: Path) -> None:
    rng = np.random.default_rng(1)
    write_offset_pairs(root, range(1, 4), rng, size=(24, 33))
    (root / "rain" / "4.png").write_bytes(b"garbage")
    write_image(root / "norain" / "4.png", rng.integers(0, 256, (24, 33, 3), dtype=np.uint8))


def test_bad_file_is_recorded_and_run_continues(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _tiny_set(tmp_path / "set")
    code, _, _ = _run(
        capsys,
        *identity_restoration_argv(str(tmp_path / "set")),
        "--output-dir",
        str(tmp_path / "runs"),
        "--quantize",
        "trunc",
        "--crop-multiple",
        "8",
    )
    assert code == 0
    rec = read_record(next((tmp_path / "runs").glob("*.json")))
    assert [r["id"] for r in rec["rows"]] == ["1", "2", "3"]
    assert rec["dataset"]["n_skipped"] == 1 and "4.png" in rec["issues"][0]["path"]
    assert rec["config"]["quantize"] == "trunc" and rec["config"]["crop_multiple"] == 8


def test_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = _run(capsys, "run", "--derainer", "mspnf", "--task", "restoration", "--dataset", str(tmp_path))
    assert code == 2 and "Did you mean 'mspfn'" in err
    monkeypatch.delenv("BENCH_DATA", raising=False)
    code, _, err = _run(capsys, *identity_restoration_argv("Rain100L"))
    assert code == 2 and "data root" in err
    code, _, err = _run(
        capsys,
        *identity_restoration_argv("Rain100L"),
        "--data-root",
        str(tmp_path / "nowhere"),
    )
    assert code == 2 and "not found" in err and "rain/Rain100L" in err


def test_ls_lists_everything(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "ls")
    assert code == 0
    for word in ("derainers:", "datasets:", "tasks:", "metrics:", "identity", "RainTrainL", "psnr_y", "restoration"):
        assert word in out
    code, out, _ = _run(capsys, "ls", "metrics")
    assert "derainers:" not in out and "ssim_y_float" in out


def test_ls_cards_show_shipped_weights_with_their_scores_and_status(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from derainers.shipped import WEIGHTS_DIR

    card = json.loads((WEIGHTS_DIR / "mspfn_light-RainTrainL.json").read_text())
    code, out, _ = _run(capsys, "ls", "derainers", "--cards")
    assert code == 0
    (line,) = [ln for ln in out.splitlines() if "weights RainTrainL: mspfn_light-RainTrainL.pt" in ln]
    assert f"psnr_y {card['validation']['metrics']['psnr_y']:.6g}" in line
    training = card["training"]
    # a run that ended (all planned steps, or converged) is final even when its best checkpoint came earlier
    interim = not training["finished"] if "finished" in training else training["steps"] < training["planned_steps"]
    assert (f"interim: step {training['steps']} of {training['planned_steps']}" in line) is interim


def test_record_is_valid_json_with_inf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "same"
    img = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    write_image(root / "rain" / "1.png", img)
    write_image(root / "norain" / "1.png", img)
    assert (
        main(
            [
                *identity_restoration_argv(str(root)),
                "--output-dir",
                str(tmp_path / "r"),
            ]
        )
        == 0
    )
    text = next((tmp_path / "r").glob("*.json")).read_text()
    assert json.loads(text)["metrics"]["psnr_y"] == "inf"


def _pairs_folder(tmp_path: Path, n: int) -> Path:
    return write_offset_pairs(tmp_path / "pairs", [f"norain-{i}" for i in range(1, n + 1)], np.random.default_rng(0))


def test_ids_select_items_and_are_part_of_the_protocol(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--ids 3-4,7`` scores exactly those pairs (e.g. RainTrainL's held-back 181-200), recorded and hashed."""
    root = _pairs_folder(tmp_path, 8)
    code, _, _ = _run(
        capsys,
        "run",
        "--derainer",
        "identity",
        "--dataset",
        str(root),
        "--ids",
        "3-4,7",
        "--output-dir",
        str(tmp_path / "a"),
    )
    assert code == 0
    (record,) = (tmp_path / "a").glob("*.json")
    rec = read_record(record)
    assert [r["id"] for r in rec["rows"]] == ["3", "4", "7"] and rec["config"]["ids"] == ["3", "4", "7"]
    code, _, _ = _run(
        capsys, "run", "--derainer", "identity", "--dataset", str(root), "--output-dir", str(tmp_path / "a")
    )
    assert code == 0 and len(list((tmp_path / "a").glob("*.json"))) == 2  # a different protocol: a different record


def test_ids_match_zero_padded_file_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """PReNet's layout numbers files ``rain-001.png``: ``--ids 9-11`` (or ``009-011``) selects 009, 010, 011."""
    root = write_offset_pairs(tmp_path / "pairs", [f"norain-{i:03d}" for i in range(1, 13)], np.random.default_rng(0))
    for ids, out in (("9-11", "a"), ("009-011", "b")):
        code, _, _ = _run(
            capsys,
            "run",
            "--derainer",
            "identity",
            "--dataset",
            str(root),
            "--ids",
            ids,
            "--output-dir",
            str(tmp_path / out),
        )
        assert code == 0
        (record,) = (tmp_path / out).glob("*.json")
        assert [r["id"] for r in read_record(record)["rows"]] == ["009", "010", "011"]


def test_ids_that_match_nothing_fail_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _pairs_folder(tmp_path, 2)
    code, _, err = _run(capsys, "run", "--derainer", "identity", "--dataset", str(root), "--ids", "181-200")
    assert code != 0 and "no pair has one of the requested ids" in err


def test_parse_ids() -> None:
    from bench.tasks.config import parse_ids

    assert parse_ids("181-183, 185,rain_a") == ["181", "182", "183", "185", "rain_a"]
    assert parse_ids("2,2,1") == ["2", "1"]
    with pytest.raises(ValueError, match="reversed"):
        parse_ids("5-3")
    with pytest.raises(ValueError, match="no ids"):
        parse_ids(" , ")


def test_random_init_is_recorded_and_labelled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """A trainable derainer without weights: ``random_init`` in the record, '(random init)' in every table,
    never matched to the paper's row of the model, and the warning says how to train or load weights."""
    from bench.report.paper import render_requested

    root = _pairs_folder(tmp_path, 2)
    code, out, _ = _run(
        capsys, "run", "--derainer", "mspfn_tiny", "--dataset", str(root), "--output-dir", str(tmp_path / "r")
    )
    assert code == 0
    assert "mspfn_tiny (random init)" in out
    err = caplog.text
    assert "RANDOM initialisation" in err and "--weights PATH" in err and "bench train --derainer mspfn_tiny" in err
    (record,) = (tmp_path / "r").glob("*.json")
    rec = read_record(record)
    assert rec["derainer"]["random_init"] is True
    identity = _run(
        capsys, "run", "--derainer", "identity", "--dataset", str(root), "--output-dir", str(tmp_path / "i")
    )
    assert identity[0] == 0
    (irec,) = (tmp_path / "i").glob("*.json")
    assert read_record(irec)["derainer"]["random_init"] is False
    # Rendered beside the paper's Table 4 rows: labelled, and not attached to a paper method.
    rec["derainer"]["name"] = "mspfn"
    for wide in (False, True):
        text, _ = render_requested([rec], table="4", fmt="markdown", wide=wide)
        assert "MSPFN (random init)" in text and "paper's MSPFN" not in text


def test_save_images_on_a_finished_run_writes_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A finished identical record is reused, but not when --save-images asks for images it did not write."""
    root = _pairs_folder(tmp_path, 2)
    argv = ["run", "--derainer", "identity", "--dataset", str(root), "--output-dir", str(tmp_path / "r")]
    assert _run(capsys, *argv)[0] == 0
    code, _, err = _run(capsys, *argv, "--save-images")
    assert code == 0 and "reusing it" not in err
    (record,) = (tmp_path / "r").glob("*.json")
    assert len(list((tmp_path / "r" / "images" / record.stem).glob("*.png"))) == 2
    code, _, err = _run(capsys, *argv, "--save-images")
    assert code == 0 and "reusing it" in err  # now the images are there


def test_options_a_task_cannot_use_are_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An ignored ``-o`` would still change the record's protocol (and give it a table of its own)."""
    import bench

    root = _pairs_folder(tmp_path, 2)
    code, _, err = _run(capsys, "run", "--derainer", "identity", "--dataset", str(root), "-o", "bogus=1")
    assert code == 2 and "--task restoration takes no option(s) bogus" in err
    with pytest.raises(TypeError, match="did you mean quantize="):
        bench.evaluate("identity", "restoration", str(root), quantise="trunc")
    with pytest.raises(ValueError, match="takes no option"):
        bench.evaluate("identity", "restoration", str(root), force=True)


def test_bad_numbers_and_model_arguments_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.factory import create_derainer

    for argv in (
        ["perf", "--derainer", "identity", "--size", "32x32", "--repeats", "0", "--no-flops"],
        ["perf", "--derainer", "identity", "--size", "0x0", "--no-flops"],
        ["run", "--derainer", "identity", "--workers", "-3"],
    ):
        try:
            code: object = main(argv)
        except SystemExit as stop:  # refused by argparse
            code = stop.code
        assert code == 2, argv
        assert "Traceback" not in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"its model arguments are: .*num_ffm"):
        create_derainer("mspfn_tiny", bogus=3)
