"""Merge the records of ``--shard i/n`` runs into the record of the unsharded run (design.md principle 9).

A shard run processes ``ids[i::n]`` of the set's items in natural order and writes its record plus a
state sidecar (:mod:`bench.results.state`). The merge

1. checks that the shards belong together: same task and protocol except ``shard``, same bench version,
   same derainer (weights, effective precision, ...), dataset and evaluator (its per-shard counts of
   detections outside the set's label space aside: the merged record sums them), and each state file
   matches its record (same ids); and that they cover their selection (:mod:`bench.results.shards`: every
   index ``0 .. n-1`` exactly once, one selection, every item scored or skipped), or, with
   ``allow_partial``, that the merged record says what it lacks;
2. rebuilds the unsharded item order by interleaving the shards' id lists (round-robin inverted), puts the
   rows and per-item issues in that order, and
3. lets the task recompute the dataset-level metrics exactly as ``bench run`` does: means of rows for
   restoration / noref, pycocotools mAP from the logged predictions for detection / instance, summed
   confusion matrices for semantic segmentation, and the intervals of :mod:`bench.stats.intervals` from the
   merged per-image data (also written to the merged state file).

The result equals the unsharded run's record except ``created``, ``env`` and ``timings``.

Example:
    >>> path, record = merge_shards(["runs/a-shard-1-of-2-x.json", "runs/a-shard-2-of-2-y.json"])  # doctest: +SKIP
    >>> record["config"]["shard"] is None  # doctest: +SKIP
    True
"""

from __future__ import annotations

import copy
import logging
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, Protocol, cast, runtime_checkable

import numpy as np

from bench.evaluators.info import normalized
from bench.results.record import (
    RecordError,
    RunRecord,
    find_records,
    now_iso,
    read_record,
    stable_hash,
    write_json_atomic,
    write_record,
)
from bench.results.shards import MergeError, Shard, check_coverage, interleave, positions
from bench.results.state import item_arrays, read_state, state_path, write_state

__all__ = ["MergeError", "find_shard_groups", "interleave", "load_shard", "merge_shards"]

logger = logging.getLogger(__name__)

#: Dataset keys that describe the shard rather than the set.
SHARD_DATASET_KEYS: frozenset[str] = frozenset({"n_items", "ids_hash", "n_scored", "n_skipped"})


@runtime_checkable
class MergeableTask(Protocol):
    """What a merge needs of a task (:class:`bench.tasks.base.Task` has it; found through ``TASKS``)."""

    def finish_merge(
        self, record: RunRecord, states: Sequence[Mapping[str, np.ndarray]], order: Mapping[str, int]
    ) -> None: ...

    def merged_state(
        self, states: Sequence[Mapping[str, np.ndarray]], order: Mapping[str, int]
    ) -> dict[str, np.ndarray] | None: ...


def unsharded_config(config: dict[str, Any]) -> Any:
    """The :class:`~bench.config.RunConfig` of a record's config with ``shard`` removed."""
    from bench.config import RunConfig

    known = {f.name for f in fields(RunConfig)}
    return RunConfig(**{k: copy.deepcopy(v) for k, v in config.items() if k in known and k != "shard"})


def group_key(record: RunRecord) -> str:
    """Records of shards of one run share this key (their protocol without ``shard``)."""
    return stable_hash({**unsharded_config(record["config"]).protocol(), "shard": None}, 16)


def load_shard(path: str | Path) -> Shard:
    """Read a shard record and its state file.

    Raises:
        MergeError: the record is not a shard record.
        bench.results.state.StateError: its state file is missing or unreadable.
    """
    from bench.config import parse_shard

    path = Path(path)
    record = read_record(path)
    shard = record.get("config", {}).get("shard")
    if not shard:
        raise MergeError(f"{path}: not a shard record (config.shard is empty); only --shard i/n runs are merged")
    index, count = cast(tuple[int, int], parse_shard(str(shard)))  # None only for an empty shard string
    state = read_state(state_path(path))
    ids = [str(i) for i in state["ids"].tolist()]
    if stable_hash(ids) != record["dataset"].get("ids_hash"):
        raise MergeError(
            f"{state_path(path)}: its item ids do not match the record {path.name} (state from another run?)"
        )
    return Shard(path, record, state, index, count)


def _without(d: dict[str, Any], keys: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k not in keys}


def _evaluator_identity(record: RunRecord) -> dict[str, Any]:
    """The evaluator of a shard as the compatibility check compares it: without the scorer's ``scoring``
    (rebuilt by the merge) and the label space's ``dropped_detections`` (counted per shard, summed)."""
    # normalized: a shard written before the one EvaluatorInfo schema ("sha256") matches a newer one
    ev = _without(normalized(record.get("evaluator")), frozenset({"scoring"}))
    space = ev.get("label_space")
    if isinstance(space, dict):
        ev["label_space"] = _without(space, frozenset({"dropped_detections"}))
    return ev


