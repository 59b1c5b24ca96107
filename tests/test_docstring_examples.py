"""Every ``Example:`` in the docstrings of ``bench/``, ``derainers/`` and ``scripts/`` runs and prints what it says.

Examples that need data or weights not in the repository are marked ``# doctest: +SKIP``; the rest are
executed here, so documentation cannot drift from the code.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]


def _module_names() -> list[str]:
    """Modules whose source has an example (``>>>``); scripts by path, the rest by dotted name."""
    names = []
    for package in ("bench", "derainers"):
        for path in sorted((REPO / package).rglob("*.py")):
            if ">>>" in path.read_text(encoding="utf-8") and path.name != "__main__.py":
                parts = path.relative_to(REPO).with_suffix("").parts
                names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    scripts = sorted((REPO / "scripts").glob("*.py"))
    names += [f"scripts/{p.name}" for p in scripts if ">>>" in p.read_text(encoding="utf-8")]
    return names


def _load(name: str) -> ModuleType:
    if not name.startswith("scripts/"):
        return importlib.import_module(name)
    spec = importlib.util.spec_from_file_location(Path(name).stem, REPO / name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MODULES = _module_names()


def test_the_walk_finds_the_packages() -> None:
    assert "bench.registry" in MODULES and "derainers.shipped" in MODULES and "scripts/ship_weights.py" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # examples that write relative paths write here
    module = _load(name)
    tests = [t for t in doctest.DocTestFinder(exclude_empty=True).find(module, module.__name__) if t.examples]
    assert tests, f"{name} has '>>>' in its source but no docstring example was found"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    for test in tests:
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)
