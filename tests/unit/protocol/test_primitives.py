"""Wire primitives: golden bytes from the spec's notations, truncation, round trips."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiocql.errors import ProtocolError
from aiocql.protocol import primitives as p
from aiocql.protocol.constants import Consistency
from aiocql.protocol.unset import UNSET, Unset
from tests.unit.protocol.conftest import h

# (reader, encoded bytes, decoded value): every reader with a literal vector.
GOLDEN: list[tuple[Callable[..., tuple[Any, int]], bytes, Any]] = [
    (p.read_byte, h("ff"), 255),
    (p.read_short, h("ff fe"), 0xFFFE),  # [short] is unsigned
    (p.read_int, h("ff ff ff fe"), -2),
    (p.read_long, h("80 00 00 00 00 00 00 00"), -(2**63)),
    (p.read_string, h("0003 616263"), "abc"),
    (p.read_string, h("0002 c3a9"), "é"),
    (p.read_string, h("0000"), ""),
    (p.read_long_string, h("00000003 616263"), "abc"),
    (
        p.read_uuid,
        h("00112233 4455 6677 8899 aabbccddeeff"),
        uuid.UUID("00112233-4455-6677-8899-aabbccddeeff"),
    ),
    (p.read_string_list, h("0002 0001 61 0002 6263"), ["a", "bc"]),
    (p.read_bytes, h("00000002 cafe"), b"\xca\xfe"),
    (p.read_bytes, h("00000000"), b""),  # empty, not null
    (p.read_bytes, h("ffffffff"), None),
    (p.read_bytes, h("fffffff0"), None),  # any negative length is null for [bytes]
    (p.read_value, h("00000001 2a"), b"*"),
    (p.read_value, h("ffffffff"), None),
    (p.read_value, h("fffffffe"), UNSET),
    (p.read_short_bytes, h("0002 cafe"), b"\xca\xfe"),
    (p.read_unsigned_vint, h("00"), 0),
    (p.read_unsigned_vint, h("7f"), 127),
    (p.read_unsigned_vint, h("8080"), 128),  # 10|000000 10000000
    (p.read_unsigned_vint, h("c3e800"), 256000),  # the spec's example: [110]00011 11101000 00000000
    (p.read_unsigned_vint, h("ff ffffffffffffffff"), 2**64 - 1),
    (p.read_vint, h("00"), 0),
    (p.read_vint, h("01"), -1),
    (p.read_vint, h("02"), 1),
    (p.read_vint, h("03"), -2),
    (p.read_vint, h("04"), 2),
    (p.read_vint, h("ff ffffffffffffffff"), -(2**63)),
    (p.read_inetaddr, h("04 c0a80001"), ipaddress.ip_address("192.168.0.1")),
    (p.read_inetaddr, h("10 00000000000000000000000000000001"), ipaddress.ip_address("::1")),
    (p.read_inet, h("04 0a000001 00002352"), (ipaddress.ip_address("10.0.0.1"), 9042)),
    (p.read_inet, h("10 fe800000000000000000000000000001 00002352"), (ipaddress.ip_address("fe80::1"), 9042)),
    (p.read_consistency, h("0006"), Consistency.LOCAL_QUORUM),
    (p.read_string_map, h("0001 0001 6b 0002 7676"), {"k": "vv"}),
    (p.read_string_multimap, h("0001 0001 6b 0002 0001 61 0001 62"), {"k": ["a", "b"]}),
    (p.read_bytes_map, h("0002 0001 61 00000001 01 0001 62 ffffffff"), {"a": b"\x01", "b": None}),
]

# (writer, value, expected bytes)
WRITERS: list[tuple[Callable[..., bytes], tuple[Any, ...], bytes]] = [
    (p.write_byte, (255,), h("ff")),
    (p.write_short, (0xFFFE,), h("fffe")),
    (p.write_int, (-2,), h("fffffffe")),
    (p.write_long, (-(2**63),), h("8000000000000000")),
    (p.write_string, ("é",), h("0002 c3a9")),
    (p.write_long_string, ("abc",), h("00000003 616263")),
    (p.write_uuid, (uuid.UUID(int=1),), h("00000000000000000000000000000001")),
    (p.write_string_list, (["a", "bc"],), h("0002 0001 61 0002 6263")),
    (p.write_bytes, (b"",), h("00000000")),
    (p.write_bytes, (None,), h("ffffffff")),
    (p.write_value, (b"*",), h("00000001 2a")),
    (p.write_value, (None,), h("ffffffff")),
    (p.write_value, (UNSET,), h("fffffffe")),
    (p.write_short_bytes, (b"\xca\xfe",), h("0002 cafe")),
    (p.write_unsigned_vint, (256000,), h("c3e800")),
    (p.write_unsigned_vint, (128,), h("8080")),
    (p.write_unsigned_vint, (2**64 - 1,), h("ff ffffffffffffffff")),
    (p.write_vint, (-1,), h("01")),
    (p.write_vint, (-(2**63),), h("ff ffffffffffffffff")),
    (p.write_inetaddr, ("::1",), h("10 00000000000000000000000000000001")),
    (p.write_inet, ("10.0.0.1", 9042), h("04 0a000001 00002352")),
    (p.write_consistency, (Consistency.LOCAL_ONE,), h("000a")),
    (p.write_string_map, ({"k": "vv"},), h("0001 0001 6b 0002 7676")),
    (p.write_string_multimap, ({"k": ["a", "b"]},), h("0001 0001 6b 0002 0001 61 0001 62")),
    (p.write_bytes_map, ({"a": b"\x01", "b": None},), h("0002 0001 61 00000001 01 0001 62 ffffffff")),
]


@pytest.mark.parametrize(("reader", "data", "expected"), GOLDEN)
def test_reader_golden(reader: Callable[..., tuple[Any, int]], data: bytes, expected: Any) -> None:
    for buf in (data, memoryview(data), bytearray(data)):
        value, pos = reader(buf, 0)
        assert value == expected
        assert pos == len(data)
    # The same field at an offset inside a bigger buffer, with trailing bytes.
    value, pos = reader(memoryview(b"\x99\x99" + data + b"\x77"), 2)
    assert value == expected
    assert pos == 2 + len(data)


@pytest.mark.parametrize(("reader", "data", "expected"), GOLDEN)
def test_reader_truncated_everywhere(reader: Callable[..., tuple[Any, int]], data: bytes, expected: Any) -> None:
    for cut in range(len(data)):
        with pytest.raises(ProtocolError, match="offset"):
            reader(memoryview(data[:cut]), 0)


@pytest.mark.parametrize(("writer", "args", "expected"), WRITERS)
def test_writer_golden(writer: Callable[..., bytes], args: tuple[Any, ...], expected: bytes) -> None:
    assert writer(*args) == expected


def test_error_names_field_and_offset() -> None:
    with pytest.raises(ProtocolError, match=r"truncated paging state at offset 3: needs 9 bytes, 6 available"):
        p.read_bytes(memoryview(h("000000 00000005 6162")), 3, "paging state")


def test_value_below_minus_two_is_an_error() -> None:
    with pytest.raises(ProtocolError, match="invalid length -3"):
        p.read_value(h("fffffffd"), 0)


def test_negative_long_string_length() -> None:
    with pytest.raises(ProtocolError, match="negative length"):
        p.read_long_string(h("ffffffff"), 0)


def test_bad_inet_size() -> None:
    with pytest.raises(ProtocolError, match="address size 5"):
        p.read_inet(h("05 0102030405 00000000"), 0)


def test_unknown_consistency() -> None:
    with pytest.raises(ProtocolError, match="unknown consistency"):
        p.read_consistency(h("00ff"), 0)


def test_invalid_utf8() -> None:
    with pytest.raises(ProtocolError, match="UTF-8"):
        p.read_string(h("0001 ff"), 0)


@pytest.mark.parametrize(
    ("writer", "arg"),
    [
        (p.write_byte, 256),
        (p.write_short, -1),
        (p.write_short, 65536),
        (p.write_int, 2**31),
        (p.write_long, 2**63),
        (p.write_string, "x" * 65536),
        (p.write_short_bytes, b"x" * 65536),
        (p.write_string_list, ["a"] * 65536),
        (p.write_unsigned_vint, -1),
        (p.write_unsigned_vint, 2**64),
        (p.write_vint, 2**63),
        (p.write_consistency, 70000),
    ],
)
def test_writer_out_of_range(writer: Callable[[Any], bytes], arg: Any) -> None:
    with pytest.raises(ProtocolError):
        writer(arg)


def test_unset_is_a_singleton() -> None:
    import copy
    import pickle

    assert Unset() is UNSET
    assert copy.deepcopy(UNSET) is UNSET
    assert pickle.loads(pickle.dumps(UNSET)) is UNSET
    assert repr(UNSET) == "UNSET"
    assert not UNSET


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_unsigned_vint_round_trip(n: int) -> None:
    data = p.write_unsigned_vint(n)
    assert p.read_unsigned_vint(data, 0) == (n, len(data))
    # The size is minimal: the spec's 7 * extra + 7 payload bits per extra byte (8 extra = 64 bits).
    extra = len(data) - 1
    assert extra == 0 or n >= 1 << (7 * (extra - 1) + 7)


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_vint_round_trip(n: int) -> None:
    data = p.write_vint(n)
    assert p.read_vint(data, 0) == (n, len(data))


@given(st.text(max_size=50), st.binary(max_size=50), st.dictionaries(st.text(max_size=5), st.text(max_size=5)))
def test_round_trips(text: str, blob: bytes, mapping: dict[str, str]) -> None:
    assert p.read_string(p.write_string(text), 0)[0] == text
    assert p.read_long_string(p.write_long_string(text), 0)[0] == text
    assert p.read_bytes(p.write_bytes(blob), 0)[0] == blob
    assert p.read_short_bytes(p.write_short_bytes(blob), 0)[0] == blob
    assert p.read_string_map(p.write_string_map(mapping), 0)[0] == mapping
