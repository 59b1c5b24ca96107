"""Ultralytics YOLO detectors and instance segmenters behind the :class:`~bench.evaluators.base.Detector` protocol.

Weights are resolved offline-first (design.md principle 7): an existing path; else a bare file name
looked up in ``$BENCH_WEIGHTS/detection/`` (``instance/`` for segmentation) and in ultralytics' weights
folder; else :class:`~bench.paths.MissingDataError` naming the file and where to put it. Nothing is ever
downloaded. Model configs (``yolov8n.yaml``) build a randomly initialised model (tests).

Defaults follow ultralytics' validator: ``conf=0.001`` (mAP needs the low-score tail), NMS ``iou=0.7``,
``imgsz=640``, ``max_det=300``. ``ultralytics`` is imported lazily, on first prediction or load.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.evaluators.base import Detections
from bench.evaluators.info import EvaluatorInfo
from bench.fileio import file_sha256
from bench.paths import MissingDataError, weights_root

logger = logging.getLogger(__name__)

YOLO_SUFFIXES: frozenset[str] = frozenset({".pt", ".onnx", ".tflite", ".torchscript", ".engine", ".mlpackage"})
CONFIG_SUFFIXES: frozenset[str] = frozenset({".yaml", ".yml"})


def _ultralytics_weights_dir() -> Path | None:
    """Ultralytics' ``weights_dir`` setting, read from its settings file without importing it."""
    from bench.evaluators.ultralytics_env import configure_ultralytics_offline

    settings = configure_ultralytics_offline() / "settings.json"
    if settings.is_file():
        try:
            value = json.loads(settings.read_text()).get("weights_dir")
        except (OSError, json.JSONDecodeError):
            value = None
        if value:
            return Path(value)
    return Path.cwd() / "weights"  # ultralytics' default when no settings file exists yet


def resolve_yolo_weights(weights: str | os.PathLike[str], subdir: str = "detection") -> Path | str:
    """Find YOLO weights without any download.

    Args:
        weights: A path, or a file name such as ``"yolov8n.pt"``, or a model config such as ``"yolov8n.yaml"``.
        subdir: Folder under ``$BENCH_WEIGHTS`` searched for bare names (``detection`` or ``instance``).

    Returns:
        The weights file, or the config name (returned as given) for ``.yaml`` model configs.

    Raises:
        MissingDataError: the file is nowhere; the message names it and the folders searched.

    Example:
        >>> resolve_yolo_weights("yolov8n_int8.tflite")  # doctest: +SKIP
        PosixPath('/work/shared/data/weights/detection/yolov8n_int8.tflite')
    """
    path = Path(weights).expanduser()
    if path.is_file():
        return path
    if path.suffix.lower() in CONFIG_SUFFIXES and len(path.parts) == 1:
        return str(weights)  # an ultralytics model config: random initialisation, no file needed
    searched: list[Path] = []
    if len(path.parts) == 1:
        root = weights_root()
        if root is not None:
            searched += [root / subdir / path.name, root / path.name]
        ul_dir = _ultralytics_weights_dir()
        if ul_dir is not None:
            searched.append(ul_dir / path.name)
        for candidate in searched:
            if candidate.is_file():
                return candidate
    else:
        searched.append(path)
    where = ", ".join(str(s) for s in searched) or "(no weights root: set BENCH_WEIGHTS or BENCH_DATA)"
    raise MissingDataError(
        f"YOLO weights {str(weights)!r} not found (bench never downloads). Looked in: {where}. "
        f"Put the file at $BENCH_WEIGHTS/{subdir}/{path.name} (or $BENCH_DATA/weights/{subdir}/{path.name}), "
        f"or pass an explicit path."
    )


