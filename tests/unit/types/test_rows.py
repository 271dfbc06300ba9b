"""RowDecoder (rows of [bytes]) and ValuesEncoder (bound values of a prepared statement)."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiocql.errors import InvalidValueError, ProtocolError
from aiocql.protocol import cqltypes as ct
from aiocql.types.codecs import encoder_for
from aiocql.types.rows import RowDecoder, ValuesEncoder
from aiocql.types.values import EMPTY, UNSET

from .cores import row_core  # noqa: F401 (every test on both row cores)
from .strategies import cql_types, deep_same, values_for


def _value(data: bytes | None) -> bytes:
    return b"\xff\xff\xff\xff" if data is None else len(data).to_bytes(4, "big") + data


def _rows(types: list[ct.CqlType], rows: list[tuple[object, ...]]) -> bytes:
    out = []
    for row in rows:
        for t, v in zip(types, row, strict=True):
            out.append(_value(None if v is None else encoder_for(t, "x")(v)))
    return b"".join(out)


TYPES = [ct.INT, ct.TEXT, ct.BIGINT, ct.UUID, ct.TIMESTAMP, ct.ListType(ct.INT), ct.BLOB, ct.BOOLEAN]
ROW = (
    1,
    "a",
    -(2**63),
    uuid.UUID(int=5),
    dt.datetime(2024, 1, 2, 3, 4, 5, 6000, tzinfo=dt.UTC),
    [1, 2],
    b"\x00",
    True,
)


def test_decode_rows(row_core: str) -> None:  # noqa: F811 (the fixture)
    assert RowDecoder(TYPES).compiled is (row_core == "compiled")
    body = b"junk" + _rows(TYPES, [ROW, (None,) * len(TYPES), ROW]) + b"tail"
    dec = RowDecoder(TYPES)
    rows = dec.decode_rows(memoryview(body), 4, 3)
    assert rows == [ROW, (None,) * len(TYPES), ROW]
    assert all(type(r) is tuple for r in rows)
    rows2, end = dec.decode_rows_end(memoryview(body), 4, 3)
    assert rows2 == rows and body[end:] == b"tail"


def test_zero_rows_and_zero_columns() -> None:
    assert RowDecoder(TYPES).decode_rows(memoryview(b""), 0, 0) == []
    assert RowDecoder([]).decode_rows(memoryview(b""), 0, 3) == [(), (), ()]


def test_empty_values_are_not_null() -> None:
    body = _value(b"") + _value(b"") + _value(None)
    assert RowDecoder([ct.INT, ct.TEXT, ct.INT]).decode_rows(memoryview(body), 0, 1) == [(EMPTY, "", None)]


@pytest.mark.parametrize("cut", [1, 3, 4, 5, 10, 20])
def test_truncation_is_a_protocol_error(cut: int) -> None:
    body = _rows(TYPES, [ROW, ROW])
    with pytest.raises(ProtocolError, match="truncated rows"):
        RowDecoder(TYPES).decode_rows(memoryview(body[:-cut]), 0, 2)


def test_too_many_rows_is_a_protocol_error() -> None:
    body = _rows([ct.INT], [(1,), (2,)])
    with pytest.raises(ProtocolError, match=r"row 2 of 3"):
        RowDecoder([ct.INT]).decode_rows(memoryview(body + b"\x00\x00\x00\x04"), 0, 3)
    with pytest.raises(ProtocolError, match=r"2147483647 rows of 1 columns cannot fit in 16 bytes"):
        RowDecoder([ct.INT]).decode_rows(memoryview(body), 0, 2**31 - 1)
    with pytest.raises(ProtocolError, match="cannot fit"):
        RowDecoder([]).decode_rows(memoryview(b""), 0, 2**31 - 1)
    with pytest.raises(ProtocolError, match="cannot fit"):
        RowDecoder([ct.INT]).decode_rows(memoryview(body), 0, -1)


def test_a_bad_value_is_a_protocol_error() -> None:
    body = _value(b"\x00\x01")  # 2 bytes for an int
    with pytest.raises(ProtocolError, match="int value must be 4 bytes, got 2"):
        RowDecoder([ct.INT]).decode_rows(memoryview(body), 0, 1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.lists(cql_types, min_size=1, max_size=5), st.integers(0, 4))
def test_rows_roundtrip(data: st.DataObject, types: list[ct.CqlType], nrows: int) -> None:
    rows = [tuple(data.draw(values_for(t) | st.none()) for t in types) for _ in range(nrows)]
    decoded = RowDecoder(types).decode_rows(memoryview(_rows(types, rows)), 0, nrows)
    assert deep_same(decoded, rows)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80), st.integers(0, 5))
def test_fuzz_only_protocol_errors(body: bytes, count: int) -> None:
    with contextlib.suppress(ProtocolError):
        RowDecoder(TYPES).decode_rows(memoryview(body), 0, count)


# ------------------------------------------------------------------------------------------------


def test_values_encoder_positional_and_named() -> None:
    enc = ValuesEncoder(["id", "name", "age"], [ct.INT, ct.TEXT, ct.SMALLINT])
    expected = [b"\x00\x00\x00\x01", b"bob", b"\x00\x05"]
    assert enc.encode([1, "bob", 5]) == expected
    assert enc.encode((1, "bob", 5)) == expected
    assert enc.encode({"age": 5, "id": 1, "name": "bob"}) == expected
    assert enc.encode([None, UNSET, 5]) == [None, UNSET, b"\x00\x05"]


def test_values_encoder_errors() -> None:
    enc = ValuesEncoder(["id", "name", "age"], [ct.INT, ct.TEXT, ct.SMALLINT])
    with pytest.raises(InvalidValueError, match=r"^expected 3 values, got 2$"):
        enc.encode([1, "a"])
    with pytest.raises(InvalidValueError, match=r"^column 'age' \(smallint\): expected int in \[-32768, 32767\], got"):
        enc.encode([1, "a", 40000])
    with pytest.raises(InvalidValueError, match=r"^column 'id' \(int\): expected int, got str 'x'$"):
        enc.encode({"id": "x", "name": "a", "age": 1})
    with pytest.raises(InvalidValueError, match=r"unknown named parameter\(s\) 'nmae'; the statement binds 'id'"):
        enc.encode({"id": 1, "nmae": "a", "age": 1})
    with pytest.raises(InvalidValueError, match=r"missing value for column\(s\) 'name'"):
        enc.encode({"id": 1, "age": 1})
    with pytest.raises(InvalidValueError, match="expected a sequence or mapping of values, got str"):
        enc.encode("abc")
    with pytest.raises(ValueError, match="2 column names but 1 column types"):
        ValuesEncoder(["a", "b"], [ct.INT])


def test_values_encoder_repeated_names() -> None:
    # "WHERE a > ? AND a < ?": Cassandra names both markers 'a'; by name they take the same value.
    enc = ValuesEncoder(["a", "a"], [ct.INT, ct.INT])
    assert enc.encode({"a": 1}) == [b"\x00\x00\x00\x01"] * 2
    assert enc.encode([1, 2]) == [b"\x00\x00\x00\x01", b"\x00\x00\x00\x02"]
