"""ESPNetv2 semantic segmentation (Mehta et al., CVPR'19) for Cityscapes, as a :class:`Segmenter`.

The network is written so that the official EdgeNets checkpoints
(``espnetv2_s_2.0_city_{1024x512,512x256}.pth``, sacmehta/EdgeNets@2b232d3f) load with strict keys:

* encoder ``base_net``: the ImageNet EESPNet without its ``level5``/classifier — a strided 3x3 CBR
  (``level1``), then down-samplers ``level2_0``, ``level3_0``, ``level4_0`` (average pool ‖ strided
  EESP, plus a reinforcement branch from the average-pooled input image) with ``level3`` (3) and
  ``level4`` (7) EESP blocks; EESP = grouped 1x1 reduce, 4 depth-wise dilated 3x3 branches with
  hierarchical fusion, BN+PReLU, grouped 1x1 expand (+ residual), PReLU.
* decoder: four efficient pyramid-pooling blocks (``bu_dec_l1..l4``; scales 2, 1.5, 1, 0.5, 0.1) with
  bilinear (align_corners) x2 up-sampling and gated skip connections (``merge_enc_dec_l2..l4``)
  from the encoder, then bilinear up-sampling of the 20 logits to the input size.

Pre/post-processing follows EdgeNets' ``test_segmentation.py``: the RGB image is resized to the weights'
size with PIL bilinear, scaled to [0, 1], normalised with the ImageNet mean/std; the argmax label map
is resized back to the input size with PIL nearest. Channels 0..18 are Cityscapes trainIds, 19 is
background, mapped to the ignore label 255.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.data.cityscapes import CITYSCAPES_CLASSES, IGNORE_INDEX
from bench.fileio import file_sha256

logger = logging.getLogger(__name__)

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

#: Encoder widths per width multiplier ``s`` (levels 1..4; EdgeNets ``espnetv2_config.sc_ch_dict``).
ENCODER_CHANNELS: dict[float, tuple[int, int, int, int]] = {
    0.5: (16, 32, 64, 128),
    1.0: (32, 64, 128, 256),
    1.25: (32, 80, 160, 320),
    1.5: (32, 96, 192, 384),
    2.0: (32, 128, 256, 512),
}
_EESP_REPEATS = (3, 7)  # EESP blocks at levels 3 and 4
_RECEPTIVE_LIMITS = (13, 11, 9, 7, 5)  # largest effective kernel per spatial level
_BRANCHES = 4
_REINF_CHANNELS = 3
_PYRAMID_SCALES = (2.0, 1.5, 1.0, 0.5, 0.1)
_DECODER_BASE = 16  # Cityscapes / VOC decoder width

#: Weights files (relative to the weights root) by input size ``(W, H)``.
WEIGHTS_FILES: dict[tuple[int, int], str] = {
    (1024, 512): "semseg/espnetv2_s_2.0_city_1024x512.pth",
    (512, 256): "semseg/espnetv2_s_2.0_city_512x256.pth",
}


# ---------------------------------------------------------------------------------------------- layers
class _ConvBNAct(nn.Module):
    """Conv (no bias) -> BN -> PReLU, attributes ``conv``/``bn``/``act`` (EdgeNets espnet_utils naming)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=(k - 1) // 2, bias=False, groups=groups)
        self.bn = nn.BatchNorm2d(cout)
        self.act = nn.PReLU(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class _ConvBN(nn.Module):
    """Conv (no bias) -> BN, attributes ``conv``/``bn``."""

    def __init__(self, cin: int, cout: int, k: int, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, padding=(k - 1) // 2, bias=False, groups=groups)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class _BNAct(nn.Module):
    """BN -> PReLU, attributes ``bn``/``act``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)
        self.act = nn.PReLU(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(x))


class _DilatedDW(nn.Module):
    """Depth-wise dilated 3x3 conv, attribute ``conv``."""

    def __init__(self, channels: int, stride: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            channels, channels, 3, stride=stride, padding=dilation, dilation=dilation, groups=channels, bias=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def _seq_cbr(cin: int, cout: int, k: int, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, padding=(k - 1) // 2, bias=False, groups=groups), nn.BatchNorm2d(cout), nn.PReLU(cout)
    )


class _SeqCBR(nn.Module):
    """Conv -> BN -> PReLU held in ``cbr`` (EdgeNets cnn_utils naming)."""

    def __init__(self, cin: int, cout: int, k: int, groups: int = 1) -> None:
        super().__init__()
        self.cbr = _seq_cbr(cin, cout, k, groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cbr(x)


class _SeqBR(nn.Module):
    """BN -> PReLU held in ``br``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.br = nn.Sequential(nn.BatchNorm2d(channels), nn.PReLU(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.br(x)


class _ChannelShuffle(nn.Module):
    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        return x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class EESP(nn.Module):
    """Extremely efficient spatial pyramid block: reduce -> split -> dilated DW -> hierarchical fuse -> expand."""

    def __init__(
        self,
        cin: int,
        cout: int,
        stride: int = 1,
        branches: int = 4,
        receptive_limit: int = 7,
        downsample: bool = False,
    ) -> None:
        super().__init__()
        width = cout // branches
        if width * branches != cout:
            raise ValueError(f"EESP output width {cout} must be divisible by {branches} branches")
        self.stride = stride
        self.downsample = downsample
        self.proj_1x1 = _ConvBNAct(cin, width, 1, groups=branches)
        # effective kernel 3 + 2i, capped at the receptive limit (falls back to 3), sorted ascending;
        # dilation = (kernel - 1) / 2
        kernels = sorted(3 + 2 * i if 3 + 2 * i <= receptive_limit else 3 for i in range(branches))
        self.spp_dw = nn.ModuleList(_DilatedDW(width, stride, (k - 1) // 2) for k in kernels)
        self.conv_1x1_exp = _ConvBN(cout, cout, 1, groups=branches)
        self.br_after_cat = _BNAct(cout)
        self.module_act = nn.PReLU(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        reduced = self.proj_1x1(x)
        outs = [self.spp_dw[0](reduced)]
        for branch in self.spp_dw[1:]:
            outs.append(branch(reduced) + outs[-1])  # hierarchical feature fusion
        expanded = self.conv_1x1_exp(self.br_after_cat(torch.cat(outs, 1)))
        if self.stride == 2 and self.downsample:
            return expanded
        if expanded.shape == x.shape:
            expanded = expanded + x
        return self.module_act(expanded)


class DownSampler(nn.Module):
    """Stride-2 unit: [avg-pool(x) ‖ EESP(x, stride 2)] + reinforcement from the pooled input image."""

    def __init__(self, cin: int, cout: int, branches: int, receptive_limit: int, image_channels: int = 3) -> None:
        super().__init__()
        self.eesp = EESP(cin, cout - cin, stride=2, branches=branches, receptive_limit=receptive_limit, downsample=True)
        self.avg = nn.AvgPool2d(kernel_size=3, stride=2, padding=1)
        self.inp_reinf = nn.Sequential(
            _ConvBNAct(image_channels, _REINF_CHANNELS, 3), _ConvBN(_REINF_CHANNELS, cout, 1)
        )
        self.act = nn.PReLU(cout)

    def forward(self, x: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        pooled = self.avg(x)
        out = torch.cat([pooled, self.eesp(x)], 1)
        # pool the input image (3x3, stride 2, pad 1) until its height matches
        small = image
        while True:
            small = F.avg_pool2d(small, kernel_size=3, stride=2, padding=1)
            if small.shape[2] <= pooled.shape[2]:
                break
        return self.act(out + self.inp_reinf(small))


class ESPNetv2Encoder(nn.Module):
    """EESPNet levels 1-4 (the ImageNet backbone without level 5 and the classifier)."""

    def __init__(self, scale: float = 2.0, image_channels: int = 3) -> None:
        super().__init__()
        if scale not in ENCODER_CHANNELS:
            raise ValueError(f"ESPNetv2 scale {scale} not supported; choose one of {sorted(ENCODER_CHANNELS)}")
        c1, c2, c3, c4 = ENCODER_CHANNELS[scale]
        k, r = _BRANCHES, _RECEPTIVE_LIMITS
        self.channels = (c1, c2, c3, c4)
        self.level1 = _ConvBNAct(image_channels, c1, 3, stride=2)
        self.level2_0 = DownSampler(c1, c2, k, r[0], image_channels)
        self.level3_0 = DownSampler(c2, c3, k, r[1], image_channels)
        self.level3 = nn.ModuleList(EESP(c3, c3, branches=k, receptive_limit=r[2]) for _ in range(_EESP_REPEATS[0]))
        self.level4_0 = DownSampler(c3, c4, k, r[2], image_channels)
        self.level4 = nn.ModuleList(EESP(c4, c4, branches=k, receptive_limit=r[3]) for _ in range(_EESP_REPEATS[1]))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        l1 = self.level1(x)  # 1/2
        l2 = self.level2_0(l1, x)  # 1/4
        l3 = self.level3_0(l2, x)  # 1/8
        for block in self.level3:
            l3 = block(l3)
        l4 = self.level4_0(l3, x)  # 1/16
        for block in self.level4:
            l4 = block(l4)
        return l1, l2, l3, l4


class EfficientPyramidPool(nn.Module):
    """Project, depth-wise conv at 5 scales, BN+PReLU, channel shuffle, grouped 3x3, 1x1 out."""

    def __init__(
        self, cin: int, proj: int, cout: int, last_br: bool = True, scales: Sequence[float] = _PYRAMID_SCALES
    ) -> None:
        super().__init__()
        self.scales = tuple(sorted(scales, reverse=True))
        n = len(self.scales)
        self.projection_layer = _SeqCBR(cin, proj, 1)
        self.stages = nn.ModuleList(nn.Conv2d(proj, proj, 3, padding=1, groups=proj, bias=False) for _ in range(n))
        self.merge_layer = nn.Sequential(
            _SeqBR(proj * n),
            _ChannelShuffle(n),
            _SeqCBR(proj * n, proj, 3, groups=proj),
            nn.Conv2d(proj, cout, 1, bias=not last_br),
        )
        self.br = _SeqBR(cout) if last_br else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.projection_layer(x)
        h, w = x.shape[2:]
        outs = []
        for scale, stage in zip(self.scales, self.stages):
            hs, ws = max(math.ceil(h * scale), 5), max(math.ceil(w * scale), 5)
            if scale < 1.0:
                y = stage(F.adaptive_avg_pool2d(x, (hs, ws)))
                y = F.interpolate(y, (h, w), mode="bilinear", align_corners=True)
            elif scale > 1.0:
                y = stage(F.interpolate(x, (hs, ws), mode="bilinear", align_corners=True))
                y = F.adaptive_avg_pool2d(y, (h, w))
            else:
                y = stage(x)
            outs.append(y)
        out = self.merge_layer(torch.cat(outs, 1))
        return self.br(out) if self.br is not None else out


class GatedSkip(nn.Module):
    """Encoder skip: grouped 3x3 CBR gated by a sigmoid of its globally pooled input (EfficientPWConv)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.wt_layer = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, cout, 1, bias=False), nn.Sigmoid())
        self.expansion_layer = _SeqCBR(cin, cout, 3, groups=math.gcd(cin, cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.expansion_layer(x) * self.wt_layer(x)


class ESPNetv2Segmentation(nn.Module):
    """ESPNetv2 encoder + efficient pyramid-pooling decoder; returns ``(N, classes, H, W)`` logits."""

    def __init__(self, num_classes: int = 20, scale: float = 2.0, decoder_base: int = _DECODER_BASE) -> None:
        super().__init__()
        self.base_net = ESPNetv2Encoder(scale)
        c1, c2, c3, c4 = self.base_net.channels
        d1, d2, d3 = 4 * decoder_base, 3 * decoder_base, 2 * decoder_base
        proj = min(num_classes // 2, decoder_base)
        self.bu_dec_l1 = EfficientPyramidPool(c4, proj, d1)
        self.bu_dec_l2 = EfficientPyramidPool(d1, proj, d2)
        self.bu_dec_l3 = EfficientPyramidPool(d2, proj, d3)
        self.bu_dec_l4 = EfficientPyramidPool(d3, proj, num_classes, last_br=False)
        self.merge_enc_dec_l2 = GatedSkip(c3, d1)
        self.merge_enc_dec_l3 = GatedSkip(c2, d2)
        self.merge_enc_dec_l4 = GatedSkip(c1, d3)
        self.bu_br_l2 = nn.Sequential(nn.BatchNorm2d(d1), nn.PReLU(d1))
        self.bu_br_l3 = nn.Sequential(nn.BatchNorm2d(d2), nn.PReLU(d2))
        self.bu_br_l4 = nn.Sequential(nn.BatchNorm2d(d3), nn.PReLU(d3))

    @staticmethod
    def _up2(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[2:]
        l1, l2, l3, l4 = self.base_net(x)
        y = self.bu_dec_l1(l4)
        y = self.bu_dec_l2(self.bu_br_l2(self._up2(y) + self.merge_enc_dec_l2(l3)))
        y = self.bu_dec_l3(self.bu_br_l3(self._up2(y) + self.merge_enc_dec_l3(l2)))
        y = self.bu_dec_l4(self.bu_br_l4(self._up2(y) + self.merge_enc_dec_l4(l1)))
        return F.interpolate(y, size=size, mode="bilinear", align_corners=True)


# ---------------------------------------------------------------------------------------------- segmenter
def _size_from_name(path: Path) -> tuple[int, int] | None:
    match = re.search(r"_(\d+)x(\d+)\.pth?$", path.name)
    return (int(match[1]), int(match[2])) if match else None


def load_espnetv2_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read an EdgeNets checkpoint safely (``weights_only``); unwraps ``state_dict``/``model`` and ``module.``."""
    state = torch.load(Path(path), map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(state, Mapping) and key in state and isinstance(state[key], Mapping):
            state = state[key]
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in state.items()}


class ESPNetv2Segmenter:
    """Cityscapes ESPNetv2 (s=2.0) as a :class:`~bench.evaluators.base.Segmenter`.

    Args:
        weights: ``"default"`` (the file for ``input_size`` under the weights root), a size tag
            ``"1024x512"`` / ``"512x256"``, a path to a ``.pth`` state dict, or ``None`` for random
            initialisation (tests only).
        input_size: Network input ``(W, H)``; default taken from the weights file name, else 1024x512.
        device: ``"cpu"``, ``"cuda"``...; default CUDA when available.
        batch_size: Images per forward pass.
        scale: ESPNetv2 width multiplier (2.0 for the shipped weights).

    Example:
        >>> seg = ESPNetv2Segmenter()  # doctest: +SKIP
        >>> labels = seg.predict([image])[0]  # (H, W) uint8 trainIds, 255 = background/ignore
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
    ) -> None:
        from bench.paths import resolve_weights_file

        self.scale = scale
        self.batch_size = max(1, int(batch_size))
        self.weights_path: Path | None = None
        if weights is not None:
            text = str(weights)
            tag = re.fullmatch(r"(\d+)x(\d+)", text)
            if text == "default" or tag:
                size = (int(tag[1]), int(tag[2])) if tag else (input_size or (1024, 512))
                if size not in WEIGHTS_FILES:
                    raise ValueError(
                        f"no ESPNetv2 Cityscapes weights for {size[0]}x{size[1]}; "
                        f"available: {', '.join(f'{w}x{h}' for w, h in WEIGHTS_FILES)}"
                    )
                self.weights_path = resolve_weights_file(WEIGHTS_FILES[size], what="ESPNetv2 weights")
                input_size = input_size or size
            else:
                self.weights_path = Path(weights).expanduser()
                if not self.weights_path.is_file():
                    from bench.paths import MissingDataError

                    raise MissingDataError(f"ESPNetv2 weights file not found: {self.weights_path}")
                input_size = input_size or _size_from_name(self.weights_path)
        # (W, H); tuple() also takes a list from YAML
        self.input_size: tuple[int, int] = cast(tuple[int, int], tuple(input_size or (1024, 512)))
        if self.input_size[0] % 16 or self.input_size[1] % 16:
            raise ValueError(f"input size {self.input_size} must be a multiple of 16 (4 stride-2 levels)")
        self.device = (
            torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
        )
        self.model = ESPNetv2Segmentation(num_classes=self.num_outputs, scale=scale)
        self.sha256: str | None = None
        if self.weights_path is not None:
            self.model.load_state_dict(load_espnetv2_state_dict(self.weights_path), strict=True)
            self.sha256 = file_sha256(self.weights_path)
            logger.info(
                "ESPNetv2 weights %s (sha256 %s), input %dx%d", self.weights_path, self.sha256[:12], *self.input_size
            )
        else:
            logger.warning("ESPNetv2 with random weights: scores are meaningless (tests only)")
        # channels-last: ~35 % less CPU time per 1024x512 forward here, identical label maps.
        # Module.to(device, memory_format=...) is documented and works; torch's overloads omit that combination.
        self.model.eval().to(self.device, memory_format=torch.channels_last)  # type: ignore[call-overload]
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)

    def _prepare(self, image: np.ndarray) -> np.ndarray:
        from PIL import Image

        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
        if (image.shape[1], image.shape[0]) == self.input_size:
            return image
        return np.asarray(Image.fromarray(image).resize(self.input_size, Image.Resampling.BILINEAR))

    def logits(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """``(N, 20, H_in, W_in)`` logits at the network input size (images resized to it)."""
        batch = np.stack([self._prepare(im) for im in images])
        x = torch.from_numpy(batch).to(self.device).permute(0, 3, 1, 2).float().div_(255.0)
        x = ((x - self._mean) / self._std).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            return self.model(x)

    def predict(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Per image an ``(H, W)`` uint8 trainId map at the image's own size; background -> 255.

        Example:
            >>> seg.predict([np.zeros((128, 256, 3), np.uint8)])[0].shape  # doctest: +SKIP
            (128, 256)
        """
        from PIL import Image

        results: list[np.ndarray] = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            labels = self.logits(chunk).argmax(1).to(torch.uint8).cpu().numpy()
            for image, label in zip(chunk, labels):
                label = np.where(label >= len(self.class_names), self.ignore_index, label).astype(np.uint8)
                h, w = image.shape[:2]
                if label.shape != (h, w):
                    label = np.asarray(Image.fromarray(label).resize((w, h), Image.Resampling.NEAREST))
                results.append(label)
        return results

    def describe(self) -> Mapping[str, Any]:
        """Weights, hash, sizes and pre/post-processing, for the run record."""
        return {
            "evaluator": "espnetv2",
            "model": f"ESPNetv2 s={self.scale} Cityscapes (sacmehta/EdgeNets)",
            "weights": str(self.weights_path) if self.weights_path else None,
            "sha256": self.sha256,
            "input_size": list(self.input_size),
            "num_classes": len(self.class_names),
            "outputs": self.num_outputs,
            "background_output": len(self.class_names),
            "ignore_index": self.ignore_index,
            "preprocess": "PIL bilinear resize to input_size, /255, ImageNet mean/std",
            "postprocess": "argmax over 20 logits (bilinear-upsampled), background -> 255, PIL nearest resize back",
            "device": str(self.device),
        }
