"""The one item loop every task runs; a task says only what differs (after lm-eval's ``Task`` and mmengine's
``BaseMetric``: ``process`` one item into a row, ``aggregate`` the rows into metrics).

:meth:`Task.run` opens the items (:meth:`Task.open`), builds the derainer and engine once
(:func:`bench.tasks.common.build_engine`), decodes ahead in threads (:func:`bench.data.prefetch.prefetch`),
skips what a resumed run's journal already holds, derains each item (:meth:`Task.derain`), turns it into a
row (:meth:`Task.process`), records unusable items as issues (an item's ``ValueError``), and writes the
record, its state sidecar and the intervals. ``bench merge`` ends in :meth:`Task.finish_merge`, which
aggregates exactly as a run does.

``seconds`` (per row) and ``timings.seconds_per_image`` are the same for every task: the derainer's forward
pass plus the quantisation of its output (:meth:`Task.derain`), never decoding, scoring or writing.
``timings`` also holds the totals per phase (``load_model``, ``derain``, ``process``) and the wall time.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.config import RunConfig, record_name, select_shard
from bench.data.images import quantize, write_image
from bench.data.paired import DataIssue, Sample
from bench.data.prefetch import prefetch
from bench.results.record import RunRecord, stable_hash, write_record
from bench.results.shards import add_shard_info
from bench.results.state import item_arrays, state_path, write_state
from bench.stats.intervals import attach_intervals
from bench.tasks.common import Stopwatch, base_record, build_engine, open_journal, output_dir, progress, skip_reason

logger = logging.getLogger(__name__)

#: Journal keys of an item that was skipped: its issue and its file.
_ISSUE, _PATH = "_issue", "_path"
#: Row key of issues that do not cost the item its row (a metric that failed on one condition).
ROW_ISSUES = "_issues"


@dataclass
class ItemRef:
    """One item of a task's set before it is decoded: its id and its rainy input file."""

    id: str
    path: Path
    ref: Any = None  # what the loader needs (a dataset pair); ``path`` when None


@dataclass(frozen=True)
class Derained:
    """What :meth:`Task.derain` returns for one item.

    Attributes:
        image: The quantised derained image (uint8, HWC).
        seconds: Its forward pass plus quantisation.
        nonfinite: NaN/inf values in the derainer's output before quantisation (an issue in the record).
    """

    image: np.ndarray
    seconds: float
    nonfinite: int = 0


@dataclass
class TaskData:
    """What :meth:`Task.open` returns: the set's name and record block, its items and their loader."""

    name: str
    info: dict[str, Any]
    items: list[ItemRef]
    load: Callable[[ItemRef], Sample]
    issues: list[DataIssue] = field(default_factory=list)  # files found unusable while listing the set


def mean_over(rows: Iterable[Mapping[str, Any]], key: str) -> float:
    """Mean of ``row[key]`` over the rows that have it; NaN when none does."""
    values = [float(r[key]) for r in rows if key in r]
    return float(np.mean(values)) if values else math.nan


