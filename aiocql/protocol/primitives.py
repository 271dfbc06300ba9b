"""Wire primitives of the native protocol (spec section 3): position-based readers and writers.

Readers take a buffer and a position and return ``(value, new_position)``; they never copy more
than the value itself and raise :class:`~aiocql.errors.ProtocolError` (naming the field and the
offset) on truncated input or an impossible length, never ``IndexError`` or ``struct.error``.
Writers return ``bytes``; a value that cannot be represented raises ``ProtocolError`` too.

Example:
    >>> from aiocql.protocol.primitives import read_string, write_string
    >>> data = write_string("ks")
    >>> data
    b'\\x00\\x02ks'
    >>> read_string(memoryview(data), 0)
    ('ks', 4)
"""

from __future__ import annotations

import ipaddress
import struct
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeAlias

from aiocql.errors.base import ProtocolError
from aiocql.protocol.constants import Consistency
from aiocql.protocol.unset import UNSET, Unset

__all__ = [
    "Buffer",
    "InetAddress",
    "IpAddress",
    "Value",
    "read_byte",
    "read_bytes",
    "read_bytes_map",
    "read_consistency",
    "read_inet",
    "read_inetaddr",
    "read_int",
    "read_long",
    "read_long_string",
    "read_short",
    "read_short_bytes",
    "read_string",
    "read_string_list",
    "read_string_map",
    "read_string_multimap",
    "read_unsigned_vint",
    "read_uuid",
    "read_value",
    "read_vint",
    "truncated",
    "write_byte",
    "write_bytes",
    "write_bytes_map",
    "write_consistency",
    "write_inet",
    "write_inetaddr",
    "write_int",
    "write_long",
    "write_long_string",
    "write_short",
    "write_short_bytes",
    "write_string",
    "write_string_list",
    "write_string_map",
    "write_string_multimap",
    "write_unsigned_vint",
    "write_uuid",
    "write_value",
    "write_vint",
]

Buffer: TypeAlias = bytes | bytearray | memoryview
"""Anything the readers accept (a ``memoryview`` must have the byte format ``'B'``)."""

Value: TypeAlias = bytes | Unset | None
"""An already-encoded bound value: bytes, ``None`` (null) or ``UNSET`` (not set)."""

IpAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
InetAddress: TypeAlias = tuple[IpAddress, int]
"""An [inet]: (address, port)."""

_BYTE = struct.Struct(">B")
_SHORT = struct.Struct(">H")
_INT = struct.Struct(">i")
_LONG = struct.Struct(">q")

_U64 = 1 << 64
_I64_MIN = -(1 << 63)
_I64_MAX = (1 << 63) - 1
_VINT_MARKERS = tuple(((0xFF << (8 - extra)) & 0xFF) << (8 * extra) for extra in range(8))
"""The leading 1-bits of an [unsigned vint] with ``extra`` extra bytes, in place above its value."""

_CONSISTENCIES: dict[int, Consistency] = {int(c): c for c in Consistency}


def truncated(what: str, pos: int, need: int, buf: Buffer) -> ProtocolError:
    """Build the ProtocolError for a field that runs past the end of ``buf``.

    Example:
        >>> str(truncated("[int]", 3, 4, b"abcde"))
        'truncated [int] at offset 3: needs 4 bytes, 2 available'
    """
    avail = max(len(buf) - pos, 0)
    return ProtocolError(f"truncated {what} at offset {pos}: needs {need} bytes, {avail} available")


# --------------------------------------------------------------------------------------------- readers


def read_byte(buf: Buffer, pos: int, what: str = "[byte]") -> tuple[int, int]:
    """Read an unsigned [byte].

    Example:
        >>> read_byte(b"\\xff", 0)
        (255, 1)
    """
    try:
        return _BYTE.unpack_from(buf, pos)[0], pos + 1
    except struct.error:
        raise truncated(what, pos, 1, buf) from None


def read_short(buf: Buffer, pos: int, what: str = "[short]") -> tuple[int, int]:
    """Read an unsigned 2-byte [short].

    Example:
        >>> read_short(b"\\x01\\x00", 0)
        (256, 2)
    """
    try:
        return _SHORT.unpack_from(buf, pos)[0], pos + 2
    except struct.error:
        raise truncated(what, pos, 2, buf) from None


def read_int(buf: Buffer, pos: int, what: str = "[int]") -> tuple[int, int]:
    """Read a signed 4-byte [int].

    Example:
        >>> read_int(b"\\xff\\xff\\xff\\xfe", 0)
        (-2, 4)
    """
    try:
        return _INT.unpack_from(buf, pos)[0], pos + 4
    except struct.error:
        raise truncated(what, pos, 4, buf) from None


