"""Every built-in lazy entry resolves (the lm-eval lesson: mappings must not drift from modules)."""

from __future__ import annotations

import pytest

from bench.registries import DERAINERS, EVALUATORS, METRICS, TASKS


@pytest.mark.parametrize("name", DERAINERS.names())
def test_derainer_entry_builds(name: str) -> None:
    from bench.factory import create_derainer

    model = create_derainer(name, weights=None)
    assert model.card.name == DERAINERS.canonical(name)


@pytest.mark.parametrize("name", METRICS.names())
def test_metric_entry_resolves(name: str) -> None:
    spec = METRICS.get(name)
    assert spec.name == name
    assert spec.mode in ("FR", "NR")


@pytest.mark.parametrize("name", TASKS.names())
def test_task_entry_resolves(name: str) -> None:
    assert callable(TASKS.get(name))


@pytest.mark.parametrize("name", EVALUATORS.names())
def test_evaluator_entry_resolves(name: str) -> None:
    assert callable(EVALUATORS.get(name))
