"""Values as text and back, per CQL type, for CSV and JSON lines (the ``unload`` / ``load`` formats).

Text forms follow CQL literals and DSBulk's defaults: ``null`` is an empty CSV field (JSON ``null``);
booleans ``true``/``false``; timestamps ISO 8601 in UTC (``2024-01-02T03:04:05.678Z``); blobs
``0x`` + hex; collections, tuples and UDTs as JSON (lists, objects; a map with non-text keys as a
list of ``[key, value]`` pairs). A formatter is ``None`` where the value already prints right, so
a page of such columns is written without a Python call per value.

Example:
    >>> from aiocql.protocol.cqltypes import BLOB, INT, ListType, TIMESTAMP
    >>> fmt = formatter(BLOB)
    >>> fmt(b"\\x01\\xff"), formatter(INT) is None
    ('0x01ff', True)
    >>> parser(ListType(INT))("[1, 2]"), parser(TIMESTAMP)("2024-01-02T03:04:05.678Z").microsecond
    ([1, 2], 678000)
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import ipaddress
import json
import re
import uuid
from collections.abc import Callable
from typing import Any, Final

from aiocql.errors import InvalidValueError
from aiocql.protocol.cqltypes import (
    CqlType,
    ListType,
    MapType,
    NativeType,
    SetType,
    TupleType,
    UdtType,
    VectorType,
)
from aiocql.types.values import Date, Duration, Time

Formatter = Callable[[Any], Any]
Parser = Callable[[str], Any]

_UTC: Final = dt.UTC


def _ts_text(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        text = value.astimezone(_UTC).isoformat(timespec="milliseconds")
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    return value  # milliseconds outside datetime's range stay an int


def _blob_text(value: Any) -> str:
    return "0x" + bytes(value).hex()


def _bool_text(value: Any) -> str:
    return "true" if value else "false"


_DURATION_UNITS: Final = (("y", 12), ("mo", 1))
_NANO_UNITS: Final = (("h", 3_600_000_000_000), ("m", 60_000_000_000), ("s", 1_000_000_000), ("ms", 1_000_000),
                      ("us", 1_000), ("ns", 1))  # fmt: skip


def duration_text(d: Duration) -> str:
    """A duration as CQL writes it: ``1y2mo3d4h5m6s7ms8us9ns`` (``-`` in front when negative).

    Example:
        >>> duration_text(Duration(14, 3, 3_600_000_000_001)), duration_text(Duration(0, 0, 0))
        ('1y2mo3d1h1ns', '0s')
    """
    sign = "-" if d.months < 0 or d.days < 0 or d.nanoseconds < 0 else ""
    months, days, nanos = abs(d.months), abs(d.days), abs(d.nanoseconds)
    out = []
    for unit, size in _DURATION_UNITS:
        if months >= size:
            out.append(f"{months // size}{unit}")
            months %= size
    if days:
        out.append(f"{days}d")
    for unit, size in _NANO_UNITS:
        if nanos >= size:
            out.append(f"{nanos // size}{unit}")
            nanos %= size
    return sign + ("".join(out) or "0s")


_DURATION_RE: Final = re.compile(r"(\d+)(y|mo|w|d|h|ms|m|s|us|µs|ns)", re.IGNORECASE)


def parse_duration(text: str) -> Duration:
    """Parse ``1y2mo3d4h`` (CQL's standard format) into a :class:`Duration`.

    Example:
        >>> parse_duration("-1d2h") == Duration(0, -1, -7_200_000_000_000)
        True
    """
    s = text.strip()
    neg = s.startswith("-")
    body = s[1:] if neg else s
    months = days = nanos = 0
    pos = 0
    for m in _DURATION_RE.finditer(body):
        if m.start() != pos:
            break
        pos = m.end()
        n, unit = int(m.group(1)), m.group(2).lower()
        if unit == "y":
            months += 12 * n
        elif unit == "mo":
            months += n
        elif unit == "w":
            days += 7 * n
        elif unit == "d":
            days += n
        else:
            nanos += n * dict(_NANO_UNITS)["us" if unit == "µs" else unit]
    if pos != len(body) or not body:
        raise InvalidValueError(f"not a duration: {text!r}")
    sign = -1 if neg else 1
    return Duration(sign * months, sign * days, sign * nanos)


def _jsonable(t: CqlType) -> Formatter | None:
    """A converter to JSON-ready values for elements of collections (``None``: already JSON-ready)."""
    if isinstance(t, NativeType):
        name = t.name
        if name in ("int", "bigint", "smallint", "tinyint", "varint", "counter", "boolean", "text", "varchar", "ascii"):
            return None
        if name in ("float", "double"):
            return lambda v: v if v == v and v not in (float("inf"), float("-inf")) else str(v)
        fmt = formatter(t)
        return fmt if fmt is not None else str
    if isinstance(t, (ListType, SetType, VectorType)):
        inner = _jsonable(t.elem)
        return (lambda v: list(v)) if inner is None else (lambda v: [None if x is None else inner(x) for x in v])
    if isinstance(t, MapType):
        kf = _jsonable(t.key)
        vf = _jsonable(t.value) or (lambda v: v)
        if isinstance(t.key, NativeType) and t.key.name in ("text", "varchar", "ascii"):
            return lambda v: {k: (None if x is None else vf(x)) for k, x in v.items()}
        kk = kf or (lambda v: v)
        return lambda v: [[kk(k), None if x is None else vf(x)] for k, x in v.items()]
    if isinstance(t, TupleType):
        fs = [_jsonable(e) or (lambda v: v) for e in t.elems]
        return lambda v: [None if x is None else f(x) for f, x in zip(fs, v, strict=False)]
    if isinstance(t, UdtType):
        fs = [_jsonable(e) or (lambda v: v) for e in t.field_types]
        names = t.field_names

        def udt(v: Any) -> Any:
            values = v.values() if isinstance(v, dict) else v
            return {n: (None if x is None else f(x)) for n, f, x in zip(names, fs, values, strict=False)}

        return udt
    return str


def formatter(t: CqlType) -> Formatter | None:
    """What turns a decoded value of type ``t`` into its text (or a JSON-ready value); ``None``: as is.

    Example:
        >>> from aiocql.protocol.cqltypes import BOOLEAN, MapType, TEXT, INT
        >>> formatter(BOOLEAN)(True), formatter(MapType(TEXT, INT))({"a": 1})
        ('true', '{"a": 1}')
    """
    if isinstance(t, NativeType):
        name = t.name
        if name in ("int", "bigint", "smallint", "tinyint", "varint", "counter", "text", "varchar", "ascii",
                    "float", "double"):  # fmt: skip
            return None
        if name == "boolean":
            return _bool_text
        if name == "timestamp":
            return _ts_text
        if name == "blob":
            return _blob_text
        if name == "duration":
            return duration_text
        return None  # uuid, timeuuid, inet, decimal, date, time: str() is their text, and csv calls it in C
    conv = _jsonable(t)
    if conv is None:  # pragma: no cover - collections always convert
        return json.dumps
    return lambda v: json.dumps(conv(v), ensure_ascii=False)


def json_formatter(t: CqlType) -> Formatter | None:
    """Like :func:`formatter`, for JSON lines: numbers, booleans and collections stay JSON values."""
    if isinstance(t, NativeType) and t.name in ("boolean",):
        return None
    if isinstance(t, NativeType) and t.name in ("float", "double"):
        return _jsonable(t)
    if isinstance(t, NativeType):
        if t.name in ("uuid", "timeuuid", "inet", "decimal", "date", "time"):
            return str
        return formatter(t)
    return _jsonable(t)


# -- parsing ------------------------------------------------------------------------------------------


def _parse_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("true", "1", "yes", "y"):
        return True
    if low in ("false", "0", "no", "n"):
        return False
    raise InvalidValueError(f"not a boolean: {text!r}")


def _parse_ts(text: Any) -> Any:
    if isinstance(text, int):
        return text
    s = text.strip()
    if s.lstrip("-").isdigit():
        return int(s)  # milliseconds since the epoch
    value = dt.datetime.fromisoformat(s)
    return value if value.tzinfo is not None else value.replace(tzinfo=_UTC)


def _parse_blob(text: str) -> bytes:
    s = text.strip()
    if s[:2].lower() == "0x":
        return bytes.fromhex(s[2:])
    return base64.b64decode(s, validate=True)


def _parse_date(text: Any) -> Any:
    s = str(text).strip()
    if s.lstrip("-").isdigit():
        return Date(int(s))
    return dt.date.fromisoformat(s)


def _parse_time(text: Any) -> Any:
    s = str(text).strip()
    if s.isdigit():
        return Time(int(s))
    head, _, frac = s.partition(".")
    h, m, sec = (int(p) for p in head.split(":"))
    nanos = int((frac + "000000000")[:9]) if frac else 0
    return Time(((h * 60 + m) * 60 + sec) * 1_000_000_000 + nanos)


def _parse_float(text: Any) -> float:
    return float(text)


def _native_parser(name: str) -> Callable[[Any], Any]:
    if name in ("int", "bigint", "smallint", "tinyint", "varint", "counter"):
        return int
    if name in ("float", "double"):
        return _parse_float
    if name in ("text", "varchar", "ascii"):
        return str
    if name == "boolean":
        return lambda v: v if isinstance(v, bool) else _parse_bool(v)
    if name == "timestamp":
        return _parse_ts
    if name == "blob":
        return _parse_blob
    if name in ("uuid", "timeuuid"):
        return lambda v: uuid.UUID(v.strip())
    if name == "inet":
        return lambda v: ipaddress.ip_address(v.strip())
    if name == "decimal":
        return lambda v: decimal.Decimal(str(v).strip())
    if name == "date":
        return _parse_date
    if name == "time":
        return _parse_time
    if name == "duration":
        return parse_duration
    raise InvalidValueError(f"no text form for CQL type {name}")


def _from_json(t: CqlType) -> Callable[[Any], Any]:
    """A converter of a JSON-decoded value into the Python value for type ``t``."""
    if isinstance(t, NativeType):
        return _native_parser(t.name)
    if isinstance(t, (ListType, VectorType)):
        f = _from_json(t.elem)
        return lambda v: [None if x is None else f(x) for x in v]
    if isinstance(t, SetType):
        f = _from_json(t.elem)
        return lambda v: {f(x) for x in v}
    if isinstance(t, MapType):
        kf, vf = _from_json(t.key), _from_json(t.value)
        return lambda v: {kf(k): (None if x is None else vf(x)) for k, x in (v.items() if isinstance(v, dict) else v)}
    if isinstance(t, TupleType):
        fs = [_from_json(e) for e in t.elems]
        return lambda v: tuple(None if x is None else f(x) for f, x in zip(fs, v, strict=True))
    if isinstance(t, UdtType):
        by_name = dict(zip(t.field_names, (_from_json(e) for e in t.field_types), strict=True))
        return lambda v: {k: (None if x is None else by_name[k](x)) for k, x in v.items()}
    raise InvalidValueError(f"no text form for CQL type {t.cql_name}")


def parser(t: CqlType) -> Parser:
    """What turns a CSV field (not empty) into the value to bind for type ``t``.

    Example:
        >>> from aiocql.protocol.cqltypes import BLOB, MapType, TEXT, INT
        >>> parser(BLOB)("0x01ff"), parser(MapType(TEXT, INT))('{"a": 1}')
        (b'\\x01\\xff', {'a': 1})
    """
    if isinstance(t, NativeType):
        return _native_parser(t.name)
    conv = _from_json(t)
    return lambda text: conv(json.loads(text))


def json_parser(t: CqlType) -> Callable[[Any], Any]:
    """What turns a JSON lines value into the value to bind for type ``t`` (text forms accepted too)."""
    conv = _from_json(t)
    if isinstance(t, NativeType):
        return conv
    return lambda v: conv(json.loads(v) if isinstance(v, str) else v)
