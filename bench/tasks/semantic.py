"""Task ``semantic``: semantic segmentation (ESPNetv2 on Cityscapes classes), mIoU and mean pixel accuracy.

The downstream loop of :class:`bench.tasks.downstream.DownstreamTask`; what differs is the scorer (confusion
matrices, summed exactly across shards), label maps as predictions and as pseudo ground truth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np

from bench.data.labels import LabelFormatError
from bench.evaluators.base import GroundTruth
from bench.results.state import ConfusionLog, DetectionLog, StateError
from bench.stats.derived import CONDITIONS
from bench.tasks.downstream import DownstreamTask


class SemanticTask(DownstreamTask):
    """Semantic segmentation (ESPNetv2 on Cityscapes classes): mIoU and mean pixel accuracy."""

    name = "semantic"
    kind = "semantic"
    default_evaluator = "espnetv2"
    headline = "miou"

    def build_scorer(self, evaluator: Any) -> Any:
        from bench.evaluators.semantic_scoring import SemanticScorer

        return SemanticScorer(
            num_classes=len(evaluator.class_names),
            ignore_index=int(evaluator.ignore_index),
            class_names=list(evaluator.class_names),
        )

    def pseudo_truth(self, clean_prediction: Any) -> GroundTruth:
        return GroundTruth(semantic=np.asarray(clean_prediction), pseudo=True)

    def _pack(self, prediction: Any) -> dict[str, np.ndarray]:
        return {"labels": np.asarray(prediction, dtype=np.uint8)}

    def _unpack(self, value: dict[str, np.ndarray]) -> Any:
        return value["labels"]

    def update_scorer(
        self, scorer: Any, prediction: Any, truth: GroundTruth, name: str, shape: tuple[int, int]
    ) -> None:
        scorer.update([prediction], [truth])

    def check_truth(self, truth: GroundTruth, height: int, width: int) -> None:
        """Raises ValueError when the label map is not an ``height x width`` integer map."""
        sem = truth.semantic
        if sem is None:
            return
        if np.ndim(sem) != 2 or tuple(np.shape(sem)) != (height, width):
            raise LabelFormatError(f"label map is {tuple(np.shape(sem))}, the image is {(height, width)}")
        if not (np.issubdtype(np.asarray(sem).dtype, np.integer) or np.asarray(sem).dtype == bool):
            raise LabelFormatError(f"label map has dtype {np.asarray(sem).dtype}, expected integer class ids")

    def new_state_log(self, scorers: dict[str, Any]) -> DetectionLog | ConfusionLog | None:
        first = scorers["clean"]
        return ConfusionLog(CONDITIONS, first.num_classes, first.ignore_index)

    def merged_state(
        self, states: Sequence[Mapping[str, np.ndarray]], order: Mapping[str, int]
    ) -> dict[str, np.ndarray] | None:
        return ConfusionLog.merged(states, order, CONDITIONS)

    def scorer_arrays(self, log: DetectionLog | ConfusionLog | None, scorers: dict[str, Any]) -> dict[str, np.ndarray]:
        first = scorers["clean"]
        out = {
            "semantic.class_names": np.asarray(first.class_names, dtype=np.str_),
            "semantic.ignore_index": np.asarray(first.ignore_index, dtype=np.int64),
        }
        for cond in CONDITIONS:
            out[f"semantic.{cond}.confusion"] = scorers[cond].confusion
            out[f"semantic.{cond}.images"] = np.asarray(scorers[cond].images, dtype=np.int64)
        if log is not None:
            out.update(log.arrays())  # per-image confusion matrices: resampling images for intervals
        return out

    def merged_scorers(self, states: Sequence[Mapping[str, np.ndarray]], order: Mapping[str, int]) -> dict[str, Any]:
        """Scorers holding the sum of the shards' confusion matrices (exact: integer counts)."""
        if not states or "semantic.class_names" not in states[0]:
            raise StateError("the state file holds no confusion matrices (not a semantic run)")
        spec = SimpleNamespace(
            class_names=[str(c) for c in states[0]["semantic.class_names"].tolist()],
            ignore_index=int(states[0]["semantic.ignore_index"]),
        )
        scorers = {c: self.build_scorer(spec) for c in CONDITIONS}
        for state in states:
            if [str(c) for c in state["semantic.class_names"].tolist()] != spec.class_names:
                raise StateError("shards were scored with different class lists")
            for cond in CONDITIONS:
                part = self.build_scorer(spec)
                part.confusion[...] = state[f"semantic.{cond}.confusion"]
                part.images = int(state[f"semantic.{cond}.images"])
                scorers[cond].merge(part)
        return scorers

    def add_per_image(self, rows: list[dict[str, Any]], scorers: dict[str, Any]) -> None:
        return None

    def scoring_config(self, scorer: Any) -> dict[str, Any]:
        return dict(scorer.describe())

    def summarize_prediction(self, prediction: Any) -> list[list[float]]:
        return []

    def save_label_maps(self, image_dir: Any, item_id: str, preds: dict[str, Any]) -> None:
        from PIL import Image

        for cond, labels in preds.items():
            path = image_dir / "labels" / cond / f"{item_id}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.asarray(labels, dtype=np.uint8)).save(path)
