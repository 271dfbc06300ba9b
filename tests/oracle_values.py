"""Our Python values in the form cassandra-driver (the cross-check oracle) serializes, shared by the unit
and integration oracle tests."""

from __future__ import annotations

from typing import Any

from cassandra import util

from aiocql.types import cqltypes as ct
from aiocql.types.values import Date


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
