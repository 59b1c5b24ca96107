"""``bench reproduce``: every published-number check bench can run with the data at hand.

A :class:`~bench.reproduce.checks.Check` pairs numbers someone published (a weights' authors, the MSPFN
paper, the MATLAB reference code of a metric) with the bench run that should measure them under the
same protocol. :func:`~bench.reproduce.runner.run_checks` runs each one through :func:`bench.evaluate`
(or, for parameter counts and image-pair metrics, the model and metric code directly) and returns one
:class:`~bench.reproduce.runner.Outcome` per published number: measured, skipped with the reason
(data or weights absent, nothing published), or failed with the error.
:mod:`bench.reproduce.render` turns outcomes into Markdown and regenerates ``docs/reproduction.md``.

Example:
    >>> from bench.reproduce.checks import all_checks
    >>> "prenet-rain100l" in [c.name for c in all_checks()]
    True
"""
