"""Which records may share a table: grouping that cannot mislead.

Records go into one table only when they share the dataset's identity (manifest hash or resolved path,
never the folder name alone), the protocol (quantize, crop, tiling, precision, evaluator and its
thresholds) and the scored image ids (:mod:`bench.results.frames`). Before grouping, shard records are
left out (merge them first) and duplicates collapse to the newest record, each with a one-line note.

Example:
    >>> a = {"task": "restoration", "derainer": {"name": "prenet"}, "dataset": {"name": "mine", "path": "/a/mine"},
    ...      "config": {"quantize": "round"}, "metrics": {}, "rows": [{"id": "1"}]}
    >>> b = {**a, "dataset": {"name": "mine", "path": "/b/mine"}}
    >>> [g.title_dataset for g in groups(select([a, b]).records)]
    ['mine (/a/mine)', 'mine (/b/mine)']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.results.frames import dataset_identity, derainer_label, n_images, protocol_id, protocol_text, scored_ids_hash

Record = dict[str, Any]


@dataclass
class Selection:
    """The records a report shows, and the notes on those it does not."""

    records: list[Record]
    notes: list[str] = field(default_factory=list)
    shards: int = 0
    superseded: int = 0


def is_shard(record: Record) -> bool:
    """Whether a record is one shard of a ``--shard i/n`` run (never a table row: merge first)."""
    return bool((record.get("config") or {}).get("shard"))


def duplicate_key(record: Record) -> tuple[Any, ...]:
    """Records with equal keys measured the same thing (same model and weights, set, ids and protocol)."""
    d = record.get("derainer") or {}
    weights = d.get("weights") or {}
    return (
        record.get("task"),
        derainer_label(record),
        weights.get("sha256") or weights.get("path"),
        dataset_identity(record),
        scored_ids_hash(record),
        protocol_id(record),
    )


def newest(records: Sequence[Record]) -> Record:
    """The most recently created record (ISO timestamps compare as strings)."""
    return max(records, key=lambda r: str(r.get("created", "")))


def select(records: Sequence[Record]) -> Selection:
    """Leave out shard records and collapse duplicates to the newest, with one note for each.

    Example:
        >>> r = {"task": "restoration", "derainer": {"name": "identity"}, "dataset": {"name": "d"}, "rows": []}
        >>> s = select([{**r, "created": "1"}, {**r, "created": "2"}, {**r, "config": {"shard": "0/2"}}])
        >>> len(s.records), s.records[0]["created"], s.shards, s.superseded
        (1, '2', 1, 1)
    """
    shards = [r for r in records if is_shard(r)]
    by_key: dict[tuple[Any, ...], list[Record]] = {}
    for rec in records:
        if not is_shard(rec):
            by_key.setdefault(duplicate_key(rec), []).append(rec)
    kept = [newest(group) for group in by_key.values()]
    superseded = sum(len(group) - 1 for group in by_key.values())
    notes: list[str] = []
    if shards:
        notes.append(
            f"{len(shards)} shard record(s) not shown (one shard is not the run): merge first with "
            "`bench merge --runs DIR`."
        )
    if superseded:
        notes.append(
            f"{superseded} older duplicate record(s) (same model, weights, set, images and protocol) "
            "collapsed to the newest."
        )
    return Selection(records=kept, notes=notes, shards=len(shards), superseded=superseded)


@dataclass
class Group:
    """Records that may share one table (same task, dataset identity, protocol and, unless mixed, images)."""

    task: str
    dataset: str
    dataset_id: str
    protocol: str
    records: list[Record]
    mixed: bool = False
    title_dataset: str = ""

    @property
    def n_images(self) -> list[int]:
        """Images scored per record (one number unless the group is mixed)."""
        return sorted({n_images(r) for r in self.records})

    def describe(self) -> str:
        """``Rain100L, 100 images, quantize=round, crop 1`` (what every row of the table shares)."""
        ns = self.n_images
        images = f"{ns[0]} images" if len(ns) == 1 else f"{'/'.join(map(str, ns))} images (MIXED subsets)"
        proto = self.protocol if not self.mixed else "MIXED protocols (see the protocol column)"
        return f"{self.title_dataset or self.dataset}, {images}, {proto}"


def group_key(record: Record, allow_mixed: bool = False) -> tuple[str, ...]:
    """The key records of one table share; with ``allow_mixed`` only task and dataset identity."""
    base = (str(record.get("task")), dataset_identity(record))
    if allow_mixed:
        return base
    return (*base, protocol_id(record), scored_ids_hash(record))


def groups(records: Sequence[Record], allow_mixed: bool = False) -> list[Group]:
    """Homogeneous groups of ``records`` (already :func:`select`-ed), sorted by task, dataset and size.

    Datasets that share a name but not an identity are told apart by their path (or manifest hash).
    """
    by_key: dict[tuple[str, ...], list[Record]] = {}
    for rec in records:
        by_key.setdefault(group_key(rec, allow_mixed), []).append(rec)
    out: list[Group] = []
    for recs in by_key.values():
        first = recs[0]
        protocols = {protocol_id(r) for r in recs}
        ids = {scored_ids_hash(r) for r in recs}
        out.append(
            Group(
                task=str(first.get("task")),
                dataset=str((first.get("dataset") or {}).get("name", "?")),
                dataset_id=dataset_identity(first),
                protocol=protocol_text(first),
                records=recs,
                mixed=len(protocols) > 1 or len(ids) > 1,
            )
        )
    names: dict[str, set[str]] = {}
    for g in out:
        names.setdefault(g.dataset, set()).add(g.dataset_id)
    for g in out:
        ambiguous = len(names[g.dataset]) > 1
        g.title_dataset = f"{g.dataset} ({g.dataset_id.split(':', 1)[1]})" if ambiguous else g.dataset
    out.sort(key=lambda g: (g.task, g.dataset, g.dataset_id, -max(g.n_images or [0]), g.protocol))
    return out


def titled_groups(records: Sequence[Record]) -> dict[tuple[str, str], list[Record]]:
    """``{(task, description): records}`` of the homogeneous groups of ``records`` (shards left out,
    duplicates collapsed): what a section of a report (comparisons, grids, plots) is about.

    Example:
        >>> a = {"task": "restoration", "derainer": {"name": "prenet"}, "dataset": {"name": "mine", "path": "/a/mine"},
        ...      "config": {"quantize": "round"}, "metrics": {}, "rows": [{"id": "1"}]}
        >>> [len(recs) for recs in titled_groups([a, {**a, "dataset": {"name": "mine", "path": "/b/mine"}}]).values()]
        [1, 1]
    """
    return {(g.task, g.describe()): g.records for g in groups(select(records).records)}
