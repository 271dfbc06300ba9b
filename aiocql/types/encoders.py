"""Builders of value encoders: one closure per (type, label), composed for nested types.

Use :func:`aiocql.types.codecs.encoder_for`; this module is its implementation. An encoder turns a
Python value into the value's bytes (no length prefix). ``None`` and ``UNSET`` at the top level are
the caller's business; inside tuples and UDTs ``None`` becomes a null field. Every failure is an
:class:`~aiocql.errors.InvalidValueError` whose message starts with the label and the CQL type:
``column 'age' (int): expected int, got str 'x'``.

Each encoder tries the exact expected Python type first and leaves conversions, :data:`EMPTY`
and error reporting to a slower path.
"""

from __future__ import annotations

import datetime as _dt
import functools
import ipaddress
import numbers
import operator
import struct
import uuid
from collections.abc import Callable, Mapping, Sequence, Set
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, ROUND_DOWN, Context, Decimal
from typing import Any, Final, NoReturn

from aiocql.errors.base import InvalidValueError
from aiocql.protocol.cqltypes import (
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
from aiocql.protocol.primitives import write_unsigned_vint, write_vint
from aiocql.types.decoders import EPOCH, STRUCT_CODES
from aiocql.types.values import EMPTY, NANOS_PER_DAY, Date, Duration, Time

__all__ = ["Encoder"]  # build_encoder is for aiocql.types.codecs

#: An encoder: Python value -> the value's bytes.
Encoder = Callable[[object], bytes]
#: Builds (and may cache) the encoder of a nested type under a nested label.
ChildEncoder = Callable[[CqlType, str], Encoder]

_pack_i32 = struct.Struct(">i").pack
_pack_u32 = struct.Struct(">I").pack
_pack_i64 = struct.Struct(">q").pack
_MS: Final = _dt.timedelta(milliseconds=1)
_EPOCH_ORDINAL: Final = _dt.date(1970, 1, 1).toordinal()
_EXACT: Final = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
_BYTES_LIKE: Final = (bytes, bytearray, memoryview)
_NOT_SEQUENCES: Final = (str, bytes, bytearray, memoryview)
_RANGES: Final[dict[str, tuple[int, int]]] = {
    "tinyint": (-(2**7), 2**7 - 1),
    "smallint": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
    "counter": (-(2**63), 2**63 - 1),
}


def _describe(value: object) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _fail(label: str, t: CqlType, expected: str, value: object, hint: str = "") -> NoReturn:
    message = f"{label} ({t.cql_name}): expected {expected}, got {_describe(value)}"
    raise InvalidValueError(message + (f" ({hint})" if hint else ""))


def _as_int(value: object) -> int | None:
    """The int a value stands for (int subclasses, numpy integers), or None; bool is not an int."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return int(value)
    if hasattr(value, "__index__") and not isinstance(value, _NOT_SEQUENCES):
        try:
            return operator.index(value)
        except TypeError:
            return None
    return None


# ---------------------------------------------------------------------------------------------
# native types
# ---------------------------------------------------------------------------------------------


def _int_encoder(t: NativeType, label: str) -> Encoder:
    pack = struct.Struct(">" + STRUCT_CODES[t.name]).pack
    low, high = _RANGES[t.name]

    def slow(value: object) -> bytes:
        if value is EMPTY:
            return b""
        number = _as_int(value)
        if number is None:
            _fail(label, t, "int", value)
        if not low <= number <= high:
            _fail(label, t, f"int in [{low}, {high}]", value)
        return pack(number)

    def encode(value: object) -> bytes:
        if value.__class__ is int:
            try:
                return pack(value)
            except struct.error:
                pass
        return slow(value)

    return encode


def _varint_bytes(number: int) -> bytes:
    # Minimal two's complement: -1 -> ff, 127 -> 7f, 128 -> 0080, -129 -> ff7f.
    return number.to_bytes((number if number >= 0 else ~number).bit_length() // 8 + 1, "big", signed=True)


def _varint_encoder(t: NativeType, label: str) -> Encoder:
    def encode(value: object) -> bytes:
        if value.__class__ is int:
            return _varint_bytes(value)
        if value is EMPTY:
            return b""
        number = _as_int(value)
        if number is None:
            _fail(label, t, "int", value)
        return _varint_bytes(number)

    return encode


def _float_encoder(t: NativeType, label: str) -> Encoder:
    pack = struct.Struct(">" + STRUCT_CODES[t.name]).pack

    def slow(value: object) -> bytes:
        if value is EMPTY:
            return b""
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            _fail(label, t, "float", value)
        try:
            return pack(float(value))
        except (OverflowError, struct.error):
            _fail(label, t, f"a number within {t.name}'s range", value)

    def encode(value: object) -> bytes:
        if value.__class__ is float:
            try:
                return pack(value)
            except OverflowError:
                pass
        return slow(value)

    return encode


_SPLIT_DIGITS = 2000  # below this, int(Decimal) (quadratic in CPython) is the fastest


@functools.lru_cache(maxsize=64)
def _power_of_ten(k: int) -> int:
    power: int = 10**k
    return power


def _integral_to_int(d: Decimal) -> int:
    """``int(d)`` of a non-negative integral Decimal in sub-quadratic time: split its digits in
    halves (exact in decimal), convert each, join with a Python multiplication (Karatsuba)."""
    digits = d.adjusted() + 1
    if digits <= _SPLIT_DIGITS:
        return int(d)
    k = digits // 2
    high = d.scaleb(-k, _EXACT).to_integral_value(rounding=ROUND_DOWN, context=_EXACT)
    low = _EXACT.subtract(d, high.scaleb(k, _EXACT))
    return _integral_to_int(high) * _power_of_ten(k) + _integral_to_int(low)


def _decimal_encoder(t: NativeType, label: str) -> Encoder:
    def encode(value: object) -> bytes:
        if value is EMPTY:
            return b""
        if isinstance(value, Decimal):
            _sign, _, exponent = value.as_tuple()
            if not isinstance(exponent, int):
                _fail(label, t, "a finite Decimal", value)
            integral = value.scaleb(-exponent, _EXACT)
            if len(value.as_tuple()[1]) <= _SPLIT_DIGITS:
                unscaled = int(integral)
            else:
                unscaled = _integral_to_int(integral.copy_abs())
                unscaled = -unscaled if value.is_signed() else unscaled
            scale = -exponent
            if not -(2**31) <= scale < 2**31:
                _fail(label, t, "a Decimal whose exponent fits in 32 bits", value)
            return _pack_i32(scale) + _varint_bytes(unscaled)
        number = _as_int(value)
        if number is None:
            hint = "use decimal.Decimal; a float would be inexact" if isinstance(value, float) else ""
            _fail(label, t, "Decimal or int", value, hint)
        return b"\x00\x00\x00\x00" + _varint_bytes(number)

    return encode


def _bool_encoder(t: NativeType, label: str) -> Encoder:
    def encode(value: object) -> bytes:
        if value is True:
            return b"\x01"
        if value is False:
            return b"\x00"
        if value is EMPTY:
            return b""
        _fail(label, t, "bool", value)

    return encode


def _text_encoder(t: NativeType, label: str) -> Encoder:
    codec = "ascii" if t.name == "ascii" else "utf-8"
    expected = "str of ASCII characters" if codec == "ascii" else "str"

    def encode(value: object) -> bytes:
        if isinstance(value, str):
            try:
                return value.encode(codec)
            except UnicodeEncodeError as exc:
                _fail(label, t, expected, value, f"cannot encode character at index {exc.start}")
        if value is EMPTY:
            return b""
        _fail(label, t, expected, value)

    return encode


def _blob_encoder(t: CqlType, label: str) -> Encoder:
    def encode(value: object) -> bytes:
        if value.__class__ is bytes:
            return value
        if isinstance(value, _BYTES_LIKE):
            return bytes(value)
        if value is EMPTY:
            return b""
        _fail(label, t, "bytes, bytearray or memoryview", value)

    return encode


def _uuid_encoder(t: NativeType, label: str) -> Encoder:
    timeuuid = t.name == "timeuuid"

    def encode(value: object) -> bytes:
        if isinstance(value, uuid.UUID):
            if timeuuid and value.version != 1:
                _fail(label, t, "a version 1 (time-based) UUID", value, f"version is {value.version}")
            return value.bytes
        if value is EMPTY:
            return b""
        _fail(label, t, "uuid.UUID", value)

    return encode


def _inet_encoder(t: NativeType, label: str) -> Encoder:
    expected = "IPv4Address, IPv6Address or an IP address str"

    def encode(value: object) -> bytes:
        if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            return value.packed
        if isinstance(value, str):
            try:
                return ipaddress.ip_address(value).packed
            except ValueError:
                _fail(label, t, expected, value)
        if value is EMPTY:
            return b""
        _fail(label, t, expected, value)

    return encode


def _timestamp_encoder(t: NativeType, label: str) -> Encoder:
    expected = "timezone-aware datetime or int milliseconds since the epoch"

    def encode(value: object) -> bytes:
        if isinstance(value, _dt.datetime):
            if value.tzinfo is None or value.utcoffset() is None:
                _fail(
                    label,
                    t,
                    expected,
                    value,
                    "naive datetimes are ambiguous: attach a tzinfo, e.g. tzinfo=UTC",
                )
            millis = (value - EPOCH) // _MS  # floor: sub-millisecond digits are dropped
            return _pack_i64(millis)
        if value is EMPTY:
            return b""
        number = _as_int(value)
        if number is None:
            _fail(label, t, expected, value)
        if not -(2**63) <= number < 2**63:
            _fail(label, t, "milliseconds that fit in 64 bits", value)
        return _pack_i64(number)

    return encode


def _date_encoder(t: NativeType, label: str) -> Encoder:
    expected = "datetime.date or aiocql Date"

    def encode(value: object) -> bytes:
        if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
            return _pack_u32(value.toordinal() - _EPOCH_ORDINAL + 2**31)
        if isinstance(value, Date):
            return _pack_u32(value.days + 2**31)
        if value is EMPTY:
            return b""
        hint = "use value.date() or a Date" if isinstance(value, _dt.datetime) else ""
        _fail(label, t, expected, value, hint)

    return encode


def _time_encoder(t: NativeType, label: str) -> Encoder:
    expected = "aiocql Time, naive datetime.time or int nanoseconds since midnight"

    def encode(value: object) -> bytes:
        if isinstance(value, Time):
            return _pack_i64(value.nanoseconds)
        if isinstance(value, _dt.time):
            if value.tzinfo is not None:
                _fail(label, t, expected, value, "CQL time has no time zone")
            return _pack_i64(Time.from_time(value).nanoseconds)
        if value is EMPTY:
            return b""
        number = _as_int(value)
        if number is None:
            _fail(label, t, expected, value)
        if not 0 <= number < NANOS_PER_DAY:
            _fail(label, t, f"nanoseconds in [0, {NANOS_PER_DAY - 1}]", value)
        return _pack_i64(number)

    return encode


def _duration_encoder(t: NativeType, label: str) -> Encoder:
    def encode(value: object) -> bytes:
        if isinstance(value, Duration):
            return write_vint(value.months) + write_vint(value.days) + write_vint(value.nanoseconds)
        if value is EMPTY:
            return b""
        _fail(label, t, "aiocql Duration", value)

    return encode


_NATIVE_BUILDERS: Final[dict[str, Callable[[NativeType, str], Encoder]]] = {
    "ascii": _text_encoder,
    "text": _text_encoder,
    "blob": _blob_encoder,
    "boolean": _bool_encoder,
    "tinyint": _int_encoder,
    "smallint": _int_encoder,
    "int": _int_encoder,
    "bigint": _int_encoder,
    "counter": _int_encoder,
    "varint": _varint_encoder,
    "float": _float_encoder,
    "double": _float_encoder,
    "decimal": _decimal_encoder,
    "uuid": _uuid_encoder,
    "timeuuid": _uuid_encoder,
    "inet": _inet_encoder,
    "timestamp": _timestamp_encoder,
    "date": _date_encoder,
    "time": _time_encoder,
    "duration": _duration_encoder,
}

# ---------------------------------------------------------------------------------------------
# collections, tuples, UDTs, vectors
# ---------------------------------------------------------------------------------------------


def _with_length(data: bytes) -> bytes:
    return _pack_i32(len(data)) + data


def _sequence_encoder(t: ListType | SetType, label: str, child: ChildEncoder) -> Encoder:
    elem = child(t.elem, f"{label} ({t.cql_name}) element")
    is_set = isinstance(t, SetType)
    expected = "set, frozenset, list or tuple" if is_set else "list or tuple"

    def encode(value: object) -> bytes:
        if value is EMPTY:
            return b""
        if is_set:
            ok = isinstance(value, (Set, Sequence)) and not isinstance(value, _NOT_SEQUENCES)
        else:
            ok = isinstance(value, Sequence) and not isinstance(value, _NOT_SEQUENCES)
        if not ok:
            _fail(label, t, expected, value)
        items: Any = value
        parts = [_pack_i32(len(items))]
        append = parts.append
        for item in items:
            if item is None:
                _fail(label, t, "no None elements", value, "Cassandra rejects null inside collections")
            data = elem(item)
            append(_pack_i32(len(data)))
            append(data)
        return b"".join(parts)

    return encode


def _map_encoder(t: MapType, label: str, child: ChildEncoder) -> Encoder:
    key_enc = child(t.key, f"{label} ({t.cql_name}) key")
    value_enc = child(t.value, f"{label} ({t.cql_name}) value")

    def encode(value: object) -> bytes:
        if value is EMPTY:
            return b""
        if not isinstance(value, Mapping):
            _fail(label, t, "a mapping (dict)", value)
        parts = [_pack_i32(len(value))]
        append = parts.append
        for k, v in value.items():
            if k is None or v is None:
                _fail(label, t, "no None keys or values", value, "Cassandra rejects null inside collections")
            append(_with_length(key_enc(k)))
            append(_with_length(value_enc(v)))
        return b"".join(parts)

    return encode


def _fields_bytes(encoders: list[Encoder], values: Sequence[object]) -> bytes:
    parts: list[bytes] = []
    for enc, item in zip(encoders, values, strict=False):
        parts.append(b"\xff\xff\xff\xff" if item is None else _with_length(enc(item)))
    return b"".join(parts)


def _tuple_encoder(t: TupleType, label: str, child: ChildEncoder) -> Encoder:
    encoders = [child(e, f"{label} ({t.cql_name}) component {i}") for i, e in enumerate(t.elems)]
    arity = len(encoders)

    def encode(value: object) -> bytes:
        if value is EMPTY:
            return b""
        if not isinstance(value, Sequence) or isinstance(value, _NOT_SEQUENCES):
            _fail(label, t, f"a tuple of {arity} components", value)
        if len(value) > arity:
            _fail(label, t, f"a tuple of at most {arity} components", value, f"it has {len(value)}")
        # A shorter tuple leaves its last components null, as a UDT's missing fields (and cassandra-driver).
        return _fields_bytes(encoders, value) + b"\xff\xff\xff\xff" * (arity - len(value))

    return encode


def _udt_encoder(t: UdtType, label: str, child: ChildEncoder) -> Encoder:
    names = t.field_names
    encoders = [child(ft, f"{label} ({t.cql_name}) field {n!r}") for n, ft in zip(names, t.field_types, strict=True)]
    known = frozenset(names)
    expected = "a mapping of field names, a tuple, or an object with the fields as attributes"

    def encode(value: object) -> bytes:
        if value is EMPTY:
            return b""
        if isinstance(value, tuple):
            if len(value) > len(names):
                _fail(label, t, f"at most {len(names)} fields", value)
            return _fields_bytes(encoders, value)
        values: list[object]
        if isinstance(value, Mapping):
            unknown = [k for k in value if k not in known]
            if unknown:
                _fail(label, t, f"only fields {', '.join(names)}", value, f"unknown fields {unknown}")
            values = [value.get(n) for n in names]
        elif isinstance(value, (_NOT_SEQUENCES, list, int, float)):
            _fail(label, t, expected, value)
        else:
            missing = [n for n in names if not hasattr(value, n)]
            if missing:
                _fail(label, t, expected, value, f"missing attributes {missing}")
            values = [getattr(value, n) for n in names]
        return _fields_bytes(encoders, values)

    return encode


def _vector_encoder(t: VectorType, label: str, child: ChildEncoder) -> Encoder:
    # Cassandra 5.0 VectorType: fixed-size elements concatenated, others each prefixed with an
    # [unsigned vint] length; exactly `dimension` elements, none of them null.
    elem = child(t.elem, f"{label} ({t.cql_name}) element")
    dim = t.dimension
    elem_size = t.elem.serialized_size
    fixed = elem_size is not None
    code = STRUCT_CODES.get(t.elem.name) if isinstance(t.elem, NativeType) else None
    fast_class = {"f": float, "d": float, "i": int, "q": int}.get(code or "")
    # No struct for a dimension whose values could not fit a [bytes] anyway (struct.error at 2**61).
    small = elem_size is None or elem_size * dim <= 2**31 - 1
    pack_all = struct.Struct(f">{dim}{code}").pack if fast_class is not None and small else None

    def encode(value: object) -> bytes:
        if value is EMPTY:
            return b""
        if isinstance(value, (_NOT_SEQUENCES, Mapping)) or not hasattr(value, "__len__"):
            _fail(label, t, f"a sequence of {dim} elements", value)
        items: Any = value
        if len(items) != dim:
            _fail(label, t, f"a sequence of {dim} elements", value, f"it has {len(items)}")
        if pack_all is not None:
            for item in items:
                if item.__class__ is not fast_class:
                    break
            else:
                try:
                    return pack_all(*items)
                except (struct.error, OverflowError):
                    pass  # the element encoders say which element is out of range
        parts: list[bytes] = []
        for item in items:
            if item is None:
                _fail(label, t, "no None elements", value, "vectors cannot hold nulls")
            data = elem(item)
            if not fixed:
                data = write_unsigned_vint(len(data)) + data
            elif len(data) != elem_size:
                _fail(label, t, f"elements of {elem_size} bytes", value, "EMPTY cannot be a vector element")
            parts.append(data)
        return b"".join(parts)

    return encode


def build_encoder(t: CqlType, label: str, child: ChildEncoder) -> Encoder:
    """Build the encoder of ``t``; ``child(type, label)`` supplies (cached) element encoders."""
    if isinstance(t, NativeType):
        return _NATIVE_BUILDERS[t.name](t, label)
    if isinstance(t, (ListType, SetType)):
        return _sequence_encoder(t, label, child)
    if isinstance(t, MapType):
        return _map_encoder(t, label, child)
    if isinstance(t, TupleType):
        return _tuple_encoder(t, label, child)
    if isinstance(t, UdtType):
        return _udt_encoder(t, label, child)
    if isinstance(t, VectorType):
        return _vector_encoder(t, label, child)
    if isinstance(t, CustomType):
        return _blob_encoder(t, label)
    raise InvalidValueError(f"no encoder for {t!r}")
