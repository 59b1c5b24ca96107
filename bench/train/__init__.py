"""The derainer trainer behind ``bench train`` (above the factory: it builds the model it trains).

:mod:`bench.train.trainer` (the loop), :mod:`bench.train.config` (what a run is),
:mod:`bench.train.checkpoint` (the checkpoint format), :mod:`bench.train.log` (``metrics.csv``).
"""

from bench.train.config import AmpMode, TrainConfig, TrainResult
from bench.train.trainer import CHECKPOINT_FORMAT, ExportDtype, Trainer, export_weights, validate

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
