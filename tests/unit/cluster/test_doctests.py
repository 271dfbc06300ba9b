"""The docstring examples of the cluster-awareness modules run and are right; public functions have one;
the pure modules import no I/O."""

from __future__ import annotations

import ast
import doctest
import importlib
import inspect
from pathlib import Path

import pytest

MODULES = [
    "aiocql.model",
    "aiocql.model.host",
    "aiocql.model.replication",
    "aiocql.model.token_map",
    "aiocql.model.schema",
    "aiocql.model.state",
    "aiocql.policies",
    "aiocql.policies.request",
    "aiocql.policies.load_balancing",
    "aiocql.policies.reconnection",
    "aiocql.policies.speculative",
    "aiocql.metrics",
]
IO_MODULES = {"asyncio", "socket", "ssl", "threading", "concurrent", "selectors"}


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize("name", MODULES)
def test_public_functions_and_classes_have_an_example(name: str) -> None:
    module = importlib.import_module(name)
    missing = []
    for attr in getattr(module, "__all__", []):
        obj = getattr(module, attr)
        if getattr(obj, "__module__", None) != name:
            continue
        is_protocol = inspect.isclass(obj) and getattr(obj, "_is_protocol", False)
        is_enum = inspect.isclass(obj) and hasattr(obj, "__members__")
        if callable(obj) and not is_protocol and not is_enum and ">>>" not in (obj.__doc__ or ""):
            missing.append(f"{name}.{attr}")
    assert missing == []


@pytest.mark.parametrize("name", MODULES)
def test_pure_modules_import_no_io(name: str) -> None:
    path = Path(importlib.import_module(name).__file__ or "")
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert imported & IO_MODULES == set()
