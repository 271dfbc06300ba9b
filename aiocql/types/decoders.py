"""Decoders of the native types (text, numbers, decimals, UUIDs, inet, dates and times, durations).

Use :func:`aiocql.types.codecs.decoder_for`; this module and :mod:`aiocql.types.composite_decoders`
(collections, tuples, UDTs, vectors, and ``build_decoder``, which picks the decoder of any type) are its
implementation. A decoder takes exactly a value's bytes (no length prefix; null is the caller's business)
and raises only :class:`~aiocql.errors.ProtocolError` for malformed input.

Example:
    >>> timestamp_from_ms(0)
    datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import datetime as _dt
import functools
import ipaddress
import struct
import types
import uuid
from collections.abc import Callable
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from typing import Any, Final

from aiocql.errors.base import InvalidValueError, ProtocolError, ValueTooLarge
from aiocql.protocol.primitives import read_vint
from aiocql.types.values import EMPTY, Date, Duration, Time

__all__ = [
    "Decoder",
    "decimal_from",
    "decimal_limit",
    "set_decimal_limit",
    "timestamp_from_ms",
]

#: A decoder: the value's bytes (``bytes`` or ``memoryview``) -> the Python value.
Decoder = Callable[[bytes | memoryview], object]

_INT32 = struct.Struct(">i")
_UINT32 = struct.Struct(">I")
_int32_from = _INT32.unpack_from
EPOCH: Final = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_EPOCH_ORDINAL: Final = _dt.date(1970, 1, 1).toordinal()
_MAX_ORDINAL: Final = _dt.date.max.toordinal()
#: The longest value a [bytes] can carry (its length is a signed 32-bit int).
MAX_VALUE_BYTES: Final = 2**31 - 1
_EXACT: Final = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
#: The unlimited context decimals are scaled in (exact); the compiled row core uses it too.
EXACT_DECIMAL_CONTEXT: Final = _EXACT

# struct format of the native types that map directly onto one struct code.
STRUCT_CODES: Final[dict[str, str]] = {
    "bigint": "q", "counter": "q", "int": "i", "smallint": "h", "tinyint": "b",
    "double": "d", "float": "f", "boolean": "?",
}  # fmt: skip


def _bad_size(data: bytes | memoryview, size: int, name: str) -> object:
    if len(data) == 0:
        return EMPTY
    raise ProtocolError(f"{name} value must be {size} bytes, got {len(data)}")


def _struct_decoder(code: str, name: str) -> Decoder:
    st = struct.Struct(">" + code)
    unpack = st.unpack
    size = st.size

    def decode(data: bytes | memoryview) -> object:
        try:
            return unpack(data)[0]
        except struct.error:
            return _bad_size(data, size, name)

    return decode


def _decode_text(data: bytes | memoryview) -> str:
    try:
        return str(data, "utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"text value is not valid UTF-8: {exc}") from None


def _decode_ascii(data: bytes | memoryview) -> str:
    try:
        return str(data, "ascii")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"ascii value has a non-ASCII byte: {exc}") from None


def _decode_blob(data: bytes | memoryview) -> bytes:
    return bytes(data)


def _decode_varint(data: bytes | memoryview) -> object:
    if not data:
        return EMPTY
    return int.from_bytes(data, "big", signed=True)


#: Default of :func:`set_decimal_limit`: unscaled parts of up to 256 bytes, i.e. every decimal of up
#: to 616 significant digits. Up to there a conversion costs under ~16 ns per byte; beyond, CPython's
#: int -> Decimal conversion grows quadratically (1 MB: 91 s).
DEFAULT_DECIMAL_LIMIT: Final = 256
_decimal_limit: int | None = DEFAULT_DECIMAL_LIMIT
_SPLIT_BITS: Final = 16384  # below this, one int -> Decimal conversion beats splitting


def set_decimal_limit(max_unscaled_bytes: int | None) -> int | None:
    """Set the longest unscaled part (in bytes) of a ``decimal`` the decoders convert; return the old.

    A decimal received with a longer unscaled part raises :class:`~aiocql.errors.ValueTooLarge`
    (at once, without converting anything), so no value can block the event loop: binary to decimal
    conversion is not linear. The default, 256 bytes, covers every decimal of up to 616 significant
    digits. ``None`` removes the limit; long values are then converted by splitting (about 3 s for
    1 MB instead of 91 s), still blocking the loop that long. The limit is global to the process.

    Example:
        >>> old = set_decimal_limit(1024)
        >>> set_decimal_limit(old)
        1024
    """
    global _decimal_limit
    if max_unscaled_bytes is not None and (
        isinstance(max_unscaled_bytes, bool) or not isinstance(max_unscaled_bytes, int) or max_unscaled_bytes < 1
    ):
        raise InvalidValueError(f"max_unscaled_bytes must be a positive int or None, got {max_unscaled_bytes!r}")
    old, _decimal_limit = _decimal_limit, max_unscaled_bytes
    return old


def decimal_limit() -> int | None:
    """The current limit of :func:`set_decimal_limit` (bytes of a decimal's unscaled part, or None).

    Example:
        >>> decimal_limit()
        256
    """
    return _decimal_limit


def _too_large(n: int) -> ValueTooLarge:
    return ValueTooLarge(
        f"decimal value with an unscaled part of {n} bytes (about {int(n * 2.408) + 1} digits) is above the "
        f"limit of {_decimal_limit} bytes; aiocql.types.set_decimal_limit() raises it (converting it blocks the "
        "event loop for a time that grows faster than the size)"
    )


@functools.lru_cache(maxsize=64)
def _power_of_two(bits: int) -> Decimal:
    return _EXACT.power(Decimal(2), bits)


def _int_to_decimal(n: int) -> Decimal:
    """``Decimal(n)`` exactly, in sub-quadratic time for long ints (split in halves, libmpdec
    multiplies long numbers with number-theoretic transforms)."""
    bits = n.bit_length()
    if bits <= _SPLIT_BITS:
        return Decimal(n)
    half = (bits // 2 + _SPLIT_BITS - 1) // _SPLIT_BITS * _SPLIT_BITS  # few distinct powers to cache
    high, low = n >> half, n & ((1 << half) - 1)
    return _EXACT.add(_EXACT.multiply(_int_to_decimal(high), _power_of_two(half)), _int_to_decimal(low))


def decimal_from(data: bytes | memoryview, start: int, end: int) -> Decimal:
    """The decimal in ``data[start:end]`` ([int] scale then the unscaled varint; at least 5 bytes).

    Raises :class:`~aiocql.errors.ValueTooLarge` above :func:`set_decimal_limit`.

    Example:
        >>> decimal_from(bytes.fromhex("00000002" "3039"), 0, 6)
        Decimal('123.45')
    """
    n = end - start - 4
    if _decimal_limit is not None and n > _decimal_limit:
        raise _too_large(n)
    scale = _int32_from(data, start)[0]
    unscaled = int.from_bytes(data[start + 4 : end], "big", signed=True)
    # scaleb in an unlimited context is exact; avoids int -> str (limited to 4300 digits).
    if n * 8 <= _SPLIT_BITS:
        return Decimal(unscaled).scaleb(-scale, _EXACT)
    value = _int_to_decimal(-unscaled if unscaled < 0 else unscaled)
    return (value.copy_negate() if unscaled < 0 else value).scaleb(-scale, _EXACT)


def _decode_decimal(data: bytes | memoryview) -> object:
    if len(data) < 5:
        return _bad_size(data, 5, "decimal (at least)")
    return decimal_from(data, 0, len(data))


# uuid.UUID(bytes=...) validates and copies; filling the two slots of a bare instance through their
# descriptors (which bypass UUID.__setattr__) is 2-3x faster. Checked at import, else the public way.
_UUID = uuid.UUID
_SAFE_UNKNOWN = uuid.SafeUUID.unknown
_SlotSetter = Callable[[Any, Any], None]


def _uuid_slot_setters() -> tuple[_SlotSetter, _SlotSetter] | None:
    int_slot, safe_slot = _UUID.__dict__.get("int"), _UUID.__dict__.get("is_safe")
    if not (isinstance(int_slot, types.MemberDescriptorType) and isinstance(safe_slot, types.MemberDescriptorType)):
        return None
    set_int, set_safe = int_slot.__set__, safe_slot.__set__
    sample = int.from_bytes(bytes(range(1, 17)), "big")
    try:
        fast: uuid.UUID = object.__new__(_UUID)
        set_int(fast, sample)
        set_safe(fast, _SAFE_UNKNOWN)
        slow = _UUID(int=sample)
        same = fast == slow and str(fast) == str(slow) and hash(fast) == hash(slow) and fast.is_safe == slow.is_safe
    except Exception:
        return None
    return (set_int, set_safe) if same else None


#: (set "int", set "is_safe") slot setters of uuid.UUID when the fast path works (the row plan
#: inlines them), else None.
UUID_SLOT_SETTERS: Final = _uuid_slot_setters()


def _uuid_from_slots(value: int) -> uuid.UUID:
    u: uuid.UUID = _new_object(_UUID)
    _set_int(u, value)
    _set_safe(u, _SAFE_UNKNOWN)
    return u


def _uuid_from_constructor(value: int) -> uuid.UUID:
    return _UUID(int=value)


_new_object = object.__new__
if UUID_SLOT_SETTERS is not None:
    _set_int, _set_safe = UUID_SLOT_SETTERS
#: Builds a :class:`uuid.UUID` from its 128-bit integer, as fast as this Python allows
#: (e.g. ``uuid_from_int(1) == uuid.UUID(int=1)``).
uuid_from_int: Callable[[int], uuid.UUID] = _uuid_from_slots if UUID_SLOT_SETTERS else _uuid_from_constructor


def _decode_uuid(data: bytes | memoryview) -> object:
    if len(data) != 16:
        return _bad_size(data, 16, "uuid")
    return uuid_from_int(int.from_bytes(data, "big"))


def _decode_inet(data: bytes | memoryview) -> object:
    n = len(data)
    if n == 4:
        return ipaddress.IPv4Address(bytes(data))
    if n == 16:
        return ipaddress.IPv6Address(bytes(data))
    if n == 0:
        return EMPTY
    raise ProtocolError(f"inet value must be 4 or 16 bytes, got {n}")


_int64_unpack = struct.Struct(">q").unpack
_timedelta = _dt.timedelta
_fromtimestamp = _dt.datetime.fromtimestamp
_UTC = _dt.UTC
# For 0 <= ms < 2**31 * 1000 (1970..2038) the float seconds ms / 1000 are within 0.12 us of the exact
# value, so fromtimestamp (which rounds to microseconds) is exact, and faster than datetime arithmetic.
FAST_TIMESTAMP_LIMIT: Final = 2**31 * 1000


def timestamp_from_ms(ms: int) -> object:
    """An aware UTC datetime for milliseconds since the epoch; the int itself outside years 1..9999.

    Example:
        >>> timestamp_from_ms(1_000), timestamp_from_ms(-(2**63))
        (datetime.datetime(1970, 1, 1, 0, 0, 1, tzinfo=datetime.timezone.utc), -9223372036854775808)
    """
    if 0 <= ms < FAST_TIMESTAMP_LIMIT:
        return _fromtimestamp(ms / 1000, _UTC)
    try:
        return EPOCH + _timedelta(0, 0, 0, ms)
    except OverflowError:
        # Outside datetime's years 1..9999: keep the exact milliseconds rather than fail or clamp.
        return ms


def _decode_timestamp(data: bytes | memoryview) -> object:
    try:
        ms = _int64_unpack(data)[0]
    except struct.error:
        return _bad_size(data, 8, "timestamp")
    return timestamp_from_ms(ms)


_uint32_unpack = _UINT32.unpack
_fromordinal = _dt.date.fromordinal


def _decode_date(data: bytes | memoryview) -> object:
    try:
        raw = _uint32_unpack(data)[0]
    except struct.error:
        return _bad_size(data, 4, "date")
    ordinal = raw - 2**31 + _EPOCH_ORDINAL
    if 1 <= ordinal <= _MAX_ORDINAL:
        return _fromordinal(ordinal)
    return Date(raw - 2**31)


def _decode_time(data: bytes | memoryview) -> object:
    try:
        nanos = _int64_unpack(data)[0]
    except struct.error:
        return _bad_size(data, 8, "time")
    try:
        return Time(nanos)
    except InvalidValueError as exc:
        raise ProtocolError(f"time value out of range: {exc}") from None


def _decode_duration(data: bytes | memoryview) -> object:
    if not data:
        return EMPTY
    months, pos = read_vint(data, 0)
    days, pos = read_vint(data, pos)
    nanos, pos = read_vint(data, pos)
    if pos != len(data):
        raise ProtocolError(f"duration value has {len(data) - pos} trailing bytes")
    try:
        return Duration(months, days, nanos)
    except InvalidValueError as exc:
        raise ProtocolError(f"invalid duration value: {exc}") from None


_NATIVE_DECODERS: Final[dict[str, Decoder]] = {
    "ascii": _decode_ascii,
    "text": _decode_text,
    "blob": _decode_blob,
    "varint": _decode_varint,
    "decimal": _decode_decimal,
    "uuid": _decode_uuid,
    "timeuuid": _decode_uuid,
    "inet": _decode_inet,
    "timestamp": _decode_timestamp,
    "date": _decode_date,
    "time": _decode_time,
    "duration": _decode_duration,
} | {name: _struct_decoder(code, name) for name, code in STRUCT_CODES.items()}
