"""The derainer trainer behind ``bench train`` (above the factory: it builds the model it trains).

:mod:`bench.train.trainer` (the loop), :mod:`bench.train.config` (what a run is),
:mod:`bench.train.checkpoint` (the checkpoint format), :mod:`bench.train.log` (``metrics.csv``),
:mod:`bench.train.validation` (PSNR/SSIM on held-back pairs), :mod:`bench.train.export` (shippable weights),
:mod:`bench.train.convergence` (has a run converged? the validation trend), :mod:`bench.train.curve` (its plot),
:mod:`bench.train.resume` (what a resume may change), :mod:`bench.train.card` (what a shipped card says).

The names below load their modules on first use, so ``python -m bench.train.convergence`` and
``import bench.train.convergence`` do not import torch or the trainer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.train.checkpoint import CHECKPOINT_FORMAT as CHECKPOINT_FORMAT
    from bench.train.config import AmpMode as AmpMode
    from bench.train.config import TrainConfig as TrainConfig
    from bench.train.config import TrainResult as TrainResult
    from bench.train.export import ExportDtype as ExportDtype
    from bench.train.export import export_weights as export_weights
    from bench.train.trainer import Trainer as Trainer
    from bench.train.validation import validate as validate

#: Public name → the module that defines it.
_EXPORTS: dict[str, str] = {
    "CHECKPOINT_FORMAT": "bench.train.checkpoint",
    "AmpMode": "bench.train.config",
    "TrainConfig": "bench.train.config",
    "TrainResult": "bench.train.config",
    "ExportDtype": "bench.train.export",
    "export_weights": "bench.train.export",
    "Trainer": "bench.train.trainer",
    "validate": "bench.train.validation",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Load a public name's module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bench.train' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
