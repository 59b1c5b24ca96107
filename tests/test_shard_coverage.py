"""``bench merge`` knows whether its shards cover the whole selection.

Defect: a shard record described only its own slice, so a merge could not tell a complete set of shards
from shards cut from different selections (the data folder gained an image between two shard runs: the
new image was silently left out of the "unsharded" record), nor notice an item that a shard neither
scored nor recorded as skipped. Every shard record now says what the whole selection was
(``shard.total_items``, ``shard.ids_sha256``); the merge refuses what does not cover it, unless
``--allow-partial`` asks for a record marked ``partial``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.data.images import write_image
from bench.fileio import stable_hash
from bench.registries import TASKS
from bench.results.merge import MergeError, merge_shards
from bench.results.record import read_record, write_record
from bench.results.state import state_path
from bench.tasks.config import RunConfig
from tests.conftest import write_scene_pairs


def _set(root: Path, n: int = 7) -> Path:
    write_scene_pairs(root, range(1, n + 1), np.random.default_rng(0), size=(24, 32), objects=1, margin=16)
    return root


def _config(data: Path, runs: Path, **extra: object) -> RunConfig:
    return RunConfig(
        task="restoration",
        derainer="identity",
        weights="none",
        dataset=str(data),
        metrics=["psnr_y"],
        output_dir=str(runs),
        workers=0,
        **extra,  # type: ignore[arg-type]
    )


def _shard(cfg: RunConfig, shard: str) -> Path:
    return Path(TASKS.get(cfg.task)(RunConfig(**{**cfg.to_dict(), "shard": shard})).run()["_path"])


def test_a_shard_record_describes_the_whole_selection(tmp_path: Path) -> None:
    cfg = _config(_set(tmp_path / "set"), tmp_path / "runs", ids=["2", "3", "5", "6", "7"], limit=6)
    record = read_record(_shard(cfg, "1/2"))
    selected = ["2", "3", "5", "6"]  # --limit 6, then --ids: item 7 is not selected
    assert record["shard"] == {"index": 1, "count": 2, "total_items": 4, "ids_sha256": stable_hash(selected, 64)}
    assert record["dataset"]["n_items"] == 2
    unsharded = TASKS.get("restoration")(cfg).run()
    assert "shard" not in unsharded  # an unsharded record is unchanged


def test_shards_of_different_selections_are_refused(tmp_path: Path) -> None:
    data = _set(tmp_path / "set", n=6)
    cfg = _config(data, tmp_path / "runs")
    first = _shard(cfg, "0/2")  # items 1, 3, 5 of six
    image = np.random.default_rng(9).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    write_image(data / "rain" / "7.png", image)  # the set gains an image before the second shard runs
    write_image(data / "norain" / "7.png", image)
    second = _shard(cfg, "1/2")  # items 2, 4, 6 of seven: item 7 is in neither shard
    with pytest.raises(MergeError, match="different selection"):
        merge_shards([first, second], tmp_path / "merged.json")
    with pytest.raises(MergeError, match="different selection"):  # no partial record of two selections
        merge_shards([first, second], tmp_path / "merged.json", allow_partial=True)


def test_a_missing_shard_is_refused_or_merged_as_partial(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(_set(tmp_path / "set"), tmp_path / "runs")
    paths = [_shard(cfg, "0/3"), _shard(cfg, "2/3")]
    with pytest.raises(MergeError, match=r"missing shard\(s\) 1/3 .*--allow-partial"):
        merge_shards(paths)
    out, merged = merge_shards(paths, allow_partial=True)
    assert merged["partial"] is True and merged["missing_shards"] == ["1/3"]
    assert merged["expected_items"] == 7 and merged["dataset"]["n_items"] == 5
    assert [r["id"] for r in merged["rows"]] == ["1", "3", "4", "6", "7"]  # natural order, 2 and 5 missing
    assert "shard" not in merged and merged["config"]["shard"] is None
    assert out.name.endswith("-partial.json") and state_path(out).is_file()  # never the complete record's name
    assert read_record(out)["partial"] is True

    capsys.readouterr()
    assert main(["merge", *map(str, paths)]) == 2
    assert "--allow-partial" in capsys.readouterr().err
    assert main(["merge", *map(str, paths), "--allow-partial", "--output", str(tmp_path / "p.json")]) == 0
    err = capsys.readouterr().err
    assert "partial" in err and "1/3" in err and "5 of 7 items" in err


def test_a_complete_merge_is_not_partial(tmp_path: Path) -> None:
    cfg = _config(_set(tmp_path / "set"), tmp_path / "runs")
    _, merged = merge_shards([_shard(cfg, "0/2"), _shard(cfg, "1/2")], tmp_path / "merged.json")
    assert "partial" not in merged and "shard" not in merged and merged["dataset"]["n_items"] == 7


def test_an_item_neither_scored_nor_skipped_is_refused(tmp_path: Path) -> None:
    cfg = _config(_set(tmp_path / "set"), tmp_path / "runs")
    paths = [_shard(cfg, "0/2"), _shard(cfg, "1/2")]
    record = read_record(paths[1])
    record["rows"] = [r for r in record["rows"] if r["id"] != "4"]  # lost, without an issue saying why
    write_record(record, paths[1])
    with pytest.raises(MergeError, match="neither scored nor recorded as skipped: 4"):
        merge_shards(paths, tmp_path / "merged.json")
    _, merged = merge_shards(paths, tmp_path / "merged.json", allow_partial=True)
    assert merged["partial"] is True and merged["missing_shards"] == [] and merged["unaccounted_ids"] == ["4"]


def test_a_skipped_item_counts_as_covered(tmp_path: Path) -> None:
    data = _set(tmp_path / "set")
    (data / "rain" / "3.png").write_bytes(b"not a png")  # recorded as an issue, not a row
    cfg = _config(data, tmp_path / "runs")
    _, merged = merge_shards([_shard(cfg, "0/2"), _shard(cfg, "1/2")], tmp_path / "merged.json")
    assert "partial" not in merged and len(merged["rows"]) == 6 and merged["dataset"]["n_skipped"] == 1


def test_old_shard_records_merge_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = _config(_set(tmp_path / "set"), tmp_path / "runs")
    paths = [_shard(cfg, "0/2"), _shard(cfg, "1/2")]
    for path in paths:  # written before shard records carried the selection
        record = read_record(path)
        record.pop("shard", None)
        write_record(record, path)
    with caplog.at_level(logging.WARNING, logger="bench"):
        _, merged = merge_shards(paths, tmp_path / "merged.json")
    assert "coverage cannot be checked" in caplog.text
    assert len(merged["rows"]) == 7 and "partial" not in merged
    with pytest.raises(MergeError, match=r"missing shard\(s\) 1/2"):  # the index check still holds
        merge_shards(paths[:1], tmp_path / "one.json")


def test_a_partial_merge_is_labelled_and_never_taken_for_a_finished_run(tmp_path: Path) -> None:
    from bench.cli.run import finished_record
    from bench.results.labels import derainer_label

    cfg = _config(_set(tmp_path / "set"), tmp_path / "runs")
    out, merged = merge_shards([_shard(cfg, "0/3"), _shard(cfg, "2/3")], allow_partial=True)
    assert out.parent == tmp_path / "runs"  # beside the runs a later `bench run` looks at
    assert derainer_label(merged) == "identity (partial: 5 of 7 images)"
    assert finished_record(cfg) is None  # a rerun of the whole set computes it, it does not reuse 5 of 7
