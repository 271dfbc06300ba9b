"""Checksums of v5 frames: CRC24 of the frame header, CRC32 of the payload.

CRC24 (spec v5 2.1): initial value 0x875060, polynomial 0x1974F0B, not reflected; the
header bytes are fed in wire order (the header is a little-endian integer, so least significant
byte first), each byte most significant bit first. Table-driven here; the tests cross-check it
against a bit-by-bit implementation.

CRC32: zlib's CRC-32 over the (compressed) payload, seeded by first feeding the bytes
``FA 2D 55 CA``; written after the payload as 4 bytes little-endian.

Example:
    >>> hex(crc24(b"\\x32\\x00\\x02"))  # header of a 50-byte self-contained frame
    '0xeeffa5'
    >>> crc32(b"").to_bytes(4, "little").hex()
    'd37e7744'
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

from aiocql.protocol.wire import fast as _fast

__all__ = ["CRC24_INIT", "CRC24_POLY", "CRC24_TABLE", "CRC32_SEED_BYTES", "crc24", "crc32"]

CRC24_INIT = 0x875060
CRC24_POLY = 0x1974F0B
CRC32_SEED_BYTES = b"\xfa\x2d\x55\xca"

_CRC32_SEED = zlib.crc32(CRC32_SEED_BYTES)
# zlib's CRC-32, or the compiled one (the same function, folded with carry-less multiplication) where built
_CRC32: Callable[[bytes | bytearray | memoryview, int], int] = (
    _fast.crc32 if _fast is not None and getattr(_fast, "CRC32_IN_C", False) else zlib.crc32
)


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= CRC24_POLY
        table.append(crc & 0xFFFFFF)
    return tuple(table)


CRC24_TABLE = _make_table()
"""The CRC24 table: ``crc = ((crc << 8) & 0xFFFFFF) ^ CRC24_TABLE[(crc >> 16) ^ byte]`` per byte."""


def crc24(data: bytes | bytearray | memoryview) -> int:
    """CRC24 of a v5 frame header (3 or 5 bytes in wire order).

    Example:
        >>> hex(crc24(b"\\x00\\x00\\x02"))  # header of an empty self-contained frame
        '0xc4366a'
    """
    crc = CRC24_INIT
    table = CRC24_TABLE
    for b in data:
        crc = ((crc << 8) & 0xFFFFFF) ^ table[((crc >> 16) ^ b) & 0xFF]
    return crc


def crc32(data: bytes | bytearray | memoryview) -> int:
    """Seeded CRC32 of a v5 frame payload.

    Example:
        >>> crc32(b"b" * 50).to_bytes(4, "little").hex()
        '7aaeeb7c'
    """
    return _CRC32(data, _CRC32_SEED)
