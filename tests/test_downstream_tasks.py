"""Downstream task glue with fake evaluators: conditions, gain/recovery, caches, labels, pseudo labels."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.results.record import read_record
from bench.tasks.config import RunConfig
from bench.tasks.downstream import DetectionTask, gain_and_recovery
from bench.tasks.semantic import SemanticTask
from tests.conftest import write_scene_pairs


def test_gain_and_recovery_formula() -> None:
    flat = gain_and_recovery({"clean": {"m": 0.8}, "rainy": {"m": 0.4}, "derained": {"m": 0.5}})
    assert flat["gain.m"] == pytest.approx(0.1)
    assert flat["recovery.m"] == pytest.approx(0.25)
    flat = gain_and_recovery({"clean": {"m": 0.4}, "rainy": {"m": 0.4}, "derained": {"m": 0.5}})
    assert math.isnan(flat["recovery.m"])


def _paired_set(root: Path, n: int = 3, labels: bool = False) -> None:
    write_scene_pairs(root, [f"img{i}" for i in range(n)], np.random.default_rng(0))  # bright boxes on dark
    if labels:
        (root / "labels").mkdir(parents=True, exist_ok=True)
        for i in range(n):
            (root / "labels" / f"img{i}.txt").write_text("0 0.5 0.5 0.25 0.25\n")


def _config(tmp_path: Path, dataset: Path, derainer: str = "identity", **options: object) -> RunConfig:
    return RunConfig(
        task="detection",
        derainer=derainer,
        dataset=str(dataset),
        output_dir=str(tmp_path / "runs"),
        weights=None,
        options={"evaluator": "dummy_detector", **options},
    )


def test_detection_with_pseudo_labels_and_identity(tmp_path: Path) -> None:
    _paired_set(tmp_path / "set")
    record = DetectionTask(_config(tmp_path, tmp_path / "set")).run()
    m = record["metrics"]
    assert record["dataset"]["pseudo_labels"] is True
    assert m["clean.map50_95"] == pytest.approx(1.0)  # pseudo labels are the clean predictions
    for key in ("map50_95", "map50", "precision", "recall", "iou"):
        assert m[f"derained.{key}"] == pytest.approx(m[f"rainy.{key}"])  # identity changes nothing
        assert m[f"gain.{key}"] == pytest.approx(0.0)
    assert m["derained.psnr_y"] == pytest.approx(m["rainy.psnr_y"])
    assert [r["id"] for r in record["rows"]] == ["img0", "img1", "img2"]
    assert record["evaluator"]["scoring"]["operating_point_score"] == 0.6


def test_clean_and_rainy_predictions_are_cached_across_derainers(tmp_path: Path) -> None:
    _paired_set(tmp_path / "set")
    first = DetectionTask(_config(tmp_path, tmp_path / "set")).run()
    second = DetectionTask(_config(tmp_path, tmp_path / "set", derainer="mspfn_tiny")).run()
    # identity: the derained image is the rainy one, so only its prediction is a hit (3 of 9)
    assert first["timings"]["cache"]["predictions"] == {"hits": 3, "misses": 6, "corrupt": 0}
    assert second["timings"]["cache"]["predictions"]["hits"] >= 6  # clean + rainy of 3 images
    assert second["metrics"]["clean.map50_95"] == first["metrics"]["clean.map50_95"]
    assert second["metrics"]["rainy.map50_95"] == first["metrics"]["rainy.map50_95"]
    third = DetectionTask(_config(tmp_path, tmp_path / "set", derainer="mspfn_tiny")).run()
    assert third["timings"]["cache"]["derained"]["hits"] == 3
    assert third["metrics"] == second["metrics"]


def test_labels_are_used_when_present(tmp_path: Path) -> None:
    _paired_set(tmp_path / "set", labels=True)
    record = DetectionTask(_config(tmp_path, tmp_path / "set")).run()
    assert record["dataset"]["pseudo_labels"] is False and record["dataset"]["labels"] == "yolo"


def test_malformed_label_is_recorded_not_fatal(tmp_path: Path) -> None:
    _paired_set(tmp_path / "set", labels=True)
    (tmp_path / "set" / "labels" / "img1.txt").write_text("zero 0.5 nonsense\n")
    record = DetectionTask(_config(tmp_path, tmp_path / "set")).run()
    assert [r["id"] for r in record["rows"]] == ["img0", "img2"]
    assert any("img1" in i["path"] and "labels" in i["reason"] for i in record["issues"])


def test_semantic_with_dummy_segmenter(tmp_path: Path) -> None:
    _paired_set(tmp_path / "set")
    cfg = _config(tmp_path, tmp_path / "set", evaluator="dummy_segmenter")
    cfg.task = "semantic"
    record = SemanticTask(cfg).run()
    assert record["metrics"]["clean.miou"] == pytest.approx(1.0)
    assert 0.0 <= record["metrics"]["rainy.miou"] <= 1.0
    assert set(record["per_class_iou"]) == {"clean", "rainy", "derained"}


def test_cli_several_derainers_one_record_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _paired_set(tmp_path / "set")
    code = main(
        [
            "run",
            "--derainer",
            "identity",
            "mspfn_tiny",
            "--weights",
            "none",
            "--task",
            "detection",
            "--dataset",
            str(tmp_path / "set"),
            "-o",
            "evaluator=dummy_detector",
            "--output-dir",
            str(tmp_path / "runs"),
        ]
    )
    assert code == 0
    records = sorted((tmp_path / "runs").glob("*.json"))
    assert len(records) == 2
    assert {read_record(p)["derainer"]["name"] for p in records} == {"identity", "mspfn_tiny"}
    out = capsys.readouterr().out
    assert "identity" in out and "mspfn_tiny" in out


def test_unknown_evaluator_option_is_a_clear_error(tmp_path: Path) -> None:
    _paired_set(tmp_path / "set")
    with pytest.raises(ValueError, match="does not take option"):
        DetectionTask(_config(tmp_path, tmp_path / "set", bogus=1)).run()


@pytest.mark.slow
def test_embedded_default_with_real_yolo(data_root: Path, tmp_path: Path) -> None:
    cfg = RunConfig(task="detection", derainer="identity", dataset="embedded", output_dir=str(tmp_path))
    record = DetectionTask(cfg).run()
    assert record["dataset"]["n_scored"] == 5
    assert record["evaluator"]["weights"].endswith("yolov8n_int8.tflite")
    assert record["metrics"]["clean.map50_95"] == pytest.approx(1.0)


def test_instance_run_on_a_box_only_set_is_refused(tmp_path: Path) -> None:
    """Box labels would be scored as filled rectangles (mask mAP 7.5 % vs box 85 % before this check)."""
    from bench.tasks.downstream import InstanceTask

    _paired_set(tmp_path / "set", labels=True)
    cfg = dataclasses.replace(_config(tmp_path, tmp_path / "set"), task="instance")
    with pytest.raises(ValueError, match="box labels only: instance segmentation needs polygon"):
        InstanceTask(cfg).run()
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").glob("*.json"))
    # one polygon anywhere makes it an instance set
    (tmp_path / "set" / "labels" / "img0.txt").write_text("0 0.4 0.4 0.6 0.4 0.6 0.6 0.4 0.6\n")
    from bench.tasks.downstream_data import open_downstream_set

    assert open_downstream_set(str(tmp_path / "set"), "instance", data_root=None, seed=0).label_source == "yolo"


def test_cached_run_reports_the_measured_forward_time(tmp_path: Path) -> None:
    """s/img of a downstream record is the forward time even when the derained image comes from the cache."""
    from bench.tasks.downstream import DetectionTask

    _paired_set(tmp_path / "set")
    first = DetectionTask(dataclasses.replace(_config(tmp_path, tmp_path / "set"), resume=False)).run()
    second = DetectionTask(dataclasses.replace(_config(tmp_path, tmp_path / "set"), resume=False)).run()
    hits = [rec["timings"]["cache"]["derained"]["hits"] for rec in (first, second)]
    assert hits == [0, len(second["rows"])]
    assert [r["seconds"] for r in second["rows"]] == [r["seconds"] for r in first["rows"]]
    assert second["timings"]["seconds_per_image"] == first["timings"]["seconds_per_image"] > 0


def test_an_image_without_its_own_labels_is_left_out_not_scored_on_pseudo_labels(tmp_path: Path) -> None:
    """A set with masks / a COCO JSON: an image missing from them is an issue (before: pseudo ground truth for
    that image, or empty ground truth, mixed into the labelled ones)."""
    import json

    from PIL import Image

    _paired_set(tmp_path / "sem")
    (tmp_path / "sem" / "masks").mkdir()
    for stem in ("img0", "img2"):
        Image.fromarray(np.zeros((48, 64), dtype=np.uint8)).save(tmp_path / "sem" / "masks" / f"{stem}.png")
    cfg = _config(tmp_path, tmp_path / "sem", evaluator="dummy_segmenter")
    cfg.task = "semantic"
    record = SemanticTask(cfg).run()
    assert [r["id"] for r in record["rows"]] == ["img0", "img2"] and record["dataset"]["pseudo_labels"] is False
    assert any("img1" in i["reason"] and "label mask" in i["reason"] for i in record["issues"])

    _paired_set(tmp_path / "coco")
    images = [{"id": k + 1, "file_name": f"img{k}.png", "width": 64, "height": 48} for k in (0, 2)]
    categories = [{"id": 1, "name": "person"}]
    (tmp_path / "coco" / "annotations.json").write_text(
        json.dumps({"images": images, "annotations": [], "categories": categories})
    )
    record = DetectionTask(_config(tmp_path, tmp_path / "coco")).run()
    assert [r["id"] for r in record["rows"]] == ["img0", "img2"] and record["dataset"]["labels"] == "coco"
    assert any("lists no image named img1" in i["reason"] for i in record["issues"])


def test_built_set_conditions_and_manifest_cover_prefixed_names(tmp_path: Path) -> None:
    """Items named ``rain_000.png`` (pair id ``000``) keep their rain preset and time of day; a pair dropped
    into a built set afterwards is an issue, not scored as part of the set."""
    import json
    import shutil

    from bench.data.builders import build_labelled
    from bench.data.paired import PairedDataset
    from tests.conftest import write_yolo_source

    source = write_yolo_source(tmp_path / "src", n=3)
    for sub, ext in (("images", "png"), ("labels", "txt")):
        for path in sorted((source / sub / "val").glob(f"*.{ext}")):
            path.rename(path.with_name(f"rain_{path.name}"))
    built = tmp_path / "built"
    build_labelled(source, built, seed=0, progress=False)
    record = DetectionTask(_config(tmp_path, built)).run()
    assert [r["id"] for r in record["rows"]] == ["000", "001", "002"]
    items = json.loads((built / "manifest.json").read_text())["items"]
    presets = {item["name"].removeprefix("rain_").removesuffix(".png"): item["preset"] for item in items}
    assert {r["id"]: r.get("rain_preset") for r in record["rows"]} == presets
    assert all(r.get("time_of_day") in ("day", "night") for r in record["rows"])

    for sub in ("rain", "norain"):
        shutil.copy(built / sub / "rain_000.png", built / sub / "rain_009.png")
    dataset = PairedDataset(built)
    assert [p.id for p in dataset.pairs] == ["000", "001", "002"]
    assert [i.reason for i in dataset.issues] == ["not in the built set's manifest.json: not scored"]


def test_the_cached_rainy_copy_of_a_labelled_set_is_rebuilt_when_the_build_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A labelled clean set is rendered once into the cache; a cached copy built by other code (another
    config hash) is rebuilt, not an error asking the user for --force."""
    import json

    from bench.tasks.downstream_data import build_rainy_from_labelled
    from tests.conftest import write_yolo_source

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    source = write_yolo_source(tmp_path / "src", n=2)
    out = build_rainy_from_labelled(source, "detection", seed=0, preset="medium")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["config_sha256"] = "0" * 64  # as if built by an earlier version
    (out / "manifest.json").write_text(json.dumps(manifest))
    again = build_rainy_from_labelled(source, "detection", seed=0, preset="medium")
    assert again == out and json.loads((out / "manifest.json").read_text())["config_sha256"] != "0" * 64
