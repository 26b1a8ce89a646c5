"""No import cycle among the first-party modules of app/ and devtools/ (issue 14).

The import graph is read with ``ast`` (no module is imported), function-level imports included:
a lazy import still couples two modules. An edge goes to the module actually named
(``from a.b import c`` goes to ``a.b.c`` when that is a module, else to ``a.b``).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"malicious_image": ROOT / "app" / "bin" / "malicious_image", "devtools": ROOT / "devtools"}



def module_files() -> dict[str, Path]:
    """Every first-party module name -> its file."""
    found = {}
    for top, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            if "node_modules" in path.parts:
                continue
            parts = [top, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _runtime_nodes(tree: ast.AST):
    """Every node of ``tree`` except what sits under ``if TYPE_CHECKING:`` (never imported at run
    time, so it cannot make an import cycle; type checkers resolve those lazily)."""
    pending = [tree]
    while pending:
        node = pending.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                pending.extend(child.orelse)
                continue
            pending.append(child)


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the first-party modules it imports at run time (anywhere in the file, function
    bodies included; ``if TYPE_CHECKING:`` blocks excluded)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                named = [f"{base}.{alias.name}" for alias in node.names]
                targets = [module if module in modules else base for module in named]
            for target in targets:
                while target and target not in modules:  # `import a.b.c` where c is an attribute
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
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


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [frozenset({"a", "b", "c"})]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_function_level_and_relative_imports(tmp_path):
    pkg = tmp_path / "malicious_image"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "one.py").write_text("def f():\n    from malicious_image.sub import two\n")
    (pkg / "sub" / "two.py").write_text("from . import one\nimport json\n")
    modules = {
        "malicious_image": pkg / "__init__.py",
        "malicious_image.sub": pkg / "sub" / "__init__.py",
        "malicious_image.sub.one": pkg / "sub" / "one.py",
        "malicious_image.sub.two": pkg / "sub" / "two.py",
    }
    graph = import_graph(modules)
    assert graph["malicious_image.sub.one"] == {"malicious_image.sub.two"}
    assert graph["malicious_image.sub.two"] == {"malicious_image.sub.one"}
    assert cycles(graph) == [frozenset({"malicious_image.sub.one", "malicious_image.sub.two"})]


def test_no_import_cycle_in_app_and_devtools():
    modules = module_files()
    assert "malicious_image.content.source_base" in modules and "devtools.spl.engine" in modules
    found = sorted(" <-> ".join(sorted(cycle)) for cycle in cycles(import_graph(modules)))
    assert not found, f"import cycles: {found}"


def test_content_sources_do_not_import_each_other():
    graph = import_graph(module_files())
    base = "malicious_image.content.source_base"
    # the leaf: the archive types, and SyncState for typing only
    assert graph[base] <= {"malicious_image.content.archive", "malicious_image.sync.state"}, graph[base]
    for one, other in (("sources", "github"), ("github", "sources")):
        assert f"malicious_image.content.{other}" not in graph[f"malicious_image.content.{one}"]
        assert base in graph[f"malicious_image.content.{one}"]
