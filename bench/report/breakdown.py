"""Per-class AP and AP by object size (#22 item 9), from the records' stored ``ap_breakdown`` (HTML report).

A detection or instance record stores COCOeval's per-class AP and AP by object size per condition
(``ap_breakdown.<condition>.<bbox|segm>``; docs/metrics.md). For each homogeneous group of such records
(:mod:`bench.report.grouping`) this gives two tables per IoU type: classes × (rainy, each derainer,
clean) and object sizes × the same columns, AP50-95 in %, with the number of ground-truth objects.
Nothing is rescored.

Example:
    >>> ap_tables([])
    []
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.report.common import ReportTable
from bench.report.downstream import CLEAN, RAIN_INPUT
from bench.report.grouping import groups, select
from bench.report.table import Column, Table
from bench.results.labels import distinct_labels

Record = dict[str, Any]

#: Evaluators whose class indices are the 80 COCO classes in YOLO order (others are shown by index).
COCO80_EVALUATORS: frozenset[str] = frozenset({"yolo", "dummy_detector", "torchvision", "detectron2"})


def class_name(record: Record, index: str) -> str:
    """``person (0)`` for a COCO-80 evaluator, else ``class 0``.

    Example:
        >>> class_name({"evaluator": {"name": "yolo"}}, "0"), class_name({"evaluator": {"name": "x"}}, "3")
        ('person (0)', 'class 3')
    """
    from bench.data.labels import COCO80_NAMES

    ev = str((record.get("evaluator") or {}).get("name", ""))
    i = int(index)
    if ev in COCO80_EVALUATORS and 0 <= i < len(COCO80_NAMES):
        return f"{COCO80_NAMES[i]} ({i})"
    return f"class {i}"


def _ap(block: Mapping[str, Any] | None, part: str, key: str) -> float | None:
    entry = ((block or {}).get(part) or {}).get(key) or {}
    value = entry.get("ap")
    return None if value is None else 100.0 * float(value)


def ap_tables(records: Sequence[Record]) -> list[Table]:
    """Per-class and by-size AP tables of every group whose records carry ``ap_breakdown`` (else none)."""
    out: list[Table] = []
    for group in groups(select([r for r in records if r.get("ap_breakdown")]).records):
        ref = group.records[0]
        breakdown = ref.get("ap_breakdown") or {}
        iou_types = sorted({t for cond in breakdown.values() for t in (cond or {})})
        for iou in iou_types:
            columns = [Column("n", "objects", None, 0), Column("rainy", RAIN_INPUT, None, 2)]
            # not ranked: a column's rows are classes (or sizes), and the best class of a derainer is no finding
            columns += [Column(f"d{i}", label, None, 2) for i, label in enumerate(distinct_labels(group.records))]
            columns.append(Column("clean", CLEAN, None, 2))
            for part, title in (("per_class", "per class"), ("by_size", "by object size")):
                keys = _keys(breakdown, iou, part)
                rows: list[dict[str, object]] = []
                for key in keys:
                    clean_block = (breakdown.get("clean") or {}).get(iou)
                    entry = ((clean_block or {}).get(part) or {}).get(key) or {}
                    row: dict[str, object] = {
                        "name": class_name(ref, key) if part == "per_class" else key,
                        "n": entry.get("n_objects"),
                        "rainy": _ap((breakdown.get("rainy") or {}).get(iou), part, key),
                        "clean": _ap(clean_block, part, key),
                    }
                    for i, rec in enumerate(group.records):
                        derained = ((rec.get("ap_breakdown") or {}).get("derained") or {}).get(iou)
                        row[f"d{i}"] = _ap(derained, part, key)
                    rows.append(row)
                if not rows:
                    continue
                out.append(
                    ReportTable(
                        title=f"AP50-95 (%) {title}, {iou} — {group.task} on {group.describe()}",
                        columns=columns,
                        rows=rows,
                        row_title="class" if part == "per_class" else "size",
                        notes=["COCOeval AP50-95 from the records' ap_breakdown; — where undefined (no such object)."],
                    )
                )
    return out


def _keys(breakdown: Mapping[str, Any], iou: str, part: str) -> list[str]:
    """Classes by number of objects (most first), sizes in COCO order (small, medium, large)."""
    found: dict[str, int] = {}
    for cond in breakdown.values():
        for key, entry in (((cond or {}).get(iou) or {}).get(part) or {}).items():
            found[str(key)] = max(found.get(str(key), 0), int((entry or {}).get("n_objects") or 0))
    if part == "by_size":
        order = ["small", "medium", "large"]
        return [k for k in order if k in found] + sorted(k for k in found if k not in order)
    return sorted(found, key=lambda k: (-found[k], int(k) if k.isdigit() else 0))
