"""Builders of value decoders: one closure per type, composed for collections, tuples and UDTs.

Use :func:`aiocql.types.codecs.decoder_for`; this module is its implementation. A decoder takes
exactly a value's bytes (no length prefix; null is the caller's business) and raises only
:class:`~aiocql.errors.ProtocolError` for malformed input.

In *hashable* mode (elements of a set, keys of a map) containers decode to hashable forms:
``list`` -> ``tuple``, ``set`` -> ``frozenset``, ``map`` -> :class:`FrozenMap`, vector -> ``tuple``.
"""

from __future__ import annotations

import collections
import datetime as _dt
import ipaddress
import keyword
import re
import struct
import uuid
from collections.abc import Callable
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from typing import Any, Final

from aiocql.errors.base import InvalidValueError, ProtocolError
from aiocql.types.cqltypes import (
    CqlType,
    CustomType,
    ListType,
    MapType,
    NativeType,
    SetType,
    TupleType,
    UdtType,
    VectorType,
)
from aiocql.types.values import EMPTY, Date, Duration, FrozenMap, Time
from aiocql.types.vint import decode_unsigned_vint, decode_vint

__all__ = ["Decoder", "udt_class"]  # build_decoder is for aiocql.types.codecs

#: A decoder: the value's bytes (``bytes`` or ``memoryview``) -> the Python value.
Decoder = Callable[[bytes | memoryview], object]

_INT32 = struct.Struct(">i")
_UINT32 = struct.Struct(">I")
_int32_from = _INT32.unpack_from
EPOCH: Final = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_EPOCH_ORDINAL: Final = _dt.date(1970, 1, 1).toordinal()
_MAX_ORDINAL: Final = _dt.date.max.toordinal()
_EXACT: Final = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)

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


def _decode_decimal(data: bytes | memoryview) -> object:
    if len(data) < 5:
        return _bad_size(data, 5, "decimal (at least)")
    scale = _int32_from(data)[0]
    unscaled = int.from_bytes(data[4:], "big", signed=True)
    # scaleb in an unlimited context is exact; avoids int -> str (limited to 4300 digits).
    return Decimal(unscaled).scaleb(-scale, _EXACT)


# uuid.UUID(bytes=...) validates and copies; building the slotted object directly is 2x faster.
_new_object = object.__new__
_set_attr = object.__setattr__
_UUID = uuid.UUID
_SAFE_UNKNOWN = uuid.SafeUUID.unknown


def _fast_uuid(data: bytes | memoryview) -> object:
    if len(data) != 16:
        return _bad_size(data, 16, "uuid")
    u = _new_object(_UUID)
    _set_attr(u, "int", int.from_bytes(data, "big"))
    _set_attr(u, "is_safe", _SAFE_UNKNOWN)
    return u


def _plain_uuid(data: bytes | memoryview) -> object:
    if len(data) != 16:
        return _bad_size(data, 16, "uuid")
    return _UUID(bytes=bytes(data))


def _check_fast_uuid() -> bool:
    try:
        sample = bytes(range(16))
        return _fast_uuid(sample) == _UUID(bytes=sample) and str(_fast_uuid(sample)) == str(_UUID(bytes=sample))
    except Exception:
        return False


_decode_uuid: Decoder = _fast_uuid if _check_fast_uuid() else _plain_uuid


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


def _decode_timestamp(data: bytes | memoryview) -> object:
    try:
        ms = _int64_unpack(data)[0]
    except struct.error:
        return _bad_size(data, 8, "timestamp")
    try:
        return EPOCH + _timedelta(0, 0, 0, ms)
    except OverflowError:
        # Outside datetime's years 1..9999: keep the exact milliseconds rather than fail or clamp.
        return ms


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
    months, pos = decode_vint(data, 0)
    days, pos = decode_vint(data, pos)
    nanos, pos = decode_vint(data, pos)
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


def _truncated(what: str) -> ProtocolError:
    return ProtocolError(f"truncated {what} value")


def _element_reader(what: str) -> Callable[[bytes | memoryview, int], tuple[int, int]]:
    """Read a [bytes] length at pos; return (length or -1, start of the element)."""

    def read(data: bytes | memoryview, pos: int) -> tuple[int, int]:
        try:
            size: int = _int32_from(data, pos)[0]
        except struct.error:
            raise _truncated(what) from None
        pos += 4
        if size < 0:
            return -1, pos
        if pos + size > len(data):
            raise _truncated(what)
        return size, pos

    return read


def _count(data: bytes | memoryview, what: str) -> int:
    try:
        n: int = _int32_from(data)[0]
    except struct.error:
        raise _truncated(what) from None
    if n < 0:
        raise ProtocolError(f"{what} value has a negative element count {n}")
    return n


def _sequence_decoder(t: ListType | SetType, elem: Decoder, hashable: bool) -> Decoder:
    what = t.cql_name
    read = _element_reader(what)
    is_set = isinstance(t, SetType)

    def decode(data: bytes | memoryview) -> object:
        if not data:
            return EMPTY
        n = _count(data, what)
        items: list[object] = []
        append = items.append
        pos = 4
        for _ in range(n):
            size, pos = read(data, pos)
            if size < 0:
                append(None)
            else:
                append(elem(data[pos : pos + size]))
                pos += size
        if pos != len(data):
            raise ProtocolError(f"{what} value has {len(data) - pos} trailing bytes")
        if is_set:
            return frozenset(items) if hashable else set(items)
        return tuple(items) if hashable else items

    return decode


