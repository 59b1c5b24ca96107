"""Safe checkpoint loading and atomic saving (design.md principle 10: ``weights_only=True``)."""

from __future__ import annotations

import importlib
import pickle
from pathlib import Path
from typing import Any

import torch

from bench.fileio import atomic_path


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint needs arbitrary unpickling, which bench refuses to do."""


#: numpy's array and scalar reconstruction: plain data (an object array holds only objects already allowed).
_NUMPY_DATA = frozenset(
    {
        "numpy.dtype",
        "numpy.ndarray",
        "numpy._core.multiarray._reconstruct",
        "numpy._core.multiarray.scalar",
        "numpy.core.multiarray._reconstruct",
        "numpy.core.multiarray.scalar",
    }
)


class OpaqueObject:
    """What an object of an allowed foreign library becomes when a checkpoint is read without that library's
    code: its pickled arguments and state kept as data, nothing of its class run (e.g. mmengine's
    ``HistoryBuffer`` in a training checkpoint's ``message_hub``).

    Example:
        >>> OpaqueObject(1, key="v").args
        (1,)
    """

    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    state: Any

    def __new__(cls, *args: Any, **kwargs: Any) -> OpaqueObject:
        # all in __new__: protocol 2 rebuilds an ordinary object as cls.__new__(cls, *args) (NEWOBJ), no __init__
        self = super().__new__(cls)
        self.args, self.kwargs, self.state = args, kwargs, None
        return self

    def __setstate__(self, state: Any) -> None:
        self.state = state


def _numpy_dtype_classes() -> list[type]:
    import numpy as np

    found = (getattr(np.dtypes, name) for name in dir(np.dtypes))
    return [c for c in found if isinstance(c, type) and issubclass(c, np.dtype) and c is not np.dtype]


def _opaque_globals(path: Path, opaque: tuple[str, ...]) -> list[Any] | None:
    """The allow-list that loads ``path`` when every global it needs beyond the default list is numpy data
    or a class under one of the ``opaque`` module prefixes (each mapped to :class:`OpaqueObject`); else None."""
    try:
        needed = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except (ValueError, RuntimeError):  # a legacy (non-zip) torch.save file: its globals cannot be listed
        return None
    allowed: list[Any] = []
    for name in needed:
        if name in _NUMPY_DATA:
            module, _, attr = name.rpartition(".")
            # numpy 1.x pickles name numpy.core, numpy 2 numpy._core (the same functions); allowed under the
            # name the file gives, since torch otherwise keys an allowed function by its own __module__
            module = module.replace("numpy.core.", "numpy._core.", 1)
            try:
                allowed.append((getattr(importlib.import_module(module), attr), name))
            except (ImportError, AttributeError):
                return None
            if name == "numpy.dtype":  # a dtype is rebuilt as its class (numpy.dtypes.Int64DType ...)
                allowed += _numpy_dtype_classes()
        elif any(name.startswith(prefix) for prefix in opaque):
            allowed.append((OpaqueObject, name))
        else:
            return None
    return allowed


def load_checkpoint(path: str | Path, *, opaque: tuple[str, ...] = ()) -> Any:
    """Load a ``torch.save`` file onto the CPU without executing arbitrary pickled code.

    Legacy (pre-1.6) pickles and CUDA-saved tensors load fine; a file that contains anything other
    than tensors and plain containers is refused, except, when ``opaque`` names module prefixes (e.g.
    ``("mmengine.",)`` for the checkpoints mmengine's runner saves), numpy arrays and scalars, and objects of
    those modules' classes, which load as inert :class:`OpaqueObject` s (their code is never imported).

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
        allowed = _opaque_globals(path, opaque) if opaque else None
        if allowed is None:
            raise _refused(path, err) from err
    except RuntimeError as err:
        if "weights_only" in str(err) or "Unsupported" in str(err):
            raise UnsafeCheckpointError(f"{path}: refused to load: {str(err).splitlines()[0]}") from err
        raise
    with torch.serialization.safe_globals(allowed):  # numpy data and inert stand-ins, nothing else
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as err:
            raise _refused(path, err) from err


def _refused(path: Path, err: BaseException) -> UnsafeCheckpointError:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    telling = [line for line in lines if "Unsupported global" in line or "got <class" in line]
    first = (telling or lines or [type(err).__name__])[0]
    return UnsafeCheckpointError(
        f"{path}: refused to load, the checkpoint contains pickled objects other than tensors "
        f"(loading uses weights_only=True and never unpickles arbitrary code). Re-save it as a "
        f"plain state dict. Details: {first}"
    )


def save_atomic(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temporary file in the same folder, then rename it over ``path``."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
