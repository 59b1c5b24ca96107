"""bench: does removing rain help the vision system downstream, and by how much?

Import-light: ``import bench`` loads no model code, no torch models and no ultralytics.

Example:
    >>> import bench
    >>> "mspfn" in bench.list_derainers()
    True
    >>> record = bench.evaluate(derainer="identity", task="restoration", dataset="RainTrainL",
    ...                         limit=2)  # doctest: +SKIP

``bench.evaluate`` (:func:`bench.api.evaluate`) and ``bench.results`` are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench import results as results
    from bench.api import evaluate as evaluate

from bench._version import __version__

__all__ = ["__version__", "create_derainer", "evaluate", "list_derainers", "list_metrics", "results"]


def __getattr__(name: str) -> Any:
    """Lazy attributes: ``bench.evaluate`` and ``bench.results`` import their modules on first use."""
    if name == "evaluate":
        from bench.api import evaluate

        return evaluate
    if name == "results":
        return importlib.import_module("bench.results")
    raise AttributeError(f"module 'bench' has no attribute {name!r}")


def list_derainers() -> list[str]:
    """Names of all registered derainers (built-in and plugins)."""
    from bench.registries import DERAINERS

    return DERAINERS.names()


def list_metrics() -> list[str]:
    """Names of all registered metric variants."""
    from bench.registries import METRICS

    return METRICS.names()


def create_derainer(name: str, weights: str | None = "default", **kwargs: Any):  # -> derainers.base.Derainer
    """Build a registered derainer, optionally loading weights (see :func:`bench.factory.create_derainer`)."""
    from bench.factory import create_derainer as _create

    return _create(name, weights=weights, **kwargs)
