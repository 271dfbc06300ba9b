"""InvalidValueError messages name the column or position and the expected CQL type."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import uuid
from decimal import Decimal

import pytest

from aiocql.errors import InvalidValueError
from aiocql.protocol import cqltypes as ct
from aiocql.types.codecs import encoder_for
from aiocql.types.values import UNSET, Duration, Time

U4 = uuid.UUID(int=0x00112233445546778899AABBCCDDEEFF)


def _message(t: ct.CqlType, value: object, label: str = "column 'c'") -> str:
    with pytest.raises(InvalidValueError) as info:
        encoder_for(t, label)(value)
    message = str(info.value)
    assert message.startswith(f"{label} ("), message
    return message


def test_example_from_the_design() -> None:
    assert _message(ct.INT, "x", "column 'age'") == "column 'age' (int): expected int, got str 'x'"


@pytest.mark.parametrize(
    ("t", "value", "expected"),
    [
        (ct.SMALLINT, 40000, r"^column 'c' \(smallint\): expected int in \[-32768, 32767\], got int 40000$"),
        (ct.TINYINT, -129, r"\(tinyint\): expected int in \[-128, 127\]"),
        (ct.INT, 2**31, r"\(int\): expected int in \[-2147483648, 2147483647\]"),
        (ct.BIGINT, 2**63, r"\(bigint\): expected int in"),
        (ct.INT, True, r"\(int\): expected int, got bool True"),
        (ct.INT, 1.0, r"\(int\): expected int, got float 1.0"),
        (ct.VARINT, "1", r"\(varint\): expected int, got str '1'"),
        (ct.BIGINT, None, r"\(bigint\): expected int, got NoneType None"),
        (ct.INT, UNSET, r"\(int\): expected int, got Unset UNSET"),
        (ct.FLOAT, 1e300, r"\(float\): expected a number within float's range, got float 1e\+300"),
        (ct.DOUBLE, "1.5", r"\(double\): expected float, got str"),
        (ct.DOUBLE, False, r"\(double\): expected float, got bool"),
        (ct.DECIMAL, 1.5, r"\(decimal\): expected Decimal or int, got float 1.5 \(use decimal.Decimal"),
        (ct.DECIMAL, Decimal("NaN"), r"\(decimal\): expected a finite Decimal"),
        (ct.DECIMAL, Decimal("1E-3000000000"), r"exponent fits in 32 bits"),
        (ct.BOOLEAN, 1, r"\(boolean\): expected bool, got int 1"),
        (
            ct.ASCII,
            "é",
            r"\(ascii\): expected str of ASCII characters, got str 'é' \(cannot encode character at",
        ),
        (ct.TEXT, b"x", r"\(text\): expected str, got bytes b'x'"),
        (ct.TEXT, "\ud800", r"\(text\): expected str"),
        (ct.BLOB, "x", r"\(blob\): expected bytes, bytearray or memoryview, got str"),
        (ct.UUID, str(U4), r"\(uuid\): expected uuid.UUID, got str"),
        (
            ct.TIMEUUID,
            U4,
            r"\(timeuuid\): expected a version 1 \(time-based\) UUID, got UUID .* \(version is 4\)",
        ),
        (ct.INET, "300.1.1.1", r"\(inet\): expected IPv4Address, IPv6Address or an IP address str"),
        (ct.INET, 1, r"\(inet\): expected"),
        (
            ct.TIMESTAMP,
            dt.datetime(2020, 1, 1),
            r"\(timestamp\): expected timezone-aware datetime or int .*naive",
        ),
        (ct.TIMESTAMP, dt.date(2020, 1, 1), r"\(timestamp\): expected timezone-aware datetime"),
        (ct.TIMESTAMP, 2**63, r"\(timestamp\): expected milliseconds that fit in 64 bits"),
        (
            ct.DATE,
            dt.datetime(2020, 1, 1),
            r"\(date\): expected datetime.date or aiocql Date.*use value.date\(\)",
        ),
        (ct.DATE, 5, r"\(date\): expected datetime.date or aiocql Date, got int 5"),
        (ct.TIME, -1, r"\(time\): expected nanoseconds in \[0, 86399999999999\], got int -1"),
        (ct.TIME, dt.time(1, tzinfo=dt.UTC), r"\(time\): expected .*CQL time has no time zone"),
        (ct.DURATION, dt.timedelta(1), r"\(duration\): expected aiocql Duration, got timedelta"),
        (ct.ListType(ct.INT), {1}, r"\(list<int>\): expected list or tuple, got set"),
        (ct.ListType(ct.INT), "ab", r"\(list<int>\): expected list or tuple, got str"),
        (ct.ListType(ct.INT), [1, None], r"\(list<int>\): expected no None elements.*rejects null inside"),
        (
            ct.ListType(ct.INT),
            [1, "x"],
            r"^column 'c' \(list<int>\) element \(int\): expected int, got str 'x'$",
        ),
        (ct.SetType(ct.TEXT), {1}, r"^column 'c' \(set<text>\) element \(text\): expected str, got int 1$"),
        (ct.MapType(ct.TEXT, ct.INT), [("a", 1)], r"\(map<text, int>\): expected a mapping \(dict\)"),
        (
            ct.MapType(ct.TEXT, ct.INT),
            {"a": "b"},
            r"^column 'c' \(map<text, int>\) value \(int\): expected int",
        ),
        (ct.MapType(ct.TEXT, ct.INT), {1: 1}, r"^column 'c' \(map<text, int>\) key \(text\): expected str"),
        (ct.MapType(ct.TEXT, ct.INT), {"a": None}, r"expected no None keys or values"),
        (
            ct.TupleType((ct.INT, ct.TEXT)),
            (1, "a", 2),
            r"expected a tuple of at most 2 components, got tuple \(1, 'a', 2\) \(it has 3\)",
        ),
        (
            ct.TupleType((ct.INT, ct.TEXT)),
            (1, 2),
            r"\(frozen<tuple<int, text>>\) component 1 \(text\): expected str",
        ),
        (
            ct.UdtType("ks", "addr", ("street", "zip"), (ct.TEXT, ct.INT)),
            {"street": "s", "zipp": 1},
            r"\(addr\): expected only fields street, zip, got dict .* \(unknown fields \['zipp'\]\)",
        ),
        (
            ct.UdtType("ks", "addr", ("street", "zip"), (ct.TEXT, ct.INT)),
            {"zip": "x"},
            r"^column 'c' \(addr\) field 'zip' \(int\): expected int, got str 'x'$",
        ),
        (
            ct.UdtType("ks", "addr", ("street", "zip"), (ct.TEXT, ct.INT)),
            object(),
            r"\(addr\): expected a mapping of field names.*missing attributes \['street', 'zip'\]",
        ),
        (ct.UdtType("ks", "addr", ("street",), (ct.TEXT,)), ("a", "b"), r"expected at most 1 fields"),
        (
            ct.VectorType(ct.FLOAT, 3),
            [1.0, 2.0],
            r"\(vector<float, 3>\): expected a sequence of 3 elements.*it has 2",
        ),
        (ct.VectorType(ct.FLOAT, 2), [1.0, None], r"\(vector<float, 2>\): expected no None elements"),
        (
            ct.VectorType(ct.FLOAT, 2),
            [1.0, 1e300],
            r"\(vector<float, 2>\) element \(float\): expected a number within",
        ),
        (ct.VectorType(ct.INT, 2), [1, 2**40], r"\(vector<int, 2>\) element \(int\): expected int in"),
        (ct.VectorType(ct.TEXT, 1), "a", r"\(vector<text, 1>\): expected a sequence of 1 elements, got str"),
        (ct.VectorType(ct.TEXT, 1), [1], r"\(vector<text, 1>\) element \(text\): expected str, got int 1"),
        (ct.CustomType("x.Y"), "a", r"\('x.Y'\): expected bytes"),
    ],
)
def test_messages(t: ct.CqlType, value: object, expected: str) -> None:
    message = _message(t, value)
    assert re.search(expected, message), message


def test_value_types_validate_themselves() -> None:
    with pytest.raises(InvalidValueError, match="all be >= 0 or all <= 0"):
        Duration(1, -1, 0)
    with pytest.raises(InvalidValueError, match=r"duration days must be in"):
        Duration(0, 2**31, 0)
    with pytest.raises(InvalidValueError, match=r"time nanoseconds must be in \[0, 86399999999999\]"):
        Time(86_400_000_000_000)


def test_long_values_are_shortened_in_messages() -> None:
    message = _message(ct.INT, "x" * 500)
    assert len(message) < 120 and message.endswith("...")


def test_accepted_alternatives() -> None:
    class Index:
        def __index__(self) -> int:
            return 7

    assert encoder_for(ct.INT, "x")(Index()) == b"\x00\x00\x00\x07"
    assert encoder_for(ct.VARINT, "x")(Index()) == b"\x07"
    assert encoder_for(ct.INET, "x")(ipaddress.ip_address("10.0.0.1")) == b"\n\x00\x00\x01"

    class Address:
        street = "s"
        zip = 5

    udt = ct.UdtType("ks", "addr", ("street", "zip"), (ct.TEXT, ct.INT))
    assert (
        encoder_for(udt, "x")(Address())
        == encoder_for(udt, "x")(("s", 5))
        == encoder_for(udt, "x")({"zip": 5, "street": "s"})
    )
