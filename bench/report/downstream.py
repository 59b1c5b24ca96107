"""Table-6-style view of downstream records: Rain input / each derainer / Clean, with gain and recovery.

Rows: "Rain input" (the downstream model on the rainy images, lower bound), one row per derainer (on its
derained images), and "Clean" (upper bound, never bold). Columns: the deraining PSNR/SSIM of the images
that were fed to the model, the deraining time, then for every task metric its value, the gain
(derained − rainy) and the recovery ((derained − rainy) / (clean − rainy)). Everything is read from the
records' stored aggregates; nothing is recomputed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.evaluators.info import weights_sha256
from bench.report.common import ReportTable, digits_for, direction, is_random_init, issues_note
from bench.report.downstream_metrics import CLEAN, FIDELITY, PERCENT, RAIN_INPUT, TITLES, task_metrics
from bench.report.table import Column, Table
from bench.report.values import RecordValues
from bench.results.labels import distinct_labels


def _scale(metric: str, info: dict[str, dict[str, Any]]) -> float:
    """100 for fractions shown in percent; 1 when the record already stores percent or a non-ratio."""
    if metric not in PERCENT:
        return 1.0
    units = {str((info.get(k) or {}).get("unit", "")) for k in (metric, f"derained.{metric}")}
    return 1.0 if "%" in units else 100.0


def evaluator_note(record: dict[str, Any]) -> str:
    """One line naming the downstream model, its weights and every threshold of a record.

    Example:
        >>> evaluator_note({"config": {"options": {"evaluator": "yolo", "score_threshold": 0.6}},
        ...                 "evaluator": {"name": "yolo", "weights": "/w/yolov8n.tflite", "weights_sha256": "ab" * 32}})
        'Evaluator: yolo; weights yolov8n.tflite (sha256 abababababab); options: score_threshold=0.6.'
    """
    options = dict((record.get("config") or {}).get("options") or {})
    ev = dict(record.get("evaluator") or {})
    name = ev.get("name") or options.get("evaluator") or "default"
    parts = [f"Evaluator: {name}"]
    weights = ev.get("weights") or options.get("weights")
    if weights:
        sha = weights_sha256(ev)  # either key: records before the one EvaluatorInfo schema say "sha256"
        parts.append(f"weights {Path(str(weights)).name}" + (f" (sha256 {str(sha)[:12]})" if sha else ""))
    thresholds = {k: v for k, v in options.items() if k not in ("evaluator", "weights")}
    scoring = ev.get("scoring")
    if isinstance(scoring, dict):
        thresholds.update(
            {
                k: v
                for k, v in scoring.items()
                if isinstance(v, int | float) and not isinstance(v, bool) and k not in thresholds
            }
        )
    for key in ("conf", "iou", "imgsz", "score_threshold", "match_iou"):
        if key in ev and key not in thresholds and isinstance(ev[key], int | float | str):
            thresholds[key] = ev[key]
    if thresholds:
        parts.append("options: " + ", ".join(f"{k}={thresholds[k]}" for k in sorted(thresholds)))
    if ev.get("random_weights"):
        parts.append("RANDOM WEIGHTS (no trained detector/segmenter: the scores test the pipeline, not a model)")
    space = ev.get("label_space")
    if isinstance(space, dict):
        dropped = (space.get("dropped_detections") or {}).get("derained", 0)
        parts.append(
            f"scored only the {len(space.get('classes') or [])} classes the set labels "
            f"({', '.join(space.get('names') or [])}); {dropped} derained-image detections of other classes dropped"
        )
    return "; ".join(parts) + "."


def _consistency_note(records: Sequence[dict[str, Any]], metrics: Sequence[str], values: RecordValues) -> str | None:
    ref = records[0]
    for rec in records[1:]:
        for m in metrics:
            for cond in ("clean", "rainy"):
                a, b = values.get(ref, f"{cond}.{m}"), values.get(rec, f"{cond}.{m}")
                if a is not None and b is not None and abs(a - b) > 1e-9 * max(1.0, abs(a)):
                    return (
                        f"The {cond} scores differ between records ({ref.get('run_id')} vs {rec.get('run_id')}: "
                        f"{cond}.{m} {a:.6g} vs {b:.6g}); the Rain input and Clean rows show {ref.get('run_id')}."
                    )
    return None


def downstream_table(
    records: Sequence[dict[str, Any]], title: str | None = None, ci: bool = False, use_holm: bool = False
) -> Table:
    """Table-6-style block for downstream (or no-reference) records of one task.

    Args:
        records: Records of one task (detection, instance, semantic or noref), normally on one dataset.
        title: Table title (default: task, dataset and protocol).
        ci: Show the records' stored 95 % intervals (``value ± half-width``; ``*`` on gains that exclude 0).
        use_holm: Mark gains by Holm-adjusted p-values over the table instead of their own intervals.

    Returns:
        A table with rows Rain input / each derainer / Clean and columns fidelity, time, metric, gain, recovery.

    Example:
        >>> rec = {"task": "detection", "derainer": {"name": "identity"}, "dataset": {"name": "d"},
        ...        "config": {}, "metrics": {"clean.recall": 1.0, "rainy.recall": 0.5, "derained.recall": 0.75,
        ...                                  "gain.recall": 0.25, "recovery.recall": 0.5}}
        >>> table = downstream_table([rec])
        >>> [r["name"] for r in table.rows]
        ['Rain input (rainy)', 'identity', 'Clean (upper bound)']
        >>> table.rows[1]["recall"], table.rows[1]["gain.recall"], table.rows[1]["recovery.recall"]
        (75.0, 25.0, 50.0)
    """
    if not records:
        return ReportTable(title=title or "(no records)", columns=[])
    records = list(records)
    info: dict[str, dict[str, Any]] = {}
    for rec in records:
        info.update(rec.get("metric_info") or {})
    ref = records[0]
    values = RecordValues(records)  # every number below: the pivot of bench.results.load
    task = str(ref.get("task", "?"))
    cfg = ref.get("config") or {}
    metrics = task_metrics(records)
    has_clean = any(f"clean.{m}" in r.get("metrics", {}) for r in records for m in metrics)
    fidelity = [
        m for m in FIDELITY if any(f"{c}.{m}" in r.get("metrics", {}) for r in records for c in ("rainy", "derained"))
    ]

    from bench.report.published import variant_name

    columns: list[Column] = []
    for m in fidelity:
        columns.append(
            Column(
                m,
                f"{'PSNR' if m.startswith('psnr') else 'SSIM'} ({m})",
                True,
                digits_for(m),
            )
        )
    columns.append(Column("sec", "s/img (derain)", False, 3))
    for m in metrics:
        hib = direction(f"derained.{m}", info)
        pct = _scale(m, info) != 1.0 or (m in PERCENT)
        unit = " (%)" if pct else ""
        title_m = TITLES.get(m, m)
        columns.append(Column(m, f"{title_m}{unit}", hib, digits_for(m)))
        columns.append(Column(f"gain.{m}", f"gain {title_m}{' (pp)' if pct else ''}", hib, digits_for(m)))
        if has_clean:
            columns.append(Column(f"recovery.{m}", f"recovery {title_m} (%)", True, 1))

    rows: list[dict[str, object]] = []
    rainy: dict[str, object] = {"name": RAIN_INPUT, "_condition": "rainy", "_derainer": "identity"}
    for m in fidelity:
        rainy[m] = values.get(ref, f"rainy.{m}")
    for m in metrics:
        rainy[m] = values.get(ref, f"rainy.{m}", _scale(m, info))
    rows.append(rainy)
    for rec, label in zip(records, distinct_labels(records)):  # two checkpoints of one model: two labels
        row: dict[str, object] = {
            "name": label,
            "_condition": "derained",
            # no derainer name for a random network: it is never matched to the paper's row of the model
            "_derainer": None if is_random_init(rec) else (rec.get("derainer") or {}).get("name"),
            "_record": rec,
        }
        for m in fidelity:
            row[m] = values.get(rec, f"derained.{m}")
        row["sec"] = values.get(rec, "seconds_per_image")
        for m in metrics:
            s = _scale(m, info)
            value = values.get(rec, f"derained.{m}", s)
            row[m] = value
            gain = values.get(rec, f"gain.{m}", s)
            rainy_value = rainy.get(m)  # a float from RecordValues.get, or None
            if gain is None and value is not None and isinstance(rainy_value, float):
                gain = value - rainy_value
            row[f"gain.{m}"] = gain
            if has_clean:
                row[f"recovery.{m}"] = values.get(rec, f"recovery.{m}", 100.0)
        rows.append(row)
    if has_clean:
        clean: dict[str, object] = {"name": CLEAN, "_condition": "clean", "_unranked": True}
        for m in metrics:
            clean[m] = values.get(ref, f"clean.{m}", _scale(m, info))
        rows.append(clean)

    datasets = sorted({str((r.get("dataset") or {}).get("name", "?")) for r in records})
    notes = _notes(records, task, metrics, has_clean, values)
    if fidelity:
        spelled = "; ".join(variant_name(m, cfg.get("quantize"), cfg.get("crop_multiple")) for m in fidelity)
        notes.insert(0, f"PSNR/SSIM: {spelled} of the images fed to the model, against the clean images.")
    if ci:
        notes += _attach_intervals(rows, ref, metrics, fidelity, info, use_holm)
    title = title or (
        f"{task} on {', '.join(datasets)} (quantize={cfg.get('quantize')}, crop multiple={cfg.get('crop_multiple')})"
    )
    return ReportTable(title=title, columns=columns, rows=rows, notes=notes)


def _attach_intervals(
    rows: list[dict[str, object]],
    ref: dict[str, Any],
    metrics: Sequence[str],
    fidelity: Sequence[str],
    info: dict[str, dict[str, Any]],
    use_holm: bool,
) -> list[str]:
    """Put the records' stored intervals into the rows (``row["_ci"]``); returns the notes that explain them."""
    from bench.report.intervals import apply_holm, interval_note, missing_note, record_cell_interval, record_interval
    from bench.report.table import CellInterval

    gains: list[tuple[dict[str, CellInterval], str, float | None]] = []  # (row cells, column, p-value)
    records: list[dict[str, Any]] = [ref]
    for row in rows:
        cond = str(row.get("_condition"))
        rec = row.get("_record") if cond == "derained" else ref
        if not isinstance(rec, dict):
            continue
        if rec is not ref:
            records.append(rec)
        wanted: list[tuple[str, str, float, bool]] = [(m, f"{cond}.{m}", 1.0, False) for m in fidelity]
        for m in metrics:
            wanted.append((m, f"{cond}.{m}", _scale(m, info), False))
            if cond == "derained":
                wanted.append((f"gain.{m}", f"gain.{m}", _scale(m, info), True))
                wanted.append((f"recovery.{m}", f"recovery.{m}", 100.0, False))
        cells: dict[str, CellInterval] = {}
        for column, key, scale, difference in wanted:
            cell = record_cell_interval(rec, key, scale, difference)
            if cell is None:
                continue
            cells[column] = cell
            if difference:
                found = record_interval(rec, key)
                gains.append((cells, column, found.p_value if found else None))
        row["_ci"] = cells
    if use_holm and gains:
        for (cells, column, _), cell in zip(gains, apply_holm([(cells[col], p) for cells, col, p in gains])):
            cells[column] = cell
    notes = [interval_note(records, len(gains), use_holm)]
    missing = missing_note(records)
    return notes + ([missing] if missing else [])


