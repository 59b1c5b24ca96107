"""The identity derainer: returns the rainy input (the "Rain input" row of the paper's tables)."""

from __future__ import annotations

import torch

from derainers.base import Derainer, DerainerCard


class Identity(Derainer):
    """Returns its input unchanged."""

    card = DerainerCard(
        name="identity",
        summary="No deraining: the rainy input itself (lower bound, 'Rain input' row).",
        paper="—",
        trainable=False,
    )

    def forward(self, rainy: torch.Tensor) -> torch.Tensor:
        return rainy


def identity() -> Identity:
    """The identity derainer (no parameters)."""
    return Identity()