class YoloDetector:
    """An ultralytics YOLO detector (``.pt``, ``.onnx``, ``.tflite``, ...) as a bench :class:`Detector`.

    Args:
        weights: Path or file name of the weights (see :func:`resolve_yolo_weights`).
        conf: Minimum confidence kept (0.001 for mAP, as ultralytics' validator).
        iou: NMS IoU threshold (0.7, as ultralytics' validator).
        imgsz: Inference size (letterboxed square for fixed-size exports such as TFLite).
        max_det: Maximum detections per image.
        device: Torch device string for ``.pt`` models (``"cpu"``, ``"cuda:0"``).
        batch: Images per ultralytics call.

    Example:
        >>> det = YoloDetector("yolov8n_int8.tflite")  # doctest: +SKIP
        >>> out = det.predict([image])  # doctest: +SKIP
        >>> out[0].boxes.shape  # doctest: +SKIP
        (45, 4)
    """

    task: ClassVar[str] = "detect"
    weights_subdir: ClassVar[str] = "detection"
    with_masks: ClassVar[bool] = False

    def __init__(
        self,
        weights: str | os.PathLike[str] = "yolov8n.pt",
        *,
        conf: float = 0.001,
        iou: float = 0.7,
        imgsz: int = 640,
        max_det: int = 300,
        device: str = "cpu",
        batch: int = 4,
    ) -> None:
        self.weights = resolve_yolo_weights(weights, self.weights_subdir)
        self.conf = float(conf)
        self.iou = float(iou)
        self.imgsz = int(imgsz)
        self.max_det = int(max_det)
        self.device = device
        self.batch = max(1, int(batch))
        self._model: Any = None

    @property
    def model(self) -> Any:
        """The ``ultralytics.YOLO`` model (loaded on first use, offline)."""
        if self._model is None:
            from bench.evaluators.ultralytics_env import import_ultralytics, preserve_torch_threads

            ultralytics = import_ultralytics()
            with preserve_torch_threads():
                self._model = ultralytics.YOLO(str(self.weights), task=self.task)
        return self._model

    def _first_use(self) -> AbstractContextManager[None]:
        """Hide TFLite's XNNPACK banner (printed on descriptor 2) while ultralytics builds its predictor."""
        from bench.evaluators.native_stderr import filter_native_stderr

        if getattr(self.model, "predictor", None) is None:
            return filter_native_stderr()
        return nullcontext()

    @property
    def class_names(self) -> list[str]:
        with self._first_use():
            names = self.model.names
        return [names[i] for i in sorted(names)] if isinstance(names, Mapping) else list(names)

    def _predict_kwargs(self) -> dict[str, Any]:
        return {
            "conf": self.conf,
            "iou": self.iou,
            "imgsz": self.imgsz,
            "max_det": self.max_det,
            "device": self.device,
            "verbose": False,
            "save": False,
        }

    def predict(self, images: Sequence[np.ndarray]) -> list[Detections]:
        """Detect objects in ``(H, W, 3)`` uint8 RGB images; boxes in input pixels.

        Example:
            >>> YoloDetector("yolov8n.yaml").predict([np.zeros((64, 96, 3), np.uint8)])[0].boxes.shape  # doctest: +SKIP
            (0, 4)
        """
        from bench.evaluators.ultralytics_env import preserve_torch_threads

        out: list[Detections] = []
        model = self.model
        for start in range(0, len(images), self.batch):
            chunk = images[start : start + self.batch]
            bgr = [np.ascontiguousarray(np.asarray(im)[..., ::-1]) for im in chunk]  # ultralytics takes BGR arrays
            with preserve_torch_threads(), self._first_use():
                results = model.predict(bgr, **self._predict_kwargs())
            out.extend(self._convert(r, im.shape[:2]) for r, im in zip(results, chunk))
        return out

    def _convert(self, result: Any, shape: tuple[int, int]) -> Detections:
        boxes = result.boxes
        if boxes is None or len(boxes) == 0:
            return Detections.empty(shape[0], shape[1], with_masks=self.with_masks)
        return Detections(
            boxes=boxes.xyxy.cpu().numpy().astype(np.float64),
            scores=boxes.conf.cpu().numpy().astype(np.float64),
            labels=boxes.cls.cpu().numpy().astype(np.int64),
        )

    def describe(self) -> EvaluatorInfo:
        """Weights path and sha256, input size and thresholds, for the run record."""
        weights = Path(self.weights)
        return EvaluatorInfo(
            evaluator=type(self).__name__,
            backend="ultralytics",
            weights=str(self.weights),
            weights_sha256=file_sha256(str(weights)) if weights.is_file() else None,
            device=str(self.device),
            options={
                "task": self.task,
                "imgsz": self.imgsz,
                "conf": self.conf,
                "nms_iou": self.iou,
                "max_det": self.max_det,
            },
        )


class YoloSegmenter(YoloDetector):
    """An ultralytics YOLO-seg instance segmenter; masks are ``(K, H, W)`` bool at the input image size.

    Masks come from ultralytics' native-resolution path (``retina_masks=True``): prototypes upsampled to
    the letterboxed input, the padding removed, resized to the image and cropped to each box.

    Example:
        >>> seg = YoloSegmenter("yolo11n-seg_int8.tflite")  # doctest: +SKIP
        >>> seg.predict([image])[0].masks.shape  # doctest: +SKIP
        (39, 640, 481)
    """

    task: ClassVar[str] = "segment"
    weights_subdir: ClassVar[str] = "instance"
    with_masks: ClassVar[bool] = True

    def __init__(
        self,
        weights: str | os.PathLike[str] = "yolo11n-seg.pt",
        *,
        conf: float = 0.001,
        iou: float = 0.7,
        imgsz: int = 640,
        max_det: int = 300,
        device: str = "cpu",
        batch: int = 1,
    ) -> None:
        super().__init__(weights, conf=conf, iou=iou, imgsz=imgsz, max_det=max_det, device=device, batch=batch)

    def _predict_kwargs(self) -> dict[str, Any]:
        return {**super()._predict_kwargs(), "retina_masks": True}

    def _convert(self, result: Any, shape: tuple[int, int]) -> Detections:
        det = super()._convert(result, shape)
        if len(det) == 0:
            return det
        if result.masks is None:
            det.masks = np.zeros((len(det), *shape), dtype=bool)
            return det
        masks = result.masks.data.cpu().numpy() > 0.5
        if masks.shape[1:] != tuple(shape):  # safety net; retina masks are already at the input size
            import cv2

            masks = np.stack(
                [cv2.resize(m.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) for m in masks]
            ).astype(bool)
        det.masks = masks
        return det
