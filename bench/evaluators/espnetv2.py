"""ESPNetv2 (s=2.0, Cityscapes) as a :class:`~bench.evaluators.base.Segmenter`: weights, sizes, pre/post-processing.

The network and its checkpoint loader are in :mod:`bench.evaluators.espnetv2_net`.

Pre/post-processing follows EdgeNets' ``test_segmentation.py``: the RGB image is resized with PIL bilinear,
scaled to [0, 1], normalised with the ImageNet mean/std; the argmax label map is resized back to the
image's size with PIL nearest. Channels 0..18 are Cityscapes trainIds, 19 is background, mapped to the
ignore label 255. Two choices differ from EdgeNets' script, which always stretches to the weights' size:

* **Which weights.** With ``weights="default"`` an image of exactly 512x256 is segmented by the
  512x256 checkpoint at its own size, every other image by the 1024x512 checkpoint.
* **Aspect ratio** (``resize="keep_aspect"``, the default): the image is scaled to the weights' width
  and its height follows the image's aspect ratio, rounded to a multiple of 16 (the network is fully
  convolutional). A BDD100K 1280x720 frame runs at 1024x576, not squashed to 1024x512 (2:1). With
  ``resize="stretch"`` every image is resized to the weights' size, as EdgeNets does.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, cast

import numpy as np
import torch

from bench.data.cityscapes import CITYSCAPES_CLASSES, IGNORE_INDEX
from bench.evaluators.espnetv2_net import ESPNetv2Segmentation, load_espnetv2_state_dict
from bench.evaluators.info import EvaluatorInfo
from bench.fileio import file_sha256

logger = logging.getLogger(__name__)

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

#: Weights files (relative to the weights root) by input size ``(W, H)``.
WEIGHTS_FILES: dict[tuple[int, int], str] = {
    (1024, 512): "semseg/espnetv2_s_2.0_city_1024x512.pth",
    (512, 256): "semseg/espnetv2_s_2.0_city_512x256.pth",
}
MAIN_SIZE: tuple[int, int] = (1024, 512)
ResizeMode = Literal["keep_aspect", "stretch"]

__all__ = ["WEIGHTS_FILES", "ESPNetv2Segmentation", "ESPNetv2Segmenter", "load_espnetv2_state_dict", "network_input"]


def _size_from_name(path: Path) -> tuple[int, int] | None:
    match = re.search(r"_(\d+)x(\d+)\.pth?$", path.name)
    return (int(match[1]), int(match[2])) if match else None


def network_input(image_size: tuple[int, int], weights_size: tuple[int, int], resize: ResizeMode) -> tuple[int, int]:
    """The ``(W, H)`` an image of ``image_size`` is resized to for weights trained at ``weights_size``.

    Example:
        >>> network_input((1280, 720), (1024, 512), "keep_aspect"), network_input((1280, 720), (1024, 512), "stretch")
        ((1024, 576), (1024, 512))
    """
    if resize == "stretch" or tuple(image_size) == tuple(weights_size):
        return weights_size
    width = weights_size[0]
    height = max(16, int(image_size[1] * width / image_size[0] / 16 + 0.5) * 16)  # nearest multiple, ties up
    return width, int(height)


class ESPNetv2Segmenter:
    """Cityscapes ESPNetv2 (s=2.0) as a :class:`~bench.evaluators.base.Segmenter`.

    Args:
        weights: ``"default"`` (the 1024x512 file under the weights root, and the 512x256 file for
            512x256 images when it is there), a size tag ``"1024x512"`` / ``"512x256"`` (that file for
            every image), a path to a ``.pth`` state dict, or ``None`` for random initialisation (tests).
        input_size: The weights' training size ``(W, H)``; default from the weights file name, else 1024x512.
        device: ``"cpu"``, ``"cuda"``...; default CUDA when available.
        batch_size: Images per forward pass (images of the same network input size are batched).
        scale: ESPNetv2 width multiplier (2.0 for the shipped weights).
        resize: ``"keep_aspect"`` (default) or ``"stretch"`` (module docstring).

    Example:
        >>> seg = ESPNetv2Segmenter()  # doctest: +SKIP
        >>> labels = seg.predict([image])[0]  # doctest: +SKIP
    """

    class_names: Sequence[str] = CITYSCAPES_CLASSES
    ignore_index: int = IGNORE_INDEX
    num_outputs: int = len(CITYSCAPES_CLASSES) + 1  # 19 trainIds + background

    def __init__(
        self,
        weights: str | Path | None = "default",
        input_size: tuple[int, int] | None = None,
        device: str | torch.device | None = None,
        batch_size: int = 2,
        scale: float = 2.0,
        resize: ResizeMode = "keep_aspect",
    ) -> None:
        if resize not in ("keep_aspect", "stretch"):
            raise ValueError(f"resize must be 'keep_aspect' or 'stretch', not {resize!r}")
        self.scale = scale
        self.resize: ResizeMode = resize
        self.batch_size = max(1, int(batch_size))
        self.device = (
            torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
        )
        files = self._weights_files(weights, input_size)
        # (W, H) of the main weights; tuple() also takes a list from YAML
        self.input_size: tuple[int, int] = cast(
            tuple[int, int], tuple(input_size or next(iter(files), None) or MAIN_SIZE)
        )
        for w, h in [self.input_size, *files]:
            if w % 16 or h % 16:
                raise ValueError(f"input size {(w, h)} must be a multiple of 16 (4 stride-2 levels)")
        if files and self.input_size not in files:  # e.g. weights="1024x512" with input_size=(512, 256)
            raise ValueError(
                f"input_size {self.input_size[0]}x{self.input_size[1]} does not match the weights' size "
                f"{', '.join(f'{w}x{h}' for w, h in files)}"
            )
        self.weights_path: Path | None = files.get(self.input_size)
        self.models: dict[tuple[int, int], ESPNetv2Segmentation] = {}
        self.hashes: dict[tuple[int, int], str] = {}
        plan: list[tuple[tuple[int, int], Path | None]] = list(files.items()) or [(self.input_size, None)]
        for size, path in plan:
            self.models[size] = self._load(path)
            if path is not None:
                self.hashes[size] = file_sha256(path)
                logger.info("ESPNetv2 weights %s (sha256 %s) for %dx%d inputs", path, self.hashes[size][:12], *size)
        if not files:
            logger.warning("ESPNetv2 with random weights: scores are meaningless (tests only)")
        self.sha256: str | None = self.hashes.get(self.input_size)
        self.model = self.models[self.input_size]
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)

    @staticmethod
    def _weights_files(weights: str | Path | None, input_size: tuple[int, int] | None) -> dict[tuple[int, int], Path]:
        """Weights file per size it serves; the main size first."""
        from bench.paths import MissingDataError, resolve_weights_file

        if weights is None:
            return {}
        text = str(weights)
        tag = re.fullmatch(r"(\d+)x(\d+)", text)
        if text == "default" or tag:
            size = (int(tag[1]), int(tag[2])) if tag else tuple(input_size or MAIN_SIZE)
            if size not in WEIGHTS_FILES:
                raise ValueError(
                    f"no ESPNetv2 Cityscapes weights for {size[0]}x{size[1]}; "
                    f"available: {', '.join(f'{w}x{h}' for w, h in WEIGHTS_FILES)}"
                )
            files = {size: resolve_weights_file(WEIGHTS_FILES[size], what="ESPNetv2 weights")}
            if text == "default":  # the other sizes' own weights serve images of exactly that size, when present
                for other, relative in WEIGHTS_FILES.items():
                    if other not in files:
                        try:
                            files[other] = resolve_weights_file(relative, what="ESPNetv2 weights")
                        except MissingDataError:
                            logger.info("no %s: %dx%d images use the %dx%d weights", relative, *other, *size)
            return files
        path = Path(weights).expanduser()
        if not path.is_file():
            raise MissingDataError(f"ESPNetv2 weights file not found: {path}")
        return {cast(tuple[int, int], tuple(input_size or _size_from_name(path) or MAIN_SIZE)): path}

    def _load(self, path: Path | None) -> ESPNetv2Segmentation:
        model = ESPNetv2Segmentation(num_classes=self.num_outputs, scale=self.scale)
        if path is not None:
            model.load_state_dict(load_espnetv2_state_dict(path), strict=True)
        # channels-last: ~35 % less CPU time per 1024x512 forward here, identical label maps.
        # Module.to(device, memory_format=...) is documented and works; torch's overloads omit that combination.
        model.eval().to(self.device, memory_format=torch.channels_last)  # type: ignore[call-overload]
        return model

    def plan(self, image_size: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
        """``(weights size, network input size)`` for an image of ``(W, H)``.

        Example:
            >>> seg = ESPNetv2Segmenter(weights=None, device="cpu")
            >>> seg.plan((1280, 720)), seg.plan((512, 256))
            (((1024, 512), (1024, 576)), ((1024, 512), (1024, 512)))
        """
        weights_size = tuple(image_size) if tuple(image_size) in self.models else self.input_size
        size = cast(tuple[int, int], weights_size)
        return size, network_input(image_size, size, self.resize)

    def _prepare(self, image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        from PIL import Image

        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
        if (image.shape[1], image.shape[0]) == size:
            return image
        return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))

    def logits(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """``(N, 20, H_in, W_in)`` logits at the network input size of the first image (all must share it)."""
        weights_size, size = self.plan((images[0].shape[1], images[0].shape[0]))
        batch = np.stack([self._prepare(im, size) for im in images])
        x = torch.from_numpy(batch).to(self.device).permute(0, 3, 1, 2).float().div_(255.0)
        x = ((x - self._mean) / self._std).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            return self.models[weights_size](x)

    def predict(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Per image an ``(H, W)`` uint8 trainId map at the image's own size; background -> 255.

        Example:
            >>> seg.predict([np.zeros((128, 256, 3), np.uint8)])[0].shape  # doctest: +SKIP
            (128, 256)
        """
        from PIL import Image

        results: list[np.ndarray | None] = [None] * len(images)
        groups: dict[tuple[tuple[int, int], tuple[int, int]], list[int]] = {}
        for k, image in enumerate(images):
            groups.setdefault(self.plan((image.shape[1], image.shape[0])), []).append(k)
        for members in groups.values():
            for start in range(0, len(members), self.batch_size):
                chunk = members[start : start + self.batch_size]
                labels = self.logits([images[k] for k in chunk]).argmax(1).to(torch.uint8).cpu().numpy()
                for k, label in zip(chunk, labels):
                    label = np.where(label >= len(self.class_names), self.ignore_index, label).astype(np.uint8)
                    h, w = images[k].shape[:2]
                    if label.shape != (h, w):
                        label = np.asarray(Image.fromarray(label).resize((w, h), Image.Resampling.NEAREST))
                    results[k] = label
        return [r for r in results if r is not None]

    def describe(self) -> EvaluatorInfo:
        """Weights, hashes, sizes and pre/post-processing, for the run record."""
        by_size = {f"{w}x{h}": self.hashes.get((w, h)) for w, h in self.models}
        return EvaluatorInfo(
            evaluator="espnetv2",
            model=f"ESPNetv2 s={self.scale} Cityscapes (sacmehta/EdgeNets)",
            weights=str(self.weights_path) if self.weights_path else None,
            weights_sha256=self.sha256,
            device=str(self.device),
            options={
                "input_size": list(self.input_size),
                "weights_by_size": by_size,
                "weights_rule": "an image of exactly a weights file's size uses that file; others the input_size weights",
                "resize": self.resize,
                "num_classes": len(self.class_names),
                "outputs": self.num_outputs,
                "background_output": len(self.class_names),
                "ignore_index": self.ignore_index,
                "preprocess": (
                    "PIL bilinear resize to the weights' width, height by aspect ratio rounded to 16 (keep_aspect) "
                    "or to the weights' size (stretch); /255, ImageNet mean/std"
                ),
                "postprocess": "argmax over 20 logits (bilinear-upsampled), background -> 255, PIL nearest resize back",
            },
        )
