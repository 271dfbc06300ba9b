"""The server error classes come from one table (aiocql.errors.codes): the generated module is up to date,
every row gives its class, code, base and fields, and the ErrorCode enum is the table's."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import aiocql.errors
from aiocql.errors import codegen, server
from aiocql.errors.codes import ERROR_TABLE, ErrorRow
from aiocql.protocol import constants


def test_the_generated_module_is_what_the_table_gives() -> None:
    assert Path(server.__file__).read_text(encoding="utf-8") == codegen.render()
    assert codegen.main(["--check"]) == 0


def test_check_fails_when_the_module_is_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "server.py"
    stale.write_text(codegen.render().replace("0x1001 The coordinator is overloaded.", "busy"), encoding="utf-8")
    monkeypatch.setattr(codegen, "TARGET", stale)
    assert codegen.main(["--check"]) == 1
    assert codegen.main([]) == 0
    assert stale.read_text(encoding="utf-8") == codegen.render()


def test_a_changed_table_changes_the_module(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = ErrorRow(0x2600, "SOMETHING_NEW", "SomethingNew", "RequestValidationError", (("k", "int"),), "New.")
    monkeypatch.setattr(codegen, "ERROR_TABLE", (*ERROR_TABLE, extra))
    text = codegen.render()
    assert "class SomethingNew(RequestValidationError):" in text
    assert "    SOMETHING_NEW = 0x2600" in text and "    0x2600: SomethingNew," in text
    assert 'def __init__(self, message: str = "", *, k: int) -> None:' in text
    namespace: dict[str, object] = {}
    exec(compile(text, "generated", "exec"), namespace)
    cls = namespace["SomethingNew"]
    assert isinstance(cls, type) and issubclass(cls, server.RequestValidationError)
    assert cls("m", k=3).k == 3


@pytest.mark.parametrize("row", ERROR_TABLE, ids=[r.class_name for r in ERROR_TABLE])
def test_each_row_is_its_class(row: ErrorRow) -> None:
    cls = getattr(server, row.class_name)
    assert getattr(aiocql.errors, row.class_name) is cls
    assert cls.__bases__ == (getattr(server, row.base),)
    assert cls.wire_fields == row.fields
    assert inspect.getdoc(cls) == inspect.cleandoc(row.doc)
    if row.code is None:
        assert "code" not in vars(cls)
        return
    assert cls.code == row.code and server.ERROR_CLASSES[row.code] is cls
    assert row.name is not None and constants.ErrorCode[row.name] == row.code
    params = list(inspect.signature(cls).parameters)
    expected = [
        p for attr, kind in row.fields for p in (("num_failures", "reason_map") if kind == "failures" else (attr,))
    ]
    assert params == (["message", *expected] if row.fields else ["message", "code"])


def test_the_table_has_each_code_and_class_once() -> None:
    codes = [r.code for r in ERROR_TABLE if r.code is not None]
    assert len(codes) == len(set(codes)) == len(constants.ErrorCode) == len(server.ERROR_CLASSES)
    assert len({r.class_name for r in ERROR_TABLE}) == len(ERROR_TABLE)
    assert constants.ErrorCode is server.ErrorCode


MODULES = [f"aiocql.errors.{m.name}" for m in pkgutil.iter_modules(aiocql.errors.__path__)]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_the_error_codec_reads_and_writes_every_wire_kind_of_the_table() -> None:
    from aiocql.errors.codes import WIRE_KINDS
    from aiocql.protocol import error_codec

    assert set(error_codec._KINDS) == WIRE_KINDS
    assert {kind for row in ERROR_TABLE for _, kind in row.fields} == WIRE_KINDS
