"""Golden vectors: hand-written bytes from the spec (section 6 of v5, 5 of v4) for every type."""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import uuid
from decimal import Decimal

import pytest

from aiocql.errors import ProtocolError
from aiocql.protocol import cqltypes as ct
from aiocql.types.codecs import decoder_for, encoder_for
from aiocql.types.composite_decoders import udt_class
from aiocql.types.values import EMPTY, Date, Duration, FrozenMap, Time

UTC = dt.UTC
U1 = uuid.UUID("00112233-4455-1677-8899-aabbccddeeff")  # version 1
U4 = uuid.UUID("00112233-4455-4677-8899-aabbccddeeff")

# (type, python value, hex of the serialized value). Each one round-trips both ways.
GOLDEN: list[tuple[ct.CqlType, object, str]] = [
    (ct.ASCII, "", ""),
    (ct.ASCII, "abc", "616263"),
    (ct.TEXT, "", ""),
    (ct.TEXT, "é€😀", "c3a9e282acf09f9880"),
    (ct.BLOB, b"", ""),
    (ct.BLOB, b"\x00\xff", "00ff"),
    (ct.BOOLEAN, True, "01"),
    (ct.BOOLEAN, False, "00"),
    (ct.TINYINT, -128, "80"),
    (ct.TINYINT, 127, "7f"),
    (ct.SMALLINT, -32768, "8000"),
    (ct.SMALLINT, 32767, "7fff"),
    (ct.INT, -(2**31), "80000000"),
    (ct.INT, 2**31 - 1, "7fffffff"),
    (ct.INT, -1, "ffffffff"),
    (ct.BIGINT, -(2**63), "8000000000000000"),
    (ct.BIGINT, 2**63 - 1, "7fffffffffffffff"),
    (ct.COUNTER, 42, "000000000000002a"),
    # varint: the spec's table, minimal two's complement
    (ct.VARINT, 0, "00"),
    (ct.VARINT, 1, "01"),
    (ct.VARINT, 127, "7f"),
    (ct.VARINT, 128, "0080"),
    (ct.VARINT, 129, "0081"),
    (ct.VARINT, -1, "ff"),
    (ct.VARINT, -128, "80"),
    (ct.VARINT, -129, "ff7f"),
    (ct.VARINT, 2**64, "010000000000000000"),
    (ct.VARINT, -(2**64), "ff0000000000000000"),
    # decimal: [int] scale + varint unscaled; value = unscaled * 10**-scale
    (ct.DECIMAL, Decimal("1.23"), "00000002" + "7b"),
    (ct.DECIMAL, Decimal("-1.23"), "00000002" + "85"),
    (ct.DECIMAL, Decimal("-0.001"), "00000003" + "ff"),
    (ct.DECIMAL, Decimal("1.2E+3"), "fffffffe" + "0c"),
    (ct.DECIMAL, Decimal("0.00"), "00000002" + "00"),
    (ct.DECIMAL, Decimal("128"), "00000000" + "0080"),
    (ct.FLOAT, 1.5, "3fc00000"),
    (ct.FLOAT, -0.0, "80000000"),
    (ct.FLOAT, math.inf, "7f800000"),
    (ct.FLOAT, -math.inf, "ff800000"),
    (ct.DOUBLE, 1.5, "3ff8000000000000"),
    (ct.DOUBLE, math.inf, "7ff0000000000000"),
    (ct.DOUBLE, -math.inf, "fff0000000000000"),
    (ct.DOUBLE, 5e-324, "0000000000000001"),
    (ct.UUID, U4, "00112233445546778899aabbccddeeff"),
    (ct.TIMEUUID, U1, "00112233445516778899aabbccddeeff"),
    (ct.INET, ipaddress.IPv4Address("127.0.0.1"), "7f000001"),
    (ct.INET, ipaddress.IPv6Address("::1"), "00000000000000000000000000000001"),
    # timestamp: int64 milliseconds since the epoch, negative before 1970
    (ct.TIMESTAMP, dt.datetime(1970, 1, 1, tzinfo=UTC), "0000000000000000"),
    (ct.TIMESTAMP, dt.datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC), "ffffffffffffffff"),
    (ct.TIMESTAMP, dt.datetime(2001, 9, 9, 1, 46, 40, 123000, tzinfo=UTC), "000000e8d4a5107b"),
    (ct.TIMESTAMP, dt.datetime(1, 1, 1, tzinfo=UTC), "ffffc77cedd32800"),
    # outside datetime's range: the exact milliseconds come back as an int
    (ct.TIMESTAMP, 2**63 - 1, "7fffffffffffffff"),
    (ct.TIMESTAMP, -(2**63), "8000000000000000"),
    # date: uint32 days with the epoch at 2**31 (the spec's examples)
    (ct.DATE, dt.date(1970, 1, 1), "80000000"),
    (ct.DATE, dt.date(1969, 12, 31), "7fffffff"),
    (ct.DATE, dt.date(1, 1, 1), "7ff506c6"),
    (ct.DATE, dt.date(9999, 12, 31), "802cc0a0"),
    (ct.DATE, Date(-(2**31)), "00000000"),  # -5877641-06-23
    (ct.DATE, Date(2**31 - 1), "ffffffff"),  # 5881580-07-11
    (ct.TIME, Time(0), "0000000000000000"),
    (ct.TIME, Time(86_399_999_999_999), "00004e94914effff"),
    # duration: three zig-zag vints
    (ct.DURATION, Duration(1, 2, 3), "020406"),
    (ct.DURATION, Duration(-1, -2, -3), "010305"),
    (ct.DURATION, Duration(0, 0, 2**63 - 1), "0000fffffffffffffffffe"),
    (ct.DURATION, Duration(0, 0, -(2**63)), "0000ffffffffffffffffff"),
    (ct.DURATION, Duration(2**31 - 1, 0, 0), "f0fffffffe0000"),
    (ct.DURATION, Duration(0, 0, 128), "00008100"),
    # collections: [int] count then [bytes] elements
    (ct.ListType(ct.INT), [], "00000000"),
    (ct.ListType(ct.INT), [1, -1], "00000002000000040000000100000004ffffffff"),
    (ct.SetType(ct.TEXT), {"a"}, "000000010000000161"),
    (
        ct.MapType(ct.TEXT, ct.BOOLEAN),
        {"a": True, "": False},
        "0000000200000001610000000101000000000000000100",
    ),
    (ct.ListType(ct.TEXT), [""], "0000000100000000"),
    (
        ct.SetType(ct.ListType(ct.INT, frozen=True)),
        {(7,)},
        "000000010000000c000000010000000400000007",
    ),
    (
        ct.MapType(ct.MapType(ct.INT, ct.INT), ct.INT),
        {FrozenMap({1: 2}): 3},
        "000000010000001400000001000000040000000100000004000000020000000400000003",
    ),
    # tuple and UDT: successive [bytes], null components as -1
    (ct.TupleType((ct.INT, ct.TEXT)), (1, None), "0000000400000001ffffffff"),
    (ct.UdtType("ks", "u", ("a", "b"), (ct.INT, ct.TEXT)), (1, "x"), "00000004000000010000000178"),
    # vectors: fixed-size elements packed; others [unsigned vint]-prefixed
    (ct.VectorType(ct.FLOAT, 2), [1.5, -1.5], "3fc00000bfc00000"),
    (ct.VectorType(ct.BIGINT, 1), [1], "0000000000000001"),
    (ct.VectorType(ct.BOOLEAN, 3), [True, False, True], "010001"),
    (ct.VectorType(ct.UUID, 1), [U4], "00112233445546778899aabbccddeeff"),
    (ct.VectorType(ct.TIMESTAMP, 1), [dt.datetime(1970, 1, 1, tzinfo=UTC)], "0000000000000000"),
    (ct.VectorType(ct.TEXT, 3), ["a", "", "bc"], "016100026263"),
    (ct.VectorType(ct.SMALLINT, 2), [1, -1], "02000102ffff"),
    (ct.VectorType(ct.TEXT, 1), ["x" * 128], "8080" + "78" * 128),
    (ct.VectorType(ct.VectorType(ct.INT, 2), 2), [[1, 2], [3, 4]], "00000001000000020000000300000004"),
    (ct.VectorType(ct.ListType(ct.INT), 1), [[5]], "0c000000010000000400000005"),
    (ct.CustomType("com.example.X"), b"\x01\x02", "0102"),
]


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return a.as_tuple() == b.as_tuple()
    return a == b and (isinstance(a, type(b)) or isinstance(b, (type(a), tuple)))


