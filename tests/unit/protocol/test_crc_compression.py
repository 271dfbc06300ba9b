"""CRC24 / CRC32 of v5 frames and LZ4 compression for v4 and v5."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiocql.errors import ProtocolError
from aiocql.protocol.compression import Compressor, Lz4Compressor, lz4_available
from aiocql.protocol.crc import crc24, crc32
from tests.unit.protocol.conftest import h


def crc24_bitwise(data: bytes) -> int:
    """Independent reference: Cassandra's loop over a little-endian integer, bit by bit.

    The header is held as an integer and fed least significant byte first, each byte most
    significant bit first, exactly as described in the spec.
    """
    value = int.from_bytes(data, "little")
    crc = 0x875060
    for _ in range(len(data)):
        crc ^= (value & 0xFF) << 16
        value >>= 8
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1974F0B
    return crc


# Known values, computed by another implementation (the DataStax Python driver's segment codec).
KNOWN_CRC24 = [
    (h("320002"), 0xEEFFA5),  # header of a 50-byte self-contained uncompressed frame
    (h("000002"), 0xC4366A),  # header of an empty self-contained uncompressed frame
]
KNOWN_CRC32 = [
    (b"b" * 50, h("7aaeeb7c")),  # trailer bytes (little-endian) of that 50-byte payload
    (b"", h("d37e7744")),
]


@pytest.mark.parametrize(("data", "expected"), KNOWN_CRC24)
def test_crc24_known_values(data: bytes, expected: int) -> None:
    assert crc24(data) == expected
    assert crc24_bitwise(data) == expected


@pytest.mark.parametrize(("data", "trailer"), KNOWN_CRC32)
def test_crc32_known_values(data: bytes, trailer: bytes) -> None:
    assert crc32(data).to_bytes(4, "little") == trailer


@given(st.binary(max_size=16))
def test_crc24_matches_bitwise_reference(data: bytes) -> None:
    assert crc24(data) == crc24_bitwise(data)
    assert crc24(memoryview(data)) == crc24(bytearray(data))
    assert 0 <= crc24(data) < 1 << 24


@given(st.binary(max_size=300))
def test_crc32_is_zlib_crc_of_seed_bytes_then_payload(data: bytes) -> None:
    assert crc32(data) == zlib.crc32(b"\xfa\x2d\x55\xca" + data)


needs_lz4 = pytest.mark.skipif(not lz4_available(), reason="lz4 not installed")


@needs_lz4
def test_lz4_is_a_compressor() -> None:
    assert isinstance(Lz4Compressor(), Compressor)
    assert Lz4Compressor.name == "lz4"


@needs_lz4
def test_v4_body_has_big_endian_length_prefix() -> None:
    import lz4.block

    c = Lz4Compressor()
    data = b"abcd" * 100
    body = c.compress_body(data)
    assert body[:4] == h("00000190")  # 400, big-endian
    assert lz4.block.decompress(body[4:], uncompressed_size=400) == data
    assert c.decompress_body(body) == data
    # What another LZ4 user produces (store_size=True prefixes a little-endian size) is not v4's
    # format: the big-endian prefix is specific to the protocol.
    assert lz4.block.compress(data, store_size=True)[:4] == h("90010000")


@needs_lz4
def test_v5_block_has_no_prefix() -> None:
    import lz4.block

    c = Lz4Compressor()
    data = bytes(range(256)) * 4
    block = c.compress_block(data)
    assert lz4.block.decompress(block, uncompressed_size=len(data)) == data
    assert c.decompress_block(block, len(data)) == data
    assert c.decompress_block(b"", 0) == b""


@needs_lz4
@given(st.binary(max_size=2000))
def test_lz4_round_trips(data: bytes) -> None:
    c = Lz4Compressor()
    assert c.decompress_block(c.compress_block(data), len(data)) == data
    assert c.decompress_body(c.compress_body(data)) == data


@needs_lz4
def test_lz4_corrupt_or_wrong_size_is_a_protocol_error() -> None:
    c = Lz4Compressor()
    block = c.compress_block(b"hello" * 100)
    with pytest.raises(ProtocolError, match="corrupt LZ4"):
        c.decompress_block(b"\xff\xff\xff", 100)
    with pytest.raises(ProtocolError):
        c.decompress_block(block, 499)  # too small a destination
    with pytest.raises(ProtocolError, match="announced 600"):
        c.decompress_block(block, 600)  # expands to fewer bytes than announced
    with pytest.raises(ProtocolError, match="no length prefix"):
        c.decompress_body(b"\x00\x00")


@needs_lz4
def test_lz4_body_size_limit() -> None:
    c = Lz4Compressor()
    body = c.compress_body(bytes(10_000))
    with pytest.raises(ProtocolError, match="limit 1000"):
        c.decompress_body(body, max_size=1000)
    # A forged prefix announcing 2 GiB fails before any allocation.
    with pytest.raises(ProtocolError, match="limit"):
        c.decompress_body(h("7fffffff") + body[4:])
