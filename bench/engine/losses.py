"""Training losses shared by derainers: Charbonnier, Laplacian edge loss and the MSPFN loss.

The losses take float tensors of shape ``(N, C, H, W)`` and return a scalar tensor (the mean over
every element), so they can be used directly as ``loss.backward()`` targets; :func:`laplacian_edges`
returns the ``(N, C, H, W)`` edge map itself.

The MSPFN loss (Jiang et al., CVPR 2020, mspfn_spec.md §6) is

    L = L_con + λ · L_edge,  L_con = mean sqrt((Ŷ − X)² + ε²),  L_edge = mean sqrt((Lap Ŷ − Lap X)² + ε²)

with the 3×3 8-neighbour Laplacian applied per channel (depthwise) with zero "same" padding,
ε = 1e-3 and λ = 0.05.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["LAPLACIAN_8", "charbonnier", "edge_loss", "laplacian_edges", "mspfn_loss"]

#: The 8-neighbour Laplacian kernel of the MSPFN edge loss.
LAPLACIAN_8: tuple[tuple[float, ...], ...] = ((-1.0, -1.0, -1.0), (-1.0, 8.0, -1.0), (-1.0, -1.0, -1.0))


def charbonnier(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Charbonnier (smooth L1) loss: ``mean(sqrt((pred - target)² + eps²))``.

    Args:
        pred: Prediction, any shape.
        target: Target, broadcastable to ``pred``.
        eps: The Charbonnier ε (added as ε² under the square root).

    Returns:
        A scalar tensor.

    Example:
        >>> import torch
        >>> x = torch.zeros(1, 3, 4, 4)
        >>> round(float(charbonnier(x, x)), 6)
        0.001
    """
    return torch.sqrt((pred - target).square() + eps * eps).mean()


def laplacian_edges(x: torch.Tensor) -> torch.Tensor:
    """Per-channel 8-neighbour Laplacian with zero "same" padding.

    The kernel ``[[-1,-1,-1],[-1,8,-1],[-1,-1,-1]]`` is applied depthwise (no cross-channel mixing),
    so the output has the shape of the input. The kernel is symmetric, so convolution and correlation
    agree.

    Args:
        x: A ``(N, C, H, W)`` float tensor.

    Returns:
        The ``(N, C, H, W)`` Laplacian response.

    Example:
        >>> import torch
        >>> y = laplacian_edges(torch.ones(1, 3, 5, 5))
        >>> float(y[0, 0, 2, 2]), float(y[0, 0, 0, 0])
        (0.0, 5.0)
    """
    if x.ndim != 4:
        raise ValueError(f"laplacian_edges expects an (N, C, H, W) tensor, got shape {tuple(x.shape)}")
    channels = x.shape[1]
    kernel = torch.tensor(LAPLACIAN_8, dtype=x.dtype, device=x.device)
    weight = kernel.expand(channels, 1, 3, 3)
    return F.conv2d(x, weight, padding=1, groups=channels)


def edge_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Charbonnier loss between the per-channel Laplacians of ``pred`` and ``target``.

    The Laplacian is linear, so ``Lap(pred) − Lap(target)`` is computed as ``Lap(pred − target)``
    (one convolution instead of two; equal up to float rounding).

    Args:
        pred: ``(N, C, H, W)`` prediction.
        target: ``(N, C, H, W)`` target.
        eps: The Charbonnier ε.

    Returns:
        A scalar tensor.

    Example:
        >>> import torch
        >>> x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
        >>> round(float(edge_loss(x, x)), 6)
        0.001
    """
    diff = laplacian_edges(pred - target)
    return torch.sqrt(diff.square() + eps * eps).mean()


def mspfn_loss(pred: torch.Tensor, target: torch.Tensor, edge_weight: float = 0.05, eps: float = 1e-3) -> torch.Tensor:
    """The MSPFN training loss: ``charbonnier + edge_weight · edge_loss`` (spec §6).

    Args:
        pred: Derained images ``(N, C, H, W)``.
        target: Clean images ``(N, C, H, W)``.
        edge_weight: λ of the edge term; 0.05 in the paper, 0 gives "MSPFN w/o edge loss"
            (then the edge term is not computed at all).
        eps: The Charbonnier ε of both terms.

    Returns:
        A scalar tensor.

    Example:
        >>> import torch
        >>> x = torch.zeros(1, 3, 8, 8)
        >>> round(float(mspfn_loss(x, x)), 6)
        0.00105
    """
    loss = charbonnier(pred, target, eps)
    if edge_weight != 0:
        loss = loss + edge_weight * edge_loss(pred, target, eps)
    return loss
