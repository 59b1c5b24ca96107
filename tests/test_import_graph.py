"""The import graph of bench/ and derainers/: no cycles, no upward edges (layers in docs/architecture.md).

An AST walk of every module, counting imports inside functions too (a lazy import is still a
dependency); only ``if TYPE_CHECKING:`` blocks are left out (they never run). Each known departure is
listed below with its issue; the test fails when a new one appears *and* when a listed one is gone (so
the list only shrinks).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Layer of each top-level unit (a subpackage of bench, a top-level module, or derainers); a unit may
#: import only units of its own layer or lower. The same table is in docs/architecture.md.
LAYERS: dict[str, int] = {
    "bench._version": 0,
    "bench.registry": 0,
    "bench.paths": 0,
    "bench.optional": 0,
    "bench.fileio": 0,
    "bench.config": 0,
    "bench.progress": 0,
    "bench.metrics": 1,
    "bench.data": 2,
    "bench.registries": 3,
    "bench.engine": 4,
    "derainers": 5,
    "bench.convert": 6,
    "bench.factory": 6,
    "bench.evaluators": 7,
    "bench.train": 7,
    "bench.results": 8,
    "bench.stats": 8,
    "bench.tasks": 9,
    "bench.validate": 10,
    "bench.validate_checks": 10,
    "bench.api": 10,
    "bench.reproduce": 11,
    "bench.report": 11,
    "bench.cli": 12,
    "bench": 12,  # the package's lazy facade (bench.evaluate, bench.results)
    "bench.__main__": 12,
}

#: Known upward edges (unit -> unit: the modules that make them), each with its issue.
KNOWN_UPWARD: dict[tuple[str, str], str] = {}
#: Known module cycles, each with its issue.
KNOWN_CYCLES: dict[frozenset[str], str] = {}


def _modules() -> dict[str, Path]:
    found = {}
    for package in ("bench", "derainers"):
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(tree: ast.AST, module: str, is_package: bool, known: set[str]) -> list[str]:
    """Every module name an ``import``/``from`` statement names, anywhere but ``if TYPE_CHECKING:``."""
    names: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".") if is_package else module.split(".")[:-1]
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            for alias in node.names:  # `from pkg import module` names the module, else the package
                sub = f"{base}.{alias.name}"
                names.append(sub if sub in known else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in _imported(ast.parse(path.read_text()), name, path.name == "__init__.py", set(modules)):
            if imported in modules and imported != name:
                targets.add(imported)
        graph[name] = targets
    return graph


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[0] if parts[0] == "derainers" else ".".join(parts[:2])


def _cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def test_every_unit_has_a_layer() -> None:
    units = {_unit(m) for m in import_graph()}
    assert units - set(LAYERS) == set(), "add the new unit to LAYERS here and in docs/architecture.md"


def test_no_import_cycles_but_the_listed_ones() -> None:
    cycles = set(_cycles(import_graph()))
    assert cycles - set(KNOWN_CYCLES) == set(), "new import cycle(s)"
    assert set(KNOWN_CYCLES) - cycles == set(), "a listed cycle is gone: remove it from KNOWN_CYCLES"


def test_no_upward_imports_but_the_listed_ones() -> None:
    upward: dict[tuple[str, str], list[str]] = {}
    for module, targets in import_graph().items():
        for target in targets:
            a, b = _unit(module), _unit(target)
            if a != b and LAYERS[b] > LAYERS[a]:
                upward.setdefault((a, b), []).append(f"{module} -> {target}")
    new = {edge: where for edge, where in upward.items() if edge not in KNOWN_UPWARD}
    assert new == {}, "upward import(s): move the shared piece down a layer"
    assert set(KNOWN_UPWARD) - set(upward) == set(), "a listed edge is gone: remove it from KNOWN_UPWARD"


def test_the_walk_sees_lazy_imports() -> None:
    graph = import_graph()
    assert "bench.factory" in graph["bench.tasks.common"]  # imported inside build_engine()
    assert "bench.tasks.restoration" not in graph["bench.registries"]  # a lazy "module:Attr" string