def _notes(
    records: Sequence[dict[str, Any]], task: str, metrics: Sequence[str], has_clean: bool, values: RecordValues
) -> list[str]:
    notes: list[str] = []
    evaluators = sorted({evaluator_note(r) for r in records})
    notes.extend(evaluators if task != "noref" else [])
    pseudo = [bool((r.get("dataset") or {}).get("pseudo_labels")) for r in records]
    if task != "noref":
        if any(pseudo):
            notes.append(
                "Ground truth: PSEUDO LABELS — the downstream model's predictions on the clean images; "
                "the Clean row therefore scores the model against itself (upper bound by construction)."
            )
        else:
            labels = sorted({str((r.get("dataset") or {}).get("labels", "human labels")) for r in records})
            notes.append(f"Ground truth: {', '.join(labels)}.")
    if any(m in PERCENT for m in metrics):
        notes.append(
            "Scores in %; gain = derained − rainy in percentage points"
            + ("; recovery = (derained − rainy) / (clean − rainy) in %." if has_clean else ".")
        )
    elif metrics:
        notes.append("gain = derained − rainy (for lower-is-better scores a negative gain is an improvement).")
    devices = sorted({str((r.get("env") or {}).get("gpu") or (r.get("env") or {}).get("device", "?")) for r in records})
    notes.append(
        f"s/img: measured forward time of the derainer per image on {', '.join(devices)} (a cached image keeps "
        "the time measured when it was derained)."
    )
    consistency = _consistency_note(records, metrics, values)
    if consistency:
        notes.append(consistency)
    unused = issues_note(records)
    if unused:
        notes.append(unused)
    return notes
