"""Variable-length integers of the native protocol (spec section 3): [unsigned vint] and [vint].

An [unsigned vint] stores in its first byte, as leading 1 bits, how many bytes follow (0..8), and
the most significant bits of the value after them. A [vint] is a zig-zag encoded signed 64-bit value.

Example:
    >>> encode_unsigned_vint(256_000).hex()
    'c3e800'
    >>> decode_unsigned_vint(bytes.fromhex("c3e800"), 0)
    (256000, 3)
    >>> encode_vint(-3).hex(), decode_vint(b"\\x05", 0)
    ('05', (-3, 1))
"""

from __future__ import annotations

from aiocql.errors.base import InvalidValueError, ProtocolError

__all__ = ["decode_unsigned_vint", "decode_vint", "encode_unsigned_vint", "encode_vint"]

_U64 = 1 << 64


def encode_unsigned_vint(value: int) -> bytes:
    """Encode 0 <= value < 2**64 as an [unsigned vint].

    Example:
        >>> encode_unsigned_vint(127).hex(), encode_unsigned_vint(128).hex()
        ('7f', '8080')
    """
    if value < 0x80:
        if value < 0:
            raise InvalidValueError(f"unsigned vint must be >= 0, got {value}")
        return bytes((value,))
    if value >= _U64:
        raise InvalidValueError(f"unsigned vint must be < 2**64, got {value}")
    extra = min((value.bit_length() - 1) // 7, 8)
    first = ((0xFF << (8 - extra)) & 0xFF) | (value >> (8 * extra))
    return bytes((first,)) + (value & ((1 << (8 * extra)) - 1)).to_bytes(extra, "big")


def decode_unsigned_vint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """Read an [unsigned vint] at ``pos``; return (value, position after it).

    Raises :class:`~aiocql.errors.ProtocolError` if the buffer ends inside it.

    Example:
        >>> decode_unsigned_vint(b"\\xff" + bytes(8), 0)
        (0, 9)
    """
    if pos >= len(buf):
        raise ProtocolError(f"truncated vint at offset {pos}")
    first = buf[pos]
    if first < 0x80:
        return first, pos + 1
    extra = 8 - (~first & 0xFF).bit_length()  # number of leading 1 bits
    end = pos + 1 + extra
    if end > len(buf):
        raise ProtocolError(f"truncated vint at offset {pos}: needs {extra + 1} bytes, {len(buf) - pos} left")
    high = first & (0xFF >> (extra + 1))
    return (high << (8 * extra)) | int.from_bytes(buf[pos + 1 : end], "big"), end


def encode_vint(value: int) -> bytes:
    """Encode a signed 64-bit integer as a zig-zag [vint].

    Example:
        >>> [encode_vint(n).hex() for n in (0, -1, 1, -2)]
        ['00', '01', '02', '03']
    """
    if not -(1 << 63) <= value < (1 << 63):
        raise InvalidValueError(f"vint must fit in 64 bits, got {value}")
    return encode_unsigned_vint((value << 1) ^ (value >> 63))


def decode_vint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """Read a zig-zag [vint] at ``pos``; return (value, position after it).

    Example:
        >>> decode_vint(b"\\x04", 0)
        (2, 1)
    """
    raw, pos = decode_unsigned_vint(buf, pos)
    return (raw >> 1) ^ -(raw & 1), pos
