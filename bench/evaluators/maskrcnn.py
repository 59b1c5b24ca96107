"""Mask R-CNN R50-FPN instance segmentation as a bench :class:`~bench.evaluators.base.Detector`.

Backends:

* ``torchvision`` (default): ``maskrcnn_resnet50_fpn`` (or ``_v2``) built with ``weights=None,
  weights_backbone=None`` (never downloads), then a state dict loaded from ``weights``: an explicit path;
  ``"default"`` = torchvision's COCO file name (``maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth``) looked up in
  ``$BENCH_WEIGHTS/instance/`` and torch's hub cache (``$TORCH_HOME/hub/checkpoints``); ``None`` = random
  initialisation (tests only). Labels (COCO category ids 1..90) are mapped to the 80 contiguous classes.
* ``detectron2`` (optional; not on PyPI): ``DefaultPredictor`` on a model-zoo config (default
  ``COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml``) with the weights file given; its classes are
  already the 80 contiguous ones. The adapter is :mod:`bench.evaluators.detectron2_backend`; without
  detectron2 the evaluator fails at construction with one line naming the install command.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from bench.data.labels import COCO80_NAMES, coco91_to_coco80
from bench.evaluators.base import Detections
from bench.evaluators.info import EvaluatorInfo
from bench.paths import MissingDataError, weights_root

logger = logging.getLogger(__name__)

Variant = Literal["v1", "v2"]
Backend = Literal["torchvision", "detectron2"]

#: torchvision's COCO checkpoint file names (as the hub cache stores them).
TORCHVISION_FILES: dict[str, str] = {
    "v1": "maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth",
    "v2": "maskrcnn_resnet50_fpn_v2_coco-73cbd019.pth",
}


def resolve_maskrcnn_weights(weights: str | os.PathLike[str] | None, variant: Variant = "v1") -> Path | None:
    """Find a Mask R-CNN state dict without downloading.

    Args:
        weights: ``None`` (random init), ``"default"`` (torchvision's COCO file), a file name or a path.
        variant: ``"v1"`` (``maskrcnn_resnet50_fpn``) or ``"v2"`` (``maskrcnn_resnet50_fpn_v2``).

    Raises:
        MissingDataError: the file is nowhere; the message says where to put it.

    Example:
        >>> resolve_maskrcnn_weights(None) is None
        True
    """
    if weights is None:
        return None
    name = TORCHVISION_FILES[variant] if str(weights) == "default" else str(weights)
    path = Path(name).expanduser()
    if path.is_file():
        return path
    searched: list[Path] = []
    if len(path.parts) == 1:
        import torch

        root = weights_root()
        if root is not None:
            searched += [root / "instance" / name, root / name]
        searched.append(Path(torch.hub.get_dir()) / "checkpoints" / name)
        for candidate in searched:
            if candidate.is_file():
                return candidate
    else:
        searched.append(path)
    raise MissingDataError(
        f"Mask R-CNN weights {name!r} not found (bench never downloads). Looked in: "
        f"{', '.join(map(str, searched))}. Put the file at $BENCH_WEIGHTS/instance/{Path(name).name} or in "
        "torch's hub cache ($TORCH_HOME/hub/checkpoints), or pass an explicit path."
    )


class MaskRCNN:
    """Mask R-CNN instance segmentation (torchvision, or detectron2 when installed).

    Args:
        weights: See :func:`resolve_maskrcnn_weights`; ``None`` gives random weights (tests).
        variant: torchvision model ``"v1"`` or ``"v2"``.
        backend: ``"torchvision"`` or ``"detectron2"``.
        detectron2_config: detectron2 model-zoo config name or ``.yaml`` path (``backend="detectron2"``).
        conf: Minimum score kept (low, for mAP).
        max_det: Detections per image.
        mask_threshold: Probability above which a mask pixel is foreground (0.5, as COCO references).
        device: Torch device.
        min_size: Shorter side the model resizes to (torchvision default 800).
        max_size: Longer-side cap (torchvision default 1333).
        **model_kwargs: Further keyword arguments of torchvision's builder (e.g. ``rpn_post_nms_top_n_test``).

    Example:
        >>> model = MaskRCNN(weights=None, min_size=128, max_size=128)  # random weights, tests only
        >>> det = model.predict([np.zeros((60, 80, 3), np.uint8)])[0]  # doctest: +SKIP
        >>> det.masks.shape[1:]  # doctest: +SKIP
        (60, 80)
    """

    class_names: ClassVar[tuple[str, ...]] = COCO80_NAMES

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = "default",
        *,
        variant: Variant = "v1",
        backend: Backend = "torchvision",
        detectron2_config: str | None = None,
        conf: float = 0.001,
        max_det: int = 100,
        mask_threshold: float = 0.5,
        device: str = "cpu",
        min_size: int = 800,
        max_size: int = 1333,
        **model_kwargs: Any,
    ) -> None:
        if variant not in TORCHVISION_FILES:
            raise ValueError(f"variant must be one of {sorted(TORCHVISION_FILES)}, got {variant!r}")
        if backend not in ("torchvision", "detectron2"):
            raise ValueError(f"backend must be 'torchvision' or 'detectron2', got {backend!r}")
        self.variant = variant
        self.backend = backend
        self.conf = float(conf)
        self.max_det = int(max_det)
        self.mask_threshold = float(mask_threshold)
        self.device = device
        self.min_size = int(min_size)
        self.max_size = int(max_size)
        self.model_kwargs = dict(model_kwargs)
        self.detectron2_config = detectron2_config
        if backend == "detectron2":
            from bench.evaluators.detectron2_backend import DEFAULT_CONFIG, require_detectron2

            require_detectron2()  # one line naming the install command, before anything else
            self.detectron2_config = detectron2_config or DEFAULT_CONFIG
            if weights is None or str(weights) == "default":
                raise ValueError("the detectron2 backend needs an explicit weights file (model_final_*.pkl)")
            self.weights: Path | None = Path(weights).expanduser()
            if not self.weights.is_file():
                raise MissingDataError(f"detectron2 weights {str(weights)!r} not found")
        else:
            self.weights = resolve_maskrcnn_weights(weights, variant)
        self._model: Any = None
        self._label_map = np.full(91, -1, dtype=np.int64)
        for cid, idx in coco91_to_coco80().items():
            self._label_map[cid] = idx

    def _build_torchvision(self) -> Any:
        from torchvision.models import detection

        build = detection.maskrcnn_resnet50_fpn if self.variant == "v1" else detection.maskrcnn_resnet50_fpn_v2
        model = build(
            weights=None,
            weights_backbone=None,
            num_classes=91,
            box_score_thresh=self.conf,
            box_detections_per_img=self.max_det,
            min_size=self.min_size,
            max_size=self.max_size,
            **self.model_kwargs,
        )
        if self.weights is not None:
            from bench.evaluators.torchvision_seg import load_torchvision_state_dict

            # a hub file, or a checkpoint of torchvision's detection reference script (holds an argparse.Namespace)
            model.load_state_dict(load_torchvision_state_dict(self.weights), strict=True)
        else:
            logger.warning("Mask R-CNN with random weights: scores are meaningless (tests only)")
        return model.eval().to(self.device)

    def _build_detectron2(self) -> Any:
        from bench.evaluators.detectron2_backend import DEFAULT_CONFIG, build_predictor

        assert self.weights is not None  # checked in __init__
        return build_predictor(
            self.weights,
            config=self.detectron2_config or DEFAULT_CONFIG,
            device=self.device,
            score_threshold=self.conf,
            max_det=self.max_det,
        )

    @property
    def model(self) -> Any:
        """The underlying model (built on first use)."""
        if self._model is None:
            self._model = self._build_torchvision() if self.backend == "torchvision" else self._build_detectron2()
        return self._model

    def predict(self, images: Sequence[np.ndarray]) -> list[Detections]:
        """Instances in ``(H, W, 3)`` uint8 RGB images: boxes in pixels, ``(K, H, W)`` bool masks."""
        if self.backend == "detectron2":
            return [self._predict_detectron2(im) for im in images]
        import torch

        out: list[Detections] = []
        model = self.model
        with torch.inference_mode():
            for image in images:
                tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255.0)
                result = model([tensor.to(self.device)])[0]
                out.append(self._convert(result, image.shape[:2]))
        return out

    def _convert(self, result: dict[str, Any], shape: tuple[int, int]) -> Detections:
        labels91 = result["labels"].cpu().numpy().astype(np.int64)
        labels = self._label_map[np.clip(labels91, 0, 90)]
        keep = labels >= 0  # drop the 'N/A' / background ids that have no COCO-80 class
        masks = result["masks"].cpu().numpy()[:, 0] > self.mask_threshold
        if len(masks) == 0:
            masks = np.zeros((0, *shape), dtype=bool)
        return Detections(
            boxes=result["boxes"].cpu().numpy().astype(np.float64)[keep],
            scores=result["scores"].cpu().numpy().astype(np.float64)[keep],
            labels=labels[keep],
            masks=masks[keep],
        )

    def _predict_detectron2(self, image: np.ndarray) -> Detections:
        from bench.evaluators.detectron2_backend import predict_rgb

        model = self.model  # detectron2's DefaultPredictor reads cfg.INPUT.FORMAT images
        return predict_rgb(model, image)

    def describe(self) -> EvaluatorInfo:
        """Backend, weights path and sha256, thresholds, for the run record."""
        from bench.fileio import file_sha256

        return EvaluatorInfo(
            evaluator="MaskRCNN",
            backend=self.backend,
            weights=str(self.weights) if self.weights is not None else None,
            weights_sha256=file_sha256(str(self.weights)) if self.weights is not None else None,
            random_weights=self.weights is None,
            device=str(self.device),
            options={
                "variant": self.variant,
                **({"detectron2_config": self.detectron2_config} if self.backend == "detectron2" else {}),
                "conf": self.conf,
                "max_det": self.max_det,
                "mask_threshold": self.mask_threshold,
                "min_size": self.min_size,
                "max_size": self.max_size,
                **{k: v for k, v in self.model_kwargs.items() if isinstance(v, (int, float, str, bool))},
            },
        )
