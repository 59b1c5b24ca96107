"""The derainer contract shared by every plugin: a ``torch.nn.Module`` with a card.

Contract (design.md principle 2): ``forward`` takes a batch of rainy RGB images as a float tensor in
[0, 1], shape ``(N, 3, H, W)``, with H and W multiples of ``card.size_multiple`` (the harness pads),
and returns the derained batch with the same shape, dtype and device. Values may leave [0, 1]; the
harness clamps and quantises.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from bench.fileio import file_sha256


@dataclass(frozen=True)
class WeightsSource:
    """One published (or shipped) set of weights for a derainer.

    Attributes:
        tag: Short selector, e.g. ``"Rain100L"``; ``--weights Rain100L`` picks it.
        path: File path relative to ``$BENCH_WEIGHTS`` (or to ``derainers/weights`` if ``packaged``).
        sha256: Expected SHA-256 of the file; checked when the file is loaded.
        trained_on: The training data, in words.
        source: Where the file comes from (repository@commit, URL).
        licence: Licence of the weights.
        reported: Scores the authors published for these weights: ``{dataset: {metric: value}}``.
        protocol: How the reported scores were computed (metric variants, quantisation).
        url: Optional download address (only used when a network exists).
        packaged: True when the file ships inside the ``derainers`` package.
        parts: For a packaged file too large to ship whole: the part files that, joined in this order, give
            the file (``derainers.shipped.join_parts``); empty when the file ships whole.
        status: Empty for final weights; ``"interim: step N of M"`` for a checkpoint of a training run that
            has not finished (records carry it, tables label the row "interim").
    """

    tag: str
    path: str
    sha256: str | None = None
    trained_on: str = ""
    source: str = ""
    licence: str = ""
    reported: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    protocol: str = ""
    url: str | None = None
    packaged: bool = False
    parts: tuple[str, ...] = ()
    status: str = ""


@dataclass(frozen=True)
class DerainerCard:
    """What a user needs to know about a derainer before trusting its numbers."""

    name: str
    summary: str
    paper: str = ""
    size_multiple: int = 1
    default_tile: int | None = None
    tile_overlap: int = 32
    trainable: bool = True
    patch_size: int = 96
    weights: tuple[WeightsSource, ...] = ()
    default_weights: str | None = None
    input_contract: str = "RGB, float32 in [0, 1], NCHW"
    notes: str = ""
    #: Reduced precisions whose accuracy check passed with real weights (``bench perf --compare
    #: --precision bf16 --pairs RainTrainL``: |Δ psnr_y| ≤ 0.05 dB vs fp32 eager). ``--precision auto``
    #: uses them where the hardware computes them natively; measured, never assumed.
    reduced_precision: tuple[str, ...] = ()

    def weights_for(self, tag: str) -> WeightsSource | None:
        """The weights source whose tag matches ``tag`` (case-insensitive), if any."""
        for source in self.weights:
            if source.tag.lower() == tag.lower():
                return source
        return None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


REQUIRED_CARD_FIELDS: tuple[str, ...] = ("name", "summary", "paper", "size_multiple", "input_contract")


class Derainer(nn.Module):
    """Base class of every derainer plugin.

    Subclasses set the class attribute ``card`` (or pass ``card=`` to ``__init__``) and implement
    :meth:`forward`. Override :meth:`convert_state_dict` to load legacy checkpoints and
    :meth:`training_loss` to train with a loss other than Charbonnier.
    """

    card: DerainerCard = DerainerCard(name="derainer", summary="")  # class default; ``card=`` overrides per instance
    # ``config`` keys that only the training loss reads (e.g. MSPFN's ``edge_weight``): recorded with the
    # architecture, but weights trained with one value fit a model built with another.
    training_options: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, card: DerainerCard | None = None) -> None:
        super().__init__()
        if card is not None:
            self.card = card
        self.model_kwargs: dict[str, Any] = {}
        self.weights_info: dict[str, Any] = {}

    def forward(self, rainy: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------ training
    def training_loss(self, derained: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
        """Loss used by the shared trainer; Charbonnier (ε = 1e-3) by default."""
        return torch.sqrt((derained - clean) ** 2 + 1e-6).mean()

    # ------------------------------------------------------------------ weights
    def convert_state_dict(self, state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Map a checkpoint's keys onto this module's keys (strips a DataParallel ``module.``)."""
        return {k.removeprefix("module."): v for k, v in state_dict.items()}

    def architecture(self) -> dict[str, Any] | None:
        """The model's resolved architecture (its ``config``, JSON-normalised: tuples are lists), if it has one.

        Bench checkpoints and exported weights store it as ``"architecture"``; :meth:`load_weights` compares.
        """
        config = getattr(self, "config", None)
        return json_normal(dict(config)) if isinstance(config, Mapping) else None

    def load_weights(self, path: str | Path, *, expected_sha256: str | None = None) -> dict[str, Any]:
        """Load weights from ``path`` with ``weights_only=True`` and strict key matching.

        Accepts a bare state dict, or a bench checkpoint ``{"state_dict": ..., "card": ...}``. A checkpoint that
        records the architecture it was trained with (``"architecture"``, or the ``"model_kwargs"`` of the
        factory) must fit this model (:func:`architecture_mismatch`): same-shaped weights of another
        architecture (``value_range``, ``pyramid``) would load without an error and compute something else.

        Returns:
            Information about the loaded file (path, sha256, and the checkpoint's card if any).

        Raises:
            ValueError: the file's hash differs from ``expected_sha256``, or the file was trained for another
                architecture.
            bench.engine.checkpoint.UnsafeCheckpointError: the file needs arbitrary unpickling.
        """
        from bench.engine.checkpoint import load_checkpoint

        path = Path(path)
        digest = file_sha256(path)
        if expected_sha256 and digest != expected_sha256:
            raise ValueError(
                f"{path}: sha256 {digest} does not match the expected {expected_sha256}; "
                "the file is corrupt or not the published one"
            )
        payload = load_checkpoint(path)
        extra: dict[str, Any] = {}
        if isinstance(payload, Mapping) and "state_dict" in payload:
            state = payload["state_dict"]
            extra = {k: v for k, v in payload.items() if k in ("card", "model_kwargs", "training")}
            differ = architecture_mismatch(self, payload)
            if differ:
                raise ValueError(
                    f"{path} was trained for another architecture than this {self.card.name} model: "
                    f"{'; '.join(differ)} (build the model with the file's options, e.g. --model-arg KEY=VALUE)"
                )
        else:
            state = payload
        state = self.convert_state_dict(state)
        reference = self.state_dict()
        state = {k: v.to(reference[k].dtype) if k in reference else v for k, v in state.items()}
        self.load_state_dict(state, strict=True)
        self.weights_info = {"path": str(path), "sha256": digest, **extra}
        return self.weights_info

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def json_normal(value: Any) -> Any:
    """``value`` as JSON would give it back (tuples become lists, other objects their ``str``).

    Example:
        >>> json_normal({"hidden": (4, 8), "name": "avg"})
        {'hidden': [4, 8], 'name': 'avg'}
    """
    return json.loads(json.dumps(value, default=str))