@pytest.mark.parametrize(("t", "value", "hexdata"), GOLDEN, ids=lambda x: str(x)[:40])
def test_golden(t: ct.CqlType, value: object, hexdata: str) -> None:
    data = bytes.fromhex(hexdata)
    assert encoder_for(t, "golden")(value).hex() == data.hex()
    decoded = decoder_for(t)(memoryview(data))
    assert _same(decoded, value), (decoded, value)
    assert decoder_for(t)(data) == decoded  # bytes work as well as memoryview


def test_nan() -> None:
    for t, hexdata in ((ct.FLOAT, "7fc00000"), (ct.DOUBLE, "7ff8000000000000")):
        assert encoder_for(t, "x")(math.nan).hex() == hexdata
        assert math.isnan(decoder_for(t)(bytes.fromhex(hexdata)))  # type: ignore[arg-type]


def test_boolean_any_nonzero_byte_is_true() -> None:
    assert decoder_for(ct.BOOLEAN)(b"\x02") is True


def test_decode_forms() -> None:
    assert decoder_for(ct.ListType(ct.INT))(bytes.fromhex("00000000")) == []
    s = decoder_for(ct.SetType(ct.SetType(ct.INT)))(bytes.fromhex("000000010000000c000000010000000400000009"))
    assert s == {frozenset({9})} and isinstance(s, set)
    v = decoder_for(ct.SetType(ct.VectorType(ct.INT, 1)))(bytes.fromhex("000000010000000400000009"))
    assert v == {(9,)}
    udt = decoder_for(ct.UdtType("ks", "u", ("a", "b"), (ct.INT, ct.TEXT)))(bytes.fromhex("0000000400000001"))
    assert udt == (1, None) and udt.a == 1 and udt.b is None  # type: ignore[attr-defined]
    assert type(udt) is udt_class(ct.UdtType("ks", "u", ("a", "b"), (ct.INT, ct.TEXT)))
    in_set = decoder_for(ct.SetType(ct.UdtType("ks", "u", ("a", "b"), (ct.INT, ct.TEXT))))(
        bytes.fromhex("000000010000000c0000000400000001ffffffff")
    )
    assert in_set == {(1, None)} and type(next(iter(in_set))) is type(udt)


