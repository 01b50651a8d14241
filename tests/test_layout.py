"""The package's layout: every module imports, no import circles (module-level or hidden in a function), and
no module grows past what one reader can hold."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import patronguard

PACKAGE = Path(patronguard.__file__).parent
MAX_LINES = 450

#: Import edges left out of the circle check, each with why. Empty is the goal.
KNOWN_CYCLE_EDGES: set[tuple[str, str]] = set()  # none: every circle found so far is broken


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path) -> dict[str, int]:
    """The patronguard modules ``name`` imports anywhere in its source (module level, in functions, under
    ``if``) → the first line that does; ``from .pkg import submodule`` names the submodule."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package[:len(package) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        for target in targets:
            if target in MODULES and target != name:
                found.setdefault(target, node.lineno)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _reaches(start: str, goal: str, skip: set[tuple[str, str]] = frozenset()) -> list[str] | None:
    """An import path from ``start`` to ``goal`` (module names), or None."""
    seen, todo = {start}, [[start]]
    while todo:
        route = todo.pop()
        for nxt in GRAPH[route[-1]]:
            if (route[-1], nxt) in skip:
                continue
            if nxt == goal:
                return route + [nxt]
            if nxt not in seen:
                seen.add(nxt)
                todo.append(route + [nxt])
    return None


def _cycles(skip: set[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), ignoring the ``skip`` edges."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in GRAPH[node]:
            if (node, nxt) in skip:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for name in sorted(GRAPH):
        if name not in index:
            visit(name)
    return found


def _describe(group: list[str]) -> str:
    members = set(group)
    edges = [f"{a} -> {b} (line {line})" for a in group for b, line in GRAPH[a].items() if b in members]
    return "; ".join(edges)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_imports(name):
    importlib.import_module(name)


@pytest.mark.parametrize("a, b", [
    ("patronguard.audit.chain", "patronguard.audit.log"),
    ("patronguard.retention.engine", "patronguard.retention.purge"),
    ("patronguard.workflow.service", "patronguard.workflow.purge_request"),
    ("patronguard.audit.witness", "patronguard.audit.prefect_witness"),
])
def test_the_former_circles_stay_broken(a, b):
    there, back = _reaches(a, b), _reaches(b, a)
    assert there is None or back is None, f"{' -> '.join(there)} and {' -> '.join(back)}"


def test_no_import_circles_in_the_package():
    cycles = _cycles(KNOWN_CYCLE_EDGES)
    assert cycles == [], "\n".join(_describe(group) for group in cycles)


def test_the_graph_sees_function_level_imports(tmp_path):
    """The check would be blind if it missed imports inside functions (how circles used to be hidden)."""
    source = tmp_path / "example.py"
    source.write_text("from . import requests as wf\n\n\ndef later():\n    if True:\n"
                      "        from ..audit.log import scan_entries\n        from .. import errors\n")
    assert set(_imports("patronguard.workflow.example", source)) == {
        "patronguard.workflow.requests", "patronguard.audit.log", "patronguard.errors"}
    assert "patronguard.audit.prefect_witness" in GRAPH["patronguard.audit.witness"]   # inside discover_witnesses


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_is_short_enough(name):
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines < MAX_LINES, f"{MODULES[name].relative_to(PACKAGE.parent)}: {lines} lines (split it)"