def _same_option(stored: Any, built: Any) -> bool:
    """Whether an architecture value recorded in a file equals the model's (a scalar given for a per-item list
    counts as that value everywhere: ``cau_per_scale=1`` builds ``[1, 1, 1]``)."""
    stored, built = json_normal(stored), json_normal(built)
    if isinstance(built, list) and not isinstance(stored, list):
        return all(item == stored for item in built)
    return bool(stored == built)


def architecture_mismatch(model: Derainer, payload: Mapping[str, Any]) -> list[str]:
    """The architecture options on which the checkpoint ``payload`` and ``model`` differ (``[]``: they fit).

    The checkpoint's ``"architecture"`` (written by bench since it records one) is compared key by key with
    :meth:`Derainer.architecture` (on the keys both have: files stay loadable when an option is added); otherwise each of its factory ``"model_kwargs"`` that is part of the
    model's architecture (or, for a model without one, that the model was built with) must have the model's
    value. Files that record neither (official and third-party weights, converted bare state dicts) fit.

    Example:
        >>> from derainers.mspfn import mspfn_tiny
        >>> architecture_mismatch(mspfn_tiny(), {"model_kwargs": {"pyramid": "gaussian"}})
        ["pyramid: the file's 'gaussian', the model's 'avg'"]
        >>> architecture_mismatch(mspfn_tiny(), {"model_kwargs": {"cau_per_scale": 1, "channels_last": False}})
        []
    """
    built = model.architecture()
    stored_arch = payload.get("architecture")
    if isinstance(stored_arch, Mapping) and built is not None:
        stored = json_normal(dict(stored_arch))
        # an option only one side knows (added or removed later) is not compared, nor a training-loss option
        keys = sorted((set(stored) & set(built)) - model.training_options)
        return [f"{k}: the file's {stored[k]!r}, the model's {built[k]!r}" for k in keys if stored[k] != built[k]]
    kwargs = payload.get("model_kwargs")
    if not isinstance(kwargs, Mapping):
        return []
    reference = built if built is not None else json_normal(dict(getattr(model, "model_kwargs", {}) or {}))
    return [
        f"{k}: the file's {json_normal(v)!r}, the model's {reference[k]!r}"
        for k, v in sorted(kwargs.items())
        if k in reference and k not in model.training_options and not _same_option(v, reference[k])
    ]
