"""aiocql.Row, the default row type: the same behaviour on the pure-Python and the compiled base."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest

import aiocql
from aiocql.results import named_tuple_factory
from aiocql.types import record, speedups
from aiocql.types.record import PyRow, Row, row_class

ROOTS = [pytest.param(PyRow, id="pure")]
if speedups.core is not None:
    ROOTS.append(pytest.param(record.Row, id="compiled"))


@pytest.fixture(params=ROOTS)
def root(request: pytest.FixtureRequest) -> type[Row]:
    cls: type[Row] = request.param
    return cls


def make(root: type[Row], names: tuple[str, ...], values: tuple[Any, ...]) -> Any:
    return row_class(names, root)(values)


def test_compiled_base_when_built() -> None:
    assert aiocql.compiled is speedups.COMPILED
    assert (speedups.core is not None) == (PyRow is not Row)
    assert issubclass(aiocql.Row, tuple)


def test_tuple_behaviour(root: type[Row]) -> None:
    row = make(root, ("k", "v"), (1, "a"))
    assert row == (1, "a") and (1, "a") == row and row != (1, "b")  # noqa: SIM300 (the reflected ==)
    assert hash(row) == hash((1, "a"))
    assert {row: 1}[(1, "a")] == 1
    assert row[0] == 1 and row[-1] == "a" and row[1:] == ("a",) and type(row[:]) is tuple
    assert len(row) == 2 and list(row) == [1, "a"]
    k, v = row
    assert (k, v) == (1, "a")
    assert isinstance(row, tuple) and isinstance(row, root)
    assert row < (1, "b") and row + (2,) == (1, "a", 2)  # noqa: RUF005 (tuple concatenation works)
    with pytest.raises(IndexError):
        row[2]
    with pytest.raises(IndexError):
        row[-3]
    with pytest.raises(TypeError):
        row[1.5]


def test_attribute_and_key_access(root: type[Row]) -> None:
    row = make(root, ("k", "[applied]", "writetime(v)"), (1, True, 99))
    assert row.k == 1 and row.applied is True and row.writetime_v == 99
    assert row["k"] == 1 and row["[applied]"] is True and row["applied"] is True and row["writetime(v)"] == 99
    assert row._fields == ("k", "applied", "writetime_v")
    assert row.keys() == ("k", "[applied]", "writetime(v)")
    assert row.values() == (1, True, 99) and type(row.values()) is tuple
    assert list(row.items()) == [("k", 1), ("[applied]", True), ("writetime(v)", 99)]
    assert row.get("k") == 1 and row.get("nope") is None and row.get("nope", 5) == 5
    with pytest.raises(KeyError, match="'nope': no such column"):
        row["nope"]
    with pytest.raises(AttributeError):
        _ = row.nope
    assert not hasattr(row, "nope")


def test_namedtuple_api(root: type[Row]) -> None:
    row = make(root, ("k", "v"), (1, "a"))
    assert row._asdict() == {"k": 1, "v": "a"}
    changed = row._replace(v="b")
    assert changed == (1, "b") and type(changed) is type(row)
    with pytest.raises(aiocql.InvalidValueError):
        row._replace(nope=1)
    assert type(row)._make([2, "c"]) == (2, "c")


def test_same_fields_as_the_namedtuple_rows_had() -> None:
    # duplicates, keywords, non-identifiers: renamed as namedtuple(rename=True) does after cleaning
    assert record.attribute_names(("a", "a", "class", "[x]", "_y", "1z")) == ("a", "_1", "_2", "x", "y", "_5")
    assert record.attribute_names(("count", "index")) == ("count", "index")


def test_repr_pickle_copy(root: type[Row]) -> None:
    row = make(root, ("k", "v"), (1, "a"))
    assert repr(row) == "Row(k=1, v='a')"
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(row, protocol))
        assert back == row and back.v == "a" and back["k"] == 1 and back._fields == ("k", "v")
    assert copy.copy(row) == row and copy.deepcopy(row).v == "a"


def test_one_class_per_names(root: type[Row]) -> None:
    assert row_class(("a",), root) is row_class(("a",), root)
    assert row_class(("a",), root) is not row_class(("b",), root)
    a, b = make(root, ("a",), (1,)), make(root, ("b",), (1,))
    assert a == b  # as namedtuples: the values compare, not the names


def test_empty_and_wide(root: type[Row]) -> None:
    assert make(root, (), ()) == () and repr(make(root, (), ())) == "Row()"
    names = tuple(f"c{i}" for i in range(300))
    row = make(root, names, tuple(range(300)))
    assert row.c299 == 299 and row["c150"] == 150


def test_named_tuple_factory_builds_rows() -> None:
    rows = named_tuple_factory(("k", "v"), [(1, "a"), (2, "b")])
    assert all(isinstance(r, aiocql.Row) for r in rows) and rows[1].v == "b" and rows[0]["k"] == 1


def test_integer_keys_of_every_size_index_as_on_a_tuple(root: type[Row]) -> None:
    values = tuple(range(10, 17))
    row = make(root, tuple(f"c{i}" for i in range(7)), values)
    keys = [*range(-9, 9), 2**30 - 1, 2**30, -(2**30), 2**31, 2**62, 2**64, -(2**64), 2**100, True, False]
    for key in keys:  # one-digit ints are read in place (compiled core); larger ones and bools as a tuple reads them
        try:
            expected: Any = values[key]
        except IndexError as exc:
            expected = (IndexError, str(exc))
        try:
            got: Any = row[key]
        except IndexError as exc:
            got = (IndexError, str(exc))
        assert got == expected, key