def test_timestamp_is_aware_utc() -> None:
    value = decoder_for(ct.TIMESTAMP)(bytes(8))
    assert isinstance(value, dt.datetime) and value.tzinfo is UTC


def test_timestamp_encode_floors_to_milliseconds_and_converts_zones() -> None:
    enc = encoder_for(ct.TIMESTAMP, "x")
    assert enc(dt.datetime(1970, 1, 1, 0, 0, 0, 999, tzinfo=UTC)).hex() == "0000000000000000"
    assert enc(dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)).hex() == "ffffffffffffffff"
    plus_one = dt.timezone(dt.timedelta(hours=1))
    assert enc(dt.datetime(1970, 1, 1, 1, tzinfo=plus_one)).hex() == "0000000000000000"
    assert enc(1000).hex() == "00000000000003e8"


def test_date_and_time_conversions() -> None:
    assert encoder_for(ct.DATE, "x")(Date(0)).hex() == "80000000"
    assert encoder_for(ct.TIME, "x")(dt.time(0, 0, 1, 5)).hex() == "000000003b9add88"
    assert encoder_for(ct.TIME, "x")(5).hex() == "0000000000000005"
    assert encoder_for(ct.DECIMAL, "x")(-5).hex() == "00000000fb"
    assert encoder_for(ct.INET, "x")("::1") == ipaddress.IPv6Address("::1").packed
    assert encoder_for(ct.BLOB, "x")(bytearray(b"a")) == b"a"
    assert encoder_for(ct.BLOB, "x")(memoryview(b"ab")[1:]) == b"b"
    assert encoder_for(ct.DOUBLE, "x")(2).hex() == "4000000000000000"


