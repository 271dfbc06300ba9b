"""[option] type specs: golden bytes, round trips, custom classes, and only ProtocolError on bad input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiocql.errors import ProtocolError
from aiocql.protocol import cqltypes as ct
from aiocql.protocol.options import read_option, write_option
from aiocql.protocol.typestring import marshal_name

from .strategies import cql_types


def _s(text: str) -> str:
    data = text.encode()
    return len(data).to_bytes(2, "big").hex() + data.hex()


GOLDEN: list[tuple[ct.CqlType, str]] = [
    (ct.ASCII, "0001"),
    (ct.BIGINT, "0002"),
    (ct.BLOB, "0003"),
    (ct.BOOLEAN, "0004"),
    (ct.COUNTER, "0005"),
    (ct.DECIMAL, "0006"),
    (ct.DOUBLE, "0007"),
    (ct.FLOAT, "0008"),
    (ct.INT, "0009"),
    (ct.TIMESTAMP, "000b"),
    (ct.UUID, "000c"),
    (ct.TEXT, "000d"),
    (ct.VARINT, "000e"),
    (ct.TIMEUUID, "000f"),
    (ct.INET, "0010"),
    (ct.DATE, "0011"),
    (ct.TIME, "0012"),
    (ct.SMALLINT, "0013"),
    (ct.TINYINT, "0014"),
    (ct.DURATION, "0015"),
    (ct.ListType(ct.INT), "00200009"),
    (ct.MapType(ct.TEXT, ct.ListType(ct.INT)), "0021000d00200009"),
    (ct.SetType(ct.UUID), "0022000c"),
    (ct.TupleType((ct.INT, ct.TEXT)), "003100020009000d"),
    (
        ct.UdtType("ks", "addr", ("street", "zip"), (ct.TEXT, ct.INT)),
        "0030" + _s("ks") + _s("addr") + "0002" + _s("street") + "000d" + _s("zip") + "0009",
    ),
    (ct.CustomType("com.example.Point"), "0000" + _s("com.example.Point")),
    (
        ct.VectorType(ct.FLOAT, 3),
        "0000" + _s("org.apache.cassandra.db.marshal.VectorType(org.apache.cassandra.db.marshal.FloatType,3)"),
    ),
]


@pytest.mark.parametrize(("t", "hexdata"), GOLDEN, ids=lambda x: str(x)[:30])
def test_golden(t: ct.CqlType, hexdata: str) -> None:
    data = bytes.fromhex(hexdata)
    assert write_option(t).hex() == hexdata
    assert read_option(memoryview(data), 0) == (t, len(data))


def test_reads_at_an_offset_and_leaves_the_rest() -> None:
    data = b"\xaa\xbb" + bytes.fromhex("00200009") + b"\xcc"
    assert read_option(memoryview(data), 2) == (ct.ListType(ct.INT), 6)


def test_nested_collections_are_marked_frozen() -> None:
    t, _ = read_option(memoryview(bytes.fromhex("002200200009")), 0)
    assert t.cql_name == "set<frozen<list<int>>>"


def test_protocol_v4_duration_is_a_custom_type() -> None:
    data = write_option(ct.DURATION, protocol_version=4)
    assert data.hex() == "0000" + _s("org.apache.cassandra.db.marshal.DurationType")
    assert read_option(memoryview(data), 0) == (ct.DURATION, len(data))


@pytest.mark.parametrize(
    ("class_name", "expected"),
    [
        ("org.apache.cassandra.db.marshal.DurationType", ct.DURATION),
        ("org.apache.cassandra.db.marshal.UTF8Type", ct.TEXT),
        ("org.apache.cassandra.db.marshal.VectorType(org.apache.cassandra.db.marshal.UTF8Type,2)",
         ct.VectorType(ct.TEXT, 2)),
        (
            "org.apache.cassandra.db.marshal.VectorType("
            "org.apache.cassandra.db.marshal.VectorType(org.apache.cassandra.db.marshal.FloatType,2),3)",
            ct.VectorType(ct.VectorType(ct.FLOAT, 2), 3),
        ),
        ("com.example.Point", ct.CustomType("com.example.Point")),
        ("org.apache.cassandra.db.marshal.DynamicCompositeType(a=>org.apache.cassandra.db.marshal.BytesType)",
         ct.CustomType("org.apache.cassandra.db.marshal.DynamicCompositeType(a=>org.apache.cassandra.db.marshal.BytesType)")),
        ("not a (valid class", ct.CustomType("not a (valid class")),
    ],
)  # fmt: skip
def test_custom_class_names(class_name: str, expected: ct.CqlType) -> None:
    data = bytes.fromhex("0000" + _s(class_name))
    assert read_option(memoryview(data), 0) == (expected, len(data))


@settings(max_examples=200, deadline=None)
@given(cql_types)
def test_roundtrip(t: ct.CqlType) -> None:
    data = write_option(t)
    assert read_option(memoryview(data), 0) == (t, len(data))
    assert read_option(memoryview(write_option(t, protocol_version=4)), 0)[0] == t


@pytest.mark.parametrize(
    "hexdata",
    ["", "00", "0020", "0021" "0009", "0030" "0002" "6b", "0030" + _s("ks") + _s("u") + "0001", "0031" "0002" "0009",
     "0000" "0005" "6162", "0016", "00ff", "0040", "0000" "0002" "c3" "28"],
)  # fmt: skip
def test_malformed_raises_protocol_error(hexdata: str) -> None:
    with pytest.raises(ProtocolError):
        read_option(memoryview(bytes.fromhex(hexdata)), 0)


def test_absurd_nesting_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="nested deeper"):
        read_option(memoryview(bytes.fromhex("0020" * 1000 + "0009")), 0)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40))
def test_fuzz_only_protocol_errors(data: bytes) -> None:
    try:
        t, end = read_option(memoryview(data), 0)
    except ProtocolError:
        return
    assert 2 <= end <= len(data) and isinstance(t, ct.CqlType)


def test_marshal_names() -> None:
    assert marshal_name(ct.MapType(ct.TEXT, ct.ListType(ct.INT, frozen=True))) == (
        "org.apache.cassandra.db.marshal.MapType(org.apache.cassandra.db.marshal.UTF8Type,"
        "org.apache.cassandra.db.marshal.FrozenType(org.apache.cassandra.db.marshal.ListType("
        "org.apache.cassandra.db.marshal.Int32Type)))"
    )
    udt = ct.UdtType("ks", "addr", ("street",), (ct.TEXT,))
    assert marshal_name(udt) == (
        "org.apache.cassandra.db.marshal.UserType(ks,61646472,737472656574:org.apache.cassandra.db.marshal.UTF8Type)"
    )
