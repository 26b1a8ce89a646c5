"""The evaluator's module structure: no import cycle, one readable command table (issue 14 item 4)."""

from __future__ import annotations

import ast
from pathlib import Path

from devtools.spl.commands import COMMANDS

SPL = Path(__file__).resolve().parents[2] / "devtools" / "spl"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SPL).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__")


def _imports(path: Path) -> set:
    """Modules of devtools.spl that ``path`` imports at run time (lazy imports included; imports
    under ``if TYPE_CHECKING:`` are for annotations only and never execute)."""
    package = _module_name(path).split(".") if path.name != "__init__.py" else [*_module_name(path).split("."), "x"]
    package = [p for p in package[:-1] if p]
    found = set()
    tree = ast.parse(path.read_text())
    typing_only = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            typing_only.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)] if node.level > 1 else list(package)
            target = ".".join(base + ([node.module] if node.module else []))
            if node.module is None:
                found.update(".".join([*base, alias.name]) for alias in node.names)
            else:
                found.add(target)
    return {name for name in found if name}


def _graph() -> dict:
    graph = {}
    for path in SPL.rglob("*.py"):
        graph[_module_name(path) or "__init__"] = _imports(path)
    return graph


def test_no_import_cycle_in_devtools_spl():
    graph = _graph()
    state: dict = {}

    def visit(node: str, trail: list) -> None:
        state[node] = "open"
        for nxt in graph.get(node, ()):
            if nxt not in graph:
                continue
            if state.get(nxt) == "open":
                raise AssertionError("import cycle: " + " -> ".join([*trail, node, nxt]))
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    assert "evalexpr" in graph and "functions" in graph["evalexpr"]
    assert "evalexpr" not in graph["functions"]


def test_command_table_is_explicit_and_complete():
    """Every command is one line of the table; no module registers commands as a side effect."""
    source = (SPL / "commands" / "__init__.py").read_text()
    listed = {node.value for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Constant)}
    assert set(COMMANDS) <= listed
    for path in (SPL / "commands").glob("*.py"):
        assert "COMMANDS[" not in path.read_text(), f"{path.name} registers a command by side effect"
    assert {"search", "stats", "mvexpand", "spath", "eval", "lookup"} <= set(COMMANDS)
    assert COMMANDS["makeresults"].generating and not COMMANDS["stats"].generating
