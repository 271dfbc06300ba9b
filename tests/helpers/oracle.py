"""cassandra-driver as the value oracle, shared by the unit and integration oracle tests: our Python values
in the form cassandra-driver serializes (:func:`to_cassandra_driver`), and one canonical form for both
drivers' values (:func:`canon`; tests/integration/test_types_oracle.py tabulates the differences it bridges).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import struct
from decimal import Decimal
from typing import Any

from cassandra import util

from aiocql.protocol import cqltypes as ct
from aiocql.types.values import EMPTY, Date, Time

#: Stands for NaN in canonical forms (NaN != NaN).
NAN = "NaN"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def to_cassandra_driver(t: ct.CqlType, v: Any, key: bool = False) -> Any:
    """``v`` (aiocql's value of type ``t``) as cassandra-driver takes it; hashable where ``key``."""
    if v is None:
        return None
    if isinstance(t, ct.NativeType):
        if t.name == "date":
            return util.Date(v.days if isinstance(v, Date) else v)
        if t.name == "time":
            return util.Time(v.nanoseconds)
        if t.name == "duration":
            return util.Duration(v.months, v.days, v.nanoseconds)
        if t.name == "inet":
            return str(v)
        return v
    if isinstance(t, (ct.ListType, ct.VectorType)):
        items = [to_cassandra_driver(t.elem, x, key) for x in v]
        return tuple(items) if key else items
    if isinstance(t, ct.SetType):
        return frozenset(to_cassandra_driver(t.elem, x, True) for x in v)
    if isinstance(t, ct.MapType):
        return {to_cassandra_driver(t.key, k, True): to_cassandra_driver(t.value, x, key) for k, x in v.items()}
    fields = t.elems if isinstance(t, ct.TupleType) else t.field_types  # type: ignore[attr-defined]
    return tuple(to_cassandra_driver(f, x, key) for f, x in zip(fields, v, strict=False))


def _float32(x: float) -> float:
    return float(struct.unpack(">f", struct.pack(">f", x))[0])


def canon(
    t: ct.CqlType, v: Any, *, empty_is_null: bool = False, exact_scale: bool = True, map_order: bool = False
) -> Any:
    """One hashable, comparable form for a value of type ``t`` from either driver.

    ``empty_is_null``: :data:`EMPTY` compares as null (cassandra-driver decodes an empty value as None).
    ``exact_scale``: decimals must have the same scale (``1.50 != 1.5``); else they compare by value.
    ``map_order``: maps compare as ordered pairs (bytes decoded as they are); else as sets of pairs (a
    value written from a dict and read back in the server's order).
    """

    def c(t: ct.CqlType, v: Any) -> Any:
        if v is None or (empty_is_null and v is EMPTY):
            return None
        if isinstance(t, ct.NativeType):
            return _native(t.name, v, exact_scale)
        if isinstance(t, (ct.ListType, ct.VectorType)):
            return tuple(c(t.elem, x) for x in v)
        if isinstance(t, ct.SetType):
            return frozenset(c(t.elem, x) for x in v)
        if isinstance(t, ct.MapType):
            # cassandra-driver's OrderedMapSerializedKey cannot look up collection keys it decoded itself
            # (it re-serializes them): iterate its (key, value) pairs instead of indexing.
            pairs = v._items if hasattr(v, "_items") else v.items()
            items = ((c(t.key, k), c(t.value, x)) for k, x in pairs)
            return tuple(items) if map_order else frozenset(items)
        if isinstance(t, ct.TupleType):
            fields: tuple[ct.CqlType, ...] = t.elems
        elif isinstance(t, ct.UdtType):
            fields = t.field_types
        else:
            raise AssertionError(f"no canonical form for {t}")
        values = list(v) + [None] * (len(fields) - len(v))
        return tuple(c(f, x) for f, x in zip(fields, values, strict=True))

    return c(t, v)


def _native(name: str, v: Any, exact_scale: bool) -> Any:
    if name in ("float", "double"):
        if math.isnan(v):
            return NAN
        return _float32(v) if name == "float" else float(v)  # float: compared after float32 rounding
    if name == "timestamp":
        if isinstance(v, int):
            return v
        if v.tzinfo is None:  # cassandra-driver: naive, in UTC
            v = v.replace(tzinfo=dt.UTC)
        # Rounded, not floored: cassandra-driver goes through float seconds and can be a few microseconds
        # off far from 1970; ours are exact milliseconds either way.
        return round((v - _EPOCH) / dt.timedelta(milliseconds=1))
    if name == "date":
        if isinstance(v, Date):
            return v.days
        if isinstance(v, dt.date):
            return Date.from_date(v).days
        return v.days_from_epoch  # util.Date
    if name == "time":
        return v.nanoseconds if isinstance(v, Time) else v.nanosecond_time
    if name == "duration":
        return ("duration", v.months, v.days, v.nanoseconds)
    if name == "inet":
        return ipaddress.ip_address(v)
    if name == "decimal":
        return v.as_tuple() if exact_scale else (Decimal(v).normalize(), v)
    return v
