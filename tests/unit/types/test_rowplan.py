"""The generated row functions agree with the per-type decoders on every path (fast, slow, generic)."""

from __future__ import annotations

import datetime as dt
import random
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiocql.errors import ProtocolError
from aiocql.protocol import cqltypes as ct
from aiocql.types.codecs import decoder_for, encoder_for
from aiocql.types.decoders import EPOCH, FAST_TIMESTAMP_LIMIT, timestamp_from_ms, uuid_from_int
from aiocql.types.rowplan import PADDING, row_function
from aiocql.types.rows import RowDecoder
from aiocql.types.values import EMPTY

from .strategies import NATIVES, deep_same, values_for

# Fixed-size group members, variable inline types, and others, in an order that makes groups.
SCHEMA = [ct.INT, ct.BIGINT, ct.SMALLINT, ct.TINYINT, ct.TEXT, ct.DOUBLE, ct.FLOAT, ct.BOOLEAN,
          ct.TIMESTAMP, ct.UUID, ct.TIMEUUID, ct.DATE, ct.BLOB, ct.ASCII, ct.DECIMAL, ct.COUNTER,
          ct.ListType(ct.INT), ct.TIME, ct.VARINT]  # fmt: skip


def _cell(t: ct.CqlType, draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["value", "value", "value", "null", "empty"]))
    if kind == "null":
        return b"\xff\xff\xff\xff"
    data = b"" if kind == "empty" else encoder_for(t, "x")(draw(values_for(t)))
    return len(data).to_bytes(4, "big") + data


@st.composite
def bodies(draw: st.DrawFn) -> tuple[list[ct.CqlType], bytes, int]:
    types = draw(st.lists(st.sampled_from(SCHEMA), min_size=1, max_size=12))
    count = draw(st.integers(0, 4))
    return types, b"".join(_cell(t, draw) for _ in range(count) for t in types), count


def _expected(types: list[ct.CqlType], body: bytes, count: int) -> list[tuple[object, ...]]:
    decoders = [decoder_for(t) for t in types]
    rows, at = [], 0
    for _ in range(count):
        row = []
        for dec in decoders:
            n = int.from_bytes(body[at : at + 4], "big", signed=True)
            at += 4
            row.append(None if n < 0 else dec(body[at : at + n]))
            at += max(n, 0)
        rows.append(tuple(row))
    return rows


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies())
def test_generated_function_matches_the_decoders(case: tuple[list[ct.CqlType], bytes, int]) -> None:
    types, body, count = case
    rows, end = RowDecoder(types).decode_rows_end(memoryview(body), 0, count)
    assert end == len(body)
    assert deep_same(rows, _expected(types, body, count))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies(), st.integers(1, 30))
def test_truncated_bodies(case: tuple[list[ct.CqlType], bytes, int], cut: int) -> None:
    types, body, count = case
    if count == 0:
        return
    with pytest.raises(ProtocolError):
        RowDecoder(types).decode_rows(memoryview(body[: max(0, len(body) - cut)]), 0, count)


def test_wrong_sized_fixed_value_in_a_group() -> None:
    body = (b"\x00\x00\x00\x04" + b"\x00" * 4) + (b"\x00\x00\x00\x03" + b"\x00" * 3)  # bigint of 3 bytes
    with pytest.raises(ProtocolError, match="bigint value must be 8 bytes, got 3"):
        RowDecoder([ct.INT, ct.BIGINT]).decode_rows(memoryview(body), 0, 1)


def test_empty_values_in_a_group() -> None:
    body = b"\x00\x00\x00\x00" * 3
    assert RowDecoder([ct.INT, ct.UUID, ct.TIMESTAMP]).decode_rows(memoryview(body), 0, 1) == [(EMPTY,) * 3]


def test_invalid_text_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="row 0: invalid text value"):
        RowDecoder([ct.TEXT]).decode_rows(memoryview(b"\x00\x00\x00\x01\xff"), 0, 1)


def test_wide_rows_use_the_generic_loop() -> None:
    types = [ct.INT, ct.TEXT] * 300
    assert row_function(tuple(types))[1] == "# generic loop"
    body = b"".join(b"\x00\x00\x00\x04\x00\x00\x00\x07" + b"\x00\x00\x00\x01a" for _ in range(300))
    assert RowDecoder(types).decode_rows(memoryview(body), 0, 1) == [(7, "a") * 300]
    with pytest.raises(ProtocolError, match="truncated rows"):
        RowDecoder(types).decode_rows(memoryview(body[:-1]), 0, 1)


def test_functions_are_cached_per_types() -> None:
    assert row_function((ct.INT, ct.TEXT)) is row_function((ct.INT, ct.TEXT))
    data = bytes.fromhex("000000040000002a") + bytes(PADDING)
    assert row_function((ct.INT,))[0](data, 0, 1, len(data) - PADDING) == ([(42,)], 8)


def test_fast_timestamps_are_exact() -> None:
    rng = random.Random(7)
    samples = [0, 1, 999, 1000, FAST_TIMESTAMP_LIMIT - 1, FAST_TIMESTAMP_LIMIT, -1]
    samples += [rng.randrange(FAST_TIMESTAMP_LIMIT) for _ in range(200_000)]
    samples += [rng.randrange(FAST_TIMESTAMP_LIMIT // 1000) * 1000 + r for r in (0, 1, 499, 500, 501, 998, 999)]
    for ms in samples:
        assert timestamp_from_ms(ms) == EPOCH + dt.timedelta(milliseconds=ms), ms


@given(st.integers(0, 2**128 - 1))
def test_fast_uuid(value: int) -> None:
    fast, slow = uuid_from_int(value), uuid.UUID(int=value)
    assert fast == slow and hash(fast) == hash(slow) and str(fast) == str(slow)
    assert fast.is_safe == slow.is_safe and fast.version == slow.version and fast.bytes == slow.bytes


@pytest.mark.parametrize("t", NATIVES, ids=str)
def test_every_native_alone(t: ct.NativeType) -> None:
    cells = [b"\xff\xff\xff\xff", b"\x00\x00\x00\x00"]
    value = {"ascii": "a", "text": "é", "blob": b"x", "boolean": True, "uuid": uuid.UUID(int=3),
             "timeuuid": uuid.UUID("00112233-4455-1677-8899-aabbccddeeff"), "inet": "::1",
             "timestamp": 5, "date": dt.date(2000, 1, 1), "time": 5, "duration": None,
             "decimal": 5, "float": 1.5, "double": 1.5}.get(t.name, 7)  # fmt: skip
    if value is not None:
        data = encoder_for(t, "x")(value)
        cells.append(len(data).to_bytes(4, "big") + data)
    body = b"".join(cells)
    assert deep_same(RowDecoder([t]).decode_rows(memoryview(body), 0, len(cells)), _expected([t], body, len(cells)))
