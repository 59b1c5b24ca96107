"""Variable names and tensor layouts of the official MSPFN TensorFlow graphs, mapped onto :class:`MSPFN`.

The official code (kuihua/MSPFN, TF 1.x) builds its generator under the variable scope ``generator/``:

* stride-1 "convolutions" are ``conv2d_transpose`` layers (``<scope>/weight``, ``[kh, kw, out, in]``)
  followed by a PReLU (``<scope>/alpha``): a convolution with the spatially flipped kernel;
* stride-2 down layers are ``conv2d`` (``<scope>/weight``, ``[kh, kw, in, out]``), up layers are real
  stride-2 ``conv2d_transpose`` (``[kh, kw, out, in]``);
* the channel-attention units are ``tf.layers.conv2d`` (``conv2d``, ``conv2d_1`` … with ``kernel``,
  ``bias`` and, for the PReLU-activated ones, ``alpha``);
* each Conv-LSTM gate convolution is ``…/lstm_group*/convLSTM/LSTM_conv/{weights,biases}``.

The fine-fusion modules are scoped ``BCM*_<n>`` in the released test graph ``TEST_MSPFN_M17N1.py`` and
``URAB*_<n>`` in the training graph ``MSPFN.py`` (and ``TEST_MSPFN.py``); :func:`detect_ffm_scope`
picks the one a checkpoint uses. :data:`MAPPING_VERSION` names this mapping in converted files' cards.

Example:
    >>> from derainers.mspfn import mspfn_official
    >>> maps = mspfn_tf_mapping(mspfn_official())
    >>> len(maps), maps[0].tf_name, maps[0].torch_key
    (859, 'generator/rnn1/weight', 'head1.conv.weight')
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from derainers.mspfn import MSPFN

__all__ = [
    "MAPPING_VERSION",
    "FfmScope",
    "Layout",
    "TensorMap",
    "detect_ffm_scope",
    "mspfn_tf_mapping",
    "tf_shape",
    "to_torch",
]

MAPPING_VERSION = "mspfn-tf/1"
ROOT = "generator"

Layout = Literal["conv", "deconv_s1", "deconv_s2", "vector"]
"""``conv``: TF ``[kh, kw, in, out]`` → ``Conv2d [out, in, kh, kw]``; ``deconv_s1``: stride-1
``conv2d_transpose`` ``[kh, kw, out, in]`` → ``Conv2d`` with the kernel flipped; ``deconv_s2``: stride-2
``conv2d_transpose`` ``[kh, kw, out, in]`` → ``ConvTranspose2d [in, out, kh, kw]``; ``vector``: as is."""

FfmScope = Literal["BCM", "URAB"]

# the graph conventions the mapping assumes, as MSPFN config entries (missing entries take MSPFN's defaults)
REQUIRED_CONFIG = {"padding": "tf_same", "channel_order": "bgr", "value_range": "symmetric", "pyramid": "avg"}
_CONFIG_DEFAULTS = {"padding": "pytorch", "channel_order": "rgb"}


@dataclass(frozen=True)
class TensorMap:
    """One TF variable ↔ one state-dict tensor.

    Attributes:
        tf_name: Full TF variable name, e.g. ``generator/rnn1/weight``.
        torch_key: State-dict key of :class:`MSPFN`, e.g. ``head1.conv.weight``.
        layout: How the TF array becomes the PyTorch tensor (:data:`Layout`).
    """

    tf_name: str
    torch_key: str
    layout: Layout


def to_torch(array: np.ndarray, layout: Layout) -> torch.Tensor:
    """A TF checkpoint array as the float32 PyTorch tensor of ``layout``.

    Example:
        >>> w = np.arange(3 * 3 * 5 * 2, dtype=np.float32).reshape(3, 3, 5, 2)  # [kh, kw, out, in]
        >>> tuple(to_torch(w, "deconv_s1").shape), tuple(to_torch(w, "deconv_s2").shape)
        ((5, 2, 3, 3), (2, 5, 3, 3))
    """
    tensor = torch.from_numpy(np.array(array, dtype=np.float32, copy=True))
    if layout == "conv" or layout == "deconv_s2":
        return tensor.permute(3, 2, 0, 1).contiguous()
    if layout == "deconv_s1":
        return tensor.permute(2, 3, 0, 1).flip(2, 3).contiguous()
    return tensor


def tf_shape(torch_shape: Iterable[int], layout: Layout) -> tuple[int, ...]:
    """The TF variable shape that becomes a tensor of ``torch_shape`` under ``layout``.

    Example:
        >>> tf_shape((64, 3, 3, 3), "deconv_s1"), tf_shape((128, 64, 3, 3), "deconv_s2")
        ((3, 3, 64, 3), (3, 3, 64, 128))
    """
    shape = tuple(int(s) for s in torch_shape)
    if layout == "conv" or layout == "deconv_s2":
        a, b, kh, kw = shape
        return (kh, kw, b, a)
    if layout == "deconv_s1":
        out, inp, kh, kw = shape
        return (kh, kw, out, inp)
    return shape


def detect_ffm_scope(tf_names: Iterable[str]) -> FfmScope:
    """``"URAB"`` when the checkpoint's fine-fusion modules use the training graph's scopes, else ``"BCM"``.

    Example:
        >>> detect_ffm_scope(["generator/URAB4_0/down4_1/weight"]), detect_ffm_scope([])
        ('URAB', 'BCM')
    """
    prefix = f"{ROOT}/URAB"
    return "URAB" if any(name.startswith(prefix) for name in tf_names) else "BCM"


def _check_config(model: MSPFN) -> None:
    cfg = {**_CONFIG_DEFAULTS, **model.config}
    wrong = {k: cfg.get(k) for k, v in REQUIRED_CONFIG.items() if cfg.get(k) != v}
    if cfg.get("urab_levels") != 1:
        wrong["urab_levels"] = cfg.get("urab_levels")
    if wrong:
        need = ", ".join(f"{k}={v!r}" for k, v in {**REQUIRED_CONFIG, "urab_levels": 1}.items())
        got = ", ".join(f"{k}={v!r}" for k, v in wrong.items())
        raise ValueError(
            f"{model.card.name} is not a TF-graph variant of MSPFN (needs {need}; has {got}): "
            "convert to mspfn_official (TEST_MSPFN_M17N1.py) or mspfn_official_train (MSPFN.py)"
        )


class _Builder:
    """Collects :class:`TensorMap` entries for the layer helpers of the official graph."""

    def __init__(self) -> None:
        self.maps: list[TensorMap] = []

    def add(self, tf_name: str, torch_key: str, layout: Layout) -> None:
        self.maps.append(TensorMap(f"{ROOT}/{tf_name}", torch_key, layout))

    def conv_act(self, scope: str, key: str, layout: Layout) -> None:
        """``deconv_layer``/``conv_layer`` + ``prelu``: ``<scope>/weight`` and ``<scope>/alpha``."""
        self.add(f"{scope}/weight", f"{key}.conv.weight", layout)
        self.add(f"{scope}/alpha", f"{key}.act.weight", "vector")

    def lstm(self, scope: str, key: str) -> None:
        self.add(f"{scope}/convLSTM/LSTM_conv/weights", f"{key}.gates.weight", "conv")
        self.add(f"{scope}/convLSTM/LSTM_conv/biases", f"{key}.gates.bias", "vector")

    def cau(self, scope: str, key: str) -> None:
        """``RCAB``: four ``tf.layers.conv2d`` (3×3 + PReLU, 3×3, 1×1 + PReLU, 1×1 + sigmoid)."""
        layers = (("conv2d", "conv1", "act1"), ("conv2d_1", "conv2", None), ("conv2d_2", "squeeze", "act2"))
        for tf_layer, conv, act in (*layers, ("conv2d_3", "excite", None)):
            self.add(f"{scope}/{tf_layer}/kernel", f"{key}.{conv}.weight", "conv")
            self.add(f"{scope}/{tf_layer}/bias", f"{key}.{conv}.bias", "vector")
            if act is not None:
                self.add(f"{scope}/{tf_layer}/alpha", f"{key}.{act}.weight", "vector")

    def urab(self, scope: str, down: str, n: int, num_cau: int, key: str) -> None:
        self.conv_act(f"{scope}/{down}_{n + 1}", f"{key}.downs.0", "conv")
        for m in range(num_cau):
            self.cau(f"{scope}/group_{n + 1}_RCAB{m + 1}", f"{key}.caus.{m}")
        self.conv_act(f"{scope}/up_{n + 1}", f"{key}.ups.0", "deconv_s2")


def mspfn_tf_mapping(model: MSPFN, ffm_scope: FfmScope = "BCM") -> list[TensorMap]:
    """Every TF variable of the official graph that ``model`` mirrors, in the graph's creation order.

    Args:
        model: An MSPFN built as a TF-graph variant (``padding="tf_same"``, ``channel_order="bgr"``,
            ``value_range="symmetric"``, box pyramid, one-level URAB); any M, N and widths.
        ffm_scope: ``"BCM"`` (released test graph) or ``"URAB"`` (training graph), see
            :func:`detect_ffm_scope`.

    Returns:
        One :class:`TensorMap` per state-dict tensor of ``model``.

    Raises:
        ValueError: ``model`` does not follow the TF graph's conventions, or (a bug) the mapping does not
            cover its state dict exactly.

    Example:
        >>> from derainers.mspfn import mspfn_official_train
        >>> maps = mspfn_tf_mapping(mspfn_official_train(), "URAB")
        >>> [m.tf_name for m in maps if m.torch_key == "ffms.0.urab2.caus.2.excite.bias"]
        ['generator/URAB2_0/group_1_RCAB3/conv2d_3/bias']
    """
    _check_config(model)
    b = _Builder()
    for scale, key in (("1", "head1"), ("2", "head2"), ("4", "head4")):
        b.conv_act(f"rnn{scale}", key, "deconv_s1")
    rm = "residual_memory"
    for tf_scale, rru in (("4", "rru4"), ("2", "rru2"), ("", "rru1")):
        b.conv_act(f"{rm}/rain{tf_scale}_res1", f"cfm.{rru}.squeeze", "deconv_s1")
        b.lstm(f"{rm}/lstm_group{tf_scale}", f"cfm.{rru}.lstm")
        b.conv_act(f"{rm}/rain{tf_scale}_res2", f"cfm.{rru}.expand", "deconv_s1")
    for tf_up, up in (("upRMM4_2", "up42"), ("upRMM4_1", "up41"), ("upRMM2_1", "up21")):
        b.conv_act(f"{rm}/{tf_up}", f"cfm.{up}", "deconv_s2")
    n4, n2, n1 = model.config["cau_per_scale"]
    p = ffm_scope
    for n in range(len(model.ffms)):
        key = f"ffms.{n}"
        b.urab(f"{p}4_{n}", "down4", n, n4, f"{key}.urab4")
        b.conv_act(f"{p}2_{n}/up{p}4_2_{n}", f"{key}.up42", "deconv_s2")
        b.urab(f"{p}2_{n}", "down2", n, n2, f"{key}.urab2")
        b.conv_act(f"{p}_{n}/up{p}4to1_{n}", f"{key}.up41", "deconv_s2")
        b.conv_act(f"{p}_{n}/up{p}2to1_{n}", f"{key}.up21", "deconv_s2")
        b.urab(f"{p}_{n}", "down", n, n1, f"{key}.urab1")
    for tf_scope, fuse in (("rnn_recon4", "fuse4"), ("rnn_recon2", "fuse2"), ("rnn_recon", "fuse1")):
        b.conv_act(tf_scope, f"rm.{fuse}", "deconv_s1")
    b.conv_act("up4_2", "rm.up42", "deconv_s2")
    b.conv_act("up2_1", "rm.up421", "deconv_s2")
    b.conv_act("rnn5", "rm.mid", "deconv_s1")
    b.add("rnn7/weight", "rm.out.weight", "deconv_s1")
    keys = {m.torch_key for m in b.maps}
    state_keys = set(model.state_dict())
    if keys != state_keys or len(keys) != len(b.maps):
        raise ValueError(
            f"MSPFN TF mapping {MAPPING_VERSION} does not cover {model.card.name} exactly: "
            f"unmapped {sorted(state_keys - keys)[:5]}, unknown {sorted(keys - state_keys)[:5]}"
        )
    return b.maps
