"""Extract a state dict from a legacy (pre-1.6) ``torch.save(model)`` file without running its code.

Some published checkpoints pickle the whole ``nn.Module`` (e.g. the DDN reproduction saves a
``DataParallel(DeRain)`` object). ``torch.load(weights_only=True)`` refuses those files, and a plain
``torch.load`` would import and execute the pickled classes. This module reads the legacy format
with a restricted unpickler: every module class is replaced by an inert attribute container, tensors
are rebuilt from the raw storages, and any other global is refused. Nothing from the file is executed.
"""

from __future__ import annotations

import pickle
import struct
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES: dict[str, torch.dtype] = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}
_MODULE_PREFIXES = ("torch.nn.modules.", "torch.nn.parallel.", "__main__")


class LegacyPickleError(RuntimeError):
    """The file is not a legacy torch pickle of tensors and modules."""


class _ModuleStub:
    """Inert stand-in for a pickled ``nn.Module``: pickle's BUILD fills its ``__dict__``."""


class _StorageType:
    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype


def _no_op(*_args: Any, **_kwargs: Any) -> None:
    return None


def _rebuild_tensor(
    storage: torch.Tensor, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_rest: Any
) -> torch.Tensor:
    # as_strided counts from the start of the underlying buffer: a view's own offset comes first
    return storage.as_strided(size, stride, storage.storage_offset() + offset)


def _rebuild_parameter(data: torch.Tensor, *_rest: Any) -> torch.Tensor:
    return data


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, storages: dict[str, torch.Tensor]) -> None:
        super().__init__(file)
        self._storages = storages
        self._stub_classes: dict[str, type] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if (module, name) in (("torch._utils", "_rebuild_parameter"), ("torch.nn.parameter", "Parameter")):
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        if module == "torch.nn.backends.thnn" and name == "_get_thnn_function_backend":
            return _no_op
        if module.startswith(_MODULE_PREFIXES):
            key = f"{module}.{name}"
            if key not in self._stub_classes:
                self._stub_classes[key] = type(name, (_ModuleStub,), {"__module__": "legacy." + module})
            return self._stub_classes[key]
        raise LegacyPickleError(f"refused global {module}.{name} (only tensors and nn modules are allowed)")

    def persistent_load(self, pid: Any) -> Any:
        if not isinstance(pid, tuple) or not pid:
            raise LegacyPickleError(f"unexpected persistent id {pid!r}")
        if pid[0] == "module":  # ("module", class, source file, source): the class (a stub here)
            if not (isinstance(pid[1], type) and issubclass(pid[1], _ModuleStub)):
                raise LegacyPickleError(f"unexpected module record {pid[1]!r}")
            return pid[1]
        if pid[0] != "storage":
            raise LegacyPickleError(f"unexpected persistent id kind {pid[0]!r}")
        _, storage_type, root_key, _location, numel, view_metadata = pid
        if not isinstance(storage_type, _StorageType):
            raise LegacyPickleError(f"unknown storage type {storage_type!r}")
        if root_key not in self._storages:
            self._storages[root_key] = torch.empty(int(numel), dtype=storage_type.dtype)
        root = self._storages[root_key]
        if view_metadata is not None:
            _view_key, offset, view_size = view_metadata
            return root[offset : offset + view_size]
        return root


def _collect(obj: Any, prefix: str, out: dict[str, torch.Tensor]) -> None:
    state = vars(obj)
    for group in ("_parameters", "_buffers"):
        for name, value in (state.get(group) or {}).items():
            if value is not None:
                out[prefix + name] = value
    for name, child in (state.get("_modules") or {}).items():
        if child is not None:
            _collect(child, f"{prefix}{name}.", out)


def load_legacy_module_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """State dict (parameters and buffers, with the pickled module's key names) of a legacy file.

    Args:
        path: A file written by ``torch.save(model)`` with PyTorch < 1.6 (non-zip format).

    Returns:
        ``{key: tensor}`` exactly as ``model.state_dict()`` would name them (``module.`` prefix kept).

    Raises:
        LegacyPickleError: not a legacy file, or it contains globals other than tensors/modules.

    Example:
        >>> load_legacy_module_state_dict("model_best.pth")  # doctest: +SKIP
    """
    storages: dict[str, torch.Tensor] = {}
    with open(path, "rb") as f:
        try:
            magic = _RestrictedUnpickler(f, storages).load()
        except (pickle.UnpicklingError, EOFError) as err:
            raise LegacyPickleError(f"{path}: not a legacy torch file ({err})") from err
        if magic != LEGACY_MAGIC:
            raise LegacyPickleError(f"{path}: not a legacy torch file (bad magic number)")
        _protocol = _RestrictedUnpickler(f, storages).load()
        _sys_info = _RestrictedUnpickler(f, storages).load()
        root = _RestrictedUnpickler(f, storages).load()
        keys = _RestrictedUnpickler(f, storages).load()
        for key in keys:
            flat = storages[key]
            (count,) = struct.unpack("<q", f.read(8))
            if count != flat.numel():
                raise LegacyPickleError(f"{path}: storage {key} has {count} elements, expected {flat.numel()}")
            nbytes = count * flat.element_size()
            raw = f.read(nbytes)
            if len(raw) != nbytes:
                raise LegacyPickleError(f"{path}: truncated storage {key}")
            flat.view(torch.uint8).copy_(torch.frombuffer(bytearray(raw), dtype=torch.uint8))
    if isinstance(root, _ModuleStub):
        out: dict[str, torch.Tensor] = {}
        _collect(root, "", out)
        return {k: v.clone() for k, v in out.items()}
    if isinstance(root, dict):
        return {k: v.clone() for k, v in root.items() if isinstance(v, torch.Tensor)}
    raise LegacyPickleError(f"{path}: holds a {type(root).__name__}, not a module or state dict")
