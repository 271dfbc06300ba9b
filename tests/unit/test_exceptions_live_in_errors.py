"""Every exception class aiocql defines lives under aiocql/errors/ and derives from CqlError, and the driver
raises no bare builtin exception (ValueError, TypeError, RuntimeError, ...), except the few deliberate
ones listed here with their reason."""

from __future__ import annotations

import ast
import builtins
import importlib
from pathlib import Path

import aiocql
import aiocql.errors
from aiocql.errors import CqlError

PACKAGE = Path(aiocql.__file__).parent
BUILTIN_EXCEPTIONS = {
    n
    for n in dir(builtins)
    if isinstance(getattr(builtins, n), type) and issubclass(getattr(builtins, n), BaseException)
}

# Exception classes defined outside aiocql/errors/, by module: the reason each may stay.
CLASSES_ELSEWHERE: dict[str, set[str]] = {
    "session/executor.py": {"_Exhausted"},  # private control flow, always caught inside the executor
    "session/schema_agreement.py": {"_Expired"},  # private control flow (a CqlError), caught inside the wait
    "testing/distribution.py": {"LauncherError"},  # the test harness's launcher, not the driver
}
# Builtin exceptions raised on purpose, by module.
BUILTIN_RAISES: dict[str, set[str]] = {
    "types/values.py": {"KeyError"},  # FrozenMap's Mapping protocol
    "types/rowplan.py": {"AssertionError"},  # unreachable
    "connection/connection.py": {"AssertionError"},  # unreachable
    "cli/load.py": {"AssertionError"},  # unreachable
    "protocol/cqltypes.py": {"NotImplementedError"},  # abstract property of the CqlType base
    "types/speedups.py": {"ImportError"},  # AIOCQL_REQUIRE_EXTENSIONS without the compiled core fails the import
    "protocol/wire.py": {"ImportError"},  # the same for the compiled wire module
}
# Not errors: the ways to exit a program and end an iteration.
CONTROL_FLOW = {"SystemExit", "KeyboardInterrupt", "GeneratorExit", "StopIteration", "StopAsyncIteration"}


def _modules() -> list[tuple[str, ast.Module]]:
    return [
        (str(path.relative_to(PACKAGE)), ast.parse(path.read_text(encoding="utf-8")))
        for path in sorted(PACKAGE.rglob("*.py"))
        if "testing" not in path.parts or path.name == "distribution.py"
    ]


def _exception_classes(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            bases = {
                b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else "" for b in node.bases
            }
            if any(b.endswith(("Error", "Exception", "Exhausted", "Unavailable", "Throttled")) for b in bases):
                names.add(node.name)
    return names


def _builtin_raises(tree: ast.Module) -> set[str]:
    raised = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id in BUILTIN_EXCEPTIONS - CONTROL_FLOW:
                raised.add(exc.id)
    return raised


def test_exception_classes_live_in_errors() -> None:
    found = {}
    for rel, tree in _modules():
        if rel.startswith("errors/"):
            continue
        names = _exception_classes(tree) - CLASSES_ELSEWHERE.get(rel, set())
        if names:
            found[rel] = names
    assert found == {}


def test_every_class_in_errors_derives_from_cql_error() -> None:
    classes = []
    for rel, _tree in _modules():
        if rel.startswith("errors/"):
            module = importlib.import_module("aiocql." + rel[:-3].replace("/", "."))
            classes += [
                obj for obj in vars(module).values() if isinstance(obj, type) and issubclass(obj, BaseException)
            ]
    assert len(classes) > 40
    assert [c for c in classes if not issubclass(c, CqlError)] == []
    exported = {getattr(aiocql.errors, n) for n in aiocql.errors.__all__ if isinstance(getattr(aiocql.errors, n), type)}
    assert {c for c in classes if c.__module__.startswith("aiocql.errors")} <= exported


def test_no_bare_builtin_raises() -> None:
    found = {}
    for rel, tree in _modules():
        raised = _builtin_raises(tree) - BUILTIN_RAISES.get(rel, set())
        if raised:
            found[rel] = raised
    assert found == {}


def test_the_scanners_catch_a_violation() -> None:
    tree = ast.parse("class Oops(ValueError):\n    pass\n\ndef f():\n    raise TypeError('x')\n")
    assert _exception_classes(tree) == {"Oops"}
    assert _builtin_raises(tree) == {"TypeError"}
