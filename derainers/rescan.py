"""RESCAN (Li et al., "Recurrent Squeeze-and-Excitation Context Aggregation Net for Single Image
Deraining", ECCV 2018), the ConvGRU / "Full" variant of the official code (XiaLiPKU/RESCAN ``config/``,
whose settings default to RNN units and frame "Add"): channel 24, depth 7, 4 stages, SE blocks on.

* Encoder: 5 recurrent units, 3→24 (dilation 1) then 24→24 with dilations 1, 2, 4, 8. Each ConvGRU has
  3×3 convs from x (dilated) and from h (not dilated) for z, r, n; in the first stage (no state yet)
  ``h = σ(conv_xz x) · tanh(conv_xn x)``; afterwards the usual GRU update with ``n = tanh(x_n + conv_hn(r·h))``.
  Each unit's output (and state) is ``LeakyReLU_0.2(SE(h))``.
* Decoder: Conv3×3(24→24) → SE → LeakyReLU(0.2) → Conv1×1(24→3).
* SE: global average pool → Linear(C→6) → ReLU → Linear(6→C) → sigmoid (hidden width fixed to 6).
* Stage s predicts the full rain layer R_s from ``x_s = O − R_{s−1}`` (``x_1 = O``); states are carried
  across stages; the derained image is ``O − R_4``.

No published weights exist outside Baidu Pan; the model is trainable from scratch.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from derainers.base import Derainer, DerainerCard

PAPER = (
    "X. Li, J. Wu, Z. Lin, H. Liu, H. Zha. Recurrent Squeeze-and-Excitation Context Aggregation Net for "
    "Single Image Deraining. ECCV 2018."
)


class SEBlock(nn.Module):
    """Squeeze-and-excitation with a fixed hidden width (6 in RESCAN)."""

    def __init__(self, channels: int, hidden: int = 6) -> None:
        super().__init__()
        self.fc = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = self.fc(x.mean(dim=(2, 3)))
        return x * weights[:, :, None, None]


class ConvGRU(nn.Module):
    """RESCAN's convolutional GRU unit followed by SE and LeakyReLU(0.2)."""

    def __init__(self, cin: int, cout: int, dilation: int = 1, kernel: int = 3) -> None:
        super().__init__()
        pad_x = dilation * (kernel - 1) // 2
        pad_h = (kernel - 1) // 2

        def conv_x() -> nn.Conv2d:
            return nn.Conv2d(cin, cout, kernel, padding=pad_x, dilation=dilation)

        def conv_h() -> nn.Conv2d:
            return nn.Conv2d(cout, cout, kernel, padding=pad_h)

        self.conv_xz, self.conv_xr, self.conv_xn = conv_x(), conv_x(), conv_x()
        self.conv_hz, self.conv_hr, self.conv_hn = conv_h(), conv_h(), conv_h()
        self.se = SEBlock(cout, 6)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None) -> torch.Tensor:
        if h is None:
            z = torch.sigmoid(self.conv_xz(x))
            h = z * torch.tanh(self.conv_xn(x))
        else:
            z = torch.sigmoid(self.conv_xz(x) + self.conv_hz(h))
            r = torch.sigmoid(self.conv_xr(x) + self.conv_hr(h))
            n = torch.tanh(self.conv_xn(x) + self.conv_hn(r * h))
            h = (1 - z) * h + z * n
        return F.leaky_relu(self.se(h), 0.2)


class RESCAN(Derainer):
    """RESCAN with ConvGRU units, full-rain-layer stages.

    Args:
        channels: Feature width (24).
        depth: The official ``depth`` setting; the encoder has ``depth - 2`` units with dilations
            ``1, 1, 2, …, 2**(depth-4)`` (7 → 5 units, dilations 1, 1, 2, 4, 8).
        stages: Number of stages (4).

    Example:
        >>> model = rescan()
        >>> model(torch.rand(1, 3, 32, 32)).shape
        torch.Size([1, 3, 32, 32])
    """

    card = DerainerCard(
        name="rescan",
        summary="RESCAN: 4 recurrent stages of dilated ConvGRU + SE units, each predicting the full rain layer.",
        paper=PAPER,
        size_multiple=1,
        trainable=True,
        patch_size=64,
        weights=(),
        default_weights=None,
        notes=(
            "No weights: the authors' pretrained models are only on Baidu Pan and not available here; "
            "train from scratch. The paper's loss is the sum over stages of MSE(R_s, O - B); with the "
            "single-output contract, training_loss is MSE of the final derained image (equal to the "
            "last-stage term). Official schedule: Adam lr 5e-3, MultiStepLR [15k, 17.5k] x0.1, 20k "
            "iterations, batch 64, 64x64 patches."
        ),
    )

    def __init__(self, channels: int = 24, depth: int = 7, stages: int = 4) -> None:
        super().__init__()
        self.stages = stages
        units = [ConvGRU(3, channels, 1)] + [ConvGRU(channels, channels, 2**i) for i in range(depth - 3)]
        self.rnns = nn.ModuleList(units)
        self.dec = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            SEBlock(channels, 6),
            nn.LeakyReLU(0.2),
            nn.Conv2d(channels, 3, 1),
        )

    def rain_layers(self, rainy: torch.Tensor) -> list[torch.Tensor]:
        """The rain layer R_s predicted at every stage."""
        states: list[torch.Tensor | None] = [None] * len(self.rnns)
        rains: list[torch.Tensor] = []
        x = rainy
        for _ in range(self.stages):
            new_states: list[torch.Tensor | None] = []
            for rnn, state in zip(self.rnns, states):
                x = rnn(x, state)
                new_states.append(x)
            rain = self.dec(x)
            rains.append(rain)
            states = new_states
            x = rainy - rain
        return rains

    def forward(self, rainy: torch.Tensor) -> torch.Tensor:
        return rainy - self.rain_layers(rainy)[-1]

    def training_loss(self, derained: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
        """MSE on the final output (= the last stage's term of the paper's per-stage MSE on R)."""
        return torch.mean((derained - clean) ** 2)


def rescan(**kwargs: Any) -> RESCAN:
    """RESCAN, default official configuration (149,823 parameters).

    Example:
        >>> rescan().num_parameters()
        149823
    """
    return RESCAN(**kwargs)