class Task:
    """Base of every task: the item loop, resume journal, timings, record, state and merge.

    Subclasses set ``name`` and implement :meth:`open`, :meth:`process` and :meth:`aggregate`; the other
    methods are hooks with defaults. See ``docs/architecture.md`` for a complete task in 40 lines.
    """

    name: ClassVar[str] = ""
    #: Finished rows go to a journal, so ``--resume`` skips them (False for tasks whose scorers keep state).
    resumable: ClassVar[bool] = True
    #: What :meth:`process` raises for an item that cannot be scored (it is skipped, recorded as an issue).
    item_errors: ClassVar[tuple[type[Exception], ...]] = (ValueError,)

    #: ``-o key=value`` options the task reads (``None``: the task checks them itself, e.g. the evaluator's).
    accepted_options: ClassVar[frozenset[str] | None] = None

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.options = dict(config.options)
        if self.accepted_options is not None:
            unknown = sorted(set(self.options) - self.accepted_options)
            if unknown:  # an ignored option would still change the record's protocol (a table of its own)
                takes = ", ".join(sorted(self.accepted_options)) or "none"
                raise ValueError(f"--task {self.name} takes no option(s) {', '.join(unknown)} (-o takes: {takes})")
        self.image_dir: Path | None = None  # where --save-images writes, once a run has started

    # ------------------------------------------------------------------ what a task says
    def open(self) -> TaskData:
        """The set's items in natural order (before sharding) and how to load one."""
        raise NotImplementedError

    def setup(self, model: Any, derainer: dict[str, Any]) -> None:
        """Build what the task needs beside the derainer (evaluators, metric specs); after the engine."""

    def prepare(self, sample: Sample) -> None:
        """Checks before the derainer runs (e.g. the item's labels).

        Raises:
            ValueError: the item cannot be scored (skipped before it is derained).
        """

    def process(self, sample: Sample, derained: np.ndarray) -> dict[str, Any]:
        """Score one item: its row (``id``, ``file`` and ``seconds`` are added by the loop).

        Raises:
            ValueError: the item cannot be scored (it is skipped and recorded as an issue).
        """
        raise NotImplementedError

    def aggregate(self, rows: list[dict[str, Any]]) -> dict[str, float]:
        """The record's metrics from the rows (natural order); used by a run and a merge alike."""
        raise NotImplementedError

    def metric_info(self) -> dict[str, dict[str, Any]]:
        """Direction, summary and unit of each metric key."""
        return {}

    # ------------------------------------------------------------------ hooks with defaults
    def derain(self, engine: Any, sample: Sample, watch: Stopwatch) -> Derained:
        """The quantised derained image, the seconds its forward pass and quantisation took, its NaN/inf count."""
        t0 = time.perf_counter()
        with watch.time("derain"):
            output = engine.derain([sample.rainy])[0]
            derained = quantize(output, self.config.quantize)
        seconds = time.perf_counter() - t0
        return Derained(derained, seconds, int(output.numel() - int(output.isfinite().sum())))

    def finish(self, record: RunRecord, rows: list[dict[str, Any]]) -> None:
        """Fill ``metrics``, ``metric_info`` and ``rows`` (and whatever else is dataset-level)."""
        record["metrics"] = self.aggregate(rows)
        record["metric_info"] = self.metric_info()
        record["rows"] = rows

    def extra_timings(self) -> dict[str, Any]:
        """Task-specific entries of ``timings`` (cache statistics)."""
        return {}

    def save_extra(self, image_dir: Path, sample: Sample, derained: np.ndarray) -> None:
        """With ``--save-images``: anything to save beside the derained PNG."""

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Per-image data beyond ids and paths for the state sidecar (what a merge needs)."""
        return {}

    def interval_state(self, state: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray] | None:
        """The state the intervals resample (None: they resample the rows)."""
        return None

    def merged_state(
        self, states: Sequence[Mapping[str, np.ndarray]], order: Mapping[str, int]
    ) -> dict[str, np.ndarray] | None:
        """The shards' per-image state as one, in the unsharded order (None: ids and paths only)."""
        return None

    def finish_merge(
        self, record: RunRecord, states: Sequence[Mapping[str, np.ndarray]], order: Mapping[str, int]
    ) -> None:
        """Dataset-level metrics of a merged record (rows already merged, natural order), as a run does."""
        self.finish(record, record["rows"])
        attach_intervals(record, self.merged_state(states, order))

    # ------------------------------------------------------------------ the loop
    def run(self) -> RunRecord:
        """Run the task over its set and write the record; returns it (with ``_path``)."""
        cfg = self.config
        data = self.open()
        keep = set(select_shard([it.id for it in data.items], cfg.shard))
        items = [it for it in data.items if it.id in keep]
        watch = Stopwatch()
        with watch.time("load_model"):
            model, engine, dinfo = build_engine(cfg)  # the one place a run's derainer and engine are made
            self.setup(model, dinfo)
        info = {**data.info, "n_items": len(items), "ids_hash": stable_hash([it.id for it in items])}
        record = base_record(cfg, dinfo, info)
        add_shard_info(record, [it.id for it in data.items], cfg.shard)  # the selection: merge checks coverage
        stem = record_name(cfg, dinfo["name"], data.name)
        journal = open_journal(cfg, stem, dinfo) if self.resumable else None
        done: dict[str, dict[str, Any]] = {}
        image_dir = self.image_dir = output_dir(cfg) / "images" / stem if cfg.save_images else None

        started = time.perf_counter()
        todo = [it for it in items if journal is None or it.id not in journal]
        resumed = len(items) - len(todo)
        if resumed:
            logger.warning("resuming %s: %d of %d items already done, %d to go", stem, resumed, len(items), len(todo))
        loaded = prefetch(todo, data.load, workers=cfg.workers)  # decode ahead while the model runs
        for ref, sample in progress(loaded, total=len(todo), desc=f"{dinfo['name']} {self.name} {data.name}"):
            entry = self._item(engine, ref, sample, watch, image_dir)
            done[ref.id] = entry
            if journal is not None:
                journal.append(entry)

        rows, issues = [], [{"path": i.path, "reason": i.reason} for i in data.issues]
        n_skipped = 0
        for it in items:
            found = done.get(it.id) or (journal.get(it.id) if journal is not None else None)
            if found is None:
                continue
            entry = found
            if _ISSUE in entry:
                issues.append({"path": entry[_PATH], "reason": entry[_ISSUE]})
                n_skipped += 1
                continue
            row = dict(entry)
            issues.extend(row.pop(ROW_ISSUES, []))
            rows.append(row)
        self.finish(record, rows)
        record["issues"] = issues
        record["dataset"]["n_scored"] = len(rows)
        record["dataset"]["n_skipped"] = n_skipped
        record["timings"] = {
            **watch.totals,
            "total": time.perf_counter() - started,
            "seconds_per_image": mean_over(rows, "seconds"),
            "resumed_items": resumed,
            "computed_items": len(todo),
            **self.extra_timings(),
        }
        if image_dir is not None:
            record["images_dir"] = str(image_dir)
        path = output_dir(cfg) / f"{stem}.json"
        state = item_arrays([it.id for it in items], [str(it.path) for it in items])
        state.update(self.state_arrays())
        write_state(state_path(path), state)  # what `bench merge` needs
        attach_intervals(record, self.interval_state(state))  # paired-bootstrap intervals over the images
        path = write_record(record, path)
        if journal is not None:
            journal.remove()
        record["_path"] = str(path)
        return record

    def _item(
        self, engine: Any, ref: ItemRef, sample: Sample | BaseException, watch: Stopwatch, image_dir: Path | None
    ) -> dict[str, Any]:
        """One item's journal entry: its row, or the reason it was skipped."""
        if isinstance(sample, BaseException):
            return self._skip(ref, str(sample))
        try:
            self.prepare(sample)
        except ValueError as err:  # e.g. a malformed label file: this image only
            return self._skip(ref, str(err))
        result = self.derain(engine, sample, watch)
        derained = result.image
        try:
            with watch.time("process"):
                row = {"id": ref.id, "file": ref.path.name, "seconds": result.seconds, **self.process(sample, derained)}
        except self.item_errors as err:  # e.g. an image smaller than a metric's window: this image only
            return self._skip(ref, str(err))
        row = drop_undefined(row, ref.path)
        if result.nonfinite:  # scored as quantised (NaN -> 0, ±inf clipped), and said in the record
            reason = f"the derainer output {result.nonfinite} non-finite values (NaN/inf), scored as quantised"
            logger.warning("%s: %s", ref.path, reason)
            row.setdefault(ROW_ISSUES, []).append(row_issue(ref.path, reason))
        if image_dir is not None:
            write_image(image_dir / f"{ref.id}.png", derained)
            self.save_extra(image_dir, sample, derained)
        return row

    def _skip(self, ref: ItemRef, reason: str) -> dict[str, Any]:
        logger.warning("skipped %s: %s", ref.path, skip_reason(ref.path, reason))
        return {"id": ref.id, _ISSUE: reason, _PATH: str(ref.path)}


