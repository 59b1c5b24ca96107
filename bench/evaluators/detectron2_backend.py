"""detectron2's Mask R-CNN behind bench's :class:`~bench.evaluators.base.Detector` (``backend=detectron2``).

``-o evaluator=maskrcnn -o backend=detectron2 -o weights=model_final_f10217.pkl`` builds detectron2's
``DefaultPredictor`` from a model-zoo config (default ``COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml``,
or a ``.yaml`` path) and turns its ``Instances`` into :class:`~bench.evaluators.base.Detections`:

* ``pred_boxes.tensor`` → ``boxes`` (``x1, y1, x2, y2`` pixels of the input image), ``scores`` → ``scores``,
  ``pred_classes`` → ``labels`` (detectron2's COCO models already use the 80 contiguous classes),
  ``pred_masks`` (``(K, H, W)`` bool at the image size) → ``masks``.
* ``DefaultPredictor`` takes BGR arrays whatever the model reads (it flips them itself when
  ``cfg.INPUT.FORMAT`` is ``"RGB"``), so bench's RGB arrays are always flipped to BGR before the call.

detectron2 is not on PyPI (it builds from source); without it, building this backend fails with one line
naming the install command (:data:`bench.optional.BACKENDS`). Its conversion is tested against a stand-in
of detectron2's output structures (tests/test_detectron2_backend.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.evaluators.base import Detections
from bench.optional import import_backend

DEFAULT_CONFIG = "COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml"
_PURPOSE = "evaluator maskrcnn with backend=detectron2"


def require_detectron2() -> None:
    """Raise the one-line :class:`~bench.optional.MissingBackendError` when detectron2 is not installed.

    Example:
        >>> require_detectron2()  # doctest: +SKIP
        Traceback (most recent call last):
        bench.optional.MissingBackendError: evaluator maskrcnn with backend=detectron2 needs detectron2 ...
    """
    import_backend("detectron2", "detectron2", _PURPOSE)


def build_predictor(
    weights: str | Path,
    *,
    config: str = DEFAULT_CONFIG,
    device: str = "cpu",
    score_threshold: float = 0.001,
    max_det: int = 100,
) -> Any:
    """detectron2's ``DefaultPredictor`` for a zoo config name (or ``.yaml`` path) and a weights file.

    Raises:
        MissingBackendError: detectron2 is not installed.

    Example:
        >>> predictor = build_predictor("model_final_f10217.pkl", device="cpu")  # doctest: +SKIP
    """
    config_module = import_backend("detectron2", "detectron2.config", _PURPOSE)
    model_zoo = import_backend("detectron2", "detectron2.model_zoo", _PURPOSE)
    engine = import_backend("detectron2", "detectron2.engine", _PURPOSE)
    cfg = config_module.get_cfg()
    cfg.merge_from_file(config if Path(config).is_file() else model_zoo.get_config_file(config))
    cfg.MODEL.WEIGHTS = str(weights)
    cfg.MODEL.DEVICE = device
    cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = float(score_threshold)
    cfg.TEST.DETECTIONS_PER_IMAGE = int(max_det)
    return engine.DefaultPredictor(cfg)


def _numpy(value: Any) -> np.ndarray:
    """A detectron2 field (a torch tensor, or a structure holding one in ``.tensor``) as numpy."""
    tensor = getattr(value, "tensor", value)
    if hasattr(tensor, "detach"):
        tensor = tensor.detach().cpu().numpy()
    return np.asarray(tensor)


def instances_to_detections(instances: Any, shape: tuple[int, int]) -> Detections:
    """detectron2 ``Instances`` (``pred_boxes``, ``scores``, ``pred_classes``, optional ``pred_masks``) as
    :class:`Detections` for an image of ``shape`` ``(H, W)``.

    Raises:
        ValueError: the fields disagree in length, or masks are not ``(K, H, W)``.

    Example:
        >>> instances_to_detections(instances, (480, 640)).masks.shape  # doctest: +SKIP
        (3, 480, 640)
    """
    inst = instances.to("cpu") if hasattr(instances, "to") else instances
    boxes = _numpy(inst.pred_boxes).astype(np.float64).reshape(-1, 4)
    scores = _numpy(inst.scores).astype(np.float64).reshape(-1)
    labels = _numpy(inst.pred_classes).astype(np.int64).reshape(-1)
    if not len(boxes) == len(scores) == len(labels):
        raise ValueError(
            f"detectron2 instances disagree: {len(boxes)} boxes, {len(scores)} scores, {len(labels)} classes"
        )
    has_masks = inst.has("pred_masks") if hasattr(inst, "has") else hasattr(inst, "pred_masks")
    if has_masks:
        masks = _numpy(inst.pred_masks).astype(bool)
        if masks.ndim != 3 or masks.shape[0] != len(boxes) or tuple(masks.shape[1:]) != tuple(shape):
            raise ValueError(f"detectron2 masks are {masks.shape}, expected ({len(boxes)}, {shape[0]}, {shape[1]})")
    else:
        masks = np.zeros((len(boxes), *shape), dtype=bool)
    return Detections(boxes=boxes, scores=scores, labels=labels, masks=masks)


def predict_rgb(predictor: Any, image: np.ndarray) -> Detections:
    """Run ``predictor`` on one ``(H, W, 3)`` uint8 RGB image, given to it as BGR (``DefaultPredictor``'s
    contract for every ``cfg.INPUT.FORMAT``: it flips the array itself for a model that reads RGB).

    Example:
        >>> predict_rgb(build_predictor("model_final_f10217.pkl"), image)  # doctest: +SKIP
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
    output = predictor(np.ascontiguousarray(image[..., ::-1]))
    return instances_to_detections(output["instances"], (image.shape[0], image.shape[1]))
