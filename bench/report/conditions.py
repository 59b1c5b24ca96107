"""Scores by image condition (day/night, rain preset) and confidence sweeps, from stored records only (#22 item 9).

A detection or instance record carries each image's condition in its rows (``time_of_day``,
``rain_preset``, from the built set's manifest) and every image's ground truth and detections in its
state sidecar. :func:`bench.stats.conditions.record_splits` rescores each group of images from those
files (no model is run); this module lays the result out for ``bench report --conditions`` (and the
HTML page):

* per homogeneous group of records (:mod:`bench.report.grouping`) and condition field, one table with a
  row per (value, method): images, P, R, IoU (the record's variant), mAP50, mAP50-95, in %;
* per field value, a confidence sweep: P and R of every method at score thresholds 0.1 … 0.9 (the
  operating point's greedy matching, crowds ignored; boxes only);
* in HTML, one precision–recall figure per field (:func:`condition_figures`), a panel per value.

The rainy and clean rows come from the group's first record (every record of a group scored the same
images with the same evaluator); each derainer's row from its own record.

Example:
    >>> condition_tables([])
    []
"""

from __future__ import annotations

import logging
import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from bench.report.common import derainer_label
from bench.report.downstream import CLEAN, RAIN_INPUT
from bench.report.grouping import groups, select
from bench.report.table import Column, Table

logger = logging.getLogger(__name__)

Record = dict[str, Any]
Splits = dict[str, dict[str, dict[str, Any]]]

#: Row fields that name an image condition, with their titles.
FIELD_TITLES: dict[str, str] = {"time_of_day": "time of day", "rain_preset": "rain preset"}
#: Thresholds shown in the sweep tables (the figures use every stored threshold).
TABLE_THRESHOLDS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
#: (column key, title, metric of split_scores) of the per-condition score tables, all shown in %.
SCORE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("precision", "P (%)", "precision"),
    ("recall", "R (%)", "recall"),
    ("iou", "IoU (%)", "iou"),
    ("map50", "mAP50 (%)", "map50"),
    ("map50_95", "mAP50-95 (%)", "map50_95"),
)
TASKS: frozenset[str] = frozenset({"detection", "instance"})


@dataclass
class Method:
    """One line of a condition table: a label, the split results it reads and which condition in them."""

    label: str
    splits: Splits
    condition: str


