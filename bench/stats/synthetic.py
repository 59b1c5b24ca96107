"""Synthetic detection sets with a known structure, for the statistics tests and the timing benchmark.

Each image holds a few ground-truth boxes of a few classes; a "detector" of a given quality finds each
object with some probability (a jittered box with a high score), adds clutter (random boxes with low
scores, down to YOLO's 0.001 validation confidence) and confuses some classes. Everything is drawn from
an explicit ``numpy.random.Generator``.

Example:
    >>> rng = np.random.default_rng(0)
    >>> truths, shapes = synthetic_truths(rng, 3)
    >>> dets = synthetic_detections(rng, truths, shapes, quality=0.8)
    >>> len(dets), dets[0].boxes.shape[1]
    (3, 4)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.evaluators.base import Detections, GroundTruth


def synthetic_truths(
    rng: np.random.Generator,
    n_images: int,
    n_classes: int = 20,
    max_objects: int = 8,
    size: tuple[int, int] = (480, 640),
) -> tuple[list[GroundTruth], list[tuple[int, int]]]:
    """``n_images`` ground truths of 0..``max_objects`` boxes (some images empty, a few crowd regions)."""
    height, width = size
    truths: list[GroundTruth] = []
    for _ in range(n_images):
        k = int(rng.integers(0, max_objects + 1))
        xy = rng.uniform(0, 0.8, (k, 2)) * (width, height)
        wh = rng.uniform(0.05, 0.3, (k, 2)) * (width, height)
        boxes = np.concatenate([xy, np.minimum(xy + wh, (width, height))], axis=1)
        labels = rng.integers(0, n_classes, k)
        crowd = rng.random(k) < 0.03
        truths.append(GroundTruth(boxes=boxes, labels=labels.astype(np.int64), iscrowd=crowd))
    return truths, [size] * n_images


def synthetic_detections(
    rng: np.random.Generator,
    truths: Sequence[GroundTruth],
    shapes: Sequence[tuple[int, int]],
    quality: float = 0.7,
    clutter: int = 60,
    n_classes: int = 20,
) -> list[Detections]:
    """Detections of a detector that finds each object with probability ``quality`` plus ``clutter`` false boxes."""
    out: list[Detections] = []
    for gt, (height, width) in zip(truths, shapes):
        boxes = np.asarray(gt.boxes, dtype=np.float64).reshape(-1, 4)
        found = rng.random(len(boxes)) < quality
        hit = boxes[found]
        size = np.concatenate([hit[:, 2:] - hit[:, :2]] * 2, axis=1)
        jitter = hit + rng.normal(0, 0.08, hit.shape) * size
        hit_scores = np.clip(rng.normal(0.55 + 0.35 * quality, 0.15, len(hit)), 0.001, 1.0)
        hit_labels = np.asarray(gt.labels)[found].copy()
        confused = rng.random(len(hit_labels)) < 0.05
        hit_labels[confused] = rng.integers(0, n_classes, int(confused.sum()))
        n_clutter = int(rng.integers(clutter // 2, clutter + 1))
        xy = rng.uniform(0, 0.9, (n_clutter, 2)) * (width, height)
        wh = rng.uniform(0.02, 0.25, (n_clutter, 2)) * (width, height)
        clutter_boxes = np.concatenate([xy, xy + wh], axis=1)
        clutter_scores = np.clip(rng.exponential(0.08, n_clutter), 0.001, 0.95)
        out.append(
            Detections(
                boxes=np.concatenate([jitter, clutter_boxes]),
                scores=np.concatenate([hit_scores, clutter_scores]),
                labels=np.concatenate([hit_labels, rng.integers(0, n_classes, n_clutter)]).astype(np.int64),
            )
        )
    return out


def write_synthetic_detection_records(
    root: str | Path, n_images: int = 350, n_derainers: int = 4, seed: int = 0, clutter: int = 60
) -> list[Path]:
    """Write ``n_derainers`` detection records (clean / rainy / derained) on the same synthetic images.

    Each record has the rows, metrics and ``.state.npz`` sidecar a ``bench run --task detection`` writes
    (without intervals): the input of the timing benchmark ``scripts/bench_stats.py``. Clean and rainy
    detections are shared; derainer ``k`` finds objects with probability ``0.6 + 0.03 k``.

    Returns:
        The record paths.
    """
    from bench.evaluators.scoring import CocoDetectionScorer
    from bench.results.record import write_record
    from bench.results.state import DetectionLog, item_arrays, state_path, write_state
    from bench.stats.derived import gain_and_recovery

    rng = np.random.default_rng(seed)
    truths, shapes = synthetic_truths(rng, n_images)
    ids = [f"img{i:04d}" for i in range(n_images)]
    shared = {
        "clean": synthetic_detections(rng, truths, shapes, quality=0.95, clutter=clutter),
        "rainy": synthetic_detections(rng, truths, shapes, quality=0.55, clutter=clutter),
    }

    def scores(dets: list[Detections]) -> tuple[dict[str, float], dict[str, object]]:
        scorer = CocoDetectionScorer()
        scorer.update(dets, truths, names=ids, shapes=shapes)
        return scorer.compute(), scorer.config()

    base = {c: scores(d)[0] for c, d in shared.items()}
    rainy_psnr = rng.normal(24.0, 3.0, n_images)
    paths = []
    for k in range(n_derainers):
        derained = synthetic_detections(rng, truths, shapes, quality=0.6 + 0.03 * k, clutter=clutter)
        derained_scores, scoring = scores(derained)
        metrics = gain_and_recovery({**base, "derained": derained_scores})
        gain_psnr = rng.normal(1.0 + 0.2 * k, 1.0, n_images)
        rows = [
            {"id": item, "rainy.psnr_y": float(p), "derained.psnr_y": float(p + g)}
            for item, p, g in zip(ids, rainy_psnr, gain_psnr)
        ]
        for cond in ("rainy", "derained"):
            metrics[f"{cond}.psnr_y"] = float(np.mean([r[f"{cond}.psnr_y"] for r in rows]))
        log = DetectionLog(("clean", "rainy", "derained"))
        for i, item in enumerate(ids):
            log.add(
                item,
                shapes[i],
                truths[i],
                {"clean": shared["clean"][i], "rainy": shared["rainy"][i], "derained": derained[i]},
            )
        record = {
            "schema_version": 1,
            "run_id": f"detection-synthetic-d{k}",
            "created": "2000-01-01T00:00:00+00:00",
            "task": "detection",
            "derainer": {"name": f"synthetic_d{k}"},
            "dataset": {"name": f"synthetic{n_images}", "n_scored": n_images, "pseudo_labels": False},
            "metrics": metrics,
            "metric_info": {},
            "rows": rows,
            "issues": [],
            "config": {"seed": seed},
            "env": {},
            "timings": {},
            "evaluator": {"name": "synthetic", "scoring": scoring},
        }
        path = Path(root) / f"detection-synthetic-d{k}.json"
        state = item_arrays(ids, [f"{item}.png" for item in ids])
        state.update(log.arrays())
        write_state(state_path(path), state)
        write_record(record, path)  # type: ignore[arg-type]
        paths.append(path)
    return paths
