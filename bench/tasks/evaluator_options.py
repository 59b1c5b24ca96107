"""Which downstream evaluator a task builds from its ``-o`` options, with the shared data's default weights."""

from __future__ import annotations

import functools
import inspect
import logging
from typing import Any

from bench.paths import MissingDataError, weights_root
from bench.tasks.downstream_data import TaskKind

logger = logging.getLogger(__name__)

#: Options the downstream tasks read themselves; the rest go to the evaluator's constructor.
TASK_OPTIONS = frozenset({"evaluator", "score_threshold", "match_iou", "iou_variant", "pseudo_score", "preset"})


#: Each YOLO evaluator's default weights: the shared data's real file, else the ultralytics name (offline).
DEFAULT_YOLO_WEIGHTS = {
    "yolo": ("detection/yolov8n_int8.tflite", "yolov8n.pt"),
    "yolo_seg": ("instance/yolo11n-seg_int8.tflite", "yolo11n-seg.pt"),
}


def _default_weights(evaluator: str, data: str | None = None) -> str | None:
    """The default weights of the evaluator ``evaluator`` (by evaluator, not by task: ``--task detection -o
    evaluator=yolo_seg`` gets the segmentation model): the shared data's file when present, else the
    ultralytics name."""
    candidates = DEFAULT_YOLO_WEIGHTS.get(evaluator)
    if candidates is None:
        return None
    root = weights_root(data)
    if root is not None and (root / candidates[0]).is_file():
        return str(root / candidates[0])
    return candidates[1]


def _resolvable(weights: str | None) -> bool:
    from bench.evaluators.yolo import resolve_yolo_weights

    try:
        resolve_yolo_weights(weights or "")
    except MissingDataError:
        return False
    return True


@functools.cache
def _warn_no_yolo(weights: str) -> None:
    """Said once per process (not once per derainer of a ``bench run --derainer a b c``)."""
    logger.warning(
        "no YOLO weights found offline (%s): falling back to scikit-image's face "
        "cascade (pseudo labels). Set BENCH_DATA/BENCH_WEIGHTS or -o weights=PATH for YOLO.",
        weights,
    )


def build_evaluator(
    kind: TaskKind, default: str, options: dict[str, Any], *, data_root: str | None = None, labelled: bool = False
) -> Any:
    """Build the evaluator ``options["evaluator"]`` names (else ``default``) from the other options.

    Without YOLO weights offline, detection on a set **without labels** (pseudo ground truth from the clean
    images' detections) falls back to scikit-image's face cascade and says so (``options["evaluator"]`` is
    then set to ``face_cascade``, so the record names what ran). A labelled set is never scored with a face
    detector: its classes are not the set's.

    Args:
        kind: The task's kind (detection, instance, semantic).
        default: The task's default evaluator.
        options: The run's ``-o`` options.
        data_root: The run's data root (``--data-root``), where the default weights are looked for.
        labelled: Whether the set has its own labels.

    Raises:
        ValueError: an option the evaluator does not take.
        MissingDataError: the evaluator's weights are missing.
    """
    from bench.registries import EVALUATORS

    name = str(options.get("evaluator", default))
    kwargs = {k: v for k, v in options.items() if k not in TASK_OPTIONS}
    if "weights" not in kwargs and name in DEFAULT_YOLO_WEIGHTS:
        kwargs["weights"] = _default_weights(name, data_root)
        if kind == "detection" and "evaluator" not in options and not _resolvable(kwargs["weights"]):
            if labelled:
                raise MissingDataError(
                    f"no YOLO weights found offline ({kwargs['weights']}) to score this labelled set; set "
                    "BENCH_DATA/BENCH_WEIGHTS or -o weights=PATH (the face-cascade fallback is only for sets "
                    "without labels)"
                )
            _warn_no_yolo(str(kwargs["weights"]))
            name, kwargs = "face_cascade", {k: v for k, v in kwargs.items() if k != "weights"}
            options["evaluator"] = "face_cascade"
    cls = EVALUATORS.get(name)
    accepted = inspect.signature(cls).parameters
    if not any(p.kind == p.VAR_KEYWORD for p in accepted.values()):
        unknown = sorted(set(kwargs) - set(accepted))
        if unknown:
            raise ValueError(
                f"evaluator {name!r} does not take option(s) {', '.join(unknown)}; "
                f"it takes: {', '.join(accepted) or 'none'}"
            )
    try:
        return cls(**kwargs)
    except MissingDataError as err:
        raise MissingDataError(f"{err} (set the evaluator's weights with -o weights=PATH)") from err
