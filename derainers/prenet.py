"""PReNet and its variants (Ren et al., "Progressive Image Deraining Networks: A Better and Simpler
Baseline", CVPR 2019), loadable from the official checkpoints of csdwren/PReNet.

Forward pass of the official inference (``networks.py``, ``test_PReNet.py``), reproduced exactly:

* the input y is the RGB image as float in [0, 1] (``cv2.imread`` → RGB → ``/255``); x_0 = y;
* each of the T = 6 stages computes ``f = ReLU(conv0(cat[y, x_{t-1}]))``; with the Conv-LSTM
  (PReNet, PReNet_r) ``i, f, g, o`` come from four 3×3 convs on ``cat[f, h]`` and
  ``c = σf·c + σi·tanh g``, ``h = σo·tanh c`` (h, c start at zero and are carried over stages);
* five residual blocks ``x = ReLU(ReLU(conv(ReLU(conv(x)))) + x)`` (PReNet_r / PRN_r apply one block
  five times), then ``conv`` (32→3) and ``x_t = y + conv(...)``;
* no clamping between stages; the official script clamps only the final x_T to [0, 1] (the harness
  does that) and writes ``uint8(255·x)`` (truncation; the harness's ``--quantize trunc``).

The "real rain" weights (``logs/real/PReNet{1,2}.pth``) have the same keys as PReNet but belong to
``generator.py``'s ``Generator_lstm``: 4 stages, the Conv-LSTM *after* the residual blocks and no
residual connection to the input (x_t = conv(h)). :class:`PReNetReal` implements that forward.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from derainers.base import Derainer, DerainerCard, WeightsSource

CHANNELS = 32

PAPER = (
    "D. Ren, W. Zuo, Q. Hu, P. Zhu, D. Meng. Progressive Image Deraining Networks: A Better and "
    "Simpler Baseline. CVPR 2019."
)
SOURCE = "csdwren/PReNet@6d908d1e logs/"
PROTOCOL = "MATLAB Y, outputs truncated to uint8 (uint8(255*x)), unrounded Y (PReNet statistic/)"

_TRAINED_ON = {
    "Rain100L": "RainTrainL, 200 pairs",
    "Rain100H": "RainTrainH, 1,254 pairs",
    "Rain1400": "Rain12600 (DDN)",
}

# SHA-256 of the official files (csdwren/PReNet logs/<set>/<variant>/net_latest.pth).
_SHA256: dict[tuple[str, str], str] = {
    ("Rain100H", "PRN6"): "f1d56a7df0851eb087652663781d3f34c4c37a4c7ddd9a3f0802abbede1a06c2",
    ("Rain100H", "PRN6_r"): "99242ce096c9c617bd529a5e189797e8955a4b8611d355974c7c1c64a18b9074",
    ("Rain100H", "PReNet6"): "127c0098787c5272f1f8583f6c5202e7ef674f750cd145a1691912a6d9e96210",
    ("Rain100H", "PReNet6_r"): "ece8127c651cf49026d998fa36857cb9d462c92cf535b640a377fc025f765b5f",
    ("Rain100L", "PRN6"): "ed4be5b78f76dcec5c781e1655dee48c2a90b56993de555945d72e31848aea99",
    ("Rain100L", "PRN6_r"): "87ee3b1c027b33e7e532a4881c3b077d100cf40c65dd2843690600e3023acee0",
    ("Rain100L", "PReNet6"): "cb9b743bb33cf6e5c56ba45f8ade93add46266dea9fa582e1934dc5eed942333",
    ("Rain100L", "PReNet6_r"): "31dd4419cdb0f4da623d974747113d60e2c22803598c39dcf03d789f86a7f62b",
    ("Rain1400", "PRN6"): "c6620860a51b54afec0c1eebe412f0f1ca00128100f5b23c13758605206a0bf2",
    ("Rain1400", "PRN6_r"): "c0f7f18f3d33e26f50af8c693494a03c2776c627140a1d8e0514edd53e9398fb",
    ("Rain1400", "PReNet6"): "d5744dc2e35d73187a3f34936b3413884d293277073ffb78b961a78e65337879",
    ("Rain1400", "PReNet6_r"): "c639c19b342d6ae977b7ff8a4b2fbeb24179510a6e57b8bf5ef32d6b071fc8d5",
}
_REAL_SHA256 = {
    "PReNet1": "eba0c0ed941565abce9c61ceb8b36ff5e1532320c20efc11843f5f7fc810f7bb",
    "PReNet2": "cbf6068474e64bf81ea8597fe1473cda19e7d0afadb3c81beb41f8dcc3751269",
}

# Published scores (paper Table / README), MATLAB Y channel: {variant: {test set: (PSNR, SSIM)}}.
_REPORTED: dict[str, dict[str, tuple[float, float]]] = {
    "PReNet6": {"Rain100L": (37.48, 0.979), "Rain100H": (29.46, 0.899), "Rain1400": (32.60, 0.946)},
    "PReNet6_r": {"Rain100L": (37.10, 0.977), "Rain100H": (28.98, 0.892)},
    "PRN6": {"Rain100L": (36.99, 0.977), "Rain100H": (28.07, 0.884)},
    "PRN6_r": {"Rain100L": (36.11, 0.973), "Rain100H": (27.43, 0.874)},
}


def _weights(variant: str) -> tuple[WeightsSource, ...]:
    sources = []
    for tag, trained_on in _TRAINED_ON.items():
        score = _REPORTED[variant].get(tag)
        reported = {tag: {"psnr_y_float": score[0], "ssim_y_float": score[1]}} if score else {}
        sources.append(
            WeightsSource(
                tag=tag,
                path=f"derainers/prenet/{tag}/{variant}/net_latest.pth",
                sha256=_SHA256[(tag, variant)],
                trained_on=trained_on,
                source=SOURCE,
                licence="see source",
                reported=reported,
                protocol=PROTOCOL,
            )
        )
    return tuple(sources)


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=3, stride=1, padding=1)


def _res_block() -> nn.Sequential:
    """``[conv, ReLU, conv, ReLU]``; the caller adds the skip and applies the outer ReLU."""
    return nn.Sequential(_conv(CHANNELS, CHANNELS), nn.ReLU(), _conv(CHANNELS, CHANNELS), nn.ReLU())


def gaussian_window(
    size: int = 11, sigma: float = 1.5, *, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> torch.Tensor:
    """Normalised 2-D Gaussian window ``(size, size)``.

    Example:
        >>> float(gaussian_window().sum())
        1.0
    """
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return torch.outer(g, g).to(dtype=dtype, device=device)


def ssim_torch(
    x: torch.Tensor, y: torch.Tensor, window_size: int = 11, sigma: float = 1.5, data_range: float = 1.0
) -> torch.Tensor:
    """Mean SSIM of two ``(N, C, H, W)`` batches, per channel, Gaussian window, zero "same" padding.

    This is the differentiable SSIM of PReNet's training code (``SSIM.py``): 11×11 Gaussian (σ = 1.5)
    applied per channel with ``padding = window_size // 2``, C1 = (0.01·L)², C2 = (0.03·L)², mean over
    all pixels, channels and images.

    Example:
        >>> x = torch.rand(1, 3, 32, 32)
        >>> round(float(ssim_torch(x, x)), 6)
        1.0
    """
    channels = x.shape[1]
    w = gaussian_window(window_size, sigma, dtype=x.dtype, device=x.device)
    w = w.expand(channels, 1, window_size, window_size).contiguous()
    pad = window_size // 2

    def filt(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, w, padding=pad, groups=channels)

    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    mu_x, mu_y = filt(x), filt(y)
    sxx = filt(x * x) - mu_x**2
    syy = filt(y * y) - mu_y**2
    sxy = filt(x * y) - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * sxy + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2)
    return (num / den).mean()


class PReNet(Derainer):
    """The PReNet family: PReNet, PReNet_r, PRN, PRN_r (T stages sharing weights).

    Args:
        card: The card (name, weights) of the variant.
        recurrent: Use the Conv-LSTM between the input conv and the residual blocks (PReNet*).
        recursive_blocks: One residual block applied five times (``*_r``) instead of five blocks.
        stages: Number of stages T (6 for all published weights).

    Example:
        >>> model = prenet()
        >>> model(torch.rand(1, 3, 16, 16)).shape
        torch.Size([1, 3, 16, 16])
    """

    res_conv1: nn.Module  # res_conv1..res_conv5 are registered with add_module in __init__

    def __init__(
        self, card: DerainerCard, *, recurrent: bool = True, recursive_blocks: bool = False, stages: int = 6
    ) -> None:
        super().__init__(card)
        self.recurrent = recurrent
        self.recursive_blocks = recursive_blocks
        self.stages = stages
        self.conv0 = nn.Sequential(_conv(6, CHANNELS), nn.ReLU())
        n_blocks = 1 if recursive_blocks else 5
        for k in range(1, n_blocks + 1):
            self.add_module(f"res_conv{k}", _res_block())
        if recurrent:
            self.conv_i = nn.Sequential(_conv(2 * CHANNELS, CHANNELS), nn.Sigmoid())
            self.conv_f = nn.Sequential(_conv(2 * CHANNELS, CHANNELS), nn.Sigmoid())
            self.conv_g = nn.Sequential(_conv(2 * CHANNELS, CHANNELS), nn.Tanh())
            self.conv_o = nn.Sequential(_conv(2 * CHANNELS, CHANNELS), nn.Sigmoid())
        self.conv = nn.Sequential(_conv(CHANNELS, 3))

    def _blocks(self) -> list[nn.Module]:
        if self.recursive_blocks:
            return [self.res_conv1] * 5
        return [getattr(self, f"res_conv{k}") for k in range(1, 6)]

    def _residual_blocks(self, x: torch.Tensor) -> torch.Tensor:
        for block in self._blocks():
            x = F.relu(block(x) + x)
        return x

    def stage_outputs(self, rainy: torch.Tensor) -> list[torch.Tensor]:
        """The outputs x_1 … x_T of every stage (the last is the derained image)."""
        n, _, h, w = rainy.shape
        x = rainy
        hidden = rainy.new_zeros(n, CHANNELS, h, w)
        cell = rainy.new_zeros(n, CHANNELS, h, w)
        outputs: list[torch.Tensor] = []
        for _ in range(self.stages):
            feat = self.conv0(torch.cat((rainy, x), dim=1))
            if self.recurrent:
                z = torch.cat((feat, hidden), dim=1)
                gate_i, gate_f = self.conv_i(z), self.conv_f(z)
                cand, gate_o = self.conv_g(z), self.conv_o(z)
                cell = gate_f * cell + gate_i * cand
                hidden = gate_o * torch.tanh(cell)
                feat = hidden
            x = self.conv(self._residual_blocks(feat)) + rainy
            outputs.append(x)
        return outputs

    def forward(self, rainy: torch.Tensor) -> torch.Tensor:
        return self.stage_outputs(rainy)[-1]

    def training_loss(self, derained: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
        """Negative SSIM on RGB in [0, 1] (the paper's single loss on the final output)."""
        return -ssim_torch(derained, clean)


class PReNetReal(PReNet):
    """``Generator_lstm`` of csdwren/PReNet ``generator.py``, the net of the "real rain" weights.

    Per stage: ``ReLU(conv0(cat[y, x]))`` → five residual blocks → Conv-LSTM on ``cat[features, h]``
    → ``x = conv(h)`` (no ``+ y``), 4 stages by default.
    """

    def __init__(self, card: DerainerCard, *, stages: int = 4) -> None:
        super().__init__(card, recurrent=True, recursive_blocks=False, stages=stages)

    def stage_outputs(self, rainy: torch.Tensor) -> list[torch.Tensor]:
        n, _, h, w = rainy.shape
        x = rainy
        hidden = rainy.new_zeros(n, CHANNELS, h, w)
        cell = rainy.new_zeros(n, CHANNELS, h, w)
        outputs: list[torch.Tensor] = []
        for _ in range(self.stages):
            feat = self._residual_blocks(self.conv0(torch.cat((rainy, x), dim=1)))
            z = torch.cat((feat, hidden), dim=1)
            gate_i, gate_f = self.conv_i(z), self.conv_f(z)
            cand, gate_o = self.conv_g(z), self.conv_o(z)
            cell = gate_f * cell + gate_i * cand
            hidden = gate_o * torch.tanh(cell)
            x = self.conv(hidden)
            outputs.append(x)
        return outputs


_NOTES = (
    "Official inference: no clamping between stages; the final output is clamped to [0, 1] and "
    "written with uint8(255*x) (use --quantize trunc and psnr_y_float/ssim_y_float to compare with "
    "the paper). Trains with negative SSIM (11x11 Gaussian) on the final output."
)


def _card(name: str, variant: str, summary: str) -> DerainerCard:
    return DerainerCard(
        name=name,
        summary=summary,
        paper=PAPER,
        size_multiple=1,
        trainable=True,
        patch_size=100,
        weights=_weights(variant),
        default_weights="Rain1400",
        notes=_NOTES,
        # measured for prenet only (RainTrainL 1-3, bf16 vs fp32 eager: Rain100L −0.012 dB, Rain100H +0.036 dB)
        reduced_precision=("bf16",) if name == "prenet" else (),
    )


def prenet(**kwargs: int) -> PReNet:
    """PReNet: 6 stages, Conv-LSTM, five residual blocks (168,963 parameters).

    Example:
        >>> prenet().num_parameters()
        168963
    """
    card = _card("prenet", "PReNet6", "PReNet: 6 recurrent stages (Conv-LSTM + 5 ResBlocks), residual to the input.")
    return PReNet(card, recurrent=True, recursive_blocks=False, **kwargs)


def prenet_r(**kwargs: int) -> PReNet:
    """PReNet_r: PReNet with one residual block applied five times (94,979 parameters).

    Example:
        >>> prenet_r().num_parameters()
        94979
    """
    card = _card("prenet_r", "PReNet6_r", "PReNet_r: PReNet with one ResBlock applied recursively 5 times.")
    return PReNet(card, recurrent=True, recursive_blocks=True, **kwargs)


def prn(**kwargs: int) -> PReNet:
    """PRN: PReNet without the Conv-LSTM (95,107 parameters).

    Example:
        >>> prn().num_parameters()
        95107
    """
    card = _card("prn", "PRN6", "PRN: progressive residual network, PReNet without the Conv-LSTM.")
    return PReNet(card, recurrent=False, recursive_blocks=False, **kwargs)


def prn_r(**kwargs: int) -> PReNet:
    """PRN_r: PRN with one residual block applied five times (21,123 parameters).

    Example:
        >>> prn_r().num_parameters()
        21123
    """
    card = _card("prn_r", "PRN6_r", "PRN_r: PRN with one ResBlock applied recursively 5 times.")
    return PReNet(card, recurrent=False, recursive_blocks=True, **kwargs)


def prenet_real(**kwargs: int) -> PReNetReal:
    """The PReNet "real rain" generator (``Generator_lstm``, 4 stages) for ``logs/real/PReNet{1,2}.pth``.

    Example:
        >>> prenet_real().num_parameters()
        168963
    """
    weights = tuple(
        WeightsSource(
            tag=tag,
            path=f"derainers/prenet/real/{tag}.pth",
            sha256=sha,
            trained_on="not stated (real rainy images; the repo gives no training set)",
            source="csdwren/PReNet@6d908d1e logs/real/",
            licence="see source",
            protocol="no published score; official test_real.py: clamp to [0, 1], uint8(255*x)",
        )
        for tag, sha in _REAL_SHA256.items()
    )
    card = DerainerCard(
        name="prenet_real",
        summary="PReNet's real-rain generator: 4 stages, ResBlocks then Conv-LSTM, predicts the image directly.",
        paper=PAPER,
        size_multiple=1,
        trainable=True,
        patch_size=100,
        weights=weights,
        default_weights="PReNet2",
        notes=(
            "Architecture of generator.py Generator_lstm (same state-dict keys as PReNet but a different "
            "forward: LSTM after the ResBlocks, no residual to the input, 4 stages as in test_real.py). "
            "Loading these files into 'prenet' would succeed with strict keys but compute the wrong thing."
        ),
    )
    return PReNetReal(card, **kwargs)
