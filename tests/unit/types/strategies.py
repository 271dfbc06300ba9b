"""Hypothesis strategies for CQL types and for Python values of a given type."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from aiocql.protocol import cqltypes as ct
from aiocql.types.values import NANOS_PER_DAY, Date, Duration, FrozenMap, Time

UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
MIN_MS = (dt.datetime(1, 1, 1, tzinfo=UTC) - EPOCH) // dt.timedelta(milliseconds=1)
MAX_MS = (dt.datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC) - EPOCH) // dt.timedelta(milliseconds=1)
EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()

NATIVES = [t for name, t in sorted(ct.NATIVE_TYPES.items()) if name != "varchar"]
# Types whose values may be set elements / map keys / vector elements in these tests.
VECTOR_ELEMS = [t for t in NATIVES if t.name not in ("counter", "duration")]

native_types = st.sampled_from(NATIVES)
identifiers = st.from_regex(r"\A[a-z][a-z0-9_]{0,8}\Z")


def _udt(children: st.SearchStrategy[ct.CqlType]) -> st.SearchStrategy[ct.CqlType]:
    @st.composite
    def build(draw: st.DrawFn) -> ct.CqlType:
        names = draw(st.lists(identifiers, min_size=1, max_size=4, unique=True))
        types = draw(st.lists(children, min_size=len(names), max_size=len(names)))
        # 'z' prefix: cassandra-driver's marshal parser takes all-digit hex names for integers.
        return ct.UdtType("ks", "z" + draw(identifiers), tuple("z" + n for n in names), tuple(types))

    return build()


def _extend(children: st.SearchStrategy[ct.CqlType]) -> st.SearchStrategy[ct.CqlType]:
    return st.one_of(
        children.map(ct.ListType),
        children.map(ct.SetType),
        st.builds(ct.MapType, children, children),
        st.lists(children, min_size=1, max_size=4).map(lambda elems: ct.TupleType(tuple(elems))),
        _udt(children),
        st.builds(ct.VectorType, st.sampled_from(VECTOR_ELEMS) | children.filter(_vector_ok), st.integers(1, 4)),
    )


def _vector_ok(t: ct.CqlType) -> bool:
    # Cassandra refuses counters and durations in vectors; keep tests to what a server accepts.
    return "counter" not in t.cql_name and "duration" not in t.cql_name


#: Arbitrary CQL types, nested a few levels deep.
cql_types: st.SearchStrategy[ct.CqlType] = st.recursive(native_types, _extend, max_leaves=8)


def _durations() -> st.SearchStrategy[Duration]:
    i32 = 2**31 - 1
    i64 = 2**63 - 1
    positive = st.builds(Duration, st.integers(0, i32), st.integers(0, i32), st.integers(0, i64))
    negative = st.builds(Duration, st.integers(-i32 - 1, 0), st.integers(-i32 - 1, 0), st.integers(-i64 - 1, 0))
    return positive | negative


def _dates() -> st.SearchStrategy[object]:
    out_of_range = st.integers(-(2**31), 2**31 - 1).filter(
        lambda d: not 1 <= d + EPOCH_ORDINAL <= dt.date.max.toordinal()
    )
    return st.dates() | out_of_range.map(Date)


NATIVE_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "ascii": st.text(alphabet=st.characters(max_codepoint=127)),
    "text": st.text(),
    "blob": st.binary(),
    "boolean": st.booleans(),
    "tinyint": st.integers(-(2**7), 2**7 - 1),
    "smallint": st.integers(-(2**15), 2**15 - 1),
    "int": st.integers(-(2**31), 2**31 - 1),
    "bigint": st.integers(-(2**63), 2**63 - 1),
    "counter": st.integers(-(2**63), 2**63 - 1),
    "varint": st.integers() | st.integers(-(2**200), 2**200),
    "float": st.floats(width=32, allow_nan=False),
    "double": st.floats(allow_nan=False),
    "decimal": st.decimals(allow_nan=False, allow_infinity=False),
    "uuid": st.uuids(),
    "timeuuid": st.uuids(version=1),
    "inet": st.ip_addresses(),
    "timestamp": st.integers(MIN_MS, MAX_MS).map(lambda ms: EPOCH + dt.timedelta(milliseconds=ms)),
    "date": _dates(),
    "time": st.integers(0, NANOS_PER_DAY - 1).map(Time),
    "duration": _durations(),
}


def values_for(t: ct.CqlType, hashable: bool = False, nulls: bool = True) -> st.SearchStrategy[Any]:
    """Values of type t, in the form the decoder returns them (hashable forms where needed)."""
    if isinstance(t, ct.NativeType):
        return NATIVE_VALUES[t.name]
    if isinstance(t, ct.ListType):
        lists = st.lists(values_for(t.elem, hashable), max_size=4)
        return lists.map(tuple) if hashable else lists
    if isinstance(t, ct.SetType):
        sets = st.frozensets(values_for(t.elem, True), max_size=4)
        return sets if hashable else sets.map(set)
    if isinstance(t, ct.MapType):
        maps = st.dictionaries(values_for(t.key, True), values_for(t.value, hashable), max_size=4)
        return maps.map(FrozenMap) if hashable else maps
    if isinstance(t, ct.VectorType):
        vectors = st.lists(values_for(t.elem, hashable), min_size=t.dimension, max_size=t.dimension)
        return vectors.map(tuple) if hashable else vectors
    fields = t.elems if isinstance(t, ct.TupleType) else t.field_types if isinstance(t, ct.UdtType) else ()
    if isinstance(t, (ct.TupleType, ct.UdtType)):
        parts = [values_for(f, hashable) | (st.none() if nulls else st.nothing()) for f in fields]
        return st.tuples(*parts)
    raise AssertionError(t)


def same(a: object, b: object) -> bool:
    """Equality that also treats NaN as equal to NaN and Decimals by exact representation."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return a == b and (a.is_zero() or a.as_tuple() == b.as_tuple())
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) or (isinstance(a, tuple) and isinstance(b, tuple))
    return a == b and (type(a) is type(b) or isinstance(a, type(b)) or isinstance(b, type(a)))


def deep_same(a: object, b: object) -> bool:
    """Recursive :func:`same` over lists, tuples and dicts (sets compare with ==)."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return same(a, b) and len(a) == len(b) and all(deep_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(deep_same(a[k], b[k]) for k in a)
    return same(a, b)
