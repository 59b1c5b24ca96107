"""The ESPNetv2 network (Mehta et al., CVPR'19) for Cityscapes, and loading its EdgeNets checkpoints.

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
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

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


def load_espnetv2_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read an EdgeNets checkpoint safely (``weights_only``); unwraps ``state_dict``/``model`` and ``module.``."""
    state = torch.load(Path(path), map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(state, Mapping) and key in state and isinstance(state[key], Mapping):
            state = state[key]
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in state.items()}
