"""Sharding and ``bench merge``: n shard records merge into the record of the unsharded run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.cli import main
from bench.data.images import write_image
from bench.registries import TASKS
from bench.results.merge import MergeError, interleave, merge_shards
from bench.results.record import read_record
from bench.results.state import StateError, state_path
from bench.tasks.config import RunConfig, resolve_shard, select_shard
from tests import test_builders
from tests.conftest import comparable, identity_restoration_argv, write_scene_pairs

bdd_root = test_builders.bdd_root  # a tiny BDD100K in the official layout (the fixture of test_builders)


def _paired_set(root: Path, n: int = 7, labels: bool = False, bad: bool = True) -> None:
    rng = np.random.default_rng(0)
    write_scene_pairs(root, range(1, n + 1), rng, size=(40, 48), objects=3, margin=30, bright=150)
    if labels:
        (root / "labels").mkdir(parents=True, exist_ok=True)
        for i in range(1, n + 1):
            (root / "labels" / f"{i}.txt").write_text(f"{i % 3} 0.5 0.5 0.3 0.25\n1 0.2 0.3 0.2 0.2\n")
    if bad:  # a broken rainy file (item 3) and an unpaired clean file (a set-level issue)
        (root / "rain" / "3.png").write_bytes(b"not a png")
        write_image(root / "norain" / "99.png", rng.integers(0, 256, (40, 48, 3), dtype=np.uint8))


def _dummy_config(task: str, dataset: Path, **options: object) -> RunConfig:
    """A downstream run of the identity derainer with the task's fake evaluator."""
    evaluator = "dummy_segmenter" if task == "semantic" else "dummy_detector"
    return RunConfig(
        task=task,
        derainer="identity",
        weights="none",
        dataset=str(dataset),
        options={"evaluator": evaluator, **options},
    )


def _run_sharded(cfg: RunConfig, n: int, runs: Path) -> tuple[dict[str, Any], list[Path]]:
    """Run ``cfg`` unsharded into ``runs/one`` and as n shards into ``runs/shards``."""
    task_cls = TASKS.get(cfg.task)
    whole = task_cls(RunConfig(**{**cfg.to_dict(), "output_dir": str(runs / "one")})).run()
    paths = []
    for i in range(n):
        rec = task_cls(RunConfig(**{**cfg.to_dict(), "shard": f"{i}/{n}", "output_dir": str(runs / "shards")})).run()
        paths.append(Path(rec["_path"]))
    return whole, paths


def test_select_shard_and_interleave_are_inverse() -> None:
    ids = [str(i) for i in range(1, 12)]
    for n in (1, 2, 3, 5, 11, 13):
        parts = [select_shard(ids, f"{i}/{n}") for i in range(n)]
        assert interleave(parts) == ids
    with pytest.raises(MergeError, match="round-robin"):
        interleave([["1"], ["2", "3"]])


