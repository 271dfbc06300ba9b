"""The sans-I/O boundary: nothing under aiocql/protocol imports I/O or threading modules."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import aiocql.protocol
from tests.helpers.doctests import IO_MODULES, imported_modules, run_doctests

PROTOCOL_DIR = Path(aiocql.protocol.__file__).parent
MODULES = sorted(p for p in PROTOCOL_DIR.glob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_no_io_imports(path: Path) -> None:
    assert imported_modules(path) & IO_MODULES == set(), f"{path.name} imports I/O"


@pytest.mark.parametrize("path", [*MODULES, PROTOCOL_DIR.parent / "errors" / "server.py"], ids=lambda p: p.name)
def test_docstring_examples(path: Path) -> None:
    rel = path.relative_to(PROTOCOL_DIR.parent.parent).with_suffix("")
    module = importlib.import_module(".".join(rel.parts))
    run_doctests(module, require_examples=False)
