"""The derainer trainer behind ``bench train`` (above the factory: it builds the model it trains).

:mod:`bench.train.trainer` (the loop), :mod:`bench.train.config` (what a run is),
:mod:`bench.train.checkpoint` (the checkpoint format), :mod:`bench.train.log` (``metrics.csv``),
:mod:`bench.train.validation` (PSNR/SSIM on held-back pairs), :mod:`bench.train.export` (shippable weights),
:mod:`bench.train.convergence` (has a run converged? the validation trend).
"""

from bench.train.checkpoint import CHECKPOINT_FORMAT
from bench.train.config import AmpMode, TrainConfig, TrainResult
from bench.train.export import ExportDtype, export_weights
from bench.train.trainer import Trainer
from bench.train.validation import validate

__all__ = [
    "CHECKPOINT_FORMAT",
    "AmpMode",
    "ExportDtype",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "export_weights",
    "validate",
]