def _map_decoder(t: MapType, key: Decoder, value: Decoder, hashable: bool) -> Decoder:
    what = t.cql_name
    read = _element_reader(what)

    def decode(data: bytes | memoryview) -> object:
        if not data:
            return EMPTY
        n = _count(data, what)
        out: dict[object, object] = {}
        pos = 4
        for _ in range(n):
            size, pos = read(data, pos)
            k = None if size < 0 else key(data[pos : pos + size])
            pos += max(size, 0)
            size, pos = read(data, pos)
            v = None if size < 0 else value(data[pos : pos + size])
            pos += max(size, 0)
            out[k] = v
        if pos != len(data):
            raise ProtocolError(f"{what} value has {len(data) - pos} trailing bytes")
        return FrozenMap(out) if hashable else out

    return decode


def _fields_decoder(what: str, decoders: list[Decoder], make: Callable[[list[object]], object]) -> Decoder:
    # Tuples and UDTs: successive [bytes]; missing trailing fields decode as None (so zero bytes
    # is a value whose fields are all missing, not EMPTY).
    read = _element_reader(what)
    count = len(decoders)

    def decode(data: bytes | memoryview) -> object:
        values: list[object] = [None] * count
        pos = 0
        end = len(data)
        for i, dec in enumerate(decoders):
            if pos == end:
                break
            size, pos = read(data, pos)
            if size >= 0:
                values[i] = dec(data[pos : pos + size])
                pos += size
        if pos != end:
            raise ProtocolError(f"{what} value has {end - pos} bytes after its last field")
        return make(values)

    return decode


_NON_IDENT = re.compile(r"\W|^(?=\d)")


def udt_class(t: UdtType) -> type[Any]:
    """The namedtuple class a UDT decodes to (fields that are not identifiers become ``_0``...).

    Example:
        >>> from aiocql.types.cqltypes import INT, TEXT, UdtType
        >>> cls = udt_class(UdtType("ks", "address", ("street", "zip code"), (TEXT, INT)))
        >>> cls("Main St", 12345)
        address(street='Main St', _1=12345)
    """
    name = _NON_IDENT.sub("_", t.name) or "udt"
    if keyword.iskeyword(name) or name.startswith("_"):
        name = "udt_" + name
    cls = collections.namedtuple(name, t.field_names, rename=True)  # type: ignore[misc]
    cls.__doc__ = f"Value of user type {t.keyspace}.{t.name}: fields {', '.join(t.field_names)}"
    result: type[Any] = cls
    return result


def _vector_decoder(t: VectorType, elem: Decoder, hashable: bool) -> Decoder:
    # Cassandra 5.0 VectorType: elements of a fixed-size type are concatenated without lengths;
    # other elements are each prefixed with an [unsigned vint] length. No nulls, no count.
    dim = t.dimension
    what = t.cql_name
    size = t.elem.serialized_size
    code = STRUCT_CODES.get(t.elem.name) if isinstance(t.elem, NativeType) else None
    finish: Callable[[Any], object] = tuple if hashable else list
    if code is not None and size is not None:
        unpack_all = struct.Struct(f">{dim}{code}").unpack

        def decode_packed(data: bytes | memoryview) -> object:
            try:
                return finish(unpack_all(data))
            except struct.error:
                return _bad_size(data, size * dim, what)

        return decode_packed
    if size is not None:
        elem_size = size

        def decode_fixed(data: bytes | memoryview) -> object:
            if len(data) != elem_size * dim:
                return _bad_size(data, elem_size * dim, what)
            return finish([elem(data[i : i + elem_size]) for i in range(0, elem_size * dim, elem_size)])

        return decode_fixed

    def decode_variable(data: bytes | memoryview) -> object:
        if not data:
            return EMPTY
        items: list[object] = []
        pos = 0
        for _ in range(dim):
            n, pos = decode_unsigned_vint(data, pos)
            if pos + n > len(data):
                raise _truncated(what)
            items.append(elem(data[pos : pos + n]))
            pos += n
        if pos != len(data):
            raise ProtocolError(f"{what} value has {len(data) - pos} trailing bytes")
        return finish(items)

    return decode_variable


def build_decoder(t: CqlType, hashable: bool, child: Callable[[CqlType, bool], Decoder]) -> Decoder:
    """Build the decoder of ``t``; ``child(type, hashable)`` supplies (cached) element decoders."""
    if isinstance(t, NativeType):
        return _NATIVE_DECODERS[t.name]
    if isinstance(t, (ListType, SetType)):
        return _sequence_decoder(t, child(t.elem, hashable or isinstance(t, SetType)), hashable)
    if isinstance(t, MapType):
        return _map_decoder(t, child(t.key, True), child(t.value, hashable), hashable)
    if isinstance(t, TupleType):
        return _fields_decoder(t.cql_name, [child(e, hashable) for e in t.elems], tuple)
    if isinstance(t, UdtType):
        cls = udt_class(t)
        return _fields_decoder(t.cql_name, [child(f, hashable) for f in t.field_types], cls._make)
    if isinstance(t, VectorType):
        return _vector_decoder(t, child(t.elem, hashable), hashable)
    if isinstance(t, CustomType):
        return _decode_blob
    raise TypeError(f"no decoder for {t!r}")
