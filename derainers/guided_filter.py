"""A differentiable guided filter (He et al., ECCV'10 / TPAMI'13) shared by DDN, DerainNet and the
classical baseline.

The box filter is the MATLAB ``boxfilter.m`` construction (cumulative sums along rows, then along
columns, windows clipped at the border) and every mean is divided by the number of pixels actually
inside the clipped window, as in He's reference code and in the PyTorch DDN reproduction. Guidance
and input are filtered channel by channel when both have the same number of channels.
"""

from __future__ import annotations

import torch
from torch import nn


def _diff_along(cumulative: torch.Tensor, r: int, dim: int) -> torch.Tensor:
    """Clipped window sums ``sum(x[i-r : i+r+1])`` along ``dim`` from the cumulative sum of x."""
    n = cumulative.shape[dim]
    if n < 2 * r + 2:
        raise ValueError(f"box filter of radius {r} needs at least {2 * r + 2} pixels along dim {dim}, got {n}")
    head = cumulative.narrow(dim, r, r + 1)  # i = 0..r: cum[i + r]
    middle = cumulative.narrow(dim, 2 * r + 1, n - 2 * r - 1) - cumulative.narrow(dim, 0, n - 2 * r - 1)
    last = cumulative.narrow(dim, n - 1, 1)
    tail = last - cumulative.narrow(dim, n - 2 * r - 1, r)  # i = n-r..n-1: cum[n-1] - cum[i-r-1]
    return torch.cat((head, middle, tail), dim=dim)


def box_sum(x: torch.Tensor, r: int) -> torch.Tensor:
    """Sum of ``x`` over a ``(2r+1)×(2r+1)`` window clipped at the borders, for ``(N, C, H, W)`` input.

    Example:
        >>> box_sum(torch.ones(1, 1, 5, 5), 1)[0, 0, 0, :3].tolist()
        [4.0, 6.0, 6.0]
    """
    if x.ndim != 4:
        raise ValueError(f"box_sum expects (N, C, H, W), got shape {tuple(x.shape)}")
    rows = _diff_along(torch.cumsum(x, dim=2), r, dim=2)
    return _diff_along(torch.cumsum(rows, dim=3), r, dim=3)


def box_mean(x: torch.Tensor, r: int) -> torch.Tensor:
    """Mean over the clipped ``(2r+1)×(2r+1)`` window (divides by the number of pixels inside it).

    Example:
        >>> float(box_mean(torch.full((1, 1, 8, 8), 3.0), 2).max())
        3.0
    """
    ones = torch.ones((1, 1, x.shape[2], x.shape[3]), dtype=x.dtype, device=x.device)
    return box_sum(x, r) / box_sum(ones, r)


def guided_filter(guide: torch.Tensor, src: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """Guided filter output ``mean(a)·I + mean(b)`` with ``a = cov(I, p) / (var(I) + eps)``.

    Args:
        guide: Guidance image ``I``, ``(N, C, H, W)`` with C equal to src's channels or 1.
        src: Image to filter ``p``, ``(N, C, H, W)``.
        radius: Window radius r (window ``2r+1``).
        eps: Regularisation ε (on the scale of the data: ε = 1 for images in [0, 1] is very smooth).

    Returns:
        The filtered image, same shape as ``src``.

    Example:
        >>> x = torch.rand(1, 3, 40, 40)
        >>> guided_filter(x, x, 4, 1e-2).shape
        torch.Size([1, 3, 40, 40])
    """
    if guide.shape[0] != src.shape[0] or guide.shape[2:] != src.shape[2:]:
        raise ValueError(f"guide {tuple(guide.shape)} and src {tuple(src.shape)} differ in batch or size")
    ones = torch.ones((1, 1, src.shape[2], src.shape[3]), dtype=src.dtype, device=src.device)
    count = box_sum(ones, radius)
    mean_i = box_sum(guide, radius) / count
    mean_p = box_sum(src, radius) / count
    cov_ip = box_sum(guide * src, radius) / count - mean_i * mean_p
    var_i = box_sum(guide * guide, radius) / count - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return (box_sum(a, radius) / count) * guide + box_sum(b, radius) / count


class GuidedFilter(nn.Module):
    """Self-guided filter ``guided_filter(x, x, radius, eps)`` as a module (no parameters).

    Example:
        >>> GuidedFilter(15, 1.0)(torch.rand(1, 3, 64, 64)).shape
        torch.Size([1, 3, 64, 64])
    """

    def __init__(self, radius: int = 15, eps: float = 1.0) -> None:
        super().__init__()
        self.radius = radius
        self.eps = eps

    def forward(self, x: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        return guided_filter(x if guide is None else guide, x, self.radius, self.eps)

    def extra_repr(self) -> str:
        return f"radius={self.radius}, eps={self.eps}"
