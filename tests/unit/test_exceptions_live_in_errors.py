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
}
# Builtin exceptions raised on purpose, by module.
BUILTIN_RAISES: dict[str, set[str]] = {
    "types/values.py": {"KeyError"},  # FrozenMap's Mapping protocol
    "types/rowplan.py": {"AssertionError"},  # unreachable
    "connection/connection.py": {"AssertionError"},  # unreachable
    "cli/load.py": {"AssertionError"},  # unreachable
    "protocol/cqltypes.py": {"NotImplementedError"},  # abstract property of the CqlType base
    "extensions.py": {"ImportError"},  # AIOCQL_REQUIRE_EXTENSIONS with an extension missing or stale fails the import
    "testing/launcher.py": {"OSError"},  # a closed socket in the readiness probe, caught beside it: keep waiting
    "testing/replies.py": {"NotImplementedError"},  # abstract body() of the Reply base
}
# Not errors: the ways to exit a program and end an iteration.
CONTROL_FLOW = {"SystemExit", "KeyboardInterrupt", "GeneratorExit", "StopIteration", "StopAsyncIteration"}


def _modules() -> list[tuple[str, ast.Module]]:
    return [
        (str(path.relative_to(PACKAGE)), ast.parse(path.read_text(encoding="utf-8")))
        for path in sorted(PACKAGE.rglob("*.py"))
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


def test_the_test_harness_errors_are_cql_errors() -> None:
    """aiocql.testing's errors derive from CqlError and keep the builtin they were (callers catching those still do)."""
    from aiocql.errors import BadClientHello, LauncherError, TestingError, WaitTimeout
    from aiocql.testing import distribution

    assert distribution.LauncherError is LauncherError  # still importable where it was
    assert issubclass(TestingError, CqlError) and issubclass(TestingError, RuntimeError)
    assert issubclass(LauncherError, TestingError) and issubclass(LauncherError, RuntimeError)
    assert issubclass(WaitTimeout, TestingError) and issubclass(WaitTimeout, TimeoutError)
    assert issubclass(BadClientHello, TestingError) and issubclass(BadClientHello, ValueError)


async def test_wait_until_raises_a_cql_error_naming_its_condition() -> None:
    from aiocql.errors import WaitTimeout
    from aiocql.testing.polling import wait_until

    def never() -> bool:
        return False

    try:
        await wait_until(never, timeout=0.01)
    except CqlError as exc:
        assert isinstance(exc, WaitTimeout) and isinstance(exc, TimeoutError)
        assert "never" in str(exc) and "0.01s" in str(exc)
    else:
        raise AssertionError("wait_until returned on a condition that is never true")


def test_the_launcher_refuses_a_bad_node_count_with_a_cql_error() -> None:
    from aiocql.errors import LauncherError
    from aiocql.testing.launcher import LocalCluster

    try:
        LocalCluster(nodes=12)
    except CqlError as exc:
        assert isinstance(exc, LauncherError) and "nodes must be between 1 and 9, not 12" in str(exc)
    else:
        raise AssertionError("LocalCluster(nodes=12) was accepted")


def test_an_external_tool_that_hangs_or_is_missing_is_a_launcher_error() -> None:
    import sys

    from aiocql.errors import LauncherError
    from aiocql.testing.distribution import run_tool

    for cmd, message in [
        ([sys.executable, "-c", "import time; time.sleep(30)"], "did not finish within 0.5s"),
        (["no-such-tool-aiocql"], "could not run no-such-tool-aiocql"),
    ]:
        try:
            run_tool(cmd, timeout=0.5)
        except CqlError as exc:
            assert isinstance(exc, LauncherError) and message in str(exc)
        else:
            raise AssertionError(f"{cmd} did not raise")
    assert run_tool([sys.executable, "-c", "print('ok')"], timeout=60).stdout == "ok\n"
