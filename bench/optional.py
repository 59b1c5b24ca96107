"""Optional backends (mmsegmentation, pyiqa, detectron2): import them on demand, or fail in one line.

Each backend is its own extra of the ``bench-derain`` package (none of them is in ``[all]``); nothing
here imports a backend at ``import bench``. When a backend is missing, :func:`import_backend` raises
:class:`MissingBackendError`, whose message is one line naming the install command; the CLI prints it
as ``error: ...`` without a traceback. ``docs/backends.md`` says which backend serves which task.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Literal

BackendName = Literal["mmseg", "pyiqa", "detectron2"]


class MissingBackendError(ImportError):
    """An optional backend package (or part of it) is not installed; the message says how to install it."""


@dataclass(frozen=True)
class Backend:
    """An optional backend: what it is, the modules it provides and how to install it.

    Attributes:
        package: The distribution users know (``"mmsegmentation"``).
        modules: Top-level import names that belong to the backend (a missing one is the backend missing).
        install: The one install command (an extra of this package where one exists).
        licence: The backend's licence (shown in ``bench ls`` and docs/backends.md).
    """

    package: str
    modules: tuple[str, ...]
    install: str
    licence: str


BACKENDS: dict[BackendName, Backend] = {
    "mmseg": Backend(
        "mmsegmentation",
        ("mmseg", "mmengine", "mmcv", "ftfy", "regex"),
        "pip install 'bench-derain[mmseg]' mmcv==2.1.0 (mmsegmentation 1.2.2 and the full mmcv with its "
        "compiled ops: a source build, ~22 min on 2 cores, or OpenMMLab's prebuilt wheel; docs/backends.md)",
        "Apache-2.0",
    ),
    "pyiqa": Backend(
        "pyiqa",
        ("pyiqa", "huggingface_hub"),
        "pip install 'bench-derain[pyiqa]' (pyiqa 0.1.16; licence PolyForm-Noncommercial-1.0.0)",
        "PolyForm-Noncommercial-1.0.0",
    ),
    "detectron2": Backend(
        "detectron2",
        ("detectron2", "fvcore"),
        "detectron2 is not on PyPI: pip install 'git+https://github.com/facebookresearch/detectron2.git' "
        "(builds from source; docs/backends.md)",
        "Apache-2.0",
    ),
}

#: What mmcv-lite lacks and the full mmcv provides (mmseg.apis imports it through mmcv.ops).
MMCV_OPS_MODULE = "mmcv._ext"
MMCV_FULL_INSTALL = (
    "mmsegmentation needs mmcv's compiled ops (mmcv._ext), which mmcv-lite does not ship: install the full "
    "mmcv instead (pip uninstall mmcv-lite && pip install mmcv==2.1.0, a source build of ~22 min on 2 cores, "
    "or OpenMMLab's prebuilt wheel for your torch; docs/backends.md)"
)


def missing_message(backend: BackendName, purpose: str, missing: str | None = None) -> str:
    """The one-line message for a missing backend.

    Example:
        >>> missing_message("pyiqa", "metric pyiqa:lpips", "pyiqa")  # doctest: +ELLIPSIS
        "metric pyiqa:lpips needs pyiqa (module 'pyiqa' not found): pip install 'bench-derain[pyiqa]' ..."
    """
    spec = BACKENDS[backend]
    what = f" (module {missing!r} not found)" if missing else ""
    return f"{purpose} needs {spec.package}{what}: {spec.install}"


def import_backend(backend: BackendName, module: str, purpose: str) -> ModuleType:
    """Import ``module`` of an optional backend, or raise :class:`MissingBackendError` in one line.

    Only a missing module of the backend itself (one of :attr:`Backend.modules`) becomes the one-line
    error; any other import failure inside the backend is a real bug and propagates as it is. For
    mmsegmentation, a missing ``mmcv._ext`` (mmcv-lite installed) names the full-mmcv install instead.

    Args:
        backend: ``"mmseg"``, ``"pyiqa"`` or ``"detectron2"``.
        module: What to import, e.g. ``"mmseg.apis"``.
        purpose: Who needs it, for the message (``"evaluator mmseg"``).

    Raises:
        MissingBackendError: the backend (or mmcv's compiled ops) is not installed.

    Example:
        >>> import_backend("detectron2", "detectron2.config", "the detectron2 backend")  # doctest: +SKIP
        Traceback (most recent call last):
        bench.optional.MissingBackendError: the detectron2 backend needs detectron2 ...
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        name = err.name or ""
        if backend == "mmseg" and name == MMCV_OPS_MODULE:
            raise MissingBackendError(f"{purpose}: {MMCV_FULL_INSTALL}", name=name) from err
        if name.split(".")[0] in BACKENDS[backend].modules:
            raise MissingBackendError(missing_message(backend, purpose, name), name=name) from err
        raise
