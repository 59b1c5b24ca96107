"""Review of bench.results: the resume journal after kills, state and record files that are damaged or odd,
and the effective precision in the frames' protocol (the report's tables group by it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.results.frames import protocol_id, protocol_text
from bench.results.journal import Journal
from bench.results.record import REQUIRED_KEYS, RecordError, find_records, read_record
from bench.results.state import StateError, read_state, write_state

HEADER = {"task": "restoration", "quantize": "round"}


def test_a_row_appended_after_a_torn_line_survives_the_next_resume(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    Journal(path, header=HEADER).append({"id": "1", "psnr_y": 30.0})
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"id": "2", "psnr')  # killed mid-write
    resumed = Journal(path, header=HEADER)
    assert sorted(resumed._done) == ["1"]
    resumed.append({"id": "2", "psnr_y": 31.0})
    resumed.append({"id": "3", "psnr_y": 32.0})
    again = Journal(path, header=HEADER)  # a second kill, a second resume: nothing finished is lost
    assert sorted(again._done) == ["1", "2", "3"]
    assert again.get("2") == {"id": "2", "psnr_y": 31.0}


def test_rows_under_a_torn_header_are_never_reused_by_another_configuration(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_text('{"_header": true, "header": {"quantize": "ro')  # killed while writing the header
    first = Journal(path, header=HEADER)
    first.append({"id": "1", "psnr_y": 30.0})
    first.append({"id": "2", "psnr_y": 31.0})
    other = Journal(path, header={**HEADER, "quantize": "trunc"})
    assert len(other) == 0  # rows of quantize=round are not rows of quantize=trunc
    assert len(Journal(tmp_path / "fresh.jsonl", header=HEADER)) == 0


def test_a_journal_with_rows_but_no_header_is_discarded(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_text('{"id": "1", "psnr_y": 30.0}\n')
    assert len(Journal(path, header=HEADER)) == 0
    assert not path.exists()


def test_a_header_with_a_tuple_resumes(tmp_path: Path) -> None:
    header: dict[str, Any] = {**HEADER, "options": {"classes": (0, 2)}}  # reads back as a list
    path = tmp_path / "run.jsonl"
    Journal(path, header=header).append({"id": "1"})
    assert "1" in Journal(path, header=header)


def test_lines_that_are_not_rows_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    Journal(path, header=HEADER).append({"id": "1"})
    with open(path, "a", encoding="utf-8") as f:
        f.write('[1, 2]\n{"no_id": true}\n')
    assert sorted(Journal(path, header=HEADER)._done) == ["1"]


def test_a_truncated_state_file_is_a_state_error(tmp_path: Path) -> None:
    good = write_state(tmp_path / "a.state.npz", {"ids": np.array(["1"]), "paths": np.array(["r/1.png"])})
    raw = good.read_bytes()
    torn = tmp_path / "b.state.npz"
    torn.write_bytes(raw[: len(raw) // 2])  # an interrupted copy from another machine
    with pytest.raises(StateError, match="unreadable state file"):
        read_state(torn)


def _record(**changes: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {k: {} for k in REQUIRED_KEYS}
    rec.update({"schema_version": 1, "task": "restoration", "rows": [], **changes})
    return rec


@pytest.mark.parametrize("version", ["x", None, "1", 1.5, True])
def test_a_malformed_schema_version_is_a_record_error(tmp_path: Path, version: object) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(_record(schema_version=version)))
    with pytest.raises(RecordError, match="schema version"):
        read_record(path)


def test_find_records_skips_broken_files_instead_of_crashing(tmp_path: Path) -> None:
    (tmp_path / "good.json").write_text(json.dumps(_record()))
    (tmp_path / "bad-version.json").write_text(json.dumps(_record(schema_version=None)))
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    (tmp_path / "folder.json").mkdir()
    assert [p.name for p, _ in find_records(tmp_path)] == ["good.json"]


def _precision_record(requested: str, effective: str | None) -> dict[str, Any]:
    derainer: dict[str, Any] = {"name": "mspfn"}
    if effective is not None:
        derainer["precision"] = effective
    return {
        "task": "restoration",
        "derainer": derainer,
        "config": {"quantize": "round", "crop_multiple": 1, "precision": requested},
    }


def test_the_protocol_names_the_precision_the_derainer_computed_in() -> None:
    auto_bf16 = _precision_record("auto", "bf16")  # a machine with native bf16
    auto_fp32 = _precision_record("auto", "fp32")  # a machine without
    fp32 = _precision_record("fp32", "fp32")
    bf16_fallback = _precision_record("bf16", "fp32")  # asked for bf16, the CPU lacks it: computed in fp32
    assert protocol_id(auto_bf16) != protocol_id(auto_fp32)
    assert protocol_id(auto_fp32) == protocol_id(fp32) == protocol_id(bf16_fallback)
    assert "bf16" in protocol_text(auto_bf16) and "auto" not in protocol_text(auto_bf16)
    assert protocol_id(_precision_record("bf16", None)) == protocol_id(auto_bf16)  # older records: as asked