@dataclass
class ConditionGroup:
    """A homogeneous group of records with their splits: rainy, each derainer's derained, clean."""

    title: str
    methods: list[Method]
    scoring: Mapping[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def fields(self) -> list[str]:
        return [f for f in FIELD_TITLES if f in self.methods[0].splits]


def has_conditions(record: Record) -> bool:
    """Whether a record can be split: a detection/instance record on disk whose rows name a condition."""
    rows = record.get("rows") or []
    return (
        record.get("task") in TASKS
        and bool(record.get("_path"))
        and any(isinstance(r, Mapping) and any(r.get(f) is not None for f in FIELD_TITLES) for r in rows)
    )


@lru_cache(maxsize=64)
def _cached_splits(path: str, mtime_ns: int, size: int) -> Splits:
    """record_splits of one record file (a table and a figure of one report read each file once)."""
    from bench.stats.conditions import record_splits

    del mtime_ns, size  # part of the cache key only: a rewritten record is read again
    return record_splits(path)


def splits_of(record: Record) -> Splits:
    """:func:`bench.stats.conditions.record_splits` of a record (its ``_path``), every stored threshold."""
    path = Path(str(record["_path"]))
    stat = path.stat()
    return _cached_splits(str(path), stat.st_mtime_ns, stat.st_size)


def condition_groups(records: Sequence[Record]) -> list[ConditionGroup]:
    """The groups of records that can be split; a record whose per-image data cannot be read is left out
    with a note (its state sidecar is missing or not its own)."""
    from bench.results.state import StateError

    out: list[ConditionGroup] = []
    for group in groups(select([r for r in records if has_conditions(r)]).records):
        methods: list[Method] = []
        notes: list[str] = []
        for rec in group.records:
            try:
                splits = splits_of(rec)
            except (StateError, OSError) as err:
                logger.warning("no condition split of %s: %s", rec.get("_path"), err)
                notes.append(f"{derainer_label(rec)}: no per-image detections to split ({err}).")
                continue
            if not methods:
                methods.append(Method(RAIN_INPUT, splits, "rainy"))
            methods.append(Method(derainer_label(rec), splits, "derained"))
        if not methods:
            continue
        methods.append(Method(CLEAN, methods[0].splits, "clean"))
        scoring = ((group.records[0].get("evaluator") or {}).get("scoring")) or {}
        out.append(ConditionGroup(f"{group.task} on {group.describe()}", methods, scoring, notes))
    return out


def _percent(value: object) -> float | None:
    if value is None:
        return None
    v = float(value)  # type: ignore[arg-type]
    return None if math.isnan(v) else 100.0 * v


def _operating_point(scoring: Mapping[str, Any]) -> str:
    score = float(scoring.get("operating_point_score", 0.6))
    match = float(scoring.get("operating_point_match_iou", 0.5))
    variant = str(scoring.get("iou_variant", "matched"))  # as split_scores rescores records from before the readings
    return f"P, R and IoU at score ≥ {score:g}, matching IoU {match:g}, IoU variant {variant!r}"


def score_table(group: ConditionGroup, field_name: str) -> Table:
    """Rows (value, method): images and the operating point's P, R, IoU and COCO mAP, in %."""
    columns = [Column("n", "images", None, 0)] + [Column(k, t, None, 2) for k, t, _ in SCORE_COLUMNS]
    rows: list[dict[str, object]] = []
    for value in group.methods[0].splits[field_name]:
        for method in group.methods:
            block = method.splits[field_name].get(value) or {}
            scores = block.get(method.condition) or {}
            row: dict[str, object] = {"name": f"{value} · {method.label}", "n": block.get("n_images")}
            row.update({key: _percent(scores.get(metric)) for key, _, metric in SCORE_COLUMNS})
            rows.append(row)
    notes = [
        f"Rescored per {FIELD_TITLES[field_name]} from the records' stored detections (no model rerun); "
        f"{_operating_point(group.scoring)}; mAP: COCOeval on the group's images (boxes). Not ranked.",
        *group.notes,
    ]
    return Table(
        title=f"By {FIELD_TITLES[field_name]} — {group.title}",
        columns=columns,
        rows=rows,
        row_title=f"{FIELD_TITLES[field_name]} · method",
        notes=notes,
    )


def _sweep_at(sweep: Sequence[Mapping[str, Any]], threshold: float) -> Mapping[str, Any] | None:
    return next((p for p in sweep if math.isclose(float(p["threshold"]), threshold, abs_tol=1e-9)), None)


def sweep_table(group: ConditionGroup, field_name: str, value: str) -> Table:
    """Rows: score thresholds; columns: P and R (%) of each method on the images of one condition value."""
    columns: list[Column] = []
    for i, method in enumerate(group.methods):
        columns += [Column(f"p{i}", f"P {method.label}", None, 1), Column(f"r{i}", f"R {method.label}", None, 1)]
    ref = group.methods[0].splits[field_name][value]
    rows: list[dict[str, object]] = []
    for threshold in TABLE_THRESHOLDS:
        row: dict[str, object] = {"name": f"{threshold:.1f}"}
        for i, method in enumerate(group.methods):
            block = method.splits[field_name].get(value) or {}
            point = _sweep_at((block.get(method.condition) or {}).get("sweep") or [], threshold)
            row[f"p{i}"] = None if point is None else _percent(point["precision"])
            row[f"r{i}"] = None if point is None else _percent(point["recall"])
        rows.append(row)
    match = float(group.scoring.get("operating_point_match_iou", 0.5))
    return Table(
        title=f"Confidence sweep, {FIELD_TITLES[field_name]} = {value} ({ref['n_images']} images) — {group.title}",
        columns=columns,
        rows=rows,
        row_title="score ≥",
        notes=[
            "Precision and recall (%) of the detections scoring at least the threshold (greedy matching at "
            f"IoU {match:g}, crowds ignored, boxes only), from the stored detections; — where undefined."
        ],
    )


def condition_tables(records: Sequence[Record]) -> list[Table]:
    """For every group of splittable records: a score table per condition field and a sweep per value."""
    out: list[Table] = []
    for group in condition_groups(records):
        for field_name in group.fields:
            out.append(score_table(group, field_name))
            out += [sweep_table(group, field_name, v) for v in group.methods[0].splits[field_name]]
    return out


def condition_figures(records: Sequence[Record]) -> list[tuple[str, bytes]]:
    """One precision–recall figure (PNG) per group and field: a panel per value, a curve per method
    (every stored threshold), the record's operating point marked."""
    from matplotlib.figure import Figure

    from bench.report.figures import _figure_png

    out: list[tuple[str, bytes]] = []
    for group in condition_groups(records):
        score = float(group.scoring.get("operating_point_score", 0.6))
        for field_name in group.fields:
            values = list(group.methods[0].splits[field_name])
            fig = Figure(figsize=(min(3.2 * len(values), 12.8) + 1.0, 3.8))
            for k, value in enumerate(values):
                ax = fig.add_subplot(1, len(values), k + 1)
                for method in group.methods:
                    block = method.splits[field_name].get(value) or {}
                    sweep = (block.get(method.condition) or {}).get("sweep") or []
                    points = [(p["recall"], p["precision"]) for p in sweep]
                    points = [(r, p) for r, p in points if not (math.isnan(r) or math.isnan(p))]
                    if not points:
                        continue
                    (line,) = ax.plot(*zip(*points), marker=".", markersize=3, linewidth=1, label=method.label)
                    at = _sweep_at(sweep, score)
                    if at is not None and not (math.isnan(at["recall"]) or math.isnan(at["precision"])):
                        ax.plot([at["recall"]], [at["precision"]], "o", color=line.get_color(), markersize=6)
                n = (group.methods[0].splits[field_name][value]).get("n_images")
                ax.set_title(f"{value} ({n} images)", fontsize=9)
                ax.set_xlim(0, 1.02)
                ax.set_ylim(0, 1.02)
                ax.set_xlabel("recall", fontsize=8)
                if k == 0:
                    ax.set_ylabel("precision", fontsize=8)
                ax.tick_params(labelsize=7)
            seen: dict[str, Any] = {}
            for ax in fig.axes:  # one legend entry per method, whichever panel drew it
                for handle, label in zip(*ax.get_legend_handles_labels()):
                    seen.setdefault(label, handle)
            if seen:
                fig.legend(list(seen.values()), list(seen), fontsize=7, loc="lower center", ncol=min(len(seen), 5))
            what = f"precision–recall by {FIELD_TITLES[field_name]} (dot: score ≥ {score:g})"
            fig.suptitle(textwrap.fill(f"{group.title}: {what}", 110), fontsize=8)
            fig.subplots_adjust(top=0.78, bottom=0.26, wspace=0.25)
            out.append((f"{group.title}: {what}", _figure_png(fig)))
    return out
