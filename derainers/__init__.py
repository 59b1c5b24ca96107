"""Derainer plugins: one module per derainer, plus their shared base (:mod:`derainers.base`).

Importing this package imports nothing heavy; the registry in :mod:`bench.registries` refers to the
modules lazily.
"""
