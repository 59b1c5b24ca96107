"""`bench.results.load` / `load_rows`: run records as tidy pandas frames."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest

import bench.results
from bench.results.frames import RECORD_COLUMNS, dataset_identity, derainer_label, load, load_rows

RECORDS = Path(__file__).resolve().parent / "data" / "records"


def _record(name: str) -> dict:
    return json.loads((RECORDS / name).read_text())


def test_load_one_row_per_record_and_metric() -> None:
    df = bench.results.load(RECORDS)
    assert list(df.columns) == list(RECORD_COLUMNS)
    n_metrics = sum(len(json.loads(p.read_text())["metrics"]) for p in RECORDS.glob("*.json"))
    assert len(df) == n_metrics
    one = df[(df.run_id == "restoration-Rain100L-prenet") & (df.metric == "psnr_y")]
    assert one[["label", "condition", "value", "quantize", "crop_multiple", "n_images"]].values.tolist() == [
        ["PReNet (Rain100L)", "derained", 37.4, "trunc", 8, 2]
    ]
    assert one.record.iloc[0].endswith("restoration-Rain100L-prenet.json")
    det = df[(df.run_id == "detection-coco8-rain-prenet") & (df.metric == "map50")]
    assert dict(zip(det.condition, det.value)) == pytest.approx(
        {"clean": 0.8, "rainy": 0.5, "derained": 0.65, "gain": 0.15, "recovery": 0.5}
    )
    assert set(det.evaluator) == {"yolo"}
    assert '"score_threshold": 0.6' in det.evaluator_options.iloc[0]


def test_load_accepts_records_files_and_lists(tmp_path: Path) -> None:
    rec = _record("restoration-Rain100L-prenet.json")
    from_dicts = load([rec])
    from_file = load(RECORDS / "restoration-Rain100L-prenet.json")
    assert from_dicts.value.tolist() == from_file.value.tolist()
    assert from_dicts.record.isna().all()
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing")
    empty = load(tmp_path)
    assert empty.empty and list(empty.columns) == list(RECORD_COLUMNS)


def test_identity_is_not_the_folder_name(tmp_path: Path) -> None:
    """Two different folders both named `mine` are two datasets; a manifest hash beats the path."""
    a = _record("restoration-Rain100L-prenet.json")
    b = copy.deepcopy(a)
    a["dataset"] = {"name": "mine", "path": str(tmp_path / "x" / "mine")}
    b["dataset"] = {"name": "mine", "path": str(tmp_path / "y" / "mine")}
    assert dataset_identity(a) != dataset_identity(b)
    via_link = copy.deepcopy(a)
    (tmp_path / "x" / "mine").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "x")
    via_link["dataset"]["path"] = str(tmp_path / "link" / "mine")
    assert dataset_identity(via_link) == dataset_identity(a)
    a["dataset"]["manifest_sha256"] = b["dataset"]["manifest_sha256"] = "f" * 64
    assert dataset_identity(a) == dataset_identity(b)


def test_protocol_and_subset_columns_tell_records_apart() -> None:
    a = _record("restoration-Rain100L-prenet.json")
    b = copy.deepcopy(a)
    b["config"]["quantize"] = "round"
    c = copy.deepcopy(a)
    c["rows"] = [{"id": "1"}]
    df = load([a, b, c])
    assert df.groupby(["protocol_id", "ids_hash"]).ngroups == 3
    assert "quantize=round" in set(df.protocol.str.split(",").str[0])


def test_labels_are_one_per_model() -> None:
    rec = {"derainer": {"name": "prenet", "weights": {"tag": "Rain1400"}}}
    assert derainer_label(rec) == "PReNet (Rain1400)"
    assert derainer_label({"derainer": {"name": "my_net"}}) == "my_net"


def test_load_rows_per_image() -> None:
    rec = _record("restoration-Rain100L-prenet.json")
    rec["rows"] = [
        {"id": "1", "file": "1.png", "psnr_y": 30.0, "seconds": 0.2},
        {"id": "2", "file": "2.png", "psnr_y": "inf", "seconds": 0.3},
    ]
    df = load_rows([rec])
    psnr = df[df.metric == "psnr_y"]
    assert psnr.image.tolist() == ["1", "2"]
    assert psnr.value.iloc[0] == 30.0 and math.isinf(psnr.value.iloc[1])
    assert set(df.metric) == {"psnr_y", "seconds"}
    assert (df.label == "PReNet (Rain100L)").all() and (df.n_images == 2).all()


def test_shards_are_marked() -> None:
    rec = _record("restoration-Rain100L-prenet.json")
    rec["config"]["shard"] = "0/2"
    assert set(load([rec]).shard) == {"0/2"}
