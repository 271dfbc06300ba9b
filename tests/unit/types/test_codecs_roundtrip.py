"""Property tests: decode(encode(v)) == v for every type, nested types, UDTs and vectors."""

from __future__ import annotations

import contextlib
import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiocql.errors import ProtocolError
from aiocql.protocol import cqltypes as ct
from aiocql.types.codecs import decoder_for, encoder_for
from aiocql.types.values import Date

from .strategies import NATIVES, cql_types, deep_same, values_for

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _roundtrip(t: ct.CqlType, value: object) -> None:
    data = encoder_for(t, "value")(value)
    decoded = decoder_for(t)(memoryview(data))
    assert deep_same(decoded, value), (t.cql_name, value, decoded)
    # decoded values are accepted back (set order may differ, so compare decoded forms)
    again = decoder_for(t)(encoder_for(t, "value")(decoded))
    assert deep_same(again, decoded)


@st.composite
def typed_values(draw: st.DrawFn, types: st.SearchStrategy[ct.CqlType]) -> tuple[ct.CqlType, object]:
    t = draw(types)
    return t, draw(values_for(t))


@SETTINGS
@given(typed_values(st.sampled_from(NATIVES)))
def test_native_roundtrip(tv: tuple[ct.CqlType, object]) -> None:
    _roundtrip(*tv)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(typed_values(cql_types))
def test_nested_roundtrip(tv: tuple[ct.CqlType, object]) -> None:
    _roundtrip(*tv)


@SETTINGS
@given(st.data())
def test_deeply_frozen_nesting(data: st.DataObject) -> None:
    inner: ct.CqlType = data.draw(st.sampled_from(NATIVES))
    for wrap in data.draw(st.lists(st.sampled_from(["list", "set", "map", "tuple"]), min_size=3, max_size=6)):
        if wrap == "list":
            inner = ct.ListType(inner, frozen=True)
        elif wrap == "set":
            inner = ct.SetType(inner, frozen=True)
        elif wrap == "map":
            inner = ct.MapType(ct.INT, inner, frozen=True)
        else:
            inner = ct.TupleType((inner, ct.TEXT))
    _roundtrip(inner, data.draw(values_for(inner)))


@SETTINGS
@given(st.data(), st.integers(1, 5), st.integers(0, 5))
def test_udt_with_missing_trailing_fields(data: st.DataObject, nfields: int, ngiven: int) -> None:
    types = data.draw(st.lists(st.sampled_from(NATIVES), min_size=nfields, max_size=nfields))
    t = ct.UdtType("ks", "u", tuple(f"f{i}" for i in range(nfields)), tuple(types))
    full = data.draw(values_for(t))
    given_part = full[: min(ngiven, nfields)]
    decoded = decoder_for(t)(encoder_for(t, "x")(given_part))
    expected = tuple(given_part) + (None,) * (nfields - len(given_part))
    assert deep_same(tuple(decoded), expected)  # type: ignore[arg-type]


@SETTINGS
@given(
    st.data(),
    st.sampled_from([t for t in NATIVES if t.name not in ("counter", "duration")]),
    st.integers(1, 8),
)
def test_vectors_of_every_element_type(data: st.DataObject, elem: ct.NativeType, dim: int) -> None:
    t = ct.VectorType(elem, dim)
    value = data.draw(values_for(t))
    encoded = encoder_for(t, "x")(value)
    if elem.serialized_size is not None:
        assert len(encoded) == elem.serialized_size * dim
    _roundtrip(t, value)


@SETTINGS
@given(st.integers(-(2**63), 2**63 - 1))
def test_timestamp_any_int64(ms: int) -> None:
    decoded = decoder_for(ct.TIMESTAMP)(encoder_for(ct.TIMESTAMP, "x")(ms))
    if isinstance(decoded, int):
        assert decoded == ms  # out of datetime's range: kept exact
    else:
        assert isinstance(decoded, dt.datetime)
        assert encoder_for(ct.TIMESTAMP, "x")(decoded) == encoder_for(ct.TIMESTAMP, "x")(ms)


@SETTINGS
@given(st.integers(-(2**31), 2**31 - 1))
def test_date_any_day(days: int) -> None:
    decoded = decoder_for(ct.DATE)(encoder_for(ct.DATE, "x")(Date(days)))
    assert decoded == (Date(days).to_date() if isinstance(decoded, dt.date) else Date(days))


@settings(max_examples=300, deadline=None)
@given(cql_types, st.binary(max_size=64))
def test_decoders_raise_only_protocol_errors(t: ct.CqlType, data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        decoder_for(t)(memoryview(data))
