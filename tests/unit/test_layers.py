"""The layers: dependencies point down one list, no import cycle, no module over 700 lines.

The import graph is read from the source with ``ast``: every ``import`` that runs (at module level, inside
functions and methods, under ``try``), but not those under ``if TYPE_CHECKING:`` (annotations only). A lazy
import inside a function is a dependency like any other: it does not hide a cycle.

A unit is a subpackage of ``aiocql`` (``aiocql.session``) or a top-level module (``aiocql.results``);
``__init__`` is ``aiocql/__init__.py`` itself. A unit may import only units listed before it in
:data:`LAYERS` (docs/architecture.md, "Layers", says what each holds). Importing ``aiocql.a.b`` runs
``aiocql/a/__init__.py`` first; that implicit edge is not counted (only what the file names).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "aiocql"
MAX_LINES = 700

#: Lowest first. Each unit may import the units before it, never one after it.
LAYERS: tuple[str, ...] = (
    "_version",  # the version string
    "errors",  # every exception (CqlError and below)
    "extensions",  # loading the optional compiled extensions (and refusing a stale build)
    "protocol",  # sans-I/O wire format: frames, envelopes, messages, the connection core, the CQL type tree
    "types",  # sans-I/O CQL values: codecs, row decoders, value types, tokens
    "model",  # pure values: hosts, replication, token map, schema, cluster state, result metadata
    "validation",  # argument checks shared by statements, profiles and configuration
    "results",  # ResultSet, row factories, traces as values
    "statements",  # SimpleStatement, PreparedStatement, BatchStatement
    "policies",  # load balancing, retry, reconnection, speculative execution, address translation
    "metrics",  # what is measured: histograms, per-node metrics, trackers, statement descriptions
    "observability",  # exporters above metrics: OpenTelemetry, prometheus_client, the slow-query log
    "net",  # the thread-free DNS resolver
    "connection",  # one connection: transport adapter, handshake, authentication, replies
    "pool",  # the connections to one host
    "session",  # executing requests: the executor, profiles, paging, prepare, tracing reads
    "cluster",  # the cluster: control connection, schema and topology refresh, sessions
    "scan",  # token-range scans over a session
    "__init__",  # the public API (aiocql/__init__.py)
    "cli",  # the aiocql command, built on the public API
    "testing",  # the local Cassandra launcher, the fake server, the pytest plugin
    "demo",  # the demo script
    "__main__",  # python -m aiocql
)

# Allow-lists of today's offenders. Each entry names whose part of issue 10 removes it; the tests below fail
# when an entry is no longer needed, so these lists only shrink. They must end empty.
ALLOWED_UPWARD: dict[tuple[str, str], str] = {}
ALLOWED_PACKAGE_CYCLES: dict[frozenset[str], str] = {}
ALLOWED_MODULE_CYCLES: dict[frozenset[str], str] = {}
ALLOWED_LONG_MODULES: dict[str, str] = {}


def module_name(path: Path, root: Path) -> str:
    """``aiocql/a/b.py`` -> ``aiocql.a.b``; a package's ``__init__.py`` is the package."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(tree: ast.Module, module: str, is_package: bool) -> Iterator[tuple[str, str | None, int]]:
    """Every import that runs, as ``(module imported, name imported from it or None, line)``."""
    here = module.split(".") if is_package else module.split(".")[:-1]

    def walk(node: ast.AST) -> Iterator[tuple[str, str | None, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for other in child.orelse:  # the else branch runs
                    yield from visit(other)
                continue
            yield from visit(child)

    def visit(node: ast.AST) -> Iterator[tuple[str, str | None, int]]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                yield target, alias.name, node.lineno
        yield from walk(node)

    yield from walk(tree)


Edges = Mapping[str, Mapping[str, int]]  # module -> imported module -> first line


def import_graph(root: Path) -> dict[str, dict[str, int]]:
    """The runtime import graph between the modules of the package at ``root``."""
    files = {module_name(path, root): path for path in sorted(root.rglob("*.py"))}
    graph: dict[str, dict[str, int]] = {name: {} for name in files}
    for name, path in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for target, imported, line in runtime_imports(tree, name, path.name == "__init__.py"):
            if imported is not None and f"{target}.{imported}" in files:
                target = f"{target}.{imported}"  # from package import submodule
            parts = target.split(".")
            while parts and ".".join(parts) not in files:
                parts.pop()  # import a.b.c where a.b is the module: the edge is to a.b
            found = ".".join(parts)
            if found and found != name:
                graph[name].setdefault(found, line)
    return graph


def unit_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def unit_graph(graph: Edges) -> dict[str, dict[str, list[str]]]:
    """unit -> imported unit -> the module edges behind it (``a.b:12 -> c.d``)."""
    units: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for source, targets in graph.items():
        units[unit_of(source)]  # every unit is a node, even one that imports nothing
        for target, line in targets.items():
            if unit_of(source) != unit_of(target):
                units[unit_of(source)][unit_of(target)].append(f"{source}:{line} -> {target}")
    return units


def cycles(graph: Mapping[str, Mapping[str, object]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one node (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
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


def upward_edges(
    units: Mapping[str, Mapping[str, list[str]]], layers: tuple[str, ...]
) -> dict[tuple[str, str], list[str]]:
    """Imports of a unit listed after the importer (or of a unit missing from ``layers``)."""
    rank = {unit: i for i, unit in enumerate(layers)}
    return {
        (source, target): edges
        for source, targets in units.items()
        for target, edges in targets.items()
        if rank.get(target, len(layers)) >= rank.get(source, -1)
    }


def long_modules(root: Path, limit: int) -> dict[str, int]:
    out = {}
    for path in sorted(root.rglob("*.py")):
        lines = len(path.read_text().splitlines())
        if lines > limit:
            out[path.relative_to(root.parent).as_posix()] = lines
    return out


GRAPH = import_graph(PACKAGE)
UNITS = unit_graph(GRAPH)


def test_every_unit_has_a_layer() -> None:
    assert sorted(set(UNITS) - set(LAYERS)) == [], "add the new package to LAYERS and to docs/architecture.md"
    assert sorted(set(LAYERS) - set(UNITS)) == [], "a unit in LAYERS no longer exists"


def test_no_cycle_between_modules() -> None:
    found = {c: sorted(c) for c in cycles(GRAPH) if c not in ALLOWED_MODULE_CYCLES}
    assert found == {}


def test_no_cycle_between_packages() -> None:
    found = {c: sorted(c) for c in cycles(UNITS) if c not in ALLOWED_PACKAGE_CYCLES}
    assert found == {}


def test_packages_import_only_the_layers_below() -> None:
    found = {edge: lines for edge, lines in upward_edges(UNITS, LAYERS).items() if edge not in ALLOWED_UPWARD}
    assert found == {}


def test_no_module_over_700_lines() -> None:
    found = {
        path: lines for path, lines in long_modules(PACKAGE, MAX_LINES).items() if path not in ALLOWED_LONG_MODULES
    }
    assert found == {}, "split it into modules named for what they hold"


def test_the_allow_lists_hold_only_todays_offenders() -> None:
    """An offender that is fixed leaves its allow-list: remove the entry (these lists only shrink)."""
    upward = upward_edges(UNITS, LAYERS)
    assert [edge for edge in ALLOWED_UPWARD if edge not in upward] == []
    assert [c for c in ALLOWED_PACKAGE_CYCLES if c not in cycles(UNITS)] == []
    assert [c for c in ALLOWED_MODULE_CYCLES if c not in cycles(GRAPH)] == []
    long = long_modules(PACKAGE, MAX_LINES)
    assert [path for path in ALLOWED_LONG_MODULES if path not in long] == []


def test_the_layers_are_documented_in_order() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("\n## Layers\n", 1)[1].split("\n## ", 1)[0]
    positions = [section.find(f"`{unit}`") for unit in LAYERS]
    assert [unit for unit, at in zip(LAYERS, positions, strict=True) if at < 0] == []
    assert positions == sorted(positions), "docs/architecture.md lists the layers in another order"


# The checker itself, on a small package written for each test: each of these fails if the checker misses it.


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, source in {"__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return root


def test_checker_sees_a_cycle_held_by_a_lazy_import(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "a/__init__.py": "",
            "a/x.py": "from pkg.b.y import f\n",
            "b/__init__.py": "",
            "b/y.py": "def f():\n    from pkg.a import x\n    return x\n",
        },
    )
    graph = import_graph(root)
    assert cycles(graph) == [frozenset({"pkg.a.x", "pkg.b.y"})]
    assert cycles(unit_graph(graph)) == [frozenset({"a", "b"})]


def test_checker_ignores_type_checking_imports_but_not_their_else(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "a.py": "from pkg import b\n",
            "b.py": "import typing\nif typing.TYPE_CHECKING:\n    from pkg import a\nelse:\n    from pkg import c\n",
            "c.py": "",
        },
    )
    graph = import_graph(root)
    assert graph["pkg.b"] == {"pkg.c": 5}
    assert cycles(graph) == []


def test_checker_resolves_relative_imports_and_submodules(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "a/__init__.py": "from . import x\n",
            "a/x.py": "from ..b.y import f\nfrom .z import g\nimport pkg.b.y.f\n",
            "a/z.py": "g = 1\n",
            "b/__init__.py": "",
            "b/y.py": "def f(): ...\n",
        },
    )
    graph = import_graph(root)
    assert graph["pkg.a"] == {"pkg.a.x": 1}
    assert graph["pkg.a.x"] == {"pkg.b.y": 1, "pkg.a.z": 2}


def test_checker_sees_an_import_of_a_higher_layer(tmp_path: Path) -> None:
    root = _package(
        tmp_path, {"low.py": "import json\n\ndef f():\n    import pkg.high\n", "high.py": "import pkg.low\n"}
    )
    units = unit_graph(import_graph(root))
    assert upward_edges(units, ("low", "high", "__init__")) == {("low", "high"): ["pkg.low:4 -> pkg.high"]}
    assert upward_edges(units, ("high", "low", "__init__")) == {("high", "low"): ["pkg.high:1 -> pkg.low"]}
    unplaced = upward_edges(units, ("low", "__init__"))  # every edge of a unit missing from the list counts
    assert unplaced == {("low", "high"): ["pkg.low:4 -> pkg.high"], ("high", "low"): ["pkg.high:1 -> pkg.low"]}


@pytest.mark.parametrize("lines, expected", [(700, {}), (701, {"pkg/big.py": 701})])
def test_checker_counts_lines(tmp_path: Path, lines: int, expected: dict[str, int]) -> None:
    root = _package(tmp_path, {"big.py": "x = 1\n" * lines})
    assert long_modules(root, MAX_LINES) == expected