# Zero-length values ("empty", not null) of types that normally have content.
EMPTY_TYPES = [
    ct.BOOLEAN, ct.TINYINT, ct.SMALLINT, ct.INT, ct.BIGINT, ct.COUNTER, ct.VARINT, ct.DECIMAL, ct.FLOAT,
    ct.DOUBLE, ct.UUID, ct.TIMEUUID, ct.INET, ct.TIMESTAMP, ct.DATE, ct.TIME, ct.DURATION,
    ct.ListType(ct.INT), ct.SetType(ct.INT), ct.MapType(ct.INT, ct.INT), ct.VectorType(ct.FLOAT, 2),
    ct.VectorType(ct.TEXT, 2),
]  # fmt: skip


@pytest.mark.parametrize("t", EMPTY_TYPES, ids=str)
def test_empty_values(t: ct.CqlType) -> None:
    assert decoder_for(t)(b"") is EMPTY
    assert encoder_for(t, "x")(EMPTY) == b""


@pytest.mark.parametrize(("t", "value"), [(ct.TEXT, ""), (ct.ASCII, ""), (ct.BLOB, b""), (ct.CustomType("X"), b"")])
def test_empty_strings_are_values(t: ct.CqlType, value: object) -> None:
    assert decoder_for(t)(b"") == value
    assert encoder_for(t, "x")(EMPTY) == b""


def test_null_elements_decode_as_none() -> None:
    null = "ffffffff"
    assert decoder_for(ct.ListType(ct.INT))(bytes.fromhex("00000001" + null)) == [None]
    assert decoder_for(ct.MapType(ct.INT, ct.INT))(bytes.fromhex("000000010000000400000001" + null)) == {1: None}
    assert decoder_for(ct.TupleType((ct.INT, ct.INT)))(bytes.fromhex(null + null)) == (None, None)


def test_udt_with_missing_trailing_fields() -> None:
    t = ct.UdtType("ks", "u", ("a", "b", "c"), (ct.INT, ct.TEXT, ct.ListType(ct.INT)))
    dec = decoder_for(t)
    assert dec(b"") == (None, None, None)  # zero bytes: every field missing
    assert decoder_for(ct.TupleType((ct.INT, ct.INT)))(b"") == (None, None)
    assert encoder_for(t, "x")(EMPTY) == b""
    assert dec(bytes.fromhex("0000000400000001")) == (1, None, None)
    assert dec(bytes.fromhex("ffffffff0000000178")) == (None, "x", None)
    # a shorter tuple encodes only the given fields, which is what the protocol allows
    assert encoder_for(t, "x")((1,)).hex() == "0000000400000001"
    assert encoder_for(t, "x")({"b": "x"}).hex() == "ffffffff0000000178ffffffff"


@pytest.mark.parametrize(
    ("t", "hexdata"),
    [
        (ct.INT, "000001"),
        (ct.BIGINT, "00"),
        (ct.UUID, "00" * 15),
        (ct.INET, "00" * 5),
        (ct.TIMESTAMP, "00" * 9),
        (ct.DATE, "00" * 3),
        (ct.TIME, "00" * 7),
        (ct.TIME, "ffffffffffffffff"),  # negative nanoseconds
        (ct.DECIMAL, "000000"),
        (ct.TEXT, "ff"),
        (ct.ASCII, "80"),
        (ct.DURATION, "02"),
        (ct.DURATION, "02040600"),
        (ct.DURATION, "020106"),  # mixed signs
        (ct.ListType(ct.INT), "000001"),
        (ct.ListType(ct.INT), "00000001"),
        (ct.ListType(ct.INT), "00000001000000040000"),
        (ct.ListType(ct.INT), "0000000000"),
        (ct.ListType(ct.INT), "ffffffff"),
        (ct.MapType(ct.INT, ct.INT), "000000010000000400000001"),
        (ct.TupleType((ct.INT,)), "000000040000000100"),
        (ct.TupleType((ct.INT,)), "0000000800000001"),
        (ct.VectorType(ct.FLOAT, 2), "00" * 7),
        (ct.VectorType(ct.UUID, 2), "00" * 31),
        (ct.VectorType(ct.TEXT, 2), "0161"),
        (ct.VectorType(ct.TEXT, 1), "0561"),
        (ct.VectorType(ct.TEXT, 1), "016100"),
        (ct.VectorType(ct.TEXT, 1), "c0"),
    ],
)
def test_malformed_values_raise_protocol_error(t: ct.CqlType, hexdata: str) -> None:
    with pytest.raises(ProtocolError):
        decoder_for(t)(bytes.fromhex(hexdata))
