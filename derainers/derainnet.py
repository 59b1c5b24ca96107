"""DerainNet (Fu et al., "Clearing the Skies: A Deep Network Architecture for Single-Image Rain
Removal", IEEE TIP 2017).

* Reflect-pad the image by 10 pixels; split it with a self-guided filter (radius 15, ε = 1) into a
  base layer and a detail layer (image − base).
* The detail layer goes through Conv16×16(3→512) + ReLU → Conv1×1(512→512) + ReLU →
  ConvTranspose8×8(512→3) (no padding, stride 1): the padded size H+20 becomes H+5, then H+12.
* The network output is cropped by 6 on each side, the base by 10, and they are added.

This follows the PyTorch port in biubiubiiu/derain-toolbox (``mmderain/models/backbones/derainnet.py``);
the authors' model is MATLAB/Caffe and its weights are not available here. Trains with MSE.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from derainers.base import Derainer, DerainerCard
from derainers.guided_filter import guided_filter

PAPER = (
    "X. Fu, J. Huang, X. Ding, Y. Liao, J. Paisley. Clearing the Skies: A Deep Network Architecture for "
    "Single-Image Rain Removal. IEEE TIP 26(6), 2017."
)


class DerainNet(Derainer):
    """Three-layer CNN on the guided-filter detail layer, base added back.

    Args:
        mid_channels: Width of the hidden layers (512).
        padding: Reflect padding before the split (10).
        radius: Guided-filter radius (15).
        eps: Guided-filter ε (1.0).

    Example:
        >>> model = derainnet()
        >>> model(torch.rand(1, 3, 40, 48)).shape
        torch.Size([1, 3, 40, 48])
    """

    card = DerainerCard(
        name="derainnet",
        summary="DerainNet: guided-filter detail layer → Conv16x16/Conv1x1/Deconv8x8 (512 ch) → + base layer.",
        paper=PAPER,
        size_multiple=1,
        trainable=True,
        patch_size=64,
        weights=(),
        default_weights=None,
        notes=(
            "No weights: the authors' MATLAB/Caffe model is not available here; train from scratch (MSE). "
            "Layout of the derain-toolbox PyTorch port. Inputs must be larger than the 10-pixel padding."
        ),
    )

    def __init__(self, mid_channels: int = 512, padding: int = 10, radius: int = 15, eps: float = 1.0) -> None:
        super().__init__()
        self.padding = padding
        self.radius = radius
        self.eps = eps
        self.model = nn.Sequential(
            nn.Conv2d(3, mid_channels, kernel_size=16),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_channels, mid_channels, kernel_size=1),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(mid_channels, 3, kernel_size=8, stride=1),
        )

    def forward(self, rainy: torch.Tensor) -> torch.Tensor:
        p = self.padding
        x = F.pad(rainy, (p, p, p, p), mode="reflect")
        base = guided_filter(x, x, self.radius, self.eps)
        out = self.model(x - base)  # (H + 2p - 15) + 7 = H + 2p - 8
        c = p - 4
        h, w = rainy.shape[2:]
        return out[:, :, c : c + h, c : c + w] + base[:, :, p : p + h, p : p + w]

    def training_loss(self, derained: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
        """MSE, as in the paper."""
        return torch.mean((derained - clean) ** 2)


def derainnet(**kwargs: Any) -> DerainNet:
    """DerainNet (754,691 parameters).

    Example:
        >>> derainnet().num_parameters()
        754691
    """
    return DerainNet(**kwargs)
