"""Shard state sidecars: what ``bench merge`` needs beyond a record's rows.

Beside each record ``<stem>.json`` a task writes ``<stem>.state.npz`` (plain numpy arrays, loaded with
``allow_pickle=False``):

* ``ids``: every item of the run in processing order, skipped ones included, and ``paths``: their
  input files (per-item issues name these). Shards are round-robin slices of the full list, so the
  merge rebuilds the unsharded order exactly from these.
* task-specific scorer inputs, because dataset-level scores cannot be rebuilt from per-image rows:
  detection / instance keep every image's predictions and ground truth (:class:`DetectionLog`, masks as
  COCO RLE), semantic segmentation its confusion matrices, summed and per image (:class:`ConfusionLog`).
  The same per-image data is what :mod:`bench.stats` resamples for confidence intervals.

Example:
    >>> import numpy as np
    >>> arrays = item_arrays(["1", "2"], ["rain/1.png", "rain/2.png"])
    >>> arrays["ids"].tolist()
    ['1', '2']
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from bench.evaluators.base import Detections, GroundTruth
from bench.fileio import atomic_write

STATE_SUFFIX = ".state.npz"


class StateError(ValueError):
    """A state sidecar is missing, unreadable or does not belong to its record."""


def state_path(record_path: str | Path) -> Path:
    """``runs/x.json`` → ``runs/x.state.npz``.

    Example:
        >>> state_path("runs/detection-a-b-12345678.json").name
        'detection-a-b-12345678.state.npz'
    """
    path = Path(record_path)
    return path.with_name(f"{path.stem}{STATE_SUFFIX}")


def item_arrays(ids: Sequence[str], paths: Sequence[str]) -> dict[str, np.ndarray]:
    """The arrays every task writes: item ids and their input paths, in processing order."""
    if len(ids) != len(paths):
        raise ValueError(f"{len(ids)} ids for {len(paths)} paths")
    return {
        "ids": np.asarray([str(i) for i in ids], dtype=np.str_).reshape(-1),
        "paths": np.asarray([str(p) for p in paths], dtype=np.str_).reshape(-1),
    }


def write_state(path: str | Path, arrays: Mapping[str, np.ndarray]) -> Path:
    """Write the arrays as a compressed ``.npz``, atomically (temporary file, fsync, rename)."""
    buf = io.BytesIO()
    # allow_pickle=True is NumPy's default, named so that the type checker maps ** to the arrays
    np.savez_compressed(buf, allow_pickle=True, **dict(arrays))
    return atomic_write(path, buf.getvalue())


def read_state(path: str | Path) -> dict[str, np.ndarray]:
    """Load a state sidecar (never unpickles).

    Raises:
        StateError: the file is missing or not a valid ``.npz`` of plain arrays.
    """
    path = Path(path)
    if not path.is_file():
        raise StateError(
            f"{path}: state file not found; it is written beside every record by bench run "
            "(re-run the shard to create it)"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:  # truncated or corrupt (a torn copy)
        raise StateError(f"{path}: unreadable state file ({err})") from err
    for key in ("ids", "paths"):
        if key not in arrays:
            raise StateError(f"{path}: state file lacks {key!r}")
    return arrays


def _rle_bytes(masks: np.ndarray) -> list[bytes]:
    from bench.evaluators.scoring import encode_masks

    return [str(rle["counts"]).encode("ascii") for rle in encode_masks(np.asarray(masks, dtype=bool))]


def _decode_rles(counts: Sequence[bytes], height: int, width: int) -> np.ndarray:
    from pycocotools import mask as mask_utils

    if not counts:
        return np.zeros((0, height, width), dtype=bool)
    rles = [{"size": [height, width], "counts": c} for c in counts]
    return np.moveaxis(mask_utils.decode(rles), -1, 0).astype(bool)


class _Ragged:
    """Per-image groups of objects (boxes, scores, labels, optional masks) flattened into arrays."""

    def __init__(self) -> None:
        self.count: list[int] = []
        self.has_masks: list[bool] = []
        self.boxes: list[np.ndarray] = []
        self.scores: list[np.ndarray] = []
        self.labels: list[np.ndarray] = []
        self.crowd: list[np.ndarray] = []
        self.rles: list[bytes] = []

    def add(
        self, boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, crowd: np.ndarray, masks: np.ndarray | None
    ) -> None:
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        n = len(boxes)
        self.count.append(n)
        self.boxes.append(boxes)
        self.scores.append(np.asarray(scores, dtype=np.float64).reshape(n))
        self.labels.append(np.asarray(labels, dtype=np.int64).reshape(n))
        self.crowd.append(np.asarray(crowd, dtype=bool).reshape(n))
        self.has_masks.append(masks is not None)
        if masks is not None:
            rles = _rle_bytes(masks) if n else []
            if len(rles) != n:
                raise ValueError(f"{len(rles)} masks for {n} objects")
            self.rles.extend(rles)

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        lengths = np.asarray([len(r) for r in self.rles], dtype=np.int64)
        return {
            f"{prefix}.count": np.asarray(self.count, dtype=np.int64),
            f"{prefix}.has_masks": np.asarray(self.has_masks, dtype=bool),
            f"{prefix}.boxes": np.concatenate(self.boxes) if self.boxes else np.zeros((0, 4)),
            f"{prefix}.scores": np.concatenate(self.scores) if self.scores else np.zeros(0),
            f"{prefix}.labels": np.concatenate(self.labels) if self.labels else np.zeros(0, dtype=np.int64),
            f"{prefix}.crowd": np.concatenate(self.crowd) if self.crowd else np.zeros(0, dtype=bool),
            f"{prefix}.rle": np.frombuffer(b"".join(self.rles), dtype=np.uint8).copy(),
            f"{prefix}.rle_len": lengths,
        }


def _iter_ragged(
    arrays: Mapping[str, np.ndarray], prefix: str, shapes: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]]:
    count = arrays[f"{prefix}.count"]
    has_masks = arrays[f"{prefix}.has_masks"]
    rle_len = arrays[f"{prefix}.rle_len"]
    blob = arrays[f"{prefix}.rle"].tobytes()
    start = 0
    rle_index = 0
    rle_pos = 0
    for k, n in enumerate(count.tolist()):
        stop = start + n
        masks = None
        if has_masks[k]:
            counts = []
            for length in rle_len[rle_index : rle_index + n].tolist():
                counts.append(blob[rle_pos : rle_pos + length])
                rle_pos += length
            rle_index += n
            masks = _decode_rles(counts, int(shapes[k][0]), int(shapes[k][1]))
        yield (
            arrays[f"{prefix}.boxes"][start:stop],
            arrays[f"{prefix}.scores"][start:stop],
            arrays[f"{prefix}.labels"][start:stop],
            arrays[f"{prefix}.crowd"][start:stop],
            masks,
        )
        start = stop


#: Present in state files whose logged ground truth carries annotation areas (in its score column).
AREAS_MARKER = "log.gt_areas"


class DetectionLog:
    """Every scored image's ground truth and per-condition predictions, for rebuilding mAP after a merge.

    Example:
        >>> log = DetectionLog(("clean",))
        >>> gt = GroundTruth(np.array([[0, 0, 4, 4.0]]), np.array([1]))
        >>> log.add("a", (8, 8), gt, {"clean": Detections(gt.boxes, np.array([0.9]), gt.labels)})
        >>> [(i, s, p["clean"].scores.tolist()) for i, s, _, p in DetectionLog.replay(log.arrays(), ("clean",))]
        [('a', (8, 8), [0.9])]
    """

    def __init__(self, conditions: Sequence[str]) -> None:
        self.conditions = tuple(conditions)
        self.ids: list[str] = []
        self.shapes: list[tuple[int, int]] = []
        self.pseudo: list[bool] = []
        self.truth = _Ragged()
        self.preds = {c: _Ragged() for c in self.conditions}

    def add(
        self, item_id: str, shape: tuple[int, int], truth: GroundTruth, predictions: Mapping[str, Detections]
    ) -> None:
        """Log one image (its id, ``(H, W)``, ground truth and the prediction of each condition)."""
        self.ids.append(str(item_id))
        self.shapes.append((int(shape[0]), int(shape[1])))
        self.pseudo.append(bool(truth.pseudo))
        n_gt = len(np.asarray(truth.labels).reshape(-1))
        crowd = np.zeros(n_gt, dtype=bool) if truth.iscrowd is None else truth.iscrowd
        # the truth's score column holds its annotation areas (NaN: none; by-size AP after a merge)
        areas = np.full(n_gt, np.nan) if truth.areas is None else np.asarray(truth.areas, dtype=np.float64)
        self.truth.add(truth.boxes, areas, truth.labels, crowd, truth.masks)
        for cond in self.conditions:
            det = predictions[cond]
            self.preds[cond].add(det.boxes, det.scores, det.labels, np.zeros(len(det.scores), dtype=bool), det.masks)

    def arrays(self) -> dict[str, np.ndarray]:
        out = {
            "log.ids": np.asarray(self.ids, dtype=np.str_).reshape(-1),
            "log.shapes": np.asarray(self.shapes, dtype=np.int64).reshape(-1, 2),
            "log.pseudo": np.asarray(self.pseudo, dtype=bool),
            AREAS_MARKER: np.asarray(True),
        }
        out.update(self.truth.arrays("gt"))
        for cond in self.conditions:
            out.update(self.preds[cond].arrays(f"pred.{cond}"))
        return out

    @staticmethod
    def replay(
        arrays: Mapping[str, np.ndarray], conditions: Sequence[str]
    ) -> Iterator[tuple[str, tuple[int, int], GroundTruth, dict[str, Detections]]]:
        """Yield ``(id, (H, W), ground truth, {condition: detections})`` in logged order.

        Raises:
            StateError: the arrays hold no detection log.
        """
        if "log.ids" not in arrays:
            raise StateError("the state file holds no per-image predictions (not a detection/instance run)")
        shapes = arrays["log.shapes"]
        truths = _iter_ragged(arrays, "gt", shapes)
        preds = {c: _iter_ragged(arrays, f"pred.{c}", shapes) for c in conditions}
        logged_areas = AREAS_MARKER in arrays  # older state files hold zeros in the truth's score column
        for k, item_id in enumerate(arrays["log.ids"].tolist()):
            boxes, areas, labels, crowd, masks = next(truths)
            truth = GroundTruth(
                boxes=boxes,
                labels=labels,
                masks=masks,
                iscrowd=crowd,
                pseudo=bool(arrays["log.pseudo"][k]),
                areas=areas if logged_areas and np.isfinite(areas).any() else None,
            )
            dets = {}
            for cond in conditions:
                b, s, lab, _, m = next(preds[cond])
                dets[cond] = Detections(b, s, lab, m)
            yield str(item_id), (int(shapes[k][0]), int(shapes[k][1])), truth, dets


class ConfusionLog:
    """Every scored image's confusion matrix per condition (semantic segmentation), for image resampling.

    ``(n, C, C + 1)`` int64 counts per condition, as :class:`~bench.evaluators.semantic_scoring.SemanticScorer`
    accumulates them (the last column counts predictions outside ``0 .. C-1``); their sum over images is
    the set's confusion matrix.

    Example:
        >>> log = ConfusionLog(("clean",), num_classes=2)
        >>> from bench.evaluators.base import GroundTruth
        >>> log.add("a", (1, 2), GroundTruth(semantic=np.array([[0, 1]])), {"clean": np.array([[0, 0]])})
        >>> log.arrays()["semantic.clean.per_image"].tolist()
        [[[1, 0, 0], [1, 0, 0]]]
    """

    def __init__(self, conditions: Sequence[str], num_classes: int, ignore_index: int = 255) -> None:
        self.conditions = tuple(conditions)
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        self.ids: list[str] = []
        self.per_image: dict[str, list[np.ndarray]] = {c: [] for c in self.conditions}

    def add(
        self, item_id: str, shape: tuple[int, int], truth: GroundTruth, predictions: Mapping[str, np.ndarray]
    ) -> None:
        """Log one image's confusion matrix for each condition (same arguments as :meth:`DetectionLog.add`)."""
        from bench.evaluators.semantic_scoring import SemanticScorer

        if truth.semantic is None:
            raise ValueError(f"image {item_id}: ground truth has no semantic map")
        self.ids.append(str(item_id))
        for cond in self.conditions:
            scorer = SemanticScorer(self.num_classes, self.ignore_index)
            scorer.add(predictions[cond], truth.semantic)
            self.per_image[cond].append(scorer.confusion.copy())

    def arrays(self) -> dict[str, np.ndarray]:
        """``semantic.ids`` and ``semantic.<condition>.per_image``."""
        shape = (len(self.ids), self.num_classes, self.num_classes + 1)
        out: dict[str, np.ndarray] = {"semantic.ids": np.asarray(self.ids, dtype=np.str_).reshape(-1)}
        for cond in self.conditions:
            stacked = np.stack(self.per_image[cond]) if self.ids else np.zeros(shape, dtype=np.int64)
            out[f"semantic.{cond}.per_image"] = stacked.astype(np.int64)
        return out

    @staticmethod
    def merged(
        states: Sequence[Mapping[str, np.ndarray]], order: Mapping[str, int], conditions: Sequence[str]
    ) -> dict[str, np.ndarray] | None:
        """The per-image arrays of several shards' states, in the unsharded order (None if a shard lacks them)."""
        if not states or any("semantic.ids" not in s for s in states):
            return None
        ids = [str(i) for s in states for i in s["semantic.ids"].tolist()]
        sort = np.argsort([order[i] for i in ids], kind="stable")
        out: dict[str, np.ndarray] = {"semantic.ids": np.asarray(ids, dtype=np.str_).reshape(-1)[sort]}
        for cond in conditions:
            out[f"semantic.{cond}.per_image"] = np.concatenate([s[f"semantic.{cond}.per_image"] for s in states])[sort]
        return out


def merged_detection_log(
    states: Sequence[Mapping[str, np.ndarray]], order: Mapping[str, int], conditions: Sequence[str]
) -> dict[str, np.ndarray] | None:
    """One :class:`DetectionLog`'s arrays from several shards' logs, in the unsharded order (None if a shard has none).

    Example:
        >>> merged_detection_log([], {}, ("clean",)) is None
        True
    """
    if not states or any("log.ids" not in s for s in states):
        return None
    logged = [entry for state in states for entry in DetectionLog.replay(state, conditions)]
    logged.sort(key=lambda entry: order[entry[0]])
    log = DetectionLog(conditions)
    for item_id, shape, truth, preds in logged:
        log.add(item_id, shape, truth, preds)
    return log.arrays()
