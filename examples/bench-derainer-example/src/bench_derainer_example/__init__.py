"""bench-derainer-example: a third-party derainer plugin for ``bench``.

The package registers one derainer, ``guided_residual``, through the ``bench.derainers`` entry point
(see ``pyproject.toml``). After ``pip install``, ``python -m bench ls derainers`` lists it and every
``bench`` command accepts ``--derainer guided_residual``.
"""

from bench_derainer_example.model import GuidedResidual, guided_residual

__all__ = ["GuidedResidual", "guided_residual"]
__version__ = "0.1.0"
