"""A shippable weights file from a training checkpoint (``bench train --export``, scripts/ship_weights.py)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import torch

__all__ = ["ExportDtype", "export_weights"]

ExportDtype = Literal["fp32", "fp16", "bf16"]


def export_weights(checkpoint: str | Path, out: str | Path, dtype: ExportDtype = "fp16") -> Path:
    """Write a shippable weights file ``{"state_dict", "model_kwargs", "architecture", "card"}`` from a checkpoint.

    Floating-point tensors are cast to ``dtype``; :meth:`derainers.base.Derainer.load_weights` casts them
    back to the model's dtype when loading.

    Example:
        >>> export_weights("runs/mspfn/best.pt", "mspfn_rain13k.pt", dtype="fp16")  # doctest: +SKIP
        PosixPath('mspfn_rain13k.pt')
    """
    from bench.engine.checkpoint import load_checkpoint, save_atomic

    torch_dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}.get(dtype)
    if torch_dtype is None:
        raise ValueError(f"export dtype must be fp32, fp16 or bf16, not {dtype!r}")
    payload = load_checkpoint(checkpoint)
    if not isinstance(payload, Mapping) or "state_dict" not in payload:
        raise ValueError(f"{checkpoint}: not a bench checkpoint (no 'state_dict')")
    state = {k: v.to(torch_dtype) if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
    card = dict(payload.get("card") or {})
    card["exported_dtype"] = dtype
    out = Path(out)
    kept = {"state_dict": state, "model_kwargs": payload.get("model_kwargs", {}), "card": card}
    if payload.get("architecture") is not None:  # checkpoints of older code have none
        kept["architecture"] = payload["architecture"]
    save_atomic(kept, out)
    return out
