"""bench: does removing rain help the vision system downstream, and by how much?

Import-light: ``import bench`` loads no model code, no torch models and no ultralytics.

Example:
    >>> import bench
    >>> "mspfn" in bench.list_derainers()
    True
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "create_derainer", "list_derainers", "list_metrics"]


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