def _sum_dropped(record: RunRecord, shards: Sequence[Shard]) -> None:
    """Give the merged record the sum of the shards' detections dropped outside the label space."""
    space = (record.get("evaluator") or {}).get("label_space")
    if not isinstance(space, dict) or "dropped_detections" not in space:
        return
    total: dict[str, int] = {}
    for shard in shards:
        counts = ((shard.record.get("evaluator") or {}).get("label_space") or {}).get("dropped_detections") or {}
        for cond, n in counts.items():
            total[cond] = total.get(cond, 0) + int(n)
    space["dropped_detections"] = total


def _check_compatible(shards: Sequence[Shard]) -> None:
    first = shards[0]
    name = first.path.name
    for shard in shards[1:]:
        other = shard.path.name
        if shard.record["task"] != first.record["task"]:
            raise MergeError(f"{other}: task {shard.record['task']!r} differs from {name} ({first.record['task']!r})")
        mine = {**unsharded_config(first.record["config"]).protocol(), "shard": None}
        theirs = {**unsharded_config(shard.record["config"]).protocol(), "shard": None}
        if mine != theirs:
            diff = sorted(k for k in mine if mine.get(k) != theirs.get(k))
            raise MergeError(
                f"{other}: not a shard of the same run as {name}; protocol options differ: "
                + ", ".join(f"{k}={theirs.get(k)!r} vs {mine.get(k)!r}" for k in diff)
            )
        if shard.count != first.count:
            raise MergeError(
                f"{other}: shard {shard.index}/{shard.count} does not belong to a split in {first.count} like {name}"
            )
        if shard.record["derainer"].get("weights") != first.record["derainer"].get("weights"):
            raise MergeError(f"{other}: derainer weights differ from {name}")
        mine_d, theirs_d = first.record["derainer"], shard.record["derainer"]
        if mine_d != theirs_d:  # e.g. --precision auto resolved to bf16 on one machine, fp32 on another
            diff = sorted(k for k in {*mine_d, *theirs_d} if mine_d.get(k) != theirs_d.get(k))
            raise MergeError(
                f"{other}: derainer differs from {name}: "
                + ", ".join(f"{k}={theirs_d.get(k)!r} vs {mine_d.get(k)!r}" for k in diff)
            )
        versions = ((shard.record.get("env") or {}).get("bench"), (first.record.get("env") or {}).get("bench"))
        if versions[0] != versions[1]:
            raise MergeError(f"{other}: written by bench {versions[0]}, {name} by bench {versions[1]}")
        if _without(shard.record["dataset"], SHARD_DATASET_KEYS) != _without(
            first.record["dataset"], SHARD_DATASET_KEYS
        ):
            raise MergeError(f"{other}: dataset differs from {name}")
        if _evaluator_identity(first.record) != _evaluator_identity(shard.record):
            raise MergeError(f"{other}: evaluator differs from {name}")


def _sum_timings(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, dict):
                out[key] = _sum_timings([out.get(key, {}), value])
            elif isinstance(value, int | float) and not isinstance(value, bool):
                out[key] = out.get(key, 0) + value
    return out


def _merge_issues(shards: Sequence[Shard], order: dict[str, int], path_to_id: dict[str, str]) -> list[dict[str, str]]:
    """Set-level issues (same in every shard) first, then per-item issues in item order."""
    set_level = [i for i in shards[0].record.get("issues", []) if i.get("path") not in path_to_id]
    per_item: list[dict[str, str]] = []
    for shard in shards:
        issues = shard.record.get("issues", [])
        mine = [i for i in issues if i.get("path") not in path_to_id]
        if mine != set_level:
            raise MergeError(
                f"{shard.path.name}: its data-set issues differ from {shards[0].path.name} "
                "(the data changed between shard runs?)"
            )
        per_item.extend(i for i in issues if i.get("path") in path_to_id)
    per_item.sort(key=lambda i: order[path_to_id[str(i["path"])]])  # stable: keeps each item's issue order
    return set_level + per_item


def _merge_images(shards: Sequence[Shard], target: Path, record: RunRecord) -> None:
    """Gather the shards' saved images (and predictions) under the merged record's images folder."""
    dirs = [Path(str(s.record["images_dir"])) for s in shards if s.record.get("images_dir")]
    if not dirs:
        return
    predictions: dict[str, Any] = {}
    for folder in dirs:
        if not folder.is_dir():
            logger.warning("images folder %s of a shard is gone; the merged record lists what remains", folder)
            continue
        for src in folder.rglob("*"):
            if not src.is_file() or src.name == "predictions.json":
                continue
            dst = target / src.relative_to(folder)
            dst.parent.mkdir(parents=True, exist_ok=True)
            if dst.exists():
                dst.unlink()
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)
        pred_file = folder / "predictions.json"
        if pred_file.is_file():
            import json

            predictions.update(json.loads(pred_file.read_text(encoding="utf-8")))
    record["images_dir"] = str(target)
    if any(s.record.get("predictions_file") for s in shards):
        ordered = {r["id"]: predictions[r["id"]] for r in record["rows"] if r["id"] in predictions}
        record["predictions_file"] = str(write_json_atomic(target / "predictions.json", ordered))