def row_issue(path: str | Path, reason: str) -> dict[str, str]:
    """An issue that does not cost the item its row; ``process`` lists them under ``row[ROW_ISSUES]``."""
    return {"path": str(path), "reason": reason}


def drop_undefined(row: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """``row`` without its NaN scores, each named in a row issue.

    A score the reference code itself leaves undefined on this image (SSEQ, BRISQUE or FSIM of a flat
    image are NaN in MATLAB too) says nothing about the derainer: kept, one such image would make the set's
    mean NaN. Left out, the image counts in every other mean, and the record says which score it lacks.
    Infinite scores (PSNR of identical images) stay: they are defined, and a mean over them is infinite.

    Example:
        >>> row = drop_undefined({"id": "1", "psnr_y": 30.0, "fsim": float("nan")}, "1.png")
        >>> sorted(k for k in row if k != ROW_ISSUES), row[ROW_ISSUES][0]["reason"].startswith("fsim is undefined")
        (['id', 'psnr_y'], True)
    """
    undefined = [k for k, v in row.items() if isinstance(v, float) and math.isnan(v)]
    if not undefined:
        return row
    kept = {k: v for k, v in row.items() if k not in undefined}
    issues = list(kept.get(ROW_ISSUES, []))
    for key in undefined:
        reason = f"{key} is undefined (NaN) on this image (e.g. a flat image): left out of its mean"
        logger.warning("%s: %s", path, reason)
        issues.append(row_issue(path, reason))
    kept[ROW_ISSUES] = issues
    return kept


def open_paired(config: RunConfig, task: str) -> TaskData:
    """The rainy/clean pairs of ``config.dataset`` (natural order) as a task's items.

    Raises:
        ValueError: the dataset is registered as another kind (a real set without references).
    """
    from bench.data.catalog import resolve_dataset
    from bench.data.paired import PairedDataset
    from bench.registries import DATASETS

    ds_name, root, kind = resolve_dataset(config.dataset, config.data_root, registry=DATASETS)
    if kind not in (None, "paired"):
        raise ValueError(f"dataset {ds_name!r} is a {kind} set; the {task} task needs rainy/clean pairs")
    dataset = PairedDataset(root, limit=config.limit, crop_multiple=config.crop_multiple, ids=config.id_set())
    return TaskData(
        name=ds_name,
        info={"name": ds_name, "path": str(root), "layout": dataset.layout, "kind": "paired"},
        items=[ItemRef(p.id, p.rainy, p) for p in dataset.pairs],
        load=lambda item: dataset.load(item.ref),
        issues=list(dataset.issues),
    )
