"""Bad arguments are refused before any work (exit 2, one line, no traceback) and stdout carries only results."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import main
from tests.conftest import missing_data

REPO = Path(__file__).resolve().parents[1]


def _pairs(tmp_path: Path) -> Path:
    import numpy as np

    from bench.data.images import write_image

    root = tmp_path / "pairs"
    image = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    write_image(root / "rain" / "1.png", image)
    write_image(root / "norain" / "1.png", image)
    return root


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_limit_must_be_positive(value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--derainer", "identity", "--dataset", str(_pairs(tmp_path)), "--limit", value])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "--limit" in err and "≥ 1" in err and "Traceback" not in err


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err
    return lines[0]


def test_output_dir_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    line = _refused(["run", "--dataset", str(_pairs(tmp_path)), "--output-dir", str(target)], capsys)
    assert "is a file, not a folder" in line and target.read_text() == "x"


def test_output_dir_that_cannot_be_created(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    out = blocker / "runs"  # cannot exist: its parent is a file (refused even for root, unlike chmod)
    line = _refused(["run", "--dataset", str(_pairs(tmp_path)), "--output-dir", str(out)], capsys)
    assert "not writable" in line and str(out) in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        line = _refused(["run", "--dataset", str(_pairs(tmp_path)), "--output-dir", str(out)], capsys)
    finally:
        out.chmod(0o700)
    assert "not writable" in line and not list(out.iterdir())


def test_dataset_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = _pairs(tmp_path) / "rain" / "1.png"
    line = _refused(["run", "--dataset", str(image), "--output-dir", str(tmp_path / "runs")], capsys)
    assert ("is a file" in line and not (tmp_path / "runs").exists()) or not list((tmp_path / "runs").glob("*.json"))


@pytest.mark.slow
def test_detection_stdout_holds_only_the_result(data_root: Path, tmp_path: Path) -> None:
    """``bench run --derainer identity --task detection > out.md`` with the real YOLO weights: ultralytics'
    settings banner and model-loading lines go to stderr, the table alone to stdout."""
    if not (data_root / "weights" / "detection" / "yolov8n_int8.tflite").is_file():
        missing_data("YOLOv8n TFLite weights not found")
    env = {**os.environ, "BENCH_DATA": str(data_root), "BENCH_CACHE": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "bench", "run", "--derainer", "identity", "--task", "detection"]
    proc = subprocess.run(
        [*command, "--output-dir", str(tmp_path / "runs")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("**detection on embedded")
    for junk in ("Ultralytics", "Loading", "XNNPACK", "record:", "WARNING"):
        assert junk not in out, junk
    assert "Creating new Ultralytics Settings" in proc.stderr  # said, but on stderr


def test_score_takes_metrics_like_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``score --metrics a b PATH`` (space or comma separated, as in ``run``); ``--metric`` still works."""
    root = _pairs(tmp_path)
    rainy, clean = root / "rain" / "1.png", root / "norain" / "1.png"
    outputs = []
    for argv in (
        ["--metrics", "psnr_y", "ssim_y", str(rainy)],
        ["--metrics", "psnr_y,ssim_y", str(rainy)],
        ["--metric", "psnr_y", "--metric", "ssim_y", str(rainy)],
    ):
        assert main(["score", *argv, "--ref", str(clean), "--no-progress"]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] == outputs[2] and outputs[0].startswith("file,psnr_y,ssim_y,error")
    line = _refused(["score", str(rainy)], capsys)
    assert "--metrics" in line