def read_long(buf: Buffer, pos: int, what: str = "[long]") -> tuple[int, int]:
    """Read a signed 8-byte [long].

    Example:
        >>> read_long(bytes(7) + b"\\x2a", 0)
        (42, 8)
    """
    try:
        return _LONG.unpack_from(buf, pos)[0], pos + 8
    except struct.error:
        raise truncated(what, pos, 8, buf) from None


def _utf8(raw: Buffer, what: str, pos: int) -> str:
    try:
        return str(raw, "utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"{what} at offset {pos} is not valid UTF-8: {exc.reason}") from None


def read_string(buf: Buffer, pos: int, what: str = "[string]") -> tuple[str, int]:
    """Read a [string]: a [short] length then UTF-8 bytes.

    Example:
        >>> read_string(b"\\x00\\x02ok", 0)
        ('ok', 4)
    """
    n, start = read_short(buf, pos, what)
    end = start + n
    if end > len(buf):
        raise truncated(what, pos, 2 + n, buf)
    return _utf8(buf[start:end], what, pos), end


def read_long_string(buf: Buffer, pos: int, what: str = "[long string]") -> tuple[str, int]:
    """Read a [long string]: an [int] length then UTF-8 bytes.

    Example:
        >>> read_long_string(b"\\x00\\x00\\x00\\x01x", 0)
        ('x', 5)
    """
    n, start = read_int(buf, pos, what)
    if n < 0:
        raise ProtocolError(f"{what} at offset {pos} has a negative length {n}")
    end = start + n
    if end > len(buf):
        raise truncated(what, pos, 4 + n, buf)
    return _utf8(buf[start:end], what, pos), end


def read_uuid(buf: Buffer, pos: int, what: str = "[uuid]") -> tuple[uuid.UUID, int]:
    """Read a 16-byte [uuid].

    Example:
        >>> read_uuid(bytes(16), 0)
        (UUID('00000000-0000-0000-0000-000000000000'), 16)
    """
    end = pos + 16
    if end > len(buf):
        raise truncated(what, pos, 16, buf)
    return uuid.UUID(bytes=bytes(buf[pos:end])), end


def read_string_list(buf: Buffer, pos: int, what: str = "[string list]") -> tuple[list[str], int]:
    """Read a [string list]: a [short] count then that many [string].

    Example:
        >>> read_string_list(b"\\x00\\x01\\x00\\x01a", 0)
        (['a'], 5)
    """
    n, p = read_short(buf, pos, what)
    out: list[str] = []
    for _ in range(n):
        s, p = read_string(buf, p, what)
        out.append(s)
    return out, p


def read_bytes(buf: Buffer, pos: int, what: str = "[bytes]") -> tuple[bytes | None, int]:
    """Read [bytes]: an [int] length then that many bytes; a negative length is ``None`` (null).

    Example:
        >>> read_bytes(b"\\xff\\xff\\xff\\xff", 0)
        (None, 4)
    """
    n, start = read_int(buf, pos, what)
    if n < 0:
        return None, start
    end = start + n
    if end > len(buf):
        raise truncated(what, pos, 4 + n, buf)
    return bytes(buf[start:end]), end


def read_value(buf: Buffer, pos: int, what: str = "[value]") -> tuple[Value, int]:
    """Read a [value]: like [bytes], but -1 is ``None`` (null), -2 is ``UNSET``, below -2 is an error.

    Example:
        >>> read_value(b"\\xff\\xff\\xff\\xfe", 0)
        (UNSET, 4)
    """
    n, start = read_int(buf, pos, what)
    if n < 0:
        if n == -1:
            return None, start
        if n == -2:
            return UNSET, start
        raise ProtocolError(f"{what} at offset {pos} has an invalid length {n}")
    end = start + n
    if end > len(buf):
        raise truncated(what, pos, 4 + n, buf)
    return bytes(buf[start:end]), end


def read_short_bytes(buf: Buffer, pos: int, what: str = "[short bytes]") -> tuple[bytes, int]:
    """Read [short bytes]: a [short] length then that many bytes.

    Example:
        >>> read_short_bytes(b"\\x00\\x02\\xca\\xfe", 0)
        (b'\\xca\\xfe', 4)
    """
    n, start = read_short(buf, pos, what)
    end = start + n
    if end > len(buf):
        raise truncated(what, pos, 2 + n, buf)
    return bytes(buf[start:end]), end


def read_unsigned_vint(buf: Buffer, pos: int, what: str = "[unsigned vint]") -> tuple[int, int]:
    """Read an [unsigned vint]: the leading 1-bits of the first byte count the extra bytes (0..8),
    the rest of the first byte holds the value's most significant bits.

    The one [vint] decoder of the driver (the duration and vector codecs use it too).

    Example:
        >>> read_unsigned_vint(bytes([0b11000011, 0b11101000, 0]), 0)  # the spec's 256 000
        (256000, 3)
        >>> read_unsigned_vint(b"\\xff" + bytes(8), 0)
        (0, 9)
    """
    if pos >= len(buf):
        raise truncated(what, pos, 1, buf)
    first = buf[pos]
    if first < 0x80:
        return first, pos + 1
    extra = 8 - (~first & 0xFF).bit_length()  # number of leading one bits
    end = pos + 1 + extra
    if end > len(buf):
        raise truncated(what, pos, 1 + extra, buf)
    if extra == 1:
        return (first & 0x3F) << 8 | buf[pos + 1], end
    return (first & (0xFF >> (extra + 1))) << (8 * extra) | int.from_bytes(buf[pos + 1 : end], "big"), end


def read_vint(buf: Buffer, pos: int, what: str = "[vint]") -> tuple[int, int]:
    """Read a signed, zig-zag encoded [vint].

    Example:
        >>> read_vint(b"\\x03", 0), read_vint(b"\\x04", 0)
        ((-2, 1), (2, 1))
    """
    u, end = read_unsigned_vint(buf, pos, what)
    return (u >> 1) ^ -(u & 1), end


def read_inetaddr(buf: Buffer, pos: int, what: str = "[inetaddr]") -> tuple[IpAddress, int]:
    """Read an [inetaddr]: a [byte] size (4 or 16) then the address bytes.

    Example:
        >>> read_inetaddr(b"\\x04\\x7f\\x00\\x00\\x01", 0)
        (IPv4Address('127.0.0.1'), 5)
    """
    n, start = read_byte(buf, pos, what)
    if n not in (4, 16):
        raise ProtocolError(f"{what} at offset {pos} has an invalid address size {n} (expected 4 or 16)")
    end = start + n
    if end > len(buf):
        raise truncated(what, pos, 1 + n, buf)
    raw = bytes(buf[start:end])
    addr: IpAddress = ipaddress.IPv4Address(raw) if n == 4 else ipaddress.IPv6Address(raw)
    return addr, end


def read_inet(buf: Buffer, pos: int, what: str = "[inet]") -> tuple[InetAddress, int]:
    """Read an [inet]: an [inetaddr] then an [int] port.

    Example:
        >>> read_inet(b"\\x04\\x0a\\x00\\x00\\x01\\x00\\x00\\x23\\x52", 0)
        ((IPv4Address('10.0.0.1'), 9042), 9)
    """
    addr, p = read_inetaddr(buf, pos, what)
    port, p = read_int(buf, p, what)
    return (addr, port), p


def read_consistency(buf: Buffer, pos: int, what: str = "[consistency]") -> tuple[Consistency, int]:
    """Read a [consistency] ([short]); an unknown level raises ProtocolError.

    Example:
        >>> read_consistency(b"\\x00\\x0a", 0)
        (<Consistency.LOCAL_ONE: 10>, 2)
    """
    v, p = read_short(buf, pos, what)
    try:
        return _CONSISTENCIES[v], p
    except KeyError:
        raise ProtocolError(f"{what} at offset {pos}: unknown consistency level 0x{v:04x}") from None


def read_string_map(buf: Buffer, pos: int, what: str = "[string map]") -> tuple[dict[str, str], int]:
    """Read a [string map]: a [short] count then (key [string], value [string]) pairs.

    Example:
        >>> read_string_map(b"\\x00\\x01\\x00\\x01k\\x00\\x01v", 0)
        ({'k': 'v'}, 8)
    """
    n, p = read_short(buf, pos, what)
    out: dict[str, str] = {}
    for _ in range(n):
        k, p = read_string(buf, p, what)
        v, p = read_string(buf, p, what)
        out[k] = v
    return out, p


def read_string_multimap(buf: Buffer, pos: int, what: str = "[string multimap]") -> tuple[dict[str, list[str]], int]:
    """Read a [string multimap]: a [short] count then (key [string], value [string list]) pairs.

    Example:
        >>> read_string_multimap(b"\\x00\\x01\\x00\\x01k\\x00\\x01\\x00\\x01v", 0)
        ({'k': ['v']}, 10)
    """
    n, p = read_short(buf, pos, what)
    out: dict[str, list[str]] = {}
    for _ in range(n):
        k, p = read_string(buf, p, what)
        v, p = read_string_list(buf, p, what)
        out[k] = v
    return out, p


def read_bytes_map(buf: Buffer, pos: int, what: str = "[bytes map]") -> tuple[dict[str, bytes | None], int]:
    """Read a [bytes map]: a [short] count then (key [string], value [bytes]) pairs.

    Example:
        >>> read_bytes_map(b"\\x00\\x01\\x00\\x01k\\x00\\x00\\x00\\x01v", 0)
        ({'k': b'v'}, 10)
    """
    n, p = read_short(buf, pos, what)
    out: dict[str, bytes | None] = {}
    for _ in range(n):
        k, p = read_string(buf, p, what)
        v, p = read_bytes(buf, p, what)
        out[k] = v
    return out, p


# --------------------------------------------------------------------------------------------- writers


def _pack(st: struct.Struct, value: int, what: str) -> bytes:
    try:
        return st.pack(value)
    except struct.error:
        raise ProtocolError(f"{what}: value {value!r} does not fit") from None


def write_byte(value: int) -> bytes:
    """Encode an unsigned [byte] (0..255).

    Example:
        >>> write_byte(1)
        b'\\x01'
    """
    return _pack(_BYTE, value, "[byte]")


def write_short(value: int) -> bytes:
    """Encode an unsigned [short] (0..65535).

    Example:
        >>> write_short(258)
        b'\\x01\\x02'
    """
    return _pack(_SHORT, value, "[short]")


def write_int(value: int) -> bytes:
    """Encode a signed [int].

    Example:
        >>> write_int(-1)
        b'\\xff\\xff\\xff\\xff'
    """
    return _pack(_INT, value, "[int]")


def write_long(value: int) -> bytes:
    """Encode a signed [long].

    Example:
        >>> write_long(1)
        b'\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x01'
    """
    return _pack(_LONG, value, "[long]")


def write_string(value: str) -> bytes:
    """Encode a [string] (at most 65535 UTF-8 bytes).

    Example:
        >>> write_string("é")
        b'\\x00\\x02\\xc3\\xa9'
    """
    raw = value.encode("utf-8")
    if len(raw) > 0xFFFF:
        raise ProtocolError(f"[string] of {len(raw)} bytes is longer than 65535")
    return _SHORT.pack(len(raw)) + raw


def write_long_string(value: str) -> bytes:
    """Encode a [long string].

    Example:
        >>> write_long_string("a")
        b'\\x00\\x00\\x00\\x01a'
    """
    raw = value.encode("utf-8")
    if len(raw) > 0x7FFFFFFF:
        raise ProtocolError(f"[long string] of {len(raw)} bytes is too long")
    return _INT.pack(len(raw)) + raw


def write_uuid(value: uuid.UUID) -> bytes:
    """Encode a [uuid].

    Example:
        >>> len(write_uuid(uuid.UUID(int=1)))
        16
    """
    return value.bytes


def write_string_list(values: Sequence[str]) -> bytes:
    """Encode a [string list].

    Example:
        >>> write_string_list(["a"])
        b'\\x00\\x01\\x00\\x01a'
    """
    if len(values) > 0xFFFF:
        raise ProtocolError(f"[string list] of {len(values)} items is longer than 65535")
    return _SHORT.pack(len(values)) + b"".join(write_string(v) for v in values)


def write_bytes(value: bytes | bytearray | memoryview | None) -> bytes:
    """Encode [bytes]; ``None`` is encoded as length -1 (null).

    Example:
        >>> write_bytes(b"x"), write_bytes(None)
        (b'\\x00\\x00\\x00\\x01x', b'\\xff\\xff\\xff\\xff')
    """
    if value is None:
        return b"\xff\xff\xff\xff"
    n = len(value)
    if n > 0x7FFFFFFF:
        raise ProtocolError(f"[bytes] of {n} bytes is too long")
    return _INT.pack(n) + bytes(value)


def write_value(value: Value) -> bytes:
    """Encode a [value]: bytes, ``None`` (-1, null) or ``UNSET`` (-2, not set).

    Example:
        >>> write_value(UNSET)
        b'\\xff\\xff\\xff\\xfe'
    """
    if value is UNSET:
        return b"\xff\xff\xff\xfe"
    if value is None:
        return b"\xff\xff\xff\xff"
    assert not isinstance(value, Unset)
    return write_bytes(value)


def write_short_bytes(value: bytes) -> bytes:
    """Encode [short bytes] (at most 65535 bytes).

    Example:
        >>> write_short_bytes(b"\\x01")
        b'\\x00\\x01\\x01'
    """
    if len(value) > 0xFFFF:
        raise ProtocolError(f"[short bytes] of {len(value)} bytes is longer than 65535")
    return _SHORT.pack(len(value)) + bytes(value)


def write_unsigned_vint(value: int) -> bytes:
    """Encode an [unsigned vint] (0 .. 2**64-1) in the fewest bytes.

    The one [vint] encoder of the driver (the duration and vector codecs use it too).

    Example:
        >>> write_unsigned_vint(256000).hex(), write_unsigned_vint(127).hex(), write_unsigned_vint(128).hex()
        ('c3e800', '7f', '8080')
    """
    if value < 0x80:
        if value < 0:
            raise ProtocolError(f"[unsigned vint] must be >= 0, got {value}")
        return bytes((value,))
    if value >= _U64:
        raise ProtocolError(f"[unsigned vint] must be < 2**64, got {value}")
    # k extra bytes hold 7 * k + 7 bits (8 extra bytes: all 64); the marker bits sit above them.
    extra = (value.bit_length() - 1) // 7
    if extra >= 8:
        return b"\xff" + value.to_bytes(8, "big")
    return (value | _VINT_MARKERS[extra]).to_bytes(extra + 1, "big")


def write_vint(value: int) -> bytes:
    """Encode a signed [vint] (zig-zag, 64-bit range).

    Example:
        >>> write_vint(-2), [write_vint(n).hex() for n in (0, -1, 1)]
        (b'\\x03', ['00', '01', '02'])
    """
    if not _I64_MIN <= value <= _I64_MAX:
        raise ProtocolError(f"[vint] must fit in 64 bits, got {value}")
    return write_unsigned_vint((value << 1) ^ (value >> 63))


def write_inetaddr(address: IpAddress | str) -> bytes:
    """Encode an [inetaddr].

    Example:
        >>> write_inetaddr("127.0.0.1")
        b'\\x04\\x7f\\x00\\x00\\x01'
    """
    addr = ipaddress.ip_address(address) if isinstance(address, str) else address
    raw = addr.packed
    return bytes((len(raw),)) + raw


def write_inet(address: IpAddress | str, port: int) -> bytes:
    """Encode an [inet] (address and port).

    Example:
        >>> write_inet("10.0.0.1", 9042).hex()
        '040a00000100002352'
    """
    return write_inetaddr(address) + write_int(port)


def write_consistency(value: Consistency | int) -> bytes:
    """Encode a [consistency].

    Example:
        >>> write_consistency(Consistency.QUORUM)
        b'\\x00\\x04'
    """
    return _pack(_SHORT, int(value), "[consistency]")


def write_string_map(values: Mapping[str, str]) -> bytes:
    """Encode a [string map].

    Example:
        >>> write_string_map({"k": "v"})
        b'\\x00\\x01\\x00\\x01k\\x00\\x01v'
    """
    return _count(values, "[string map]") + b"".join(write_string(k) + write_string(v) for k, v in values.items())


def write_string_multimap(values: Mapping[str, Sequence[str]]) -> bytes:
    """Encode a [string multimap].

    Example:
        >>> write_string_multimap({"k": ["v"]})
        b'\\x00\\x01\\x00\\x01k\\x00\\x01\\x00\\x01v'
    """
    return _count(values, "[string multimap]") + b"".join(
        write_string(k) + write_string_list(v) for k, v in values.items()
    )


def write_bytes_map(values: Mapping[str, bytes | None]) -> bytes:
    """Encode a [bytes map].

    Example:
        >>> write_bytes_map({"k": b"v"})
        b'\\x00\\x01\\x00\\x01k\\x00\\x00\\x00\\x01v'
    """
    return _count(values, "[bytes map]") + b"".join(write_string(k) + write_bytes(v) for k, v in values.items())


def _count(items: Iterable[object] | Mapping[str, object], what: str) -> bytes:
    n = len(items) if isinstance(items, Mapping | Sequence) else sum(1 for _ in items)
    if n > 0xFFFF:
        raise ProtocolError(f"{what} of {n} entries is longer than 65535")
    return _SHORT.pack(n)
