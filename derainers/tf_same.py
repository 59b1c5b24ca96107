"""TensorFlow's ``SAME`` padding for PyTorch convolutions (to run weights trained in TF exactly).

TF pads a stride-``s`` convolution so that the output has ``ceil(H / s)`` samples and puts the smaller
half of the padding first (top/left); PyTorch pads symmetrically. For stride 1 and odd kernels the two
agree; for stride 2 on even sizes they differ by one pixel. TF's ``conv2d_transpose`` with ``SAME``
padding is the adjoint of that convolution: the full (``padding=0``) transposed output, from the
forward padding's top/left offset on.

Example:
    >>> import torch
    >>> from torch import nn
    >>> conv = nn.Sequential(TFSamePad2d(3, 2), nn.Conv2d(1, 1, 3, stride=2))
    >>> tuple(conv(torch.zeros(1, 1, 8, 9)).shape)
    (1, 1, 4, 5)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["TFSameCrop2d", "TFSamePad2d", "tf_same_padding"]


def tf_same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's ``SAME`` padding ``(before, after)`` of one spatial axis.

    The output has ``ceil(size / stride)`` samples; the total padding is split with the smaller half
    before (top/left), so an even input to a 3×3 stride-2 convolution is padded bottom/right only.

    Example:
        >>> tf_same_padding(96, 3, 2), tf_same_padding(97, 3, 2), tf_same_padding(96, 3, 1)
        ((0, 1), (1, 1), (1, 1))
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class TFSamePad2d(nn.Module):
    """Zero-pad ``(N, C, H, W)`` as TensorFlow's ``SAME`` does before a ``kernel``/``stride`` convolution."""

    def __init__(self, kernel: int, stride: int) -> None:
        super().__init__()
        self.kernel = kernel
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = tf_same_padding(x.shape[-2], self.kernel, self.stride)
        left, right = tf_same_padding(x.shape[-1], self.kernel, self.stride)
        return F.pad(x, (left, right, top, bottom))


class TFSameCrop2d(nn.Module):
    """Crop a full (``padding=0``) transposed-convolution output as TF's ``conv2d_transpose(SAME)`` does.

    The full output of an ``H``-sample input has ``(H − 1)·stride + kernel`` samples; TF's output of
    ``H·stride`` samples is the forward ``SAME`` convolution's adjoint, i.e. the full output from the
    forward convolution's top/left padding on.
    """

    def __init__(self, kernel: int, stride: int) -> None:
        super().__init__()
        self.kernel = kernel
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h_out, w_out = ((size - self.kernel) // self.stride * self.stride + self.stride for size in x.shape[-2:])
        top, _ = tf_same_padding(h_out, self.kernel, self.stride)
        left, _ = tf_same_padding(w_out, self.kernel, self.stride)
        return x[..., top : top + h_out, left : left + w_out]
