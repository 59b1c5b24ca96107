"""Safe checkpoint loading and atomic saving (design.md principle 10: ``weights_only=True``)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from bench.fileio import atomic_path


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint needs arbitrary unpickling, which bench refuses to do."""


def load_checkpoint(path: str | Path) -> Any:
    """Load a ``torch.save`` file onto the CPU without executing arbitrary pickled code.

    Legacy (pre-1.6) pickles and CUDA-saved tensors load fine; a file that contains anything other
    than tensors and plain containers is refused.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        UnsafeCheckpointError: the file needs objects outside the ``weights_only`` allow-list.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise UnsafeCheckpointError(
            f"{path}: refused to load, the checkpoint contains pickled objects other than tensors "
            f"(loading uses weights_only=True and never unpickles arbitrary code). Re-save it as a "
            f"plain state dict. Details: {str(err).splitlines()[0]}"
        ) from err
    except RuntimeError as err:
        if "weights_only" in str(err) or "Unsupported" in str(err):
            raise UnsafeCheckpointError(f"{path}: refused to load: {str(err).splitlines()[0]}") from err
        raise


def save_atomic(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temporary file in the same folder, then rename it over ``path``."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