def test_shard_auto_from_launcher_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_shard("auto", {"RANK": "1", "WORLD_SIZE": "2"}) == "1/2"
    assert resolve_shard("auto", {"RANK": "0", "WORLD_SIZE": "1"}) is None
    assert (
        resolve_shard("auto", {"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "4"})
        == "3/4"
    )
    assert resolve_shard("auto", {"SLURM_PROCID": "2", "SLURM_NTASKS": "3"}) == "2/3"
    with pytest.raises(ValueError, match="launcher"):
        resolve_shard("auto", {})
    with pytest.raises(ValueError, match="0 <= i < n"):
        resolve_shard("2/2", {})
    for key in ("SLURM_ARRAY_TASK_ID", "SLURM_PROCID"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    cfg = RunConfig(shard="auto", device="cuda")
    assert cfg.shard == "1/3" and cfg.device == "cuda:1" and cfg.protocol()["shard"] == "1/3"


def test_restoration_two_shards_merge_to_the_unsharded_record(tmp_path: Path) -> None:
    _paired_set(tmp_path / "set")
    cfg = RunConfig(task="restoration", derainer="mspfn_tiny", weights="none", dataset=str(tmp_path / "set"))
    whole, paths = _run_sharded(cfg, 2, tmp_path / "runs")
    assert whole["dataset"]["n_skipped"] == 1 and len(whole["issues"]) == 2
    out, merged = merge_shards(paths)  # default: beside the shards, named as the unsharded record
    assert out.parent == paths[0].parent and out.name == Path(whole["_path"]).name
    assert comparable(merged) == comparable(whole)
    assert comparable(read_record(out)) == comparable(read_record(whole["_path"]))
    assert merged["metrics"] == whole["metrics"]  # exact, to the last digit
    assert [r["id"] for r in merged["rows"]] == ["1", "2", "4", "5", "6", "7"]
    assert merged["config"]["shard"] is None and merged["run_id"] == whole["run_id"]
    assert state_path(out).is_file()
    assert [s["shard"] for s in merged["env"]["merged_from"]] == ["0/2", "1/2"]


@pytest.mark.parametrize("n, labels", [(2, True), (3, False)])
def test_detection_merge_rebuilds_map_from_state(tmp_path: Path, n: int, labels: bool) -> None:
    _paired_set(tmp_path / "set", labels=labels)
    if labels:
        (tmp_path / "set" / "labels" / "5.txt").write_text("0 0.5 broken\n")  # a per-item label issue
    cfg = _dummy_config("detection", tmp_path / "set")
    whole, paths = _run_sharded(cfg, n, tmp_path / "runs")
    assert whole["dataset"]["n_skipped"] == (2 if labels else 1)
    _, merged = merge_shards(paths, tmp_path / "merged.json")
    assert comparable(merged) == comparable(whole)
    if not labels:  # pseudo labels: rainy mAP strictly between 0 and 1
        assert 0 < whole["metrics"]["rainy.map50_95"] < 1
        # a mean of the shards' mAPs is not the mAP of the set: the merge really rebuilt it
        shard_maps = [read_record(p)["metrics"]["rainy.map50_95"] for p in paths]
        assert merged["metrics"]["rainy.map50_95"] == whole["metrics"]["rainy.map50_95"]
        assert float(np.mean(shard_maps)) != whole["metrics"]["rainy.map50_95"]


def test_instance_merge_with_masks_and_pseudo_labels(tmp_path: Path) -> None:
    _paired_set(tmp_path / "set", bad=False)
    cfg = _dummy_config("instance", tmp_path / "set", with_masks=True)
    whole, paths = _run_sharded(cfg, 2, tmp_path / "runs")
    assert "rainy.mask_map50_95" in whole["metrics"]
    _, merged = merge_shards(paths, tmp_path / "merged.json")
    assert comparable(merged) == comparable(whole)


def test_semantic_merge_sums_confusion_matrices(tmp_path: Path) -> None:
    _paired_set(tmp_path / "set", bad=False)
    cfg = _dummy_config("semantic", tmp_path / "set")
    whole, paths = _run_sharded(cfg, 2, tmp_path / "runs")
    _, merged = merge_shards(paths, tmp_path / "merged.json")
    assert comparable(merged) == comparable(whole)
    assert merged["evaluator"]["scoring"]["images"] == 7


def test_a_shard_with_the_old_evaluator_hash_key_merges_with_a_new_one(tmp_path: Path) -> None:
    """Records before the one EvaluatorInfo schema store the evaluator's hash as ``sha256``."""
    from bench.fileio import write_json_atomic

    _paired_set(tmp_path / "set", n=4, bad=False)
    cfg = _dummy_config("semantic", tmp_path / "set")
    paths = [
        Path(
            TASKS.get("semantic")(
                RunConfig(**{**cfg.to_dict(), "shard": f"{i}/2", "output_dir": str(tmp_path / "runs")})
            ).run()["_path"]
        )
        for i in range(2)
    ]

    def set_hash(path: Path, key: str, value: str) -> None:
        record = json.loads(path.read_text())
        record["evaluator"].pop("weights_sha256")
        record["evaluator"][key] = value
        write_json_atomic(path, record)

    set_hash(paths[0], "sha256", "ab" * 32)  # an old shard
    set_hash(paths[1], "weights_sha256", "ab" * 32)
    _, merged = merge_shards(paths, tmp_path / "merged.json")
    assert merged["evaluator"]["scoring"]["images"] == 4
    set_hash(paths[1], "weights_sha256", "cd" * 32)  # really another evaluator
    with pytest.raises(MergeError, match="evaluator differs"):
        merge_shards(paths, tmp_path / "merged2.json")


def test_detection_merge_on_a_built_set_with_a_label_space(
    bdd_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect: shards of a detection run on a BDD-built set (a label space) did not merge ("evaluator
    differs": each shard counts its own dropped detections), and a merge kept shard 0's count."""
    from bench.data.builders import build_named
    from bench.data.images import read_image
    from bench.data.labels import read_yolo_labels
    from bench.evaluators.base import Detections
    from bench.results.cache import array_sha256
    from bench.tasks.downstream import DetectionTask

    class Umbrellas(test_builders._OracleDetector):
        """The oracle: one umbrella (a class BDD100K never labels) on every image, three on the second clean
        image, so the two shards drop different numbers of detections."""

        def predict(self, images: list[np.ndarray]) -> list[Detections]:
            out = []
            for image, det in zip(images, super().predict(images)):
                extra = 2 if array_sha256(image) == second else 0
                boxes = np.concatenate([det.boxes, np.zeros((extra, 4))])
                labels = np.concatenate([det.labels, np.full(extra, 25)]).astype(np.int64)
                out.append(Detections(boxes, np.full(len(labels), 0.9), labels))
            return out

    out = tmp_path / "bdd350"
    build_named("bdd350", bdd_root, out, select=2, seed=5, progress=False)
    truths = {}
    pngs = sorted((out / "norain").glob("*.png"))
    for png in pngs:
        image = read_image(png)
        truths[array_sha256(image)] = read_yolo_labels(out / "labels" / f"{png.stem}.txt", *image.shape[:2])
    second = array_sha256(read_image(pngs[1]))
    monkeypatch.setattr(DetectionTask, "build_evaluator", lambda self: Umbrellas(truths))
    cfg = RunConfig(task="detection", derainer="identity", weights="none", dataset=str(out))
    whole, paths = _run_sharded(cfg, 2, tmp_path / "runs")
    shards = [read_record(p)["evaluator"]["label_space"]["dropped_detections"] for p in paths]
    assert shards[0] != shards[1]
    _, merged = merge_shards(paths, tmp_path / "merged.json")
    dropped = merged["evaluator"]["label_space"]["dropped_detections"]
    assert dropped == {c: shards[0][c] + shards[1][c] for c in shards[0]} == {"clean": 4, "rainy": 2, "derained": 2}
    assert comparable(merged) == comparable(whole)
    other = json.loads(paths[1].read_text())
    other["evaluator"]["label_space"]["classes"] = [0]  # really another label space: still refused
    paths[1].write_text(json.dumps(other))
    with pytest.raises(MergeError, match="evaluator differs"):
        merge_shards(paths, tmp_path / "merged2.json")


def test_noref_merge_on_a_folder_of_photos(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    for i in range(1, 6):
        write_image(tmp_path / "photos" / f"p{i}.png", rng.integers(0, 256, (96, 104, 3), dtype=np.uint8))
    (tmp_path / "photos" / "p3.png").write_bytes(b"")  # a per-item issue
    cfg = RunConfig(
        task="noref", derainer="identity", weights="none", dataset=str(tmp_path / "photos"), metrics=["niqe"]
    )
    whole, paths = _run_sharded(cfg, 2, tmp_path / "runs")
    assert len(whole["rows"]) == 4 and len(whole["issues"]) == 1
    _, merged = merge_shards(paths, tmp_path / "merged.json")
    assert comparable(merged) == comparable(whole)


def test_merge_cli_runs_folder_and_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _paired_set(tmp_path / "set", bad=False)
    common = [
        *identity_restoration_argv(str(tmp_path / "set")),
        "--output-dir",
        str(tmp_path / "runs"),
    ]
    assert main([*common, "--shard", "0/3"]) == 0
    assert main([*common, "--shard", "2/3"]) == 0
    capsys.readouterr()
    assert main(["merge", "--runs", str(tmp_path / "runs")]) == 1  # shard 1/3 is missing
    assert "missing shard(s) 1/3" in capsys.readouterr().err
    assert main([*common, "--shard", "1/3"]) == 0
    assert main([*common, "--shard", "0/2", "--quantize", "trunc"]) == 0  # another run, incomplete
    capsys.readouterr()
    assert main(["merge", "--runs", str(tmp_path / "runs")]) == 1
    captured = capsys.readouterr()
    assert "merged 3 shards" in captured.err and "missing shard(s) 1/2" in captured.err
    assert main([*common]) == 0
    unsharded = read_record(next(p for p in (tmp_path / "runs").glob("*.json") if "shard" not in p.name))
    shards = sorted(p for p in (tmp_path / "runs").glob("*shard-*-of-3-*.json"))

    # shards of different runs, twice the same shard, a non-shard record, a state file from elsewhere
    other = next((tmp_path / "runs").glob("*shard-1-of-2*.json"))
    assert main(["merge", str(shards[0]), str(other)]) == 2
    assert "protocol options differ: quantize='trunc' vs 'round'" in capsys.readouterr().err
    with pytest.raises(MergeError, match="given twice"):
        merge_shards([shards[0], shards[0], shards[1]])
    with pytest.raises(MergeError, match="not a shard record"):
        merge_shards(
            [
                unsharded["_path"]
                if "_path" in unsharded
                else next(p for p in (tmp_path / "runs").glob("*.json") if "shard" not in p.name)
            ]
        )
    state_path(shards[1]).write_bytes(state_path(shards[0]).read_bytes())
    with pytest.raises(MergeError, match="do not match the record"):
        merge_shards(shards)
    state_path(shards[1]).unlink()
    with pytest.raises(StateError, match="state file not found"):
        merge_shards(shards)


def test_shard_files_are_named_for_people_and_old_names_still_merge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--shard 0/2`` (0-based, like RANK) writes ``…-shard-1-of-2-…``; records named the old way
    (``…-shard0of2-…``) merge all the same: the merge reads ``config.shard``, not the file name."""
    for i in range(1, 4):
        image = np.random.default_rng(i).integers(0, 256, (16, 16, 3), dtype=np.uint8)
        write_image(tmp_path / "pairs" / "rain" / f"{i}.png", image)
        write_image(tmp_path / "pairs" / "norain" / f"{i}.png", image)
    common = ["run", "--derainer", "identity", "--dataset", str(tmp_path / "pairs"), "--no-progress"]
    for shard in ("0/2", "1/2"):
        assert main([*common, "--shard", shard, "--output-dir", str(tmp_path / "runs")]) == 0
    names = sorted(p.name for p in (tmp_path / "runs").glob("*.json"))
    assert [n.split("-shard-")[1][:6] for n in names] == ["1-of-2", "2-of-2"]
    for path in (tmp_path / "runs").iterdir():
        if path.is_file():
            old = path.name.replace("-shard-1-of-2-", "-shard0of2-").replace("-shard-2-of-2-", "-shard1of2-")
            path.rename(path.with_name(old))
    capsys.readouterr()
    assert main(["merge", "--runs", str(tmp_path / "runs")]) == 0
    assert "merged 2 shards" in capsys.readouterr().err


def test_slurm_array_step_is_honoured() -> None:
    env = {"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_STEP": "2"}
    assert resolve_shard("auto", {**env, "SLURM_ARRAY_TASK_COUNT": "4"}) == "3/4"  # --array=1-7:2 → 1, 3, 5, 7
    with pytest.raises(ValueError, match="need 0 <= i < n"):
        resolve_shard("auto", {**env, "SLURM_ARRAY_TASK_STEP": "1", "SLURM_ARRAY_TASK_COUNT": "4"})
