"""Tasks ``detection``, ``instance`` and ``semantic``: does deraining help the downstream model?

Every run evaluates the clean, the rainy and the derained images with the same model and reports
all three plus ``gain`` (derained − rainy) and ``recovery`` ((derained − rainy) / (clean − rainy))
(design.md principle 4). Metric keys read ``<condition>.<metric>``. Clean and rainy predictions are
cached by (model, image content) and reused across derainers; derained images stream from the
derainer into the evaluator in memory and are cached by (derainer weights, image, protocol).
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.data.images import ImageReadError
from bench.data.labels import LabelFormatError
from bench.data.paired import Sample
from bench.evaluators.base import Detections, GroundTruth
from bench.evaluators.info import evaluator_record
from bench.metrics.fidelity import psnr_y, ssim_y
from bench.results.cache import ArrayCache, array_sha256
from bench.results.record import RunRecord, stable_hash, write_json_atomic
from bench.results.state import (
    ConfusionLog,
    DetectionLog,
    merged_detection_log,
)
from bench.stats.derived import CONDITIONS, gain_and_recovery
from bench.stats.intervals import attach_intervals
from bench.tasks.base import Derained, ItemRef, Task, TaskData
from bench.tasks.common import Stopwatch
from bench.tasks.downstream_data import TaskKind, open_downstream_set
from bench.tasks.evaluator_options import build_evaluator

logger = logging.getLogger(__name__)

#: What a malformed or unreadable label file (YOLO text, COCO JSON, mask PNG) raises; it costs that image only.
#: Only the project's own input errors and OSError: anything else is a bug and must stop the run.
LABEL_ERRORS: tuple[type[Exception], ...] = (LabelFormatError, ImageReadError, OSError)


class DownstreamTask(Task):
    """Shared machinery of the three downstream tasks (see the module docstring)."""

    #: The scorers accumulate over the run, so a killed run restarts (its caches make that cheap).
    resumable = False
    item_errors = ()  # an evaluator's error is a bug here, not an item to skip

    name: ClassVar[str] = "detection"
    kind: ClassVar[TaskKind] = "detection"
    default_evaluator: ClassVar[str] = "yolo"
    headline: ClassVar[str] = "map50_95"

    # ------------------------------------------------------------------ components
    @property
    def evaluator_name(self) -> str:
        """The registry name of the evaluator this run uses (``-o evaluator=...``, else the task's default)."""
        return str(self.options.get("evaluator", self.default_evaluator))

    def build_evaluator(self) -> Any:
        """The evaluator the options name (``-o evaluator=...``), with the task's default weights."""
        data = getattr(self, "data", None)
        labelled = data is not None and data.label_source is not None
        return build_evaluator(
            self.kind, self.default_evaluator, self.options, data_root=self.config.data_root, labelled=labelled
        )

    def build_scorer(self, evaluator: Any) -> Any:
        from bench.evaluators.scoring import DEFAULT_IOU_VARIANT, CocoDetectionScorer, CocoInstanceScorer

        cls = CocoInstanceScorer if self.kind == "instance" else CocoDetectionScorer
        return cls(
            score_threshold=float(self.options.get("score_threshold", 0.6)),
            match_iou=float(self.options.get("match_iou", 0.5)),
            iou_variant=str(self.options.get("iou_variant", DEFAULT_IOU_VARIANT)),
        )

    def pseudo_truth(self, clean_prediction: Any) -> GroundTruth:
        from bench.evaluators.scoring import pseudo_ground_truth

        score = float(self.options.get("pseudo_score", self.options.get("score_threshold", 0.6)))
        return pseudo_ground_truth(clean_prediction, score)

    # ------------------------------------------------------------------ caching of predictions
    def _pack(self, prediction: Any) -> dict[str, np.ndarray]:
        out = {"boxes": prediction.boxes, "scores": prediction.scores, "labels": prediction.labels}
        if prediction.masks is not None:
            out["mask_shape"] = np.array(prediction.masks.shape)
            out["masks"] = np.packbits(prediction.masks.astype(bool).ravel())
        return out

    def _unpack(self, value: dict[str, np.ndarray]) -> Any:
        masks = None
        if "masks" in value:
            shape = tuple(int(s) for s in value["mask_shape"])
            masks = np.unpackbits(value["masks"], count=int(np.prod(shape))).reshape(shape).astype(bool)
        return Detections(value["boxes"], value["scores"], value["labels"], masks)

    def predict_cached(self, evaluator: Any, image: np.ndarray, *, cache: ArrayCache, model_key: str) -> Any:
        key = cache.key({"model": model_key, "image": array_sha256(image)})
        value = cache.get(key)
        if value is None:
            prediction = evaluator.predict([image])[0]
            cache.put(key, self._pack(prediction))
            return prediction
        return self._unpack(value)

    # ------------------------------------------------------------------ the item loop's hooks (bench.tasks.base)
    def open(self) -> TaskData:
        cfg = self.config
        data = open_downstream_set(
            cfg.dataset,
            self.kind,
            data_root=cfg.data_root,
            seed=cfg.seed,
            preset=str(self.options.get("preset", "medium")),
            limit=cfg.limit,
            ids=cfg.id_set(),
        )
        self.data = data
        info = {
            "name": data.name,
            "path": str(data.root),
            "layout": data.paired.layout,
            "labels": data.label_source or "pseudo (clean predictions)",
            "pseudo_labels": data.label_source is None,
            **data.provenance,
        }
        return TaskData(
            name=data.name,
            info=info,
            items=[ItemRef(p.id, p.rainy, p) for p in data.paired.pairs],
            load=lambda it: data.paired.load(it.ref),
            issues=list(data.paired.issues),
        )

    def setup(self, model: Any, derainer: dict[str, Any]) -> None:
        import torch

        cfg = self.config
        self.evaluator = self.build_evaluator()
        # the one evaluator schema (bench.evaluators.info), also for a plugin whose describe() is a mapping
        self.eval_desc = evaluator_record(self.evaluator_name, self.evaluator.describe())
        del self.eval_desc["name"]
        self.model_key = stable_hash(self.eval_desc, 40)
        self.derainer_key = stable_hash(
            {
                "derainer": derainer["name"],
                "weights": (derainer.get("weights") or {}).get("sha256"),
                "kwargs": getattr(model, "model_kwargs", {}),
                "seed": cfg.seed if not derainer.get("weights") else None,
                "quantize": cfg.quantize,
                "tile": cfg.tile,
                "overlap": cfg.overlap,
                "precision": derainer["precision"],
                # these change the derained pixels (other kernels, in the last bits) and the stored seconds;
                # the device's type does, its index does not; batch size only batches tiles (one image a call)
                "device": torch.device(cfg.device).type,
                "optimize": cfg.optimize,
                "channels_last": cfg.channels_last,
                "batch_size": cfg.batch_size if cfg.tile else None,
            },
            40,
        )
        self.pred_cache = ArrayCache(f"predictions/{self.kind}")
        self.derain_cache = ArrayCache("derained")
        self.scorers = {c: self.build_scorer(self.evaluator) for c in CONDITIONS}
        self.log = self.new_state_log(self.scorers)
        self.outside = dict.fromkeys(CONDITIONS, 0)  # detections of classes outside the set's label space
        self.predictions_out: dict[str, dict[str, list[list[float]]]] = {}

    def prepare(self, sample: Sample) -> None:
        """Read and check the item's labels before it is derained (a malformed file costs this image only)."""
        assert sample.clean is not None
        h, w = sample.clean.shape[:2]
        try:
            also = [sample.clean_path.stem] if sample.clean_path is not None else []
            truth = self.data.ground_truth(sample.rainy_path.stem, h, w, also=[*also, sample.id])
            if truth is not None:
                self.check_truth(truth, h, w)
        except LABEL_ERRORS as err:
            reason = str(err) if not isinstance(err, OSError) else f"{type(err).__name__}: {err}"
            raise ValueError(f"labels: {reason}") from err
        self.truth = truth

    def derain(self, engine: Any, sample: Sample, watch: Stopwatch) -> Derained:
        """The derained image from the cache when there, else from the engine (stored with its seconds)."""
        cache = self.derain_cache
        key = cache.key({"derainer": self.derainer_key, "image": array_sha256(sample.rainy)})
        cached = cache.get(key)
        if cached is not None and "seconds" in cached:
            nonfinite = int(cached["nonfinite"]) if "nonfinite" in cached else 0
            return Derained(cached["image"], float(cached["seconds"]), nonfinite)
        result = super().derain(engine, sample, watch)
        # the forward time is stored with the image: a cached run reports the same s/img, not ~0
        cache.put(
            key,
            {"image": result.image, "seconds": np.asarray(result.seconds), "nonfinite": np.asarray(result.nonfinite)},
        )
        return result

    def process(self, sample: Sample, derained: np.ndarray) -> dict[str, Any]:
        assert sample.clean is not None
        h, w = sample.clean.shape[:2]
        predict = functools.partial(
            self.predict_cached, self.evaluator, cache=self.pred_cache, model_key=self.model_key
        )
        preds = {"clean": predict(sample.clean), "rainy": predict(sample.rainy), "derained": predict(derained)}
        label_space = self.data.label_space
        if label_space is not None and self.kind != "semantic":
            for cond in CONDITIONS:  # classes the set does not label are not false positives
                kept = preds[cond].restricted_to(label_space)
                self.outside[cond] += len(preds[cond]) - len(kept)
                preds[cond] = kept
        gt = self.truth if self.truth is not None else self.pseudo_truth(preds["clean"])
        for cond in CONDITIONS:
            self.update_scorer(self.scorers[cond], preds[cond], gt, sample.id, (h, w))
        if self.log is not None:
            self.log.add(sample.id, (h, w), gt, preds)
        self.preds = preds
        return {
            "derained.psnr_y": psnr_y(derained, sample.clean),
            "derained.ssim_y": ssim_y(derained, sample.clean),
            "rainy.psnr_y": psnr_y(sample.rainy, sample.clean),
            "rainy.ssim_y": ssim_y(sample.rainy, sample.clean),
            **self.data.conditions.get(sample.rainy_path.stem, {}),  # rain_preset, time_of_day (keyed by file stem)
        }

    def save_extra(self, image_dir: Path, sample: Sample, derained: np.ndarray) -> None:
        self.predictions_out[sample.id] = {c: self.summarize_prediction(self.preds[c]) for c in CONDITIONS}
        self.save_label_maps(image_dir, sample.id, self.preds)

    def finish(self, record: RunRecord, rows: list[dict[str, Any]]) -> None:
        record["evaluator"] = {"name": self.evaluator_name, **self.eval_desc}
        label_space = self.data.label_space
        if label_space is not None and self.kind != "semantic":
            record["evaluator"]["label_space"] = {
                "classes": sorted(label_space),
                "names": list(self.data.label_names),
                "dropped_detections": self.outside,
                "rule": "detections of classes the set does not label are dropped before scoring",
            }
        self.finalize(record, rows, self.scorers)
        if self.image_dir is not None:
            path = write_json_atomic(self.image_dir / "predictions.json", self.predictions_out)
            record["predictions_file"] = str(path)

    def extra_timings(self) -> dict[str, Any]:
        return {"cache": {"derained": self.derain_cache.stats(), "predictions": self.pred_cache.stats()}}

    def state_arrays(self) -> dict[str, np.ndarray]:
        return self.scorer_arrays(self.log, self.scorers)  # what `bench merge` needs to rebuild mAP / mIoU

    def interval_state(self, state: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray] | None:
        return state  # intervals resample images from the same per-image logs

    # ------------------------------------------------------------------ dataset-level scores (run and merge)
    def finalize(self, record: RunRecord, rows: list[dict[str, Any]], scorers: dict[str, Any]) -> None:
        """Fill metrics, per-image counts and scoring details from the scorers and the rows (natural order).

        ``bench run`` and ``bench merge`` both end here, so a merged record has the same numbers as an
        unsharded run.
        """
        scores = {c: scorers[c].compute() for c in CONDITIONS}
        metrics = gain_and_recovery(scores)
        for name in ("psnr_y", "ssim_y"):
            for cond in ("rainy", "derained"):
                values = [r[f"{cond}.{name}"] for r in rows]
                metrics[f"{cond}.{name}"] = float(np.mean(values)) if values else math.nan
        self.add_per_image(rows, scorers)
        record["metrics"] = metrics
        record["metric_info"] = self.score_info(scores["derained"])
        record["rows"] = rows
        record.setdefault("evaluator", {})["scoring"] = self.scoring_config(scorers["derained"])
        if hasattr(scorers["clean"], "per_class_iou"):
            record["per_class_iou"] = {c: scorers[c].per_class_iou() for c in CONDITIONS}
        if hasattr(scorers["clean"], "ap_breakdown"):  # COCOeval's per-class AP and AP by object size
            record["ap_breakdown"] = {c: scorers[c].ap_breakdown() for c in CONDITIONS}

    def check_truth(self, truth: GroundTruth, height: int, width: int) -> None:
        """Reject ground truth that does not fit its image (raised per image, recorded as an issue).

        Raises:
            ValueError: masks of another size than the ``height x width`` image.
        """
        masks = truth.masks
        if masks is not None and tuple(np.shape(masks)[1:]) != (height, width):
            raise LabelFormatError(f"instance masks are {tuple(np.shape(masks)[1:])}, the image is {(height, width)}")

    def new_state_log(self, scorers: dict[str, Any]) -> DetectionLog | ConfusionLog | None:
        """Where each scored image's predictions and ground truth are logged (for a merge and for intervals)."""
        return DetectionLog(CONDITIONS)

    def merged_state(
        self, states: Sequence[Mapping[str, np.ndarray]], order: Mapping[str, int]
    ) -> dict[str, np.ndarray] | None:
        """The shards' per-image logs as one log in the unsharded order (None when a shard has none)."""
        return merged_detection_log(states, order, CONDITIONS)

    def scorer_arrays(self, log: DetectionLog | ConfusionLog | None, scorers: dict[str, Any]) -> dict[str, np.ndarray]:
        """The scorer inputs written to the record's state sidecar."""
        return log.arrays() if log is not None else {}

    def merged_scorers(self, states: Sequence[Mapping[str, np.ndarray]], order: Mapping[str, int]) -> dict[str, Any]:
        """Scorers fed with every shard's logged images, in the unsharded (natural) order.

        Args:
            states: The shards' state arrays.
            order: Position of each item id in the unsharded run.
        """
        scorers = {c: self.build_scorer(None) for c in CONDITIONS}
        logged = [entry for state in states for entry in DetectionLog.replay(state, CONDITIONS)]
        logged.sort(key=lambda entry: order[entry[0]])
        for item_id, shape, truth, preds in logged:
            for cond in CONDITIONS:
                self.update_scorer(scorers[cond], preds[cond], truth, item_id, shape)
        return scorers

    def finish_merge(
        self, record: RunRecord, states: Sequence[Mapping[str, np.ndarray]], order: Mapping[str, int]
    ) -> None:
        """Recompute the dataset-level metrics of a merged record (rows already merged, natural order)."""
        self.finalize(record, record["rows"], self.merged_scorers(states, order))
        attach_intervals(record, self.merged_state(states, order))

    # ------------------------------------------------------------------ task-specific hooks
    def update_scorer(
        self, scorer: Any, prediction: Any, truth: GroundTruth, name: str, shape: tuple[int, int]
    ) -> None:
        scorer.update([prediction], [truth], names=[name], shapes=[shape])

    def add_per_image(self, rows: list[dict[str, Any]], scorers: dict[str, Any]) -> None:
        for cond in CONDITIONS:
            per_image = {str(p.get("name")): p for p in scorers[cond].per_image}
            for row in rows:
                counts = per_image.get(row["id"], {})
                for key in ("tp", "fp", "fn"):
                    if key in counts:
                        row[f"{cond}.{key}"] = int(counts[key])

    def scoring_config(self, scorer: Any) -> dict[str, Any]:
        return dict(scorer.config())

    def save_label_maps(self, image_dir: Any, item_id: str, preds: dict[str, Any]) -> None:
        """Semantic tasks save label maps for overlays; detection tasks save boxes instead."""

    def summarize_prediction(self, prediction: Any) -> list[list[float]]:
        threshold = float(self.options.get("score_threshold", 0.6))
        keep = prediction.scores >= threshold
        return [
            [*map(float, b), float(s), int(lab)]
            for b, s, lab in zip(prediction.boxes[keep], prediction.scores[keep], prediction.labels[keep])
        ]

    def score_info(self, derained_scores: dict[str, float]) -> dict[str, dict[str, Any]]:
        info: dict[str, dict[str, Any]] = {}
        for key in derained_scores:
            for cond in (*CONDITIONS, "gain", "recovery"):
                info[f"{cond}.{key}"] = {"higher_is_better": True}
        for cond in ("rainy", "derained"):
            info[f"{cond}.psnr_y"] = {"higher_is_better": True, "unit": "dB"}
            info[f"{cond}.ssim_y"] = {"higher_is_better": True}
        return info


class DetectionTask(DownstreamTask):
    """Object detection (YOLO by default): COCO mAP and the paper's P / R / IoU at score ≥ 0.6."""

    name = "detection"
    kind = "detection"
    default_evaluator = "yolo"


class InstanceTask(DownstreamTask):
    """Instance segmentation (YOLO-seg or Mask R-CNN): mask and box mAP."""

    name = "instance"
    kind = "instance"
    default_evaluator = "yolo_seg"
    headline = "mask_map50_95"
