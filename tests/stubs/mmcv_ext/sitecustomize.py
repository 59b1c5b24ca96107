"""Test-only stand-in for mmcv's compiled ops (``mmcv._ext``), which ``mmcv-lite`` does not ship.

Put this folder on ``PYTHONPATH`` of a subprocess (``site`` imports ``sitecustomize`` at start-up): a meta
path finder then answers ``import mmcv._ext`` with a module whose every attribute is a function that
raises. ``mmseg.apis`` imports ``mmcv.ops`` (which asserts the op names exist) but the plain
encoder-decoder models used in the tests (FCN/PSPNet/SegFormer heads on CPU) never call a compiled op.
It is never part of the product: a user installs the full ``mmcv`` instead (see docs/backends.md).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any


class _StubOps(types.ModuleType):
    """``mmcv._ext`` whose ops exist (``hasattr`` is true) and raise when called."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("__"):
            raise AttributeError(name)

        def missing(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(f"mmcv._ext.{name} is a test stub: this model needs the full mmcv (compiled ops)")

        return missing


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "mmcv._ext":
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return _StubOps(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        return None


sys.meta_path.append(_StubFinder())
