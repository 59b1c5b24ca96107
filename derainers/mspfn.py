"""MSPFN: Multi-Scale Progressive Fusion Network (Jiang et al., CVPR 2020), from mspfn_spec.md.

Layout (spec §1-5; ``C`` = ``channels``, 64 in the full model):

* **Pyramid** (§1): ``I_2``, ``I_4`` from the rainy image ``I``; ``"avg"`` = 2×2 / 4×4 box filters on
  ``I`` as in the TF release, ``"gaussian"`` = 5×5 binomial blur + ×2 decimation (OpenCV ``pyrDown``
  style, the paper's wording), ``I_4`` from ``I_2``.
* **Head** (§2): one ``conv(3→C)`` per scale (3×3, no bias, per-channel PReLU initialised to 0).
* **CFM** (§3): one residual recurrent unit per scale, coarse to fine, sum fusion; the 1/4 → full path
  is ``up(up(·))``; each unit adds its *initial* feature ``F_s``. The Conv-LSTM runs a single step from a
  zero state (gate order i, j, f, o; forget bias +1), as in the release.
* **FFM** (§4): ``M`` cascaded fine-fusion modules, each with one URAB per scale
  (down → N CAUs → up(concat)) and residual adds to the *un-fused* scale features.
* **RM** (§5): per-scale fusion with the CFM outputs, upsample-and-concat to full scale, ``conv(2C→32)``,
  then a plain ``Conv3×3(32→3)`` giving the rain layer ``R*``. Output: ``I − R*``.

Stride-2 padding: ``padding="pytorch"`` (default) pads the stride-2 convolutions by 1 on every side and
builds the transposed convolutions with ``padding=1, output_padding=1``; ``padding="tf_same"`` follows
TensorFlow's ``SAME`` rule exactly (the down convolution pads bottom/right first, the transposed
convolution keeps the first ``2H × 2W`` of the full output), a one-pixel shift that the TF release's
weights depend on. ``channel_order="bgr"`` reverses the input channels (and the output's back), as the
release reads images with OpenCV. ``mspfn_official`` combines both with ``value_range="symmetric"``.

Value range: the harness feeds RGB in [0, 1]. With ``value_range="symmetric"`` the model works on
``2x − 1`` internally (as the TF release does on [-1, 1] data), i.e. it returns
``((2I − 1) − R* + 1) / 2 = I − R*/2``, and :meth:`MSPFN.training_loss` compares the images in [-1, 1]
so that ε = 1e-3 has the release's meaning. The default ``"unit"`` works on [0, 1] directly.

Example:
    >>> import torch
    >>> from derainers.mspfn import mspfn_tiny
    >>> model = mspfn_tiny().eval()
    >>> with torch.inference_mode():
    ...     out = model(torch.rand(1, 3, 32, 48, generator=torch.Generator().manual_seed(0)))
    >>> tuple(out.shape)
    (1, 3, 32, 48)
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Callable, Sequence
from typing import Any, Literal, SupportsIndex, cast

import torch
import torch.nn.functional as F
from torch import nn

from derainers.base import Derainer, DerainerCard
from derainers.shipped import default_shipped_tag, shipped_weights
from derainers.tf_same import TFSameCrop2d, TFSamePad2d

logger = logging.getLogger(__name__)

__all__ = [
    "CAU",
    "MSPFN",
    "URAB",
    "CoarseFusion",
    "ConvLSTMCell",
    "FineFusion",
    "Reconstruction",
    "ResidualRecurrentUnit",
    "mspfn",
    "mspfn_light",
    "mspfn_m8n5",
    "mspfn_m10n3",
    "mspfn_m13n2",
    "mspfn_m17n2",
    "mspfn_m30n1",
    "mspfn_official",
    "mspfn_official_train",
    "mspfn_release",
    "mspfn_tiny",
]

Pyramid = Literal["avg", "gaussian"]
ValueRange = Literal["unit", "symmetric"]
StridePadding = Literal["pytorch", "tf_same"]
ChannelOrder = Literal["rgb", "bgr"]

PAPER = "Jiang et al., Multi-Scale Progressive Fusion Network for Single Image Deraining, CVPR 2020"

NOTES = (
    "Implemented from mspfn_spec.md (paper + official TF release kuihua/MSPFN@26e6073). Paper vs release: "
    "the release uses a 2x2/4x4 box-filter pyramid (pyramid='avg', default) where the paper says Gaussian "
    "(pyramid='gaussian', 5x5 binomial, kernel unspecified by the authors); release Conv-LSTM widths are "
    "64/128/256 (mspfn_release) vs the paper's 32/64/128 (default; the paper's parameter counts match these); "
    "the Conv-LSTM runs a single step from a zero state (release); the release training graph uses N=(1,3,3) "
    "per scale while the released checkpoint and the paper's main model are M17N1; the release trains with "
    "batch 12, lr 5e-4*0.8^(step/20k), on [-1,1] BGR data (value_range='symmetric' mimics the range) while the "
    "paper says batch 8, lr 2e-4 halved every 20k steps, 30 epochs. Paper parameter counts are internally "
    "inconsistent by ~0.25 M; ours are within 2%. Test images: the authors crop top-left to a multiple of 8."
)


# ----------------------------------------------------------------------------- building blocks
class ConvAct(nn.Sequential):
    """``conv(a→b)`` of the spec: 3×3 conv (stride 1 or 2), no bias, then per-channel PReLU (init 0).

    ``padding="tf_same"`` pads a stride-2 convolution as TF's ``SAME`` (stride 1 is the same either way).
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, padding: StridePadding = "pytorch") -> None:
        super().__init__()
        tf_same = padding == "tf_same" and stride > 1
        if tf_same:
            self.pad = TFSamePad2d(3, stride)  # registered first: nn.Sequential runs children in order
        self.conv = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=0 if tf_same else 1, bias=False)
        self.act = nn.PReLU(out_ch, init=0.0)


