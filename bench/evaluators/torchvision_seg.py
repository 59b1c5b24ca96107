"""torchvision semantic segmentation models (LR-ASPP, DeepLabV3, FCN) as an optional :class:`Segmenter`.

This backend is for **user-supplied Cityscapes-trained weights** (``num_classes=19``, output channel
``i`` = Cityscapes trainId ``i``), saved as a torchvision state dict. torchvision's own pretrained
segmentation weights are trained on a COCO subset with the 21 Pascal VOC classes; their classes do not
map onto the Cityscapes ones, so they are deliberately not offered here (and would need a download).
``weights=None`` builds a randomly initialised model (``weights_backbone=None`` too: nothing is ever
downloaded), which is only good for tests.

Pre-processing: ``/255`` and ImageNet mean/std (what torchvision's segmentation training uses), at the
image's own size or resized to ``input_size`` with PIL bilinear; the argmax map is resized back with PIL
nearest. Output channels ``>= len(class_names)`` (e.g. an extra background channel) become the ignore label.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from bench.data.cityscapes import CITYSCAPES_CLASSES, IGNORE_INDEX
from bench.evaluators.info import EvaluatorInfo

logger = logging.getLogger(__name__)

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

#: Supported torchvision builders (``torchvision.models.segmentation.<name>``).
ARCHITECTURES: tuple[str, ...] = (
    "lraspp_mobilenet_v3_large",
    "deeplabv3_mobilenet_v3_large",
    "deeplabv3_resnet50",
    "deeplabv3_resnet101",
    "fcn_resnet50",
    "fcn_resnet101",
)


def _unwrap_state_dict(state: Any) -> dict[str, Any]:
    for key in ("state_dict", "model"):
        if isinstance(state, Mapping) and key in state and isinstance(state[key], Mapping):
            state = state[key]
    if not isinstance(state, Mapping):
        raise ValueError("weights file does not hold a state dict")
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in state.items()}


def load_torchvision_state_dict(path: str | Path) -> dict[str, Any]:
    """The model state dict of a torchvision weights file, read with ``weights_only=True``.

    Takes a bare state dict (torchvision's hub files) and the checkpoints of torchvision's reference
    training scripts (``references/segmentation|detection/train.py``: ``{"model": ..., "optimizer": ...,
    "lr_scheduler": ..., "epoch": ..., "args": argparse.Namespace}``), which is how users train their own
    weights; ``argparse.Namespace`` (plain attributes, no code) is the one class allowed beyond tensors.

    Raises:
        bench.engine.checkpoint.UnsafeCheckpointError: the file needs other pickled objects.
        ValueError: the file holds no state dict.

    Example:
        >>> load_torchvision_state_dict("model_29.pth")["classifier.4.weight"].shape  # doctest: +SKIP
        torch.Size([19, 256, 1, 1])
    """
    import argparse

    import torch

    from bench.engine.checkpoint import load_checkpoint

    with torch.serialization.safe_globals([argparse.Namespace]):
        return _unwrap_state_dict(load_checkpoint(path))


class TorchvisionSegmenter:
    """A torchvision segmentation network with Cityscapes-trained weights from a path.

    Args:
        arch: One of :data:`ARCHITECTURES`.
        weights: Path to a state dict (``torch.save(model.state_dict())``, optionally wrapped in
            ``{"state_dict": ...}`` / ``{"model": ...}``, e.g. a checkpoint of torchvision's reference
            training script), loaded strictly; ``None`` = random weights.
        num_classes: Output channels of the classifier (19 for Cityscapes trainIds).
        class_names: Names of the evaluated classes (default: the 19 Cityscapes trainIds when
            ``num_classes`` is 19 or 20, else ``"0"``, ``"1"``...); channels beyond them map to ``ignore_index``.
        input_size: Optional network input ``(W, H)``; ``None`` runs at each image's own size.
        device: Torch device; default CUDA when available.
        aux_loss: Build the auxiliary head (DeepLabV3/FCN); default: when the weights contain one.

    Example:
        >>> seg = TorchvisionSegmenter("lraspp_mobilenet_v3_large", weights="city_lraspp.pth")  # doctest: +SKIP
        >>> seg.predict([image])[0].shape == image.shape[:2]  # doctest: +SKIP
        True
    """

    ignore_index: int = IGNORE_INDEX

    def __init__(
        self,
        arch: str = "lraspp_mobilenet_v3_large",
        weights: str | Path | None = None,
        num_classes: int = 19,
        class_names: Sequence[str] | None = None,
        input_size: tuple[int, int] | None = None,
        device: str | None = None,
        aux_loss: bool | None = None,
    ) -> None:
        import torch
        from torchvision.models import segmentation

        if arch not in ARCHITECTURES:
            raise ValueError(
                f"unknown torchvision segmentation model {arch!r}; choose one of {', '.join(ARCHITECTURES)}"
            )
        if class_names is None:
            # 19 (or 20 with a background channel) outputs: Cityscapes trainIds; anything else: numbered
            class_names = CITYSCAPES_CLASSES if num_classes in (19, 20) else [str(i) for i in range(num_classes)]
        self.class_names: Sequence[str] = tuple(class_names)
        self.arch = arch
        self.num_classes = num_classes
        # (W, H); tuple() also takes a list from YAML
        self.input_size = cast(tuple[int, int], tuple(input_size)) if input_size is not None else None
        self.weights_path = Path(weights).expanduser() if weights is not None else None
        self.sha256: str | None = None
        state: dict[str, Any] | None = None
        if self.weights_path is not None:
            if not self.weights_path.is_file():
                from bench.paths import MissingDataError

                raise MissingDataError(f"torchvision segmentation weights not found: {self.weights_path}")
            state = load_torchvision_state_dict(self.weights_path)
            if aux_loss is None:
                aux_loss = any(k.startswith("aux_classifier.") for k in state)
        kwargs: dict[str, Any] = {"weights": None, "weights_backbone": None, "num_classes": num_classes}
        if not arch.startswith("lraspp"):
            kwargs["aux_loss"] = bool(aux_loss)
        self.model = getattr(segmentation, arch)(**kwargs)
        if state is not None and self.weights_path is not None:  # state is read only from weights_path
            from bench.fileio import file_sha256

            self.model.load_state_dict(state, strict=True)
            self.sha256 = file_sha256(self.weights_path)
        else:
            logger.warning("torchvision %s with random weights: scores are meaningless (tests only)", arch)
        self.device = (
            torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
        )
        self.model.eval().to(self.device)
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)

    def predict(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Per image an ``(H, W)`` uint8 class map at the image's size (channels beyond the classes -> 255).

        Example:
            >>> TorchvisionSegmenter().predict([np.zeros((64, 96, 3), np.uint8)])[0].shape  # doctest: +SKIP
            (64, 96)
        """
        import torch
        from PIL import Image

        out: list[np.ndarray] = []
        for image in images:
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
            h, w = image.shape[:2]
            arr = image
            if self.input_size is not None and (w, h) != self.input_size:
                arr = np.asarray(Image.fromarray(image).resize(self.input_size, Image.Resampling.BILINEAR))
            x = torch.from_numpy(np.array(arr, copy=True)).to(self.device).permute(2, 0, 1)[None].float() / 255.0
            x = (x - self._mean) / self._std
            with torch.inference_mode():
                logits = self.model(x)["out"]
            label = logits.argmax(1)[0].cpu().numpy()
            label = np.where(label >= len(self.class_names), self.ignore_index, label).astype(np.uint8)
            if label.shape != (h, w):
                label = np.asarray(Image.fromarray(label).resize((w, h), Image.Resampling.NEAREST))
            out.append(label)
        return out

    def describe(self) -> EvaluatorInfo:
        """Architecture, weights and hash, sizes, for the run record."""
        return EvaluatorInfo(
            evaluator="torchvision_seg",
            model=f"torchvision {self.arch}",
            weights=str(self.weights_path) if self.weights_path else None,
            weights_sha256=self.sha256,
            device=str(self.device),
            options={
                "num_classes": self.num_classes,
                "class_names": list(self.class_names),
                "input_size": list(self.input_size) if self.input_size else "native",
                "ignore_index": self.ignore_index,
                "preprocess": "/255, ImageNet mean/std",
            },
        )
