"""Every request the driver sends goes through the one execution core (issue 10, item 2).

The send path is a connection's ``request`` / ``submit`` / ``send`` / ``send_envelope`` / ``_request_raw`` (and the
protocol adapter's ``request``). Only the executor core's ``_attempt`` (and the lean path's first attempt,
``aiocql.session.fast.execute``) calls it, besides the connection
package itself (its handshake and heartbeat probe) and the fake server (which *answers* requests). The
check reads the source, so a new caller anywhere else fails it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEND_PATH = {"request", "submit", "send", "send_envelope", "_request_raw"}
# The connection package owns the send path (handshake, heartbeat); the fake server plays the server role.
ALLOWED_PACKAGES = ("aiocql/connection/",)
ALLOWED_FILES = {"aiocql/testing/fakeserver.py", "aiocql/protocol/core.py"}
# _walk inlines _attempt on the common path; the lean path of a prepared statement (issue 12) makes the first
# attempt itself and hands any outcome but a plain success to the core (executor.resume).
CORE = {"aiocql/session/executor.py": {"_attempt", "_walk"}, "aiocql/session/fast.py": {"execute"}}


def send_calls(source: str) -> list[tuple[int, str, str]]:
    """``(line, enclosing function, call text)`` of each call of a send-path method on something other
    than ``self`` (a method calling its own ``send`` is not the connection's)."""
    tree = ast.parse(source)
    found: list[tuple[int, str, str]] = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            if (
                isinstance(child, ast.Call)
                and isinstance(child.func, ast.Attribute)
                and child.func.attr in SEND_PATH
                and not (isinstance(child.func.value, ast.Name) and child.func.value.id == "self")
            ):
                found.append((child.lineno, function, ast.unparse(child.func)))
            visit(child, name)

    visit(tree, "<module>")
    return found


def offenders() -> dict[str, list[tuple[int, str, str]]]:
    out: dict[str, list[tuple[int, str, str]]] = {}
    for path in sorted((ROOT / "aiocql").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(ALLOWED_PACKAGES) or rel in ALLOWED_FILES:
            continue
        calls = send_calls(path.read_text())
        if rel in CORE:
            calls = [c for c in calls if c[1] not in CORE[rel]]
        if calls:
            out[rel] = calls
    return out


def test_only_the_execution_core_calls_the_send_path() -> None:
    assert offenders() == {}


def test_the_core_does_call_the_send_path() -> None:
    for rel, functions in CORE.items():
        calls = send_calls((ROOT / rel).read_text())
        assert calls, f"{rel} no longer sends: the scan is looking for the wrong names"
        assert {function for _, function, _ in calls} == functions


def test_the_scan_catches_a_bypass() -> None:
    bypass = (
        "async def refresh(control):\n"
        "    await control.conn.send(Query('SELECT * FROM system.local'), timeout=10.0)\n"
        "    await pool.borrow().request(message, deadline=d)\n"
        "async def fine(self):\n"
        "    await self.send(ps, chunk)\n"
    )
    assert send_calls(bypass) == [
        (2, "refresh", "control.conn.send"),
        (3, "refresh", "pool.borrow().request"),
    ]
