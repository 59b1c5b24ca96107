"""``guided_residual``: a small learnable derainer written as a bench plugin.

The idea (after the base/detail split of DDN, Fu et al. CVPR'17): rain streaks are thin and bright, so
they live almost entirely in the high-frequency *detail layer* ``detail = rainy - smooth(rainy)``. A
few 3x3 convolutions look only at that detail layer and predict the rain layer; the output is
``rainy - rain``. The last convolution starts at zero, so an untrained model is exactly the identity
(a safe "Rain input" row) rather than noise.

Everything a plugin needs from bench is the base class and the card from ``derainers.base``:

* ``forward`` takes ``(N, 3, H, W)`` float32 RGB in [0, 1] (H, W multiples of ``card.size_multiple``;
  the harness pads) and returns a batch of the same shape, dtype and device;
* images of a batch are processed independently (no batch statistics);
* the card says what the model is, what it needs and which weights exist.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from derainers.base import Derainer, DerainerCard, WeightsSource

#: Folder of the weights shipped inside this package (``weights/*.pt``, see pyproject's package-data).
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: The shipped weights file: ``bench train`` on RainTrainL (see README.md for the exact command).
SHIPPED_WEIGHTS = "guided_residual_raintrainl.pt"
SHIPPED_SHA256 = "87e964a21536cfaf671d2beb4fb7f51a5fcd29ee05741d855c650cc14b7d5455"


def box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over a ``(2r+1)×(2r+1)`` window clipped at the image border (a box filter).

    ``count_include_pad=False`` divides by the number of pixels actually inside the window, so the
    border is not darkened. The clipped window is a rectangle, so the mean is separable: a horizontal
    pass, then a vertical one (2·(2r+1) additions per pixel instead of (2r+1)²).

    Example:
        >>> float(box_mean(torch.full((1, 3, 9, 9), 0.5), 2).max())
        0.5
    """
    k = 2 * radius + 1
    rows = F.avg_pool2d(x, kernel_size=(1, k), stride=1, padding=(0, radius), count_include_pad=False)
    return F.avg_pool2d(rows, kernel_size=(k, 1), stride=1, padding=(radius, 0), count_include_pad=False)


def _card() -> DerainerCard:
    weights: tuple[WeightsSource, ...] = ()
    default: str | None = None
    shipped = WEIGHTS_DIR / SHIPPED_WEIGHTS
    if shipped.is_file():
        weights = (
            WeightsSource(
                tag="RainTrainL",
                # An absolute path: bench joins it onto its weights roots, which leaves an absolute path unchanged.
                path=str(shipped),
                sha256=SHIPPED_SHA256,
                trained_on=(
                    "RainTrainL pairs 1-180 (181-200 held out): 1500 Adam steps, lr 2e-4, batch 8, 96x96 patches, "
                    "Charbonnier loss; validation psnr_y 29.31 dB (rainy input 27.04 dB)"
                ),
                source="bench-derainer-example 0.1.0 (trained with `python -m bench train`, see README.md)",
                licence="MIT",
                protocol="psnr_y / ssim_y (MATLAB Y, rounded), outputs rounded to 8 bits",
                packaged=True,
            ),
        )
        default = "RainTrainL"
    return DerainerCard(
        name="guided_residual",
        summary="Example plugin: a 3-layer CNN predicts rain from the box-filter detail layer (learnable, tiny).",
        paper="bench-derainer-example (a worked plugin example); base/detail split after Fu et al., CVPR 2017 (DDN)",
        size_multiple=1,
        default_tile=None,
        trainable=True,
        patch_size=96,
        weights=weights,
        default_weights=default,
        input_contract="RGB, float32 in [0, 1], NCHW",
        notes=(
            "Untrained (weights=none), the model is the identity (its last convolution is zero-initialised). "
            "The shipped weights saw RainTrainL pairs 1-180: scores on those pairs are training-set scores."
        ),
    )


class GuidedResidual(Derainer):
    """Rainy image minus the rain layer a small CNN predicts from the image's detail layer.

    Args:
        radius: Radius of the box filter that separates base and detail layers.
        width: Channels of the hidden convolutions.
        depth: Number of 3x3 convolutions (at least 2).

    Example:
        >>> model = GuidedResidual().eval()
        >>> x = torch.rand(2, 3, 37, 53)
        >>> bool(torch.equal(model(x), x))  # untrained: the identity
        True
    """

    card = _card()

    def __init__(self, radius: int = 7, width: int = 16, depth: int = 3) -> None:
        super().__init__()
        if depth < 2:
            raise ValueError(f"depth must be at least 2, got {depth}")
        self.radius = radius
        layers: list[nn.Module] = [nn.Conv2d(3, width, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True)]
        last = nn.Conv2d(width, 3, 3, padding=1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        layers.append(last)
        self.rain = nn.Sequential(*layers)

    def forward(self, rainy: torch.Tensor) -> torch.Tensor:
        detail = rainy - box_mean(rainy, self.radius)
        return rainy - self.rain(detail)


def guided_residual(radius: int = 7, width: int = 16, depth: int = 3) -> GuidedResidual:
    """Factory named in the ``bench.derainers`` entry point (bench calls it as ``factory(**kwargs)``).

    Example:
        >>> guided_residual().card.name
        'guided_residual'
    """
    return GuidedResidual(radius=radius, width=width, depth=depth)
