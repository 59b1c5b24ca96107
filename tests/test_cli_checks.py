"""Bad arguments are refused before any work (exit 2, one line, no traceback) and stdout carries only results."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import main
from tests.conftest import missing_data, write_offset_pairs

REPO = Path(__file__).resolve().parents[1]


def _pairs(tmp_path: Path) -> Path:
    import numpy as np

    return write_offset_pairs(tmp_path / "pairs", ["1"], np.random.default_rng(0), offset=0)  # rainy == clean


def _argparse_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """An argument refused while parsing: exit 2, one line on stderr, nothing on stdout."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert exit_info.value.code == 2 and len(lines) == 1 and captured.out == "", captured.err
    return lines[0]


LIMITED = {
    "run": ["run", "--derainer", "identity", "--dataset", "DATASET"],
    "compare": ["compare", "--derainer", "identity"],
    "synth": ["synth", "--input", "DATASET", "--output-dir", "OUT"],
    "reproduce": ["reproduce"],
}


@pytest.mark.parametrize("command", sorted(LIMITED))
@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_limit_must_be_positive(value: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dataset = str(_pairs(tmp_path))
    argv = [a.replace("DATASET", dataset).replace("OUT", str(tmp_path / "out")) for a in LIMITED[command]]
    line = _argparse_refused([*argv, "--limit", value], capsys)
    assert line.startswith(f"bench {command}: error: argument --limit") and "≥ 1" in line and value in line
    assert not (tmp_path / "out").exists()


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Refused before any work: exit 2, stderr one ``error: ...`` line, nothing on stdout."""
    code = main(argv)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert captured.out == ""
    return lines[0]


OUTPUT_DIR_COMMANDS = {
    "run": ["run", "--dataset", "DATASET"],
    "compare": ["compare", "--derainer", "identity", "--task", "restoration"],
    "synth": ["synth", "--input", "DATASET/rain"],
    "reproduce": ["reproduce", "--only", "params"],
    "perf": ["perf", "--derainer", "identity"],
    "train": ["train", "--derainer", "mspfn_tiny", "--train", "DATASET", "--steps", "1"],
}


@pytest.mark.parametrize("command", sorted(OUTPUT_DIR_COMMANDS))
def test_output_dir_that_is_a_file(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    dataset = str(_pairs(tmp_path))
    argv = [a.replace("DATASET", dataset) for a in OUTPUT_DIR_COMMANDS[command]]
    line = _refused([*argv, "--output-dir", str(target)], capsys)
    assert "is a file, not a folder" in line and str(target) in line and target.read_text() == "x"


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


def test_output_dir_without_write_permission(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write test of the output folder fails as in a read-only folder (also when the tests run as root)."""
    import tempfile

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", refuse)
    out = tmp_path / "ro"
    out.mkdir()
    line = _refused(["run", "--dataset", str(_pairs(tmp_path)), "--output-dir", str(out)], capsys)
    assert line == f"error: --output-dir {out} is not writable (Permission denied): choose another folder"
    assert not list(out.iterdir())


def test_dataset_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = _pairs(tmp_path) / "rain" / "1.png"
    line = _refused(["run", "--dataset", str(image), "--output-dir", str(tmp_path / "runs")], capsys)
    assert "is a file" in line and str(image) in line and not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--dataset", "MISSING"], "does not exist"),
        (["--dataset", "Rain1400", "--data-root", "EMPTY"], "not found at"),
        (["--dataset", "no_such_set"], "unknown dataset 'no_such_set'"),
        (["--derainer", "no_such_model"], "unknown derainer 'no_such_model'"),
        (["--task", "no_such_task"], "unknown task 'no_such_task'"),
    ],
    ids=["missing-folder", "absent-registered-set", "unknown-dataset", "unknown-derainer", "unknown-task"],
)
def test_missing_or_unknown_names_are_refused_before_any_work(
    argv: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    argv = [a.replace("MISSING", str(tmp_path / "nope")).replace("EMPTY", str(tmp_path / "empty")) for a in argv]
    if "--dataset" not in argv:
        argv += ["--dataset", str(_pairs(tmp_path))]
    line = _refused(["run", *argv, "--output-dir", str(tmp_path / "runs")], capsys)
    assert expected in line and not (tmp_path / "runs").exists()


def test_synth_input_that_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _refused(["synth", "--input", str(tmp_path / "nope"), "--output-dir", str(tmp_path / "out")], capsys)
    assert str(tmp_path / "nope") in line and "not a folder" in line and not (tmp_path / "out").exists()


def test_score_output_under_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``score --output dir/file/x.csv`` where ``file`` is a file: refused before scoring, no CSV on stdout."""
    root = _pairs(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    argv = ["score", "--metrics", "niqe", str(root / "rain"), "--no-progress"]
    line = _refused([*argv, "--output", str(blocker / "x.csv")], capsys)
    assert str(blocker) in line and "is a file" in line and blocker.read_text() == "x"
    line = _refused([*argv, "--output", str(tmp_path)], capsys)
    assert "is a folder" in line


def test_score_path_after_metrics_that_does_not_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _refused(["score", "--metrics", "niqe", str(tmp_path / "nope")], capsys)
    assert f"{tmp_path / 'nope'} does not exist" in line


def test_detection_stdout_holds_only_the_result(data_root: Path, tmp_path: Path) -> None:
    """``bench run --derainer identity --task detection > out.md`` with the real YOLO weights: ultralytics'
    settings banner, model-loading and TFLite lines stay off stdout, which holds the result table alone."""
    if not (data_root / "weights" / "detection" / "yolov8n_int8.tflite").is_file():
        missing_data("YOLOv8n TFLite weights not found")
    from bench.report.tables import render_run_summary
    from bench.results.record import read_record

    env = {**os.environ, "BENCH_DATA": str(data_root), "BENCH_CACHE": str(tmp_path / "cache")}
    env.pop("YOLO_CONFIG_DIR", None)
    command = [sys.executable, "-m", "bench", "run", "--derainer", "identity", "--task", "detection", "--limit", "2"]
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
    (record_path,) = (tmp_path / "runs").glob("detection-*.json")
    record = dict(read_record(record_path))
    assert record["derainer"]["name"] == "identity" and "yolo" in str(record["evaluator"]).lower()
    assert proc.stdout == render_run_summary([record]) + "\n"  # the table, nothing else
    for junk in ("Ultralytics", "Loading", "XNNPACK", "record:", "WARNING"):
        assert junk not in proc.stdout, junk
    assert f"record: {record_path}" in proc.stderr
    assert "Ultralytics Settings" not in proc.stderr  # third-party chatter is quiet unless -v


def _identity_run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[str, str]:
    argv = ["run", "--derainer", "identity", "--dataset", str(tmp_path / "pairs"), "--output-dir", str(tmp_path / "r")]
    assert main([*argv, "--no-progress", *extra]) == 0
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_a_finished_run_is_reused_unless_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.results.record import read_record

    _pairs(tmp_path)
    first_out, first_err = _identity_run(tmp_path, capsys)
    (path,) = (tmp_path / "r").glob("restoration-*.json")
    created = read_record(path)["created"]
    assert f"record: {path}" in first_err

    again_out, again_err = _identity_run(tmp_path, capsys)
    assert again_err.strip() == f"complete: {path} is this run's record; reusing it (--force recomputes)"
    assert again_out == first_out and read_record(path)["created"] == created

    _, other_err = _identity_run(tmp_path, capsys, "--quantize", "trunc")  # another protocol: computed
    assert "complete:" not in other_err and len(list((tmp_path / "r").glob("restoration-*.json"))) == 2

    forced_out, forced_err = _identity_run(tmp_path, capsys, "--force")
    assert "complete:" not in forced_err and f"record: {path}" in forced_err
    assert read_record(path)["created"] >= created and forced_out.splitlines()[:3] == first_out.splitlines()[:3]


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


def test_progress_lines_when_stderr_is_no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a terminal: one line per interval on stderr (never stdout); BENCH_PROGRESS=0 (--no-progress): none."""
    import io

    from bench.progress import progress

    monkeypatch.delenv("BENCH_PROGRESS", raising=False)
    buf = io.StringIO()
    assert list(progress(range(3), 3, "identity on set", interval=0.0, stream=buf)) == [0, 1, 2]
    lines = buf.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines] == ["identity on set: 1/3 images", "identity on set: 2/3 images"]
    monkeypatch.setenv("BENCH_PROGRESS", "0")
    quiet = io.StringIO()
    assert list(progress(range(3), 3, "x", interval=0.0, stream=quiet)) == [0, 1, 2] and quiet.getvalue() == ""


def test_unpaired_file_is_said_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A rainy file without a clean partner is not scored, and the end of the run names it with the reason."""
    root = _pairs(tmp_path)
    (root / "rain" / "2.png").write_bytes((root / "rain" / "1.png").read_bytes())
    _, err = _identity_run(tmp_path, capsys)
    assert "warning: 1 file(s) could not be used: 2.png (unpaired: no clean image" in err