def merge_shards(
    paths: Sequence[str | Path], output: str | Path | None = None, *, allow_partial: bool = False
) -> tuple[Path, RunRecord]:
    """Merge shard records into the record of the unsharded run and write it (with its state file).

    Args:
        paths: The shard records (any order), one per shard index.
        output: Where to write the merged record (default: beside the first shard, named as the
            unsharded run's record would be; a partial merge's name ends in ``-partial``, so that it never
            takes the whole run's place).
        allow_partial: Merge shards that do not cover their selection (some missing, an item neither scored
            nor skipped) into a record marked ``partial`` (with ``missing_shards``, ``expected_items`` and
            ``unaccounted_ids``) instead of refusing them.

    Returns:
        The merged record's path and the record.

    Raises:
        MergeError: the records are not shards of one run or of one selection, or (without
            ``allow_partial``) they do not cover it.

    Example:
        >>> merge_shards(sorted(Path("runs").glob("*-shard-*-of-2-*.json")))  # doctest: +SKIP
    """
    from bench.config import record_name, run_id
    from bench.registries import TASKS

    if not paths:
        raise MergeError("no shard records given")
    shards = sorted((load_shard(p) for p in paths), key=lambda s: s.index)
    _check_compatible(shards)
    coverage = check_coverage(shards, allow_partial)
    first = shards[0]
    if not coverage.missing:
        interleave([s.ids for s in shards])  # the lengths of one round-robin split (records of any age)
    order = positions(shards)  # an item's place in the unsharded run (gaps where shards are missing)
    full_ids = sorted(order, key=order.__getitem__)
    path_of = {item_id: item_path for s in shards for item_id, item_path in zip(s.ids, s.paths)}
    full_paths = [path_of[item_id] for item_id in full_ids]
    path_to_id = dict(zip(full_paths, full_ids))

    config = unsharded_config(first.record["config"])
    task = TASKS.get(first.record["task"])(config)
    if not isinstance(task, MergeableTask):
        raise MergeError(f"task {first.record['task']!r} does not support merging shard records")

    rows = [row for shard in shards for row in shard.record["rows"]]
    if len({r["id"] for r in rows}) != len(rows):
        raise MergeError("the same item was scored in more than one shard")
    unknown = [r["id"] for r in rows if r["id"] not in order]
    if unknown:
        raise MergeError(f"rows for items not in any shard's state: {unknown[:5]}")
    rows.sort(key=lambda r: order[r["id"]])

    record: RunRecord = copy.deepcopy(first.record)
    derainer_name = str(record["derainer"].get("name"))
    dataset_name = str(record["dataset"].get("name"))
    record["run_id"] = run_id(config, derainer_name, dataset_name)
    record["created"] = now_iso()
    record["config"] = config.to_dict()
    record.pop("shard", None)  # the merged record is of the whole selection (or says it is partial)
    if not coverage.complete:
        record.update(cast(RunRecord, coverage.partial_fields()))
        logger.info("partial merge of %s: %s", record["run_id"], coverage.describe())
    dataset = record["dataset"]
    dataset["n_items"] = len(full_ids)
    dataset["ids_hash"] = stable_hash(full_ids)
    if "n_scored" in dataset:
        dataset["n_scored"] = len(rows)
    if "n_skipped" in dataset:
        dataset["n_skipped"] = sum(int(s.record["dataset"].get("n_skipped", 0)) for s in shards)
    record["rows"] = rows
    record["issues"] = _merge_issues(shards, order, path_to_id)
    _sum_dropped(record, shards)
    task.finish_merge(record, [s.state for s in shards], order)

    timings = _sum_timings([s.record.get("timings", {}) for s in shards])
    seconds = [float(r["seconds"]) for r in rows if "seconds" in r]
    timings["seconds_per_image"] = float(np.mean(seconds)) if seconds else math.nan
    record["timings"] = timings
    record["env"] = {
        **first.record.get("env", {}),
        "merged_from": [
            {
                "file": s.path.name,
                "shard": f"{s.index}/{s.count}",
                "created": s.record.get("created"),
                "env": s.record.get("env"),
            }
            for s in shards
        ],
    }

    stem = record_name(config, derainer_name, dataset_name) + ("" if coverage.complete else "-partial")
    out = Path(output) if output is not None else first.path.parent / f"{stem}.json"
    _merge_images(shards, out.parent / "images" / stem, record)
    state = item_arrays(full_ids, full_paths)
    state.update(task.merged_state([s.state for s in shards], order) or {})  # per-image logs (intervals)
    write_state(state_path(out), state)
    write_record(record, out)
    logger.info("merged %d shards into %s", len(shards), out)
    return out, record


def find_shard_groups(root: str | Path) -> dict[str, list[Path]]:
    """Shard records under ``root`` grouped by run (key: :func:`group_key`), each group sorted by path."""
    groups: dict[str, list[Path]] = {}
    for path, record in find_records(root):
        if not record.get("config", {}).get("shard"):
            continue
        try:
            key = group_key(record)
        except (TypeError, RecordError) as err:
            logger.warning("skipping %s: %s", path, err)
            continue
        groups.setdefault(key, []).append(path)
    return groups
