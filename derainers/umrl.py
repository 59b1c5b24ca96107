"""UMRL (Yasarla & Patel, "Uncertainty Guided Multi-Scale Residual Learning-using a Cycle Spinning CNN
for Single Image De-Raining", CVPR 2019), loadable from the official checkpoints of
rajeevyasarla/UMRL--using-Cycle-Spinning@f64fd3f2 (``pre_trained/Net_{DIDMDN,JORDER,Rain800}.pth``).

The network (``models/derain_mulcmp.py`` class ``UMRL``) is a densely connected encoder–decoder:

* encoder: BottleneckBlock1 (BN-ReLU-Conv1×1-BN-ReLU-Conv5×5, output concatenated to the input) and
  transition blocks (BN-ReLU-ConvTranspose1×1 then 2×2 average pooling, nearest 2× upsampling or
  nothing), down to 1/16 and back up;
* at 1/4 and 1/2 scale a shared residual estimator (``res_est``) predicts a rain residual and a shared
  confidence net (``conf_res``) a confidence map; ``residual·confidence`` is fed to the next scale;
* at full scale ``residual = tanh(refine3(LReLU(conv_refin(x6))))``, ``clean = x − residual``, refined by
  ``tanh(refineclean2(LReLU(refineclean1(clean))))``.

Inference as in the official ``umrl_test.py``: the input is normalised to [−1, 1] (mean 0.5, std 0.5);
the test script leaves the network in ``train()`` mode, so every BatchNorm normalises with the
statistics of the image itself (``bn_batch_stats=True``, default); the output is stretched per image to
[0, 1] by its min and max (``output="minmax"``, default). ``bn_batch_stats=False`` uses the stored
running statistics and ``output="affine"`` maps ``(y + 1) / 2``. H and W must be multiples of 16.
Cycle spinning (``umrl_cycspn_test.py``: averaging 121 circular shifts) is not done here.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import nn
from torch.nn import functional as F

from derainers.base import Derainer, DerainerCard, WeightsSource

PAPER = (
    "R. Yasarla, V. M. Patel. Uncertainty Guided Multi-Scale Residual Learning-using a Cycle Spinning CNN "
    "for Single Image De-Raining. CVPR 2019."
)
_SOURCE = "rajeevyasarla/UMRL--using-Cycle-Spinning@f64fd3f2 pre_trained/"
_PROTOCOL = "no score published for these files; official umrl_test.py: train-mode BN, per-image min-max output"

OutputMode = Literal["minmax", "affine"]


class _BatchNorm(nn.BatchNorm2d):
    """BatchNorm2d that can normalise with each image's own statistics in eval mode (the official test runs
    train-mode BN on one image at a time; per-image statistics keep that whatever the batch size)."""

    use_batch_stats: bool = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or not self.use_batch_stats:
            return super().forward(x)
        # instance norm = train-mode batch norm of each image alone: results do not depend on --batch-size
        return F.instance_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)


class Bottleneck(nn.Module):
    """BN-ReLU-Conv1×1(4·out)-BN-ReLU-Conv k×k(out), concatenated to the input (no bias)."""

    def __init__(self, cin: int, cout: int, kernel: int) -> None:
        super().__init__()
        inter = 4 * cout
        self.bn1 = _BatchNorm(cin)
        self.conv1 = nn.Conv2d(cin, inter, 1, bias=False)
        self.bn2 = _BatchNorm(inter)
        self.conv2 = nn.Conv2d(inter, cout, kernel, padding=kernel // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        return torch.cat((x, out), dim=1)


class Transition(nn.Module):
    """BN-ReLU-ConvTranspose1×1, then ``"down"`` (avg-pool 2), ``"up"`` (nearest ×2) or ``"same"``."""

    def __init__(self, cin: int, cout: int, resize: Literal["down", "up", "same"]) -> None:
        super().__init__()
        self.resize = resize
        self.bn1 = _BatchNorm(cin)
        self.conv1 = nn.ConvTranspose2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.bn1(x)))
        if self.resize == "down":
            return F.avg_pool2d(out, 2)
        if self.resize == "up":
            return F.interpolate(out, scale_factor=2, mode="nearest")
        return out


class ResidualEstimator(nn.Module):
    """``scale_residue_est``: rain residual (tanh) from decoder features at 1/4 and 1/2 scale."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = Bottleneck(64, 32, 3)
        self.trans_block1 = Transition(96, 32, "same")
        self.conv2 = Bottleneck(32, 32, 3)
        self.trans_block2 = Transition(64, 32, "same")
        self.conv3 = Bottleneck(32, 32, 3)
        self.trans_block3 = Transition(64, 32, "same")
        self.conv_refin = nn.Conv2d(32, 16, 3, padding=1)
        self.refine3 = nn.Conv2d(16, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.trans_block1(self.conv1(x))
        x = self.trans_block2(self.conv2(x))
        x = self.trans_block3(self.conv3(x))
        return torch.tanh(self.refine3(F.leaky_relu(self.conv_refin(x), 0.2)))


class ConfidenceEstimator(nn.Module):
    """``scale_residue_conf``: confidence map (sigmoid) of a residual (``conv_refin`` is unused)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(35, 16, 3, padding=1)
        self.conv2 = Bottleneck(16, 16, 3)
        self.trans_block2 = Transition(32, 16, "same")
        self.conv3 = Bottleneck(16, 16, 3)
        self.trans_block3 = Transition(32, 16, "same")
        self.conv_refin = nn.Conv2d(16, 16, 3, padding=1)
        self.refine3 = nn.Conv2d(16, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        x = self.trans_block2(self.conv2(x))
        x = self.trans_block3(self.conv3(x))
        return torch.sigmoid(self.refine3(x))


class UMRL(Derainer):
    """UMRL network with the official key layout.

    Args:
        bn_batch_stats: Normalise BatchNorm with the statistics of the input in eval mode, as the
            official test script does (it never calls ``eval()``; it runs one image at a time): each image is
            normalised by its own statistics, so results do not depend on the batch size.
        output: ``"minmax"`` (official: stretch each output image to [0, 1]) or ``"affine"`` ((y+1)/2).

    Example:
        >>> model = umrl()
        >>> model(torch.rand(1, 3, 32, 48)).shape
        torch.Size([1, 3, 32, 48])
    """

    card = DerainerCard(
        name="umrl",
        reduced_precision=("bf16",),  # RainTrainL 1-3, bf16 vs fp32 eager: default weights +0.024 dB
        summary="UMRL: dense encoder-decoder with confidence-guided multi-scale rain residuals (1/4, 1/2, 1).",
        paper=PAPER,
        size_multiple=16,
        trainable=True,
        patch_size=128,
        weights=tuple(
            WeightsSource(
                tag=tag,
                path=f"derainers/umrl/Net_{tag}.pth",
                sha256=sha,
                trained_on=trained_on,
                source=_SOURCE,
                licence="see source",
                reported={},
                protocol=_PROTOCOL,
            )
            for tag, sha, trained_on in (
                (
                    "DIDMDN",
                    "7e985ef46c20ca261cd1a0503c2c038af397d01217069ed905e57cb22c29c6d7",
                    "DID-MDN training set (by file name)",
                ),
                (
                    "JORDER",
                    "4bde66db92364e14f4e33e13924f4f46df422638ddfa4f9f5879565aed47cae9",
                    "JORDER (Rain100) data (by file name)",
                ),
                (
                    "Rain800",
                    "59f7dd2a608ea6c7313563bd0d262841b8923087fdec2348c7a0d556696d2e54",
                    "Rain800 training set (by file name)",
                ),
            )
        ),
        default_weights="DIDMDN",
        notes=(
            "Official inference: input to [-1, 1], BatchNorm with per-image statistics (the test script "
            "runs the net in train mode), per-image min-max stretch of the output; cycle spinning not "
            "done. H, W multiples of 16. training_loss is L1 on the final output only (the paper adds "
            "confidence-weighted multi-scale L1 and a perceptual loss, which the single-output contract "
            "cannot express)."
        ),
    )

    def __init__(self, bn_batch_stats: bool = True, output: OutputMode = "minmax") -> None:
        super().__init__()
        if output not in ("minmax", "affine"):
            raise ValueError(f"output must be 'minmax' or 'affine', not {output!r}")
        self.output = output
        self.dense_block1 = Bottleneck(3, 29, 5)
        self.trans_block1 = Transition(32, 32, "down")
        self.dense_block2 = Bottleneck(32, 32, 5)
        self.trans_block2 = Transition(64, 32, "down")
        self.dense_block3 = Bottleneck(32, 32, 5)
        self.trans_block3 = Transition(64, 32, "down")
        self.dense_block3_1 = Bottleneck(32, 32, 5)
        self.trans_block3_1 = Transition(64, 32, "down")
        self.dense_block3_2 = Bottleneck(32, 32, 5)
        self.trans_block3_2 = Transition(64, 32, "up")
        self.dense_block4 = Bottleneck(64, 32, 5)
        self.trans_block4 = Transition(96, 32, "up")
        self.dense_block5 = Bottleneck(67, 32, 5)
        self.trans_block5 = Transition(99, 32, "up")
        self.dense_block6 = Bottleneck(67, 16, 5)
        self.trans_block6 = Transition(83, 16, "up")
        self.dense_block6_1 = Bottleneck(16, 16, 5)
        self.trans_block6_1 = Transition(32, 16, "same")
        self.conv_refin = nn.Conv2d(16, 16, 3, padding=1)
        self.refine3 = nn.Conv2d(16, 3, 3, padding=1)
        self.refineclean1 = nn.Conv2d(3, 8, 7, padding=3)
        self.refineclean2 = nn.Conv2d(8, 3, 3, padding=1)
        self.batchnorm20 = _BatchNorm(20)  # present in the checkpoints, unused by the forward pass
        self.batchnorm1 = _BatchNorm(1)
        self.res_est = ResidualEstimator()
        self.conf_res = ConfidenceEstimator()
        self.set_bn_batch_stats(bn_batch_stats)

    def set_bn_batch_stats(self, enabled: bool) -> None:
        """Choose per-batch (official test) or running BatchNorm statistics for eval mode."""
        self.bn_batch_stats = enabled
        for module in self.modules():
            if isinstance(module, _BatchNorm):
                module.use_batch_stats = enabled

    def network(self, x: torch.Tensor) -> torch.Tensor:
        """The official net's full-scale clean estimate ``clean2`` in [−1, 1] for input x in [−1, 1]."""
        x1 = self.trans_block1(self.dense_block1(x))
        x2 = self.trans_block2(self.dense_block2(x1))
        x3 = self.trans_block3(self.dense_block3(x2))
        x3_1 = self.trans_block3_1(self.dense_block3_1(x3))
        x3_2 = self.trans_block3_2(self.dense_block3_2(x3_1))
        x4 = self.trans_block4(self.dense_block4(torch.cat((x3_2, x3), 1)))
        res_128 = self.res_est(torch.cat((x4, x2), 1))
        conf_128 = self.conf_res(torch.cat((x4, res_128), 1))
        x5 = self.trans_block5(self.dense_block5(torch.cat((x4, x2, res_128 * conf_128), 1)))
        res_256 = self.res_est(torch.cat((x5, x1), 1))
        conf_256 = self.conf_res(torch.cat((x5, res_256), 1))
        x6 = self.trans_block6(self.dense_block6(torch.cat((x5, x1, res_256 * conf_256), 1)))
        x6 = self.trans_block6_1(self.dense_block6_1(x6))
        residual = torch.tanh(self.refine3(F.leaky_relu(self.conv_refin(x6), 0.2)))
        clean = x - residual
        return torch.tanh(self.refineclean2(F.leaky_relu(self.refineclean1(clean), 0.2)))

    def forward(self, rainy: torch.Tensor) -> torch.Tensor:
        y = self.network(rainy * 2.0 - 1.0)
        if self.output == "affine" or self.training:
            return (y + 1.0) / 2.0
        lo = y.amin(dim=(1, 2, 3), keepdim=True)
        hi = y.amax(dim=(1, 2, 3), keepdim=True)
        return (y - lo) / (hi - lo).clamp_min(1e-12)

    def training_loss(self, derained: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
        """L1 on the final output (see the card's notes)."""
        return torch.mean(torch.abs(derained - clean))


def umrl(**kwargs: Any) -> UMRL:
    """UMRL with the official layout (loads ``Net_{DIDMDN,JORDER,Rain800}.pth`` strictly).

    Example:
        >>> umrl().card.size_multiple
        16
    """
    return UMRL(**kwargs)
