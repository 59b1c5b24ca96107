"""Which records may share a table: grouping that cannot mislead.

Records go into one table only when they share the dataset's identity (manifest hash or resolved path,
never the folder name alone), the protocol (quantize, crop, tiling, precision, evaluator and its
thresholds) and the scored image ids (:mod:`bench.results.frames`). Before grouping, shard records are
left out (merge them first) and duplicates (records of the same model, weights, set, images and
protocol) become one record, the newest, each with a one-line note. Where an older duplicate measured a
metric the newest did not (PSNR/SSIM, then a run with FSIM only), its value fills the gap: duplicates
merge metric by metric, the newest value winning, and the note names what came from which run.

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
    merged: int = 0


def is_shard(record: Record) -> bool:
    """Whether a record is one shard of a ``--shard i/n`` run (never a table row: merge first)."""
    return bool((record.get("config") or {}).get("shard"))


def duplicate_key(record: Record) -> tuple[Any, ...]:
    """Records with equal keys measured the same thing (same model and weights, set, ids and protocol);
    :func:`select` merges them metric by metric, the newest value winning."""
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


def merge_duplicates(records: Sequence[Record]) -> tuple[Record, dict[str, str]]:
    """The newest of duplicate records, with the metrics only older ones measured filled in from the newest
    of those (values, ``metric_info``, per-image values by id and, under the same bootstrap settings, the
    stored intervals); returns it with ``{metric: run id it came from}`` for the filled ones.

    The newest record itself is returned (not a copy) when no older one adds a metric.

    Example:
        >>> old = {"run_id": "a", "created": "1", "metrics": {"psnr_y": 30.0, "fsim": 0.8}, "rows": [{"id": "1", "psnr_y": 30.0}]}
        >>> new = {"run_id": "b", "created": "2", "metrics": {"fsim": 0.9}, "rows": [{"id": "1", "fsim": 0.9}]}
        >>> merged, filled = merge_duplicates([old, new])
        >>> merged["metrics"], merged["rows"], filled
        ({'psnr_y': 30.0, 'fsim': 0.9}, [{'id': '1', 'psnr_y': 30.0, 'fsim': 0.9}], {'psnr_y': 'a'})
    """
    ordered = sorted(records, key=lambda r: str(r.get("created", "")))
    top = ordered[-1]
    filled: dict[str, str] = {}
    for older in reversed(ordered[:-1]):  # newest first: a metric comes from the newest record that has it
        for key in older.get("metrics") or {}:
            if key not in (top.get("metrics") or {}) and key not in filled:
                filled[key] = str(older.get("run_id", "?"))
    if not filled:
        return top, {}
    merged = dict(top)
    metrics: dict[str, Any] = {}
    info: dict[str, Any] = {}
    rows: dict[str, dict[str, Any]] = {}
    intervals: dict[str, Any] = {}
    settings = (top.get("intervals") or {}).get("settings")
    for rec in ordered:  # oldest first: later values overwrite
        metrics.update(rec.get("metrics") or {})
        info.update(rec.get("metric_info") or {})
        for row in rec.get("rows") or []:
            rows.setdefault(str(row.get("id")), {}).update(row)
        block = rec.get("intervals") or {}
        if block.get("settings") == settings:
            intervals.update(block.get("metrics") or {})
    merged["metrics"] = metrics
    merged["metric_info"] = info
    merged["rows"] = [rows[str(row.get("id"))] for row in top.get("rows") or []]
    if top.get("intervals"):
        merged["intervals"] = {**top["intervals"], "metrics": intervals}
    return merged, filled


def select(records: Sequence[Record]) -> Selection:
    """Leave out shard records and merge duplicates into the newest, with one note for each.

    Example:
        >>> r = {"task": "restoration", "derainer": {"name": "identity"}, "dataset": {"name": "d"}, "rows": []}
        >>> s = select([{**r, "created": "1"}, {**r, "created": "2"}, {**r, "config": {"shard": "0/2"}}])
        >>> len(s.records), s.records[0]["created"], s.shards, s.superseded
        (1, '2', 1, 1)
        >>> s = select([{**r, "created": "1", "metrics": {"psnr_y": 30.0}}, {**r, "created": "2", "metrics": {"fsim": 0.9}}])
        >>> s.records[0]["metrics"], s.merged
        ({'psnr_y': 30.0, 'fsim': 0.9}, 1)
    """
    shards = [r for r in records if is_shard(r)]
    by_key: dict[tuple[Any, ...], list[Record]] = {}
    for rec in records:
        if not is_shard(rec):
            by_key.setdefault(duplicate_key(rec), []).append(rec)
    kept: list[Record] = []
    filled_notes: list[str] = []
    for group in by_key.values():
        merged, filled = merge_duplicates(group)
        kept.append(merged)
        by_run: dict[str, list[str]] = {}
        for key, run in filled.items():
            by_run.setdefault(run, []).append(key)
        if by_run:
            where = (merged.get("dataset") or {}).get("name", "?")
            parts = "; ".join(f"{', '.join(keys)} from {run}" for run, keys in by_run.items())
            filled_notes.append(f"{derainer_label(merged)} on {where}: {parts}")
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
    if filled_notes:
        notes.append(
            "Duplicates merged metric by metric (the newest value wins): metrics the newest record did not "
            f"measure come from the newest older record that did — {' | '.join(filled_notes)}."
        )
    return Selection(records=kept, notes=notes, shards=len(shards), superseded=superseded, merged=len(filled_notes))


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
