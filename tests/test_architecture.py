"""The layout rules, checked by reading the source (``ast``), not by importing it.

1. The edges (``api/``, ``cli/``, ``ui/``) call services only: no module there imports
   ``tether.store`` or anything under it, at module level or inside a function, however the
   import is spelled (``import tether.store.x``, ``from tether.store import x``,
   ``from tether import store``, ``from ..store import x``), and none reaches the database
   through ``engine.db`` / ``.connection()`` / ``.transaction()``.
2. ``src/tether`` has no import cycles, counting function-level imports (a cycle hidden by a
   function-level import is still a cycle: the modules cannot be understood or tested apart).
   Imports under ``if TYPE_CHECKING:`` do not run and are not counted.
3. No module under ``src/tether`` is longer than ``MAX_MODULE_LINES`` (400) lines: split it by
   what its parts do.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "tether"
EDGES = ("api", "cli", "ui")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_nodes(tree: ast.AST):
    """Every node, skipping the bodies of ``if TYPE_CHECKING:`` blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def import_statements(path: Path, text: str | None = None) -> list[tuple[int, str, list[str] | None]]:
    """``(line, module, names)`` per import statement of the module at ``path`` (``text``: its
    source, default read from ``path``), relative imports resolved; ``names`` is None for
    ``import module``, else the names of ``from module import names``."""
    mod = module_name(path)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    source = path.read_text(encoding="utf-8") if text is None else text
    out: list[tuple[int, str, list[str] | None]] = []
    for node in _runtime_nodes(ast.parse(source, str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            out.append((node.lineno, base, [a.name for a in node.names if a.name != "*"]))
    return out


def imported_names(path: Path, text: str | None = None) -> list[tuple[int, str]]:
    """``(line, dotted name)`` for every module or name an import statement loads:
    ``from tether.store import audit`` gives ``tether.store`` and ``tether.store.audit``;
    ``from tether import store`` gives ``tether`` and ``tether.store``."""
    out: list[tuple[int, str]] = []
    for line, base, names in import_statements(path, text):
        out.append((line, base))
        out += [(line, f"{base}.{n}") for n in names or []]
    return out


def test_import_walker_sees_every_spelling() -> None:
    """The walker itself: every spelling of a store import is seen (so the edge test could fail)."""
    src = ("import tether.store.audit\nfrom tether import store\nfrom ..store import jobs\n"
           "def f():\n    from tether.store.db import Database\n"
           "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from tether.store import rls\n")
    names = [n for _, n in imported_names(PACKAGE / "api" / "probe.py", src)]
    assert "tether.store.audit" in names
    assert "tether.store" in names  # from tether import store
    assert "tether.store.jobs" in names  # relative
    assert "tether.store.db" in names  # inside a function
    assert "tether.store.rls" not in names  # TYPE_CHECKING only: never runs


def _edge_modules() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if p.relative_to(PACKAGE).parts[0] in EDGES]


def test_edges_import_nothing_from_the_store() -> None:
    found: dict[str, str] = {}
    for path in _edge_modules():
        for line, name in imported_names(path):
            if name == "tether.store" or name.startswith("tether.store."):
                found.setdefault(f"{path.relative_to(SRC)}:{line}", name)  # one per statement
    offenders = [f"{where} imports {name}" for where, name in found.items()]
    assert not offenders, "edges must call services, not the store:\n" + "\n".join(offenders)


_DB_CALLS = ("connection", "transaction")


def test_edges_do_not_reach_the_database() -> None:
    """No ``<anything>.db`` attribute access and no ``.connection()`` / ``.transaction()`` call."""
    found: dict[str, str] = {}
    for path in _edge_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            where = f"{path.relative_to(SRC)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Attribute) and node.attr == "db":
                found.setdefault(where, "uses .db")
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr in _DB_CALLS):
                found.setdefault(where, f"calls .{node.func.attr}()")
    offenders = [f"{where} {what}" for where, what in sorted(found.items())]
    assert not offenders, "edges must call services, not the database:\n" + "\n".join(offenders)


def import_graph() -> dict[str, set[str]]:
    """Module -> the tether modules it imports. ``from pkg import name`` depends on the module
    ``pkg.name`` when there is one, else on ``pkg`` (a name defined in its ``__init__``);
    ``import a.b`` depends on ``a.b`` (as in grimp / import-linter, the parent packages'
    ``__init__`` modules that Python also runs are not counted)."""
    modules = all_modules()

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        for _, base, names in import_statements(path):
            if not base.startswith("tether"):
                continue
            targets = [resolve(base)] if names is None else [
                f"{base}.{n}" if f"{base}.{n}" in modules else resolve(base) for n in names]
            graph[mod] |= {t for t in targets if t and t != mod}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a closed path ``a -> b -> ... -> a``) for every strongly connected component
    with more than one module."""
    return [_cycle_in(graph, set(comp)) for comp in components(graph)]


def components(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    sccs: list[list[str]] = []
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
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    comp.append(m)
                    if m == node:
                        break
                if len(comp) > 1:
                    sccs.append(sorted(comp))
    return sccs


def _cycle_in(graph: dict[str, set[str]], comp: set[str]) -> list[str]:
    """A shortest closed path through the component's first module (breadth-first)."""
    start = min(comp)
    prev: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for child in sorted(graph[node] & comp):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return [*reversed(path), start]
                if child not in prev:
                    prev[child] = node
                    nxt.append(child)
        frontier = nxt
    return sorted(comp)  # pragma: no cover - a component always has a cycle


def test_cycle_finder_finds_a_cycle() -> None:
    g = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert cycles(g) == [["a", "b", "c", "a"]]


@pytest.mark.parametrize("probe", ["tether.api.auth", "tether.engine"])
def test_graph_has_edges(probe: str) -> None:
    """The graph is not trivially empty (a broken walker would pass the cycle test)."""
    assert import_graph()[probe]


def test_no_import_cycles() -> None:
    graph = import_graph()
    found = [(_cycle_in(graph, set(comp)), comp) for comp in components(graph)]
    assert not found, "import cycles (function-level imports included):\n" + "\n".join(
        " -> ".join(cycle) + (f"  (component: {', '.join(comp)})" if len(comp) > len(cycle) - 1 else "")
        for cycle, comp in found)


MAX_MODULE_LINES = 400


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_line_counter_counts_lines(tmp_path: Path) -> None:
    """The counter itself (so the size test could fail): a trailing newline is not a line."""
    probe = tmp_path / "probe.py"
    probe.write_text("a = 1\n" * (MAX_MODULE_LINES + 1), encoding="utf-8")
    assert _lines(probe) == MAX_MODULE_LINES + 1


def test_no_module_is_longer_than_the_limit() -> None:
    sizes = {str(p.relative_to(SRC)): _lines(p) for p in sorted(PACKAGE.rglob("*.py"))}
    assert len(sizes) > 100  # the walk found the package
    over = [f"{name}: {n} lines" for name, n in sorted(sizes.items(), key=lambda kv: -kv[1]) if n > MAX_MODULE_LINES]
    assert not over, f"modules over {MAX_MODULE_LINES} lines (split them by what their parts do):\n" + "\n".join(over)
