"""Plain containers for checkpoints and JSON: what ``torch.load(weights_only=True)`` and ``json`` accept."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np


def plain(obj: Any) -> Any:
    """Convert to containers of str/int/float/bool/None (tuples kept) so ``weights_only`` loading works."""
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return tuple(plain(v) for v in obj)
    if isinstance(obj, list | set | frozenset):
        return [plain(v) for v in obj]
    if obj is None:
        return None
    for kind in (bool, int, float, str):  # exact builtin types (torch.__version__ is a str subclass)
        if isinstance(obj, kind):
            return kind(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return str(obj)


def json_safe(obj: Any) -> Any:
    obj = plain(obj)
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    return obj
