"""DDN, the deep detail network (Fu et al., "Removing Rain from Single Images via a Deep Detail
Network", CVPR 2017), in the layout of the third-party PyTorch reproduction whose weights exist
(HanshuYAN/Deep_Detailed_Network-PyTorch@103ae226).

Forward pass of that reproduction (``DeRain`` in ``PyTorch_main_test_Rain100.py``), reproduced exactly:

* input: RGB float in [0, 1]; base = guided filter of the image by itself, per channel, radius 15,
  ε = 1 (box means normalised by the clipped window size); detail = image − base;
* ``b1``: Conv3×3(3→16) + BN + ReLU; ``b2``: 24 × [Conv3×3(16→16) + BN + ReLU] with ONE identity
  skip around the whole block (``b2(x) + x``); ``b3``: Conv3×3(16→3) + BN (no ReLU);
* output = image + b3(...) (the negative residual is added to the input, not to the base).

BatchNorm uses ε = 1e-3 (the files were trained with that). Differences from the paper's TensorFlow
original: the paper has an identity skip every two layers, the reproduction a single long skip; the
reproduction's BN momentum (0.99 in PyTorch's convention) only affects training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.fileio import file_sha256
from derainers.base import Derainer, DerainerCard, WeightsSource
from derainers.guided_filter import guided_filter

FEATURES = 16
BN_EPS = 1e-3

PAPER = (
    "X. Fu, J. Huang, D. Zeng, Y. Huang, X. Ding, J. Paisley. Removing Rain from Single Images via a "
    "Deep Detail Network. CVPR 2017."
)
_SOURCE = "HanshuYAN/Deep_Detailed_Network-PyTorch@103ae226 model/"
_PROTOCOL = (
    "repo README: PSNR only, skimage compare_psnr on RGB float [0, 1] of the unclamped output "
    "(data_range 1), Rain100 test pairs"
)
_TRAIN_NOTE = (
    "; the repo's loader trains on the first 1,700 sorted files of its training folder and picks "
    "model_best by PSNR on the next 100 files of that folder (see train_result.txt): at least 1,800 pairs, "
    "so not the 200-pair RainTrainL of ../shared (the reproduction's README names the set so)"
)


def _conv_bn(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel_size=3, padding=1, bias=True), nn.BatchNorm2d(cout, eps=BN_EPS)]


class DDN(Derainer):
    """DDN (26 conv layers of 16 channels on the guided-filter detail layer), reproduction layout.

    Args:
        radius: Guided-filter radius (15).
        eps: Guided-filter ε (1.0).

    Example:
        >>> model = ddn()
        >>> model(torch.rand(1, 3, 40, 40)).shape
        torch.Size([1, 3, 40, 40])
    """

    card = DerainerCard(
        name="ddn",
        reduced_precision=("bf16",),  # RainTrainL 1-3, bf16 vs fp32 eager: Rain100L +0.005 dB
        summary="DDN: guided-filter detail layer → 26-layer 16-channel CNN with BN → negative residual added to the input.",
        paper=PAPER,
        size_multiple=1,
        trainable=True,
        patch_size=64,
        weights=(
            WeightsSource(
                tag="Rain100L",
                path="derainers/ddn-pytorch-repro/rain100L/model_best.pth",
                sha256="324aff3f40fbc22f69ea541ace14ef46fdf796a860b5f0bf1ffb1340e9143cbd",
                trained_on="RainTrainL (Rain100L training data)" + _TRAIN_NOTE,
                source=_SOURCE,
                licence="see source",
                reported={"Rain100L": {"psnr_rgb_float": 33.58}},
                protocol=_PROTOCOL,
            ),
            WeightsSource(
                tag="Rain100H",
                path="derainers/ddn-pytorch-repro/rain100H/model_best.pth",
                sha256="ee305d10cf9982e7afe51ddf0ed9700f70b38e9a5330b7adcb15bd6ac0e435a2",
                trained_on="RainTrainH (Rain100H training data)" + _TRAIN_NOTE,
                source=_SOURCE,
                licence="see source",
                reported={"Rain100H": {"psnr_rgb_float": 23.91}},
                protocol=_PROTOCOL,
            ),
        ),
        default_weights="Rain100L",
        notes=(
            "Third-party PyTorch reproduction, not the authors' TensorFlow model: one long skip over the 24 "
            "middle layers instead of a skip every 2 layers. Its files pickle the whole DataParallel model; "
            "they are read with a restricted legacy unpickler (derainers.legacy_pickle) that executes nothing. "
            "Trains with MSE."
        ),
    )

    def __init__(self, radius: int = 15, eps: float = 1.0) -> None:
        super().__init__()
        self.radius = radius
        self.eps = eps
        self.b1 = nn.Sequential(*_conv_bn(3, FEATURES), nn.ReLU())
        middle: list[nn.Module] = []
        for _ in range(24):
            middle += [*_conv_bn(FEATURES, FEATURES), nn.ReLU()]
        self.b2 = nn.Sequential(*middle)
        self.b3 = nn.Sequential(*_conv_bn(FEATURES, 3))

    def forward(self, rainy: torch.Tensor) -> torch.Tensor:
        base = guided_filter(rainy, rainy, self.radius, self.eps)
        detail = rainy - base
        feat = self.b1(detail)
        feat = self.b2(feat) + feat
        return rainy + self.b3(feat)

    def training_loss(self, derained: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
        """MSE, as in the paper and the reproduction."""
        return torch.mean((derained - clean) ** 2)

    def load_weights(self, path: str | Path, *, expected_sha256: str | None = None) -> dict[str, Any]:
        """Load a bench checkpoint / state dict, or a legacy whole-model pickle of the reproduction.

        The legacy file is read by :func:`derainers.legacy_pickle.load_legacy_module_state_dict`
        (nothing from it is executed); keys are matched strictly after removing ``module.``.
        """
        from bench.engine.checkpoint import UnsafeCheckpointError
        from derainers.legacy_pickle import load_legacy_module_state_dict

        try:
            return super().load_weights(path, expected_sha256=expected_sha256)
        except UnsafeCheckpointError:
            pass
        digest = file_sha256(path)
        if expected_sha256 and digest != expected_sha256:
            raise ValueError(f"{path}: sha256 {digest} does not match the expected {expected_sha256}")
        state = self.convert_state_dict(load_legacy_module_state_dict(path))
        self.load_state_dict(state, strict=True)
        self.weights_info = {"path": str(path), "sha256": digest, "format": "legacy whole-model pickle"}
        return self.weights_info


def ddn(**kwargs: Any) -> DDN:
    """DDN in the layout of the PyTorch reproduction (57,369 parameters).

    Example:
        >>> ddn().num_parameters()
        57369
    """
    return DDN(**kwargs)
