"""The sans-I/O boundary: nothing under aiocql/protocol imports I/O or threading modules."""

from __future__ import annotations

import ast
import doctest
import importlib
from pathlib import Path

import pytest

import aiocql.protocol

FORBIDDEN = {"asyncio", "socket", "ssl", "threading", "selectors", "concurrent", "multiprocessing"}
PROTOCOL_DIR = Path(aiocql.protocol.__file__).parent
MODULES = sorted(p for p in PROTOCOL_DIR.glob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_no_io_imports(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"


@pytest.mark.parametrize("path", [*MODULES, PROTOCOL_DIR.parent / "errors" / "server.py"], ids=lambda p: p.name)
def test_docstring_examples(path: Path) -> None:
    rel = path.relative_to(PROTOCOL_DIR.parent.parent).with_suffix("")
    module = importlib.import_module(".".join(rel.parts))
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
