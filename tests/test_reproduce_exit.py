"""``bench reproduce`` exit codes: a reproduction that checked nothing is not a success.

Defect: with no data at hand every check was skipped and the command exited 0, which a CI job reads as
"the published numbers were reproduced". Now: 2 (as for missing data anywhere in the CLI) with a line
saying nothing was checked and why; 1 when a check failed; 0 when something was checked and nothing failed,
the last line saying how many checks were skipped.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import main
from bench.paths import MissingDataError
from bench.reproduce import checks as catalogue
from bench.reproduce.check_types import Check, Context, Expected, Measurement


def _absent(ctx: Context) -> Measurement:
    raise MissingDataError("dataset Rain100H not found under /nowhere. Download it first")


def _measured(ctx: Context) -> Measurement:
    return Measurement(values={"psnr_y": 30.0}, n_items=2)


def _checks(*measures: object) -> list[Check]:
    out = []
    for i, measure in enumerate(measures):
        skip = "" if measure is not None else "needs the authors' weights, not released"
        out.append(Check(f"c{i}", "weights", "x", "y", "p", "s", (Expected("psnr_y", 30.0),), measure, skip))  # type: ignore[arg-type]
    return out


def test_nothing_checked_exits_2_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(catalogue, "all_checks", lambda: _checks(_absent, None))
    assert main(["reproduce", "--output-dir", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert "2 checks: 0 measured, 2 skipped" in captured.out  # the report is still printed
    (line,) = [x for x in captured.err.splitlines() if "nothing was checked" in x]
    assert "all 2 checks were skipped" in line
    assert "Rain100H not found" in line and "not released" in line


def test_some_checked_and_some_skipped_exits_0_and_counts_the_skips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(catalogue, "all_checks", lambda: _checks(_measured, _absent, None))
    assert main(["reproduce", "--output-dir", str(tmp_path)]) == 0
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "1 of 3 checks measured" in last and "2 skipped" in last


def test_a_failure_still_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(ctx: Context) -> Measurement:
        raise catalogue.CheckError("weights were not loaded")

    monkeypatch.setattr(catalogue, "all_checks", lambda: _checks(broken, None))
    assert main(["reproduce", "--output-dir", str(tmp_path)]) == 1
    assert "1 of 2 checks failed" in capsys.readouterr().err