class UpAct(nn.Sequential):
    """``up(a→b)`` of the spec: 3×3 transposed conv, stride 2, output exactly 2H×2W, no bias, PReLU.

    ``padding="tf_same"``: ``ConvTranspose2d(padding=0)`` cropped to the first 2H×2W, as TF's
    ``conv2d_transpose`` with ``SAME`` padding (the default keeps rows/columns 1…2H instead).
    """

    def __init__(self, in_ch: int, out_ch: int, padding: StridePadding = "pytorch") -> None:
        super().__init__()
        if padding == "tf_same":
            self.conv = nn.ConvTranspose2d(in_ch, out_ch, 3, stride=2, padding=0, bias=False)
            self.crop = TFSameCrop2d(3, 2)
        else:
            self.conv = nn.ConvTranspose2d(in_ch, out_ch, 3, stride=2, padding=1, output_padding=1, bias=False)
        self.act = nn.PReLU(out_ch, init=0.0)


class CAU(nn.Module):
    """Channel attention unit (RCAB with PReLU, spec §4.1): ``x + f ⊙ w``.

    ``f = Conv3×3 → PReLU → Conv3×3`` (with bias); ``w = GAP → 1×1 (c→c/r) → PReLU → 1×1 (c/r→c) → σ``.
    """

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        mid = max(1, channels // reduction)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=True)
        self.act1 = nn.PReLU(channels, init=0.0)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=True)
        self.squeeze = nn.Conv2d(channels, mid, 1, bias=True)
        self.act2 = nn.PReLU(mid, init=0.0)
        self.excite = nn.Conv2d(mid, channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.conv2(self.act1(self.conv1(x)))
        w = torch.sigmoid(self.excite(self.act2(self.squeeze(f.mean(dim=(2, 3), keepdim=True)))))
        return x + f * w


class URAB(nn.Module):
    """U-shaped residual attention block (spec §4.2), without its outer residual (the FFM adds it).

    ``levels=1``: ``d = down(x); r = CAUs(d); u = up(cat[d, r])``.
    ``levels=2`` (MSPFN*): ``d1 = down(x); d2 = down(d1); r = CAUs(d2); u1 = up(cat[d2, r]);
    u = up(cat[d1, u1])``; generally each extra level adds a down and an up(concat with the skip).
    """

    def __init__(
        self, channels: int, num_cau: int, levels: int = 1, reduction: int = 4, padding: StridePadding = "pytorch"
    ) -> None:
        super().__init__()
        if levels < 1:
            raise ValueError(f"URAB needs at least one level, got {levels}")
        self.downs = nn.ModuleList(ConvAct(channels, channels, stride=2, padding=padding) for _ in range(levels))
        self.caus = nn.Sequential(*(CAU(channels, reduction) for _ in range(num_cau)))
        self.ups = nn.ModuleList(UpAct(2 * channels, channels, padding) for _ in range(levels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips: list[torch.Tensor] = []
        d = x
        for down in self.downs:
            d = down(d)
            skips.append(d)
        u = self.caus(d)
        for up, skip in zip(self.ups, reversed(skips)):
            u = up(torch.cat((skip, u), dim=1))
        return u


class ConvLSTMCell(nn.Module):
    """TF ``BasicConvLSTMCell`` (spec §3.2): one 3×3 conv with bias on ``cat[x, h]`` → gates i, j, f, o.

    ``c = c_prev ⊙ σ(f + forget_bias) + σ(i) ⊙ tanh(j)``, ``h = tanh(c) ⊙ σ(o)``.

    Called without a state (as MSPFN does: a single step from zeros) it computes only what is not
    multiplied by zero: the ``h``-half of the input and the ``f`` gate are skipped, which gives exactly
    the same output and gradients (zero for those weights) at a fraction of the cost.
    """

    def __init__(self, in_ch: int, hidden: int, forget_bias: float = 1.0) -> None:
        super().__init__()
        self.in_ch = in_ch
        self.hidden = hidden
        self.forget_bias = forget_bias
        self.gates = nn.Conv2d(in_ch + hidden, 4 * hidden, 3, padding=1, bias=True)

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step.

        Args:
            x: ``(N, in_ch, H, W)`` input.
            state: ``(c_prev, h_prev)``, each ``(N, hidden, H, W)``; ``None`` means zeros.

        Returns:
            ``(h, c)``: the new hidden and cell states.
        """
        hid = self.hidden
        if state is None:
            w, b = self.gates.weight, cast(torch.Tensor, self.gates.bias)  # built with bias=True
            w_ijo = torch.cat((w[: 2 * hid, : self.in_ch], w[3 * hid :, : self.in_ch]), dim=0)
            b_ijo = torch.cat((b[: 2 * hid], b[3 * hid :]), dim=0)
            i, j, o = F.conv2d(x, w_ijo, b_ijo, padding=1).chunk(3, dim=1)
            c = torch.sigmoid(i) * torch.tanh(j)
        else:
            c_prev, h_prev = state
            i, j, f, o = self.gates(torch.cat((x, h_prev), dim=1)).chunk(4, dim=1)
            c = c_prev * torch.sigmoid(f + self.forget_bias) + torch.sigmoid(i) * torch.tanh(j)
        h = torch.tanh(c) * torch.sigmoid(o)
        return h, c


class ResidualRecurrentUnit(nn.Module):
    """RRU (spec §3.1): ``conv(C→L)`` squeeze → Conv-LSTM (one step) → ``conv(H→C)`` + the initial feature."""

    def __init__(self, channels: int, lstm_input: int, hidden: int) -> None:
        super().__init__()
        self.squeeze = ConvAct(channels, lstm_input)
        self.lstm = ConvLSTMCell(lstm_input, hidden)
        self.expand = ConvAct(hidden, channels)

    def forward(self, x: torch.Tensor, initial: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(self.squeeze(x))
        return self.expand(h) + initial


class CoarseFusion(nn.Module):
    """Coarse-fusion module (spec §3.3): RRUs from 1/4 to full scale with transposed-conv sum fusion."""

    def __init__(
        self, channels: int, lstm_input: int, lstm_hidden: tuple[int, int, int], padding: StridePadding = "pytorch"
    ) -> None:
        super().__init__()
        self.rru4 = ResidualRecurrentUnit(channels, lstm_input, lstm_hidden[0])
        self.rru2 = ResidualRecurrentUnit(channels, lstm_input, lstm_hidden[1])
        self.rru1 = ResidualRecurrentUnit(channels, lstm_input, lstm_hidden[2])
        self.up42 = UpAct(channels, channels, padding)
        self.up41 = UpAct(channels, channels, padding)
        self.up21 = UpAct(channels, channels, padding)

    def forward(
        self, f4: torch.Tensor, f2: torch.Tensor, f1: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        r4 = self.rru4(f4, f4)
        u42 = self.up42(r4)
        r2 = self.rru2(f2 + u42, f2)
        u41 = self.up41(u42)
        u21 = self.up21(r2)
        r1 = self.rru1(f1 + u21 + u41, f1)
        return r4, r2, r1


class FineFusion(nn.Module):
    """One fine-fusion module (spec §4.3): a URAB per scale, coarse to fine, residual to un-fused maps."""

    def __init__(
        self,
        channels: int,
        cau_per_scale: tuple[int, int, int],
        urab_levels: int = 1,
        reduction: int = 4,
        padding: StridePadding = "pytorch",
    ) -> None:
        super().__init__()
        self.urab4 = URAB(channels, cau_per_scale[0], urab_levels, reduction, padding)
        self.urab2 = URAB(channels, cau_per_scale[1], urab_levels, reduction, padding)
        self.urab1 = URAB(channels, cau_per_scale[2], urab_levels, reduction, padding)
        self.up42 = UpAct(channels, channels, padding)
        self.up41 = UpAct(channels, channels, padding)
        self.up21 = UpAct(channels, channels, padding)

    def forward(
        self, x4: torch.Tensor, x2: torch.Tensor, x1: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x4 = x4 + self.urab4(x4)
        t42 = self.up42(x4)
        x2 = x2 + self.urab2(x2 + t42)
        t41 = self.up41(t42)
        t21 = self.up21(x2)
        x1 = x1 + self.urab1(x1 + t41 + t21)
        return x4, x2, x1


class Reconstruction(nn.Module):
    """Reconstruction module (spec §5): fuse with the CFM outputs, go up to full scale, predict ``R*``."""

    def __init__(self, channels: int, mid: int = 32, padding: StridePadding = "pytorch") -> None:
        super().__init__()
        self.fuse4 = ConvAct(2 * channels, channels)
        self.fuse2 = ConvAct(2 * channels, channels)
        self.fuse1 = ConvAct(2 * channels, channels)
        self.up42 = UpAct(channels, channels, padding)
        self.up421 = UpAct(2 * channels, channels, padding)
        self.mid = ConvAct(2 * channels, mid)
        self.out = nn.Conv2d(mid, 3, 3, padding=1, bias=False)

    def forward(
        self, x4: torch.Tensor, x2: torch.Tensor, x1: torch.Tensor, r4: torch.Tensor, r2: torch.Tensor, r1: torch.Tensor
    ) -> torch.Tensor:
        z4 = self.fuse4(torch.cat((x4, r4), dim=1))
        z2 = self.fuse2(torch.cat((x2, r2), dim=1))
        z1 = self.fuse1(torch.cat((x1, r1), dim=1))
        z421 = self.up421(torch.cat((self.up42(z4), z2), dim=1))
        return self.out(self.mid(torch.cat((z1, z421), dim=1)))


def _binomial_pyr_down(x: torch.Tensor) -> torch.Tensor:
    """OpenCV ``pyrDown``-style ×2 decimation: 5×5 binomial blur (reflect-101 border), keep even pixels."""
    k1 = torch.tensor((1.0, 4.0, 6.0, 4.0, 1.0), dtype=x.dtype, device=x.device) / 16.0
    channels = x.shape[1]
    weight = torch.outer(k1, k1).expand(channels, 1, 5, 5)
    mode = "reflect" if min(x.shape[-2:]) > 2 else "replicate"
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode=mode), weight, stride=2, groups=channels)


def _per_scale(value: int | Sequence[int], what: str) -> tuple[int, int, int]:
    try:
        single = operator.index(cast(SupportsIndex, value))  # TypeError unless an integer
    except TypeError:
        pass
    else:
        return (single, single, single)
    values = tuple(operator.index(v) for v in cast(Sequence[int], value))  # not an integer: the sequence
    if len(values) != 3:
        raise ValueError(f"{what} needs one value or three (1/4, 1/2, full scale), got {value!r}")
    return values


# ----------------------------------------------------------------------------- the model
class MSPFN(Derainer):
    """Multi-Scale Progressive Fusion Network (spec §1-5), configurable to the paper's M/N variants and MSPFN*.

    Args:
        num_ffm: M, the number of cascaded fine-fusion modules (0 gives the paper's "no FFM" Model3).
        cau_per_scale: N, CAUs per URAB, one int or ``(N_1/4, N_1/2, N_full)``.
        channels: Feature width C (64 in the full model, 32 in MSPFN*).
        lstm_hidden: Conv-LSTM hidden widths ``(h_1/4, h_1/2, h_full)``; paper (32, 64, 128), release
            (64, 128, 256).
        lstm_input: Width of the squeeze conv that feeds each Conv-LSTM (32).
        pyramid: ``"avg"`` (release: box filters on the input) or ``"gaussian"`` (paper wording:
            pyrDown-style binomial, ``I_4`` from ``I_2``).
        urab_levels: Stride-2 stages per URAB: 1, or 2 for MSPFN* ("strided conv and deconv twice").
        rm_mid: Width of the reconstruction module's last hidden conv (32).
        cau_reduction: Squeeze-excitation reduction of the CAUs (4).
        value_range: ``"unit"`` (work on [0, 1]) or ``"symmetric"`` (map to [-1, 1] inside, as the release).
        padding: Stride-2 layers: ``"pytorch"`` (symmetric padding) or ``"tf_same"`` (TensorFlow's ``SAME``
            rule, needed for the TF release's weights).
        channel_order: Channel order the weights expect: ``"rgb"`` or ``"bgr"`` (the release, OpenCV);
            input and output stay RGB, the model reverses the channels inside.
        edge_weight: λ of the edge loss in :meth:`training_loss` (0.05; 0 = "MSPFN w/o edge loss").
        channels_last: Run the network in channels-last memory format (faster with oneDNN on CPU and
            cuDNN on GPU); the output keeps the input's memory format either way.
        name: Card name (the registered name of the factory).
        seed: Seed of the initialisation; ``None`` uses torch's global generator.

    Example:
        >>> model = MSPFN(num_ffm=1, cau_per_scale=1, channels=8, lstm_hidden=(4, 4, 4), lstm_input=4, rm_mid=8)
        >>> model.card.size_multiple
        8
    """

    # λ of the edge loss changes the training, not the network: weights fit whatever it is set to
    training_options = frozenset({"edge_weight"})

    def __init__(
        self,
        num_ffm: int = 17,
        cau_per_scale: int | Sequence[int] = 1,
        channels: int = 64,
        lstm_hidden: Sequence[int] = (32, 64, 128),
        lstm_input: int = 32,
        pyramid: Pyramid = "avg",
        urab_levels: int = 1,
        rm_mid: int = 32,
        cau_reduction: int = 4,
        value_range: ValueRange = "unit",
        padding: StridePadding = "pytorch",
        channel_order: ChannelOrder = "rgb",
        edge_weight: float = 0.05,
        channels_last: bool = True,
        name: str = "mspfn",
        seed: int | None = None,
    ) -> None:
        if num_ffm < 0:
            raise ValueError(f"num_ffm must be >= 0, got {num_ffm}")
        if pyramid not in ("avg", "gaussian"):
            raise ValueError(f"pyramid must be 'avg' or 'gaussian', got {pyramid!r}")
        if value_range not in ("unit", "symmetric"):
            raise ValueError(f"value_range must be 'unit' or 'symmetric', got {value_range!r}")
        if urab_levels < 1:
            raise ValueError(f"urab_levels must be >= 1, got {urab_levels}")
        if padding not in ("pytorch", "tf_same"):
            raise ValueError(f"padding must be 'pytorch' or 'tf_same', got {padding!r}")
        if channel_order not in ("rgb", "bgr"):
            raise ValueError(f"channel_order must be 'rgb' or 'bgr', got {channel_order!r}")
        n = _per_scale(cau_per_scale, "cau_per_scale")
        hidden = _per_scale(lstm_hidden, "lstm_hidden")
        if min(n) < 0:
            raise ValueError(f"cau_per_scale must be >= 0 at every scale, got {n}")
        widths = {"channels": channels, "lstm_input": lstm_input, "rm_mid": rm_mid, "cau_reduction": cau_reduction}
        for what, value in widths.items():
            if value < 1:
                raise ValueError(f"{what} must be >= 1, got {value}")
        if min(hidden) < 1:
            raise ValueError(f"lstm_hidden must be >= 1 at every scale, got {hidden}")
        self.config: dict[str, Any] = {
            "num_ffm": num_ffm,
            "cau_per_scale": n,
            "channels": channels,
            "lstm_hidden": hidden,
            "lstm_input": lstm_input,
            "pyramid": pyramid,
            "urab_levels": urab_levels,
            "rm_mid": rm_mid,
            "cau_reduction": cau_reduction,
            "value_range": value_range,
            "edge_weight": edge_weight,
        }
        # only when not the default, so that the architecture of existing (shipped, trained) weights is unchanged
        if padding != "pytorch":
            self.config["padding"] = padding
        if channel_order != "rgb":
            self.config["channel_order"] = channel_order
        super().__init__(card=self._make_card(name, self.config))
        self.pyramid = pyramid
        self.value_range = value_range
        self.padding = padding
        self.channel_order = channel_order
        self.edge_weight = float(edge_weight)
        self.channels_last = bool(channels_last)
        self.head4 = ConvAct(3, channels)
        self.head2 = ConvAct(3, channels)
        self.head1 = ConvAct(3, channels)
        self.cfm = CoarseFusion(channels, lstm_input, hidden, padding)
        self.ffms = nn.ModuleList(FineFusion(channels, n, urab_levels, cau_reduction, padding) for _ in range(num_ffm))
        self.rm = Reconstruction(channels, rm_mid, padding)
        self.reset_parameters(seed)

    @staticmethod
    def _make_card(name: str, cfg: dict[str, Any]) -> DerainerCard:
        n = cfg["cau_per_scale"]
        n_text = str(n[0]) if len(set(n)) == 1 else "(" + ",".join(map(str, n)) + ")"
        hidden = "/".join(map(str, cfg["lstm_hidden"]))
        summary = (
            f"MSPFN M{cfg['num_ffm']}N{n_text}: multi-scale progressive fusion deraining network, "
            f"{cfg['channels']} channels, Conv-LSTM {hidden}, {cfg['pyramid']} pyramid, "
            f"{cfg['urab_levels']}-level URAB, {cfg['value_range']} value range"
        )
        if "padding" in cfg or "channel_order" in cfg:
            summary += f", {cfg.get('padding', 'pytorch')} stride-2 padding, {cfg.get('channel_order', 'rgb').upper()}"
        return DerainerCard(
            name=name,
            summary=summary,
            paper=PAPER,
            size_multiple=4 * 2 ** cfg["urab_levels"],
            default_tile=512,
            trainable=True,
            patch_size=96,
            # trained by this project (derainers/weights/<name>-<tag>.json), for this exact architecture
            weights=shipped_weights(name, cfg, MSPFN.training_options),
            default_weights=default_shipped_tag(name, cfg, MSPFN.training_options),
            # measured for mspfn_light with its trained weights (RainTrainL 1-3, bf16 vs fp32: +0.0015 dB psnr_y)
            reduced_precision=("bf16",) if name == "mspfn_light" else (),
            notes=NOTES,
        )

    @torch.no_grad()
    def reset_parameters(self, seed: int | None = None) -> None:
        """Initialise as the release (spec §0).

        Xavier-uniform conv / transposed-conv weights, zero biases, truncated-normal (σ = 1e-3, cut at
        2σ) Conv-LSTM gate weights, PReLU slopes 0.

        Args:
            seed: Seed of a private generator; ``None`` uses torch's global generator.
        """
        gen = torch.Generator().manual_seed(seed) if seed is not None else None

        def draw(weight: torch.Tensor, init: Callable[[torch.Tensor], object]) -> None:
            # the private generator lives on the CPU: draw there and copy, so that a seed gives the same
            # initialisation on every device (a model built under ``torch.device("cuda")`` included)
            if gen is None or weight.device.type == "cpu":
                init(weight)
            else:
                host = torch.empty(weight.shape, dtype=weight.dtype)
                init(host)
                weight.copy_(host)

        lstm_convs = {id(m.gates) for m in self.modules() if isinstance(m, ConvLSTMCell)}
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                if id(module) in lstm_convs:
                    draw(module.weight, lambda w: nn.init.trunc_normal_(w, std=1e-3, a=-2e-3, b=2e-3, generator=gen))
                else:
                    draw(module.weight, lambda w: nn.init.xavier_uniform_(w, generator=gen))
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.PReLU):
                nn.init.zeros_(module.weight)

    def _check_input(self, rainy: torch.Tensor) -> None:
        if rainy.ndim != 4 or rainy.shape[1] != 3:
            raise ValueError(f"MSPFN expects an (N, 3, H, W) batch, got shape {tuple(rainy.shape)}")
        m = self.card.size_multiple
        h, w = rainy.shape[-2:]
        if h % m or w % m or h == 0 or w == 0:
            raise ValueError(
                f"{self.card.name}: H and W must be positive multiples of {m}, got {h}x{w} "
                "(pad or crop first; the harness does this)"
            )

    def input_pyramid(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The 1/2 and 1/4 scale images ``(I_2, I_4)`` (spec §1)."""
        if self.pyramid == "avg":
            return F.avg_pool2d(x, 2), F.avg_pool2d(x, 4)
        i2 = _binomial_pyr_down(x)
        return i2, _binomial_pyr_down(i2)

    def rain_layer(self, x: torch.Tensor) -> torch.Tensor:
        """The predicted rain layer ``R*`` for an input ``x`` already in the model's value range and channel order."""
        i2, i4 = self.input_pyramid(x)
        f4, f2, f1 = self.head4(i4), self.head2(i2), self.head1(x)
        r4, r2, r1 = self.cfm(f4, f2, f1)
        x4, x2, x1 = r4, r2, r1
        for ffm in self.ffms:
            x4, x2, x1 = ffm(x4, x2, x1)
        return self.rm(x4, x2, x1, r4, r2, r1)

    def forward(self, rainy: torch.Tensor) -> torch.Tensor:
        """Derain a batch.

        Args:
            rainy: ``(N, 3, H, W)`` RGB in [0, 1], H and W multiples of ``card.size_multiple``.

        Returns:
            The derained batch ``I − R*`` in [0, 1] terms (not clamped), same shape, RGB.
        """
        self._check_input(rainy)
        x = rainy.flip(1) if self.channel_order == "bgr" else rainy
        x = x.contiguous(memory_format=torch.channels_last) if self.channels_last else x
        if self.value_range == "symmetric":
            x = x * 2.0 - 1.0
            out = (x - self.rain_layer(x) + 1.0) * 0.5
        else:
            out = x - self.rain_layer(x)
        if self.channel_order == "bgr":
            out = out.flip(1)
        if self.channels_last and rainy.is_contiguous():
            out = out.contiguous()
        return out

    def training_loss(self, derained: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
        """MSPFN loss: Charbonnier(ε=1e-3) + ``edge_weight`` · Charbonnier on 8-neighbour Laplacians.

        With ``value_range="symmetric"`` both images are mapped to [-1, 1] first (as in the release).
        """
        from bench.engine.losses import mspfn_loss

        if self.value_range == "symmetric":
            derained, clean = derained * 2.0 - 1.0, clean * 2.0 - 1.0
        return mspfn_loss(derained, clean, edge_weight=self.edge_weight, eps=1e-3)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.config.items())


# ----------------------------------------------------------------------------- factories
def _build(name: str, defaults: dict[str, Any], overrides: dict[str, Any]) -> MSPFN:
    if "name" in overrides:
        raise TypeError(f"{name}: the card name is fixed by the factory; build MSPFN(...) directly to rename")
    return MSPFN(**{**defaults, **overrides}, name=name)


def mspfn(**kwargs: Any) -> MSPFN:
    """MSPFN M17N1, the paper's main model (Table 4), paper Conv-LSTM widths: 13.11 M parameters.

    Example:
        >>> mspfn().card.name
        'mspfn'
    """
    return _build("mspfn", {"num_ffm": 17, "cau_per_scale": 1}, kwargs)


def mspfn_m10n3(**kwargs: Any) -> MSPFN:
    """MSPFN M10N3, the paper's baseline (Table 2; 13.22 M in the paper)."""
    return _build("mspfn_m10n3", {"num_ffm": 10, "cau_per_scale": 3}, kwargs)


def mspfn_m17n2(**kwargs: Any) -> MSPFN:
    """MSPFN M17N2 (Table 3; 17.20 M in the paper)."""
    return _build("mspfn_m17n2", {"num_ffm": 17, "cau_per_scale": 2}, kwargs)


def mspfn_m13n2(**kwargs: Any) -> MSPFN:
    """MSPFN M13N2 (Table 3; 13.63 M in the paper)."""
    return _build("mspfn_m13n2", {"num_ffm": 13, "cau_per_scale": 2}, kwargs)


def mspfn_m8n5(**kwargs: Any) -> MSPFN:
    """MSPFN M8N5 (Table 3; 14.56 M in the paper)."""
    return _build("mspfn_m8n5", {"num_ffm": 8, "cau_per_scale": 5}, kwargs)


def mspfn_m30n1(**kwargs: Any) -> MSPFN:
    """MSPFN M30N1 (Table 3; 21.81 M in the paper)."""
    return _build("mspfn_m30n1", {"num_ffm": 30, "cau_per_scale": 1}, kwargs)


def mspfn_release(**kwargs: Any) -> MSPFN:
    """M17N1 with the TF release's Conv-LSTM widths 64/128/256 (``TEST_MSPFN_M17N1.py``; 15.82 M)."""
    return _build("mspfn_release", {"num_ffm": 17, "cau_per_scale": 1, "lstm_hidden": (64, 128, 256)}, kwargs)


OFFICIAL_GRAPH = {
    "num_ffm": 17,
    "lstm_hidden": (64, 128, 256),
    "padding": "tf_same",
    "channel_order": "bgr",
    "value_range": "symmetric",
}


def mspfn_official(**kwargs: Any) -> MSPFN:
    """The official TF test graph ``TEST_MSPFN_M17N1.py`` exactly (the released checkpoint; 15.82 M).

    M17N1 at the release's widths with TF ``SAME`` stride-2 padding, BGR channel order and [-1, 1] values,
    so that the authors' checkpoint, converted by ``python -m bench convert --from tf-checkpoint``, gives
    the TF graph's output (docs/official_mspfn.md).

    Example:
        >>> model = mspfn_official()
        >>> model.config["padding"], model.config["channel_order"], model.num_parameters()
        ('tf_same', 'bgr', 15823424)
    """
    return _build("mspfn_official", {**OFFICIAL_GRAPH, "cau_per_scale": 1}, kwargs)


def mspfn_official_train(**kwargs: Any) -> MSPFN:
    """The official TF training graph ``MSPFN.py`` (also ``TEST_MSPFN.py``): N = (1, 3, 3) per scale; 21.00 M.

    As :func:`mspfn_official` otherwise; for checkpoints retrained with the authors' training script.

    Example:
        >>> mspfn_official_train().config["cau_per_scale"]
        (1, 3, 3)
    """
    return _build("mspfn_official_train", {**OFFICIAL_GRAPH, "cau_per_scale": (1, 3, 3)}, kwargs)


def mspfn_light(**kwargs: Any) -> MSPFN:
    """MSPFN* (M5N1 lightweight, Table 3 / 6): 32 channels everywhere, two-level URAB; 1.666 M (paper 1.65 M).

    The exact layout is not published; this is the spec's guess (§9).
    """
    defaults = {
        "num_ffm": 5,
        "cau_per_scale": 1,
        "channels": 32,
        "lstm_hidden": (32, 32, 32),
        "lstm_input": 32,
        "urab_levels": 2,
        "rm_mid": 32,
    }
    return _build("mspfn_light", defaults, kwargs)


def mspfn_tiny(**kwargs: Any) -> MSPFN:
    """A tiny MSPFN (8 channels, M=1, N=1) for tests; not a model from the paper."""
    defaults = {"num_ffm": 1, "cau_per_scale": 1, "channels": 8, "lstm_hidden": (4, 4, 8), "lstm_input": 4, "rm_mid": 8}
    return _build("mspfn_tiny", defaults, kwargs)
