"""scripts/coco_layout_from_yolo.py: a YOLO-layout folder becomes a COCO-2017-val source that
``bench synth --dataset coco350`` builds from (the small built sets of docs/datasets.md)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.cli import main

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "coco_layout_from_yolo.py"


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("coco_layout_from_yolo", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_yolo_folder_to_coco_layout_and_build(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for split, stem, line in (
        ("train", "000000000009", "2 0.5 0.5 0.5 0.25\n"),
        ("val", "000000000036", "0 0.25 0.5 0.2 0.4\n"),
    ):
        (tmp_path / "yolo" / "images" / split).mkdir(parents=True)
        (tmp_path / "yolo" / "labels" / split).mkdir(parents=True)
        Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(
            tmp_path / "yolo" / "images" / split / f"{stem}.jpg"
        )
        (tmp_path / "yolo" / "labels" / split / f"{stem}.txt").write_text(line)
    assert _script().convert(tmp_path / "yolo", tmp_path / "coco") == 2
    data = json.loads((tmp_path / "coco" / "annotations" / "instances_val2017.json").read_text())
    assert [i["id"] for i in data["images"]] == [9, 36] and len(data["categories"]) == 80
    car, person = data["annotations"]
    assert car["category_id"] == 3 and car["bbox"] == pytest.approx([20.0, 22.5, 40.0, 15.0])  # YOLO class 2 = car
    assert person["category_id"] == 1 and person["bbox"] == pytest.approx([12.0, 18.0, 16.0, 24.0])
    assert (tmp_path / "coco" / "val2017" / "000000000036.jpg").read_bytes() == (
        tmp_path / "yolo" / "images" / "val" / "000000000036.jpg"
    ).read_bytes()
    args = ["synth", "--dataset", "coco350", "--source", str(tmp_path / "coco"), "--output-dir", str(tmp_path / "set")]
    assert main([*args, "--select", "2", "--no-progress"]) == 0
    built = json.loads((tmp_path / "set" / "manifest.json").read_text())
    assert built["dataset"] == "coco350" and len(built["items"]) == 2
