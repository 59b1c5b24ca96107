"""The Python API: ``bench.evaluate`` runs the code of ``bench run`` and returns the same record."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bench
from bench.cli import main
from bench.results.record import read_record
from tests.conftest import comparable, identity_restoration_argv, write_offset_pairs


def _paired_fixture(root: Path) -> Path:
    return write_offset_pairs(root, (1, 2, 3), np.random.default_rng(3), offset=25)


def test_evaluate_record_equals_the_cli_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _paired_fixture(tmp_path / "pairs")
    options = {"quantize": "trunc", "crop_multiple": 8, "metrics": ["psnr_y", "ssim_y_float"], "limit": 2}
    code = main(
        identity_restoration_argv(
            data,
            "--quantize",
            "trunc",
            "--crop-multiple",
            "8",
            "--metrics",
            "psnr_y",
            "ssim_y_float",
            "--limit",
            "2",
            "--output-dir",
            str(tmp_path / "cli"),
        )
    )
    assert code == 0
    capsys.readouterr()
    (cli_path,) = (tmp_path / "cli").glob("*.json")
    cli = read_record(cli_path)

    api = bench.evaluate(
        derainer="identity", task="restoration", dataset=str(data), output_dir=str(tmp_path / "api"), **options
    )
    assert Path(api["_path"]).parent == tmp_path / "api"
    assert read_record(api["_path"])["metrics"] == api["metrics"]  # what it returns is what it wrote
    assert [r["id"] for r in api["rows"]] == ["1", "2"] and api["config"]["quantize"] == "trunc"
    assert np.isfinite(api["metrics"]["psnr_y"])
    assert comparable(api) == comparable(cli)


def test_evaluate_applies_the_run_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.api import default_task_and_dataset

    assert default_task_and_dataset(None, "somewhere") == ("restoration", "somewhere")
    assert default_task_and_dataset("detection", None) == ("detection", "embedded")
    # a named set brings its own task; one named by a folder is restoration, whatever the folder's name
    assert default_task_and_dataset(None, "COCO8") == ("detection", "COCO8")
    assert default_task_and_dataset(None, "coco8-seg") == ("instance", "coco8-seg")
    assert default_task_and_dataset(None, "Real147") == ("noref", "Real147")
    assert default_task_and_dataset(None, "RainTrainL") == ("restoration", "RainTrainL")
    assert default_task_and_dataset(None, "embedded") == ("detection", "embedded")
    assert default_task_and_dataset("restoration", "coco8") == ("restoration", "coco8")
    (tmp_path / "coco8").mkdir()
    monkeypatch.chdir(tmp_path)
    assert default_task_and_dataset(None, "coco8") == ("restoration", "coco8")
    data = _paired_fixture(tmp_path / "pairs")
    record = bench.evaluate(dataset=str(data), limit=1, output_dir=str(tmp_path), metrics=["psnr_y"])
    assert record["task"] == "restoration" and record["derainer"]["name"] == "identity"
    assert len(record["rows"]) == 1


def test_evaluate_refuses_unknown_names_and_misplaced_options(tmp_path: Path) -> None:
    from bench.registry import UnknownNameError

    with pytest.raises(UnknownNameError):
        bench.evaluate(derainer="no_such_derainer", task="restoration", dataset=str(tmp_path))
    with pytest.raises(UnknownNameError):
        bench.evaluate(task="no_such_task", dataset=str(tmp_path))
    with pytest.raises(TypeError, match="task options as keywords"):
        bench.evaluate(task="restoration", dataset=str(tmp_path), options={"evaluator": "yolo"})


def test_import_bench_stays_light() -> None:
    code = (
        "import sys, bench; bench.evaluate; bench.results.load; "
        "heavy = [m for m in ('torch', 'numpy', 'pandas', 'bench.tasks') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""
