"""What a ``--shard i/n`` record says about the whole selection, and whether a merge's shards cover it.

A shard record's ``dataset`` block describes its own slice only (``n_items``, ``ids_hash``), so from the
shards alone a merge could not tell a complete set from shards cut from different selections (the data
folder gained or lost an image between two shard runs): an image would be left out of the "unsharded"
record without a word. So every shard record also carries, under ``shard`` (:func:`shard_block`), the
selection it was cut from, after ``--ids``/``--limit`` and before sharding::

    "shard": {"index": 1, "count": 4, "total_items": 100, "ids_sha256": "<SHA-256 of the ids>"}

:func:`check_coverage` holds a merge's shards against it: one selection for all, every index ``0 .. n-1``
exactly once, each shard's items its round-robin slice, and every item either scored (a row) or skipped
with an issue naming its file. A merge that does not cover the selection is refused unless asked for as
partial (``bench merge --allow-partial``); its record then says so (:meth:`Coverage.partial_fields`).
Records written before the ``shard`` block merge as before, with a warning that coverage cannot be checked.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.fileio import stable_hash
from bench.results.record import RunRecord

logger = logging.getLogger(__name__)


class MergeError(ValueError):
    """Records that cannot be merged (not shards, shards of different runs, missing shards, ...)."""


@dataclass
class Shard:
    """One shard record with its state sidecar."""

    path: Path
    record: RunRecord
    state: dict[str, np.ndarray]
    index: int
    count: int

    @functools.cached_property
    def ids(self) -> list[str]:
        return [str(i) for i in self.state["ids"].tolist()]

    @functools.cached_property
    def paths(self) -> list[str]:
        return [str(p) for p in self.state["paths"].tolist()]


def ids_sha256(ids: Sequence[str]) -> str:
    """SHA-256 (64 hex digits) of the ids in order: the full digest, since it vouches for a whole selection.

    Example:
        >>> len(ids_sha256(["1", "2"])), ids_sha256(["1", "2"]) == ids_sha256(["2", "1"])
        (64, False)
    """
    return stable_hash([str(i) for i in ids], 64)


def shard_block(ids: Sequence[str], shard: str | None) -> dict[str, Any] | None:
    """The ``shard`` block of a record of shard ``shard`` cut from ``ids`` (None when not sharded).

    Args:
        ids: Every selected item id in natural order, before sharding.
        shard: ``"i/n"`` (the run's ``config.shard``) or None.

    Example:
        >>> shard_block(["1", "2", "3"], "1/2")["total_items"], shard_block(["1"], None)
        (3, None)
    """
    from bench.config import parse_shard

    parsed = parse_shard(shard)
    if parsed is None:
        return None
    index, count = parsed
    return {"index": index, "count": count, "total_items": len(ids), "ids_sha256": ids_sha256(ids)}


def add_shard_info(record: RunRecord, ids: Sequence[str], shard: str | None) -> None:
    """Give a shard run's record its ``shard`` block; an unsharded run's record is left as it was."""
    block = shard_block(ids, shard)
    if block is not None:
        record["shard"] = block


def interleave(id_lists: Sequence[Sequence[str]]) -> list[str]:
    """Invert the round-robin split: ``lists[i] == ids[i::n]`` → ``ids``.

    Example:
        >>> interleave([["1", "3", "5"], ["2", "4"]])
        ['1', '2', '3', '4', '5']

    Raises:
        MergeError: the lengths cannot come from one round-robin split.
    """
    n = len(id_lists)
    total = sum(len(ids) for ids in id_lists)
    for i, ids in enumerate(id_lists):
        if len(ids) != len(range(i, total, n)):
            raise MergeError(
                f"shard {i}/{n} has {len(ids)} items; a round-robin split of {total} items "
                f"gives it {len(range(i, total, n))}"
            )
    return [str(id_lists[k % n][k // n]) for k in range(total)]


def positions(shards: Sequence[Shard]) -> dict[str, int]:
    """Each item's place in the unsharded run: item ``k`` of shard ``i`` of ``n`` is item ``i + k * n``.

    Exact for a partial set too (its gaps are the missing shards' items), so rows sort as the whole run's.

    Raises:
        MergeError: an item id in more than one shard.
    """
    order: dict[str, int] = {}
    for shard in shards:
        for k, item_id in enumerate(shard.ids):
            if item_id in order:
                raise MergeError(f"item {item_id!r} occurs in more than one shard")
            order[item_id] = shard.index + k * shard.count
    return order


@dataclass(frozen=True)
class Coverage:
    """What the merged shards cover of the selection they were cut from.

    Attributes:
        count: Shards in the split (``n``).
        missing: Indices of the shards not given.
        total_items: Items of the whole selection; None when no shard record says (older records).
        merged_items: Items in the given shards (scored or skipped).
        unaccounted: Ids in a shard's state that are neither a row nor named by an issue.
    """

    count: int
    missing: tuple[int, ...]
    total_items: int | None
    merged_items: int
    unaccounted: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.missing and not self.unaccounted

    def items(self) -> str:
        """``5 of 7 items`` (``5 items`` when the selection's size is not recorded): what the merge holds."""
        of = f" of {self.total_items}" if self.total_items is not None else ""
        return f"{self.merged_items - len(self.unaccounted)}{of} items"

    def lost(self) -> str:
        """The items that are neither a row nor named by an issue, in words ("" when there are none)."""
        if not self.unaccounted:
            return ""
        shown = ", ".join(self.unaccounted[:5]) + (" ..." if len(self.unaccounted) > 5 else "")
        return f"{len(self.unaccounted)} item(s) neither scored nor recorded as skipped: {shown}"

    def describe(self) -> str:
        """``shard(s) 1/3 missing; 5 of 7 items`` (what a partial merge lacks, in words)."""
        parts = [f"shard(s) {', '.join(f'{i}/{self.count}' for i in self.missing)} missing"] if self.missing else []
        return "; ".join([*parts, *([self.lost()] if self.unaccounted else []), self.items()])

    def partial_fields(self) -> dict[str, Any]:
        """The keys a partial merged record carries, so that reports and tables can tell it from a whole run."""
        return {
            "partial": True,
            "missing_shards": [f"{i}/{self.count}" for i in self.missing],
            "expected_items": self.total_items,
            "unaccounted_ids": list(self.unaccounted),
        }


def _selection(shards: Sequence[Shard]) -> tuple[int, str] | None:
    """The ``(total_items, ids_sha256)`` every shard record agrees on; None when none records it.

    Raises:
        MergeError: two shards were cut from different selections, or a block contradicts ``config.shard``.
    """
    described = [(s, s.record.get("shard")) for s in shards]
    known = [(s, b) for s, b in described if isinstance(b, Mapping) and {"total_items", "ids_sha256"} <= set(b)]
    if len(known) < len(shards):
        with_block = {id(s) for s, _ in known}
        old = ", ".join(s.path.name for s in shards if id(s) not in with_block)
        logger.warning(
            "%s: written before shard records described their whole selection (no shard.total_items / "
            "shard.ids_sha256): coverage cannot be checked, so a shard of another selection would go unnoticed",
            old,
        )
    if not known:
        return None
    first, block = known[0]
    for shard, other in known:
        if (other.get("index"), other.get("count")) != (shard.index, shard.count):
            raise MergeError(
                f"{shard.path.name}: its shard block says {other.get('index')}/{other.get('count')}, "
                f"its config.shard {shard.index}/{shard.count}"
            )
        if (other["total_items"], other["ids_sha256"]) != (block["total_items"], block["ids_sha256"]):
            raise MergeError(
                f"{shard.path.name} was cut from a different selection than {first.path.name} "
                f"({other['total_items']} items, ids sha256 {str(other['ids_sha256'])[:12]} vs "
                f"{block['total_items']} items, {str(block['ids_sha256'])[:12]}): the data or --ids/--limit "
                "changed between the shard runs; run every shard again on one selection"
            )
    return int(block["total_items"]), str(block["ids_sha256"])


def _unaccounted(shards: Sequence[Shard]) -> list[str]:
    """Ids of a shard's state that have no row and no issue naming their file (lost, not skipped)."""
    out: list[str] = []
    for shard in shards:
        scored = {str(r.get("id")) for r in shard.record.get("rows", [])}
        named = {str(i.get("path")) for i in shard.record.get("issues", [])}
        out += [i for i, p in zip(shard.ids, shard.paths) if i not in scored and p not in named]
    return out


def check_coverage(shards: Sequence[Shard], allow_partial: bool = False) -> Coverage:
    """Check that the shards (sorted by index) cover their selection; see the module docstring.

    Args:
        shards: The shards to merge, of one split (same ``count``, checked before).
        allow_partial: Return the coverage of an incomplete set instead of refusing it.

    Raises:
        MergeError: a shard given twice, shards of different selections, a shard whose items are not its
            slice of the selection; unless ``allow_partial``, missing shards or items neither scored nor
            skipped.
    """
    count = shards[0].count
    seen: dict[int, Path] = {}
    for shard in shards:
        if shard.index in seen:
            raise MergeError(
                f"shard {shard.index}/{shard.count} given twice: {seen[shard.index].name} and {shard.path.name}"
            )
        seen[shard.index] = shard.path
    missing = tuple(i for i in range(count) if i not in seen)
    selection = _selection(shards)
    if selection is not None:
        total, digest = selection
        for shard in shards:
            expected = len(range(shard.index, total, count))
            if len(shard.ids) != expected:
                raise MergeError(
                    f"{shard.path.name}: holds {len(shard.ids)} items, but shard {shard.index}/{count} of the "
                    f"{total} selected items has {expected} (its state file is from another run?)"
                )
        if not missing and ids_sha256(interleave([s.ids for s in shards])) != digest:
            raise MergeError(
                "the shards' item ids are not the selection their records name (state files from another run?)"
            )
    coverage = Coverage(
        count,
        missing,
        None if selection is None else selection[0],
        sum(len(s.ids) for s in shards),
        tuple(_unaccounted(shards)) if selection is not None else (),  # older records: nothing to hold them to
    )
    if not coverage.complete and not allow_partial:
        run = shards[0].record.get("run_id")
        if missing:
            given = f"{len(shards)} of {count} given; {coverage.items()}"
            lead = f"missing shard(s) {', '.join(f'{i}/{count}' for i in missing)} of {run} ({given})"
        else:
            lead = f"the shards of {run} do not cover their selection ({coverage.items()})"
        lost = f": {coverage.lost()}" if coverage.unaccounted else ""
        raise MergeError(f"{lead}{lost}; --allow-partial merges them into a record marked partial")
    return coverage
