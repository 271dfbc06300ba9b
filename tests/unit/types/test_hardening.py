"""Issue 11 (hardening): decoding what a hostile or odd server sends raises only ProtocolError.

Defect 1: UDT names that are word characters but no Python identifier (``"x²"``) made
``namedtuple`` raise ``ValueError``. Defect 2: a vector dimension around 2**61 made ``struct`` raise
``struct.error`` when the codec was built.
"""

from __future__ import annotations

import struct

import pytest

from aiocql.errors import CqlError, ProtocolError
from aiocql.protocol import cqltypes as ct
from aiocql.protocol.decoder import FrameDecoder
from aiocql.protocol.responses import RowsResult, decode_response
from aiocql.types.codecs import decoder_for, encoder_for
from aiocql.types.composite_decoders import udt_class
from aiocql.types.rows import RowDecoder

from .cores import row_core  # noqa: F401 (every test on both row cores)

# The issue's reproducer: a v4 RESULT Rows whose one column is a UDT named "²" (c2 b2).
REPRODUCER = bytes.fromhex(
    "84000001080000002600000002000000010000000100026b73000174000163003000026b730002c2b2000000000178"
)


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">H", len(raw)) + raw


def _rows_frame(type_option: bytes, row_values: list[bytes | None]) -> bytes:
    """A v4 RESULT Rows envelope: global table spec ks.t, one column 'c' of the given type option."""
    body = struct.pack(">iii", 2, 1, 1) + _string("ks") + _string("t") + _string("c") + type_option
    body += struct.pack(">i", len(row_values))
    for value in row_values:
        body += struct.pack(">i", -1) if value is None else struct.pack(">i", len(value)) + value
    return struct.pack(">BBhBi", 0x84, 0, 1, 0x08, len(body)) + body


def _decode_rows(frame: bytes) -> list[tuple[object, ...]]:
    (env,) = FrameDecoder().feed(frame)
    result = decode_response(env)
    assert isinstance(result, RowsResult)
    types = [c.type for c in result.metadata.columns]
    return RowDecoder(types).decode_rows(memoryview(result.buffer), result.offset, result.rows_count)


def test_issue_reproducer_raises_only_protocol_error() -> None:
    # Before the fix: builtins.ValueError from namedtuple; now the (truncated) rows are the only problem.
    with pytest.raises(ProtocolError):
        _decode_rows(REPRODUCER)


@pytest.mark.parametrize(
    "name",
    ["x²", "²", "y5³", "1st", "class", "_private", "a b", "", "日本", "x\u0300", "\u0300", "None", "ﬁ", "a" * 200],
)
def test_any_udt_name_gives_a_class(name: str) -> None:
    fields = ("x²", "class", "_h", "fi", "ﬁ", "ok", "", "1")
    t = ct.UdtType("ks", name, fields, (ct.INT,) * len(fields))
    cls = udt_class(t)
    value = cls(*range(len(fields)))
    assert tuple(value) == tuple(range(len(fields)))
    assert cls._cql_fields == fields
    assert value.ok == 5


def test_udt_named_x_squared_decodes_a_full_row() -> None:
    # option 0x30 UDT: ks, name, n fields, (name, type) each; field 'a' int
    option = struct.pack(">H", 0x30) + _string("ks") + _string("x²") + struct.pack(">H", 1) + _string("a²")
    option += struct.pack(">H", 0x09)
    field = struct.pack(">i", 4) + struct.pack(">i", 42)
    (row,) = _decode_rows(_rows_frame(option, [field]))
    (value,) = row
    assert tuple(value) == (42,)
    assert type(value)._cql_fields == ("a²",)


HUGE = 2**61


@pytest.mark.parametrize("elem", [ct.FLOAT, ct.DOUBLE, ct.INT, ct.BIGINT, ct.UUID, ct.TEXT])
@pytest.mark.parametrize("dimension", [2**29, 2**31, HUGE, 2**64])
def test_huge_vector_dimensions_build_codecs_and_reject_values(elem: ct.CqlType, dimension: int) -> None:
    t = ct.VectorType(elem, dimension)
    decode = decoder_for(t)  # before the fix: struct.error "total struct size too long"
    encoder_for(t, "column 'v'")
    with pytest.raises(ProtocolError):
        decode(b"\x00" * 16)


def test_huge_vector_dimension_from_the_server_is_a_protocol_error() -> None:
    marshal = f"org.apache.cassandra.db.marshal.VectorType(org.apache.cassandra.db.marshal.FloatType,{HUGE})"
    option = struct.pack(">H", 0) + _string(marshal)
    with pytest.raises(ProtocolError):
        _decode_rows(_rows_frame(option, [b"\x00" * 8]))
    assert _decode_rows(_rows_frame(option, [None])) == [(None,)]


def test_errors_derive_from_cql_error() -> None:
    assert issubclass(ProtocolError, CqlError)
