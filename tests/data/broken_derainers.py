"""Three deliberately broken derainers for ``bench validate`` tests (``tests/data/broken_derainers.py:Name``).

Each breaks exactly one part of the contract and keeps the rest, so the validator must name that part.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from derainers.base import Derainer, DerainerCard


def _card(name: str, summary: str) -> DerainerCard:
    return DerainerCard(name=name, summary=summary, paper="test fixture (deliberately broken)", trainable=False)


class WrongRange(Derainer):
    """Returns 0-255 values instead of [0, 1] (a forgotten ``/ 255``)."""

    card = _card("wrong_range", "Broken on purpose: outputs on the 0-255 scale.")

    def forward(self, rainy: torch.Tensor) -> torch.Tensor:
        return rainy * 255.0


class BatchDependent(Derainer):
    """Blends each image with the batch's mean image (batch statistics leak between images)."""

    card = _card("batch_dependent", "Broken on purpose: each output depends on the other images of the batch.")

    def forward(self, rainy: torch.Tensor) -> torch.Tensor:
        return 0.5 * rainy + 0.5 * rainy.mean(dim=0, keepdim=True)


class WrongSize(Derainer):
    """Pads to a multiple of 8 internally and forgets to crop back (declares size multiple 1)."""

    card = _card("wrong_size", "Broken on purpose: returns the internally padded size.")

    def forward(self, rainy: torch.Tensor) -> torch.Tensor:
        h, w = rainy.shape[-2:]
        return F.pad(rainy, (0, (-w) % 8, 0, (-h) % 8), mode="replicate")


def _blend_with_blocks(rainy: torch.Tensor) -> torch.Tensor:
    """``0.9 x + 0.1 blockmean4(x)``: only defined when H and W are multiples of 4."""
    blocks = F.interpolate(F.avg_pool2d(rainy, 4), scale_factor=4, mode="nearest")
    return 0.9 * rainy + 0.1 * blocks


class Multiple4(Derainer):
    """A correct derainer that needs H and W to be multiples of 4, and says so on its card."""

    card = DerainerCard(
        name="multiple4",
        summary="Correct: needs multiples of 4 and declares it.",
        paper="test fixture",
        size_multiple=4,
        trainable=False,
    )

    def forward(self, rainy: torch.Tensor) -> torch.Tensor:
        return _blend_with_blocks(rainy)


class WrongMultiple(Derainer):
    """Needs multiples of 4 but its card declares ``size_multiple=1``."""

    card = _card("wrong_multiple", "Broken on purpose: the card's size multiple is too small.")

    def forward(self, rainy: torch.Tensor) -> torch.Tensor:
        return _blend_with_blocks(rainy)


class UntrainedGain(Derainer):
    """Trainable; its parameter starts at 8, so untrained outputs span [0, 8] (a random-init stand-in)."""

    card = DerainerCard(
        name="untrained_gain", summary="Output = gain * input; gain starts at 8.", paper="test fixture", trainable=True
    )

    def __init__(self) -> None:
        super().__init__()
        self.gain = torch.nn.Parameter(torch.tensor(8.0))

    def forward(self, rainy: torch.Tensor) -> torch.Tensor:
        return rainy * self.gain
