"""cassandra-driver as an independent oracle: our bytes decode to the same values with its codecs, and
its bytes decode to the same values with ours. The in-process version of "write with aiocql, read with
cassandra-driver" (and the reverse)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiocql.protocol import cqltypes as ct
from aiocql.protocol.typestring import marshal_name
from aiocql.types.codecs import decoder_for, encoder_for
from aiocql.types.values import Date, Duration, Time
from tests.helpers.oracle import canon, to_cassandra_driver

from .strategies import NATIVES, cql_types, values_for

cqltypes = pytest.importorskip("cassandra.cqltypes")
util = pytest.importorskip("cassandra.util")

PROTOCOL = 5
UTC = dt.UTC


def _oracle(t: ct.CqlType) -> Any:
    return cqltypes.lookup_casstype(marshal_name(t))


def _canon(t: ct.CqlType, v: Any) -> Any:
    """Encoded then decoded: empty is cassandra-driver's None, decimals by value, maps in wire order."""
    return canon(t, v, empty_is_null=True, exact_scale=False, map_order=True)


def _supported(t: ct.CqlType) -> bool:
    # cassandra-driver 3.30 cannot hash-decode sets/map keys of vectors or maps (it builds lists /
    # dicts inside a SortedSet or as dict keys), and its Duration is unhashable; the codecs agree
    # on everything else.
    def bad(x: ct.CqlType, in_key: bool) -> bool:
        if x == ct.DURATION:
            return in_key
        if isinstance(x, ct.VectorType):
            return in_key or bad(x.elem, in_key)
        if isinstance(x, ct.MapType):
            return in_key or bad(x.key, True) or bad(x.value, in_key)
        if isinstance(x, ct.SetType):
            return bad(x.elem, True)
        if isinstance(x, ct.ListType):
            return bad(x.elem, in_key)
        if isinstance(x, ct.TupleType):
            return any(bad(e, in_key) for e in x.elems)
        if isinstance(x, ct.UdtType):
            return any(bad(e, in_key) for e in x.field_types)
        return False

    return not bad(t, False)


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def typed_values(draw: st.DrawFn, types: st.SearchStrategy[ct.CqlType]) -> tuple[ct.CqlType, Any]:
    t = draw(types.filter(_supported))
    return t, draw(values_for(t))


def _check_both_ways(t: ct.CqlType, value: Any) -> None:
    oracle = _oracle(t)
    ours = encoder_for(t, "oracle")(value)
    # written by aiocql, read by cassandra-driver
    assert _canon(t, oracle.from_binary(ours, PROTOCOL)) == _canon(t, value)
    # written by cassandra-driver, read by aiocql
    theirs = oracle.to_binary(to_cassandra_driver(t, value), PROTOCOL)
    assert _canon(t, decoder_for(t)(memoryview(theirs))) == _canon(t, value)


@SETTINGS
@given(typed_values(st.sampled_from(NATIVES)))
def test_natives_against_cassandra_driver(tv: tuple[ct.CqlType, Any]) -> None:
    _check_both_ways(*tv)


@SETTINGS
@given(typed_values(cql_types))
def test_nested_against_cassandra_driver(tv: tuple[ct.CqlType, Any]) -> None:
    _check_both_ways(*tv)


@pytest.mark.parametrize(
    ("t", "value"),
    [
        (ct.VARINT, -129),
        (ct.VARINT, 2**100),
        (ct.DECIMAL, Decimal("-1.2300E-7")),
        (ct.DATE, Date(-(2**31))),
        (ct.DATE, dt.date(1, 1, 1)),
        (ct.TIMESTAMP, dt.datetime(1900, 1, 1, 0, 0, 0, 1000, tzinfo=UTC)),
        (ct.DURATION, Duration(-1, -2, -(2**63))),
        (ct.VectorType(ct.FLOAT, 3), [1.5, -2.0, 0.25]),
        (ct.VectorType(ct.TEXT, 2), ["a", "é" * 100]),
        (ct.VectorType(ct.SMALLINT, 2), [1, -1]),
        (ct.VectorType(ct.TIME, 1), [Time(5)]),
        (ct.VectorType(ct.DATE, 1), [dt.date(2024, 1, 1)]),
        (ct.VectorType(ct.ListType(ct.INT), 2), [[1], []]),
        (ct.UdtType("ks", "zz", ("za", "zb"), (ct.INT, ct.TEXT)), (1, None)),
        (ct.TupleType((ct.INT, ct.TEXT, ct.BOOLEAN)), (None, "x", True)),
    ],
)
def test_selected_values_against_cassandra_driver(t: ct.CqlType, value: Any) -> None:
    _check_both_ways(t, value)


def test_udt_missing_trailing_fields_from_cassandra_driver() -> None:
    t = ct.UdtType("ks", "zz", ("za", "zb", "zc"), (ct.INT, ct.TEXT, ct.INT))
    theirs = _oracle(ct.UdtType("ks", "zz", ("za",), (ct.INT,))).to_binary((7,), PROTOCOL)
    assert decoder_for(t)(theirs) == (7, None, None)
