"""The compiled wire fast paths (aiocql.protocol._wire) against the pure-Python code they stand in for.

Every compiled function either gives exactly what the pure path gives or answers None (the pure path then
runs): so for any input, the bytes, the result or the error are the same with and without the extension.
Without the extension built (or with AIOCQL_NO_EXTENSIONS=1) the comparisons are skipped, and the pure path
is what every other test runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiocql.protocol import requests, wire
from aiocql.protocol.requests import Execute, Query, QueryParameters
from aiocql.protocol.unset import UNSET

needs_compiled = pytest.mark.skipif(wire.fast is None, reason="the compiled wire module is not built")


def outcome(fn: Callable[[], Any]) -> Any:
    try:
        return ("ok", fn())
    except Exception as exc:
        return (type(exc), str(exc))


def pure(monkeypatch: pytest.MonkeyPatch, fn: Callable[[], Any]) -> Any:
    with monkeypatch.context() as m:
        m.setattr(requests, "_execute_body", None)
        m.setattr(requests, "_query_body", None)
        return outcome(fn)


def test_environment_selects_the_pure_paths() -> None:
    disabled = os.environ.get("AIOCQL_NO_EXTENSIONS", "").strip() not in ("", "0")
    if disabled:
        assert wire.fast is None and not wire.COMPILED
    assert wire.COMPILED is (wire.fast is not None)
    assert (requests._execute_body is None) is (wire.fast is None)


ints = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, 0xFFFF, 0x10000, -1, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**63 - 1, 2**63, -(2**63)]),
)
values = st.one_of(
    st.binary(max_size=40),
    st.none(),
    st.just(UNSET),
    st.binary(max_size=5).map(bytearray),
    st.binary(max_size=5).map(memoryview),
    st.integers(0, 3),  # not an encoded value: ProtocolError
    st.text(max_size=3),
)
texts = st.one_of(st.text(max_size=20), st.just("\ud800"), st.text(max_size=3).map(lambda t: t * 30000))


@st.composite
def parameters(draw: st.DrawFn) -> QueryParameters:
    seq = draw(st.lists(values, max_size=6))
    return QueryParameters(
        consistency=draw(st.one_of(ints, st.sampled_from([1, 6, 10]))),
        values=draw(st.sampled_from([list, tuple]))(seq),
        names=draw(st.one_of(st.none(), st.just([f"v{i}" for i in range(len(seq))]))),
        skip_metadata=draw(st.booleans()),
        page_size=draw(st.one_of(st.none(), ints)),
        paging_state=draw(st.one_of(st.none(), st.binary(max_size=20), st.binary(max_size=4).map(bytearray))),
        serial_consistency=draw(st.one_of(st.none(), ints)),
        timestamp=draw(st.one_of(st.none(), ints)),
        keyspace=draw(st.one_of(st.none(), texts)),
        now_in_seconds=draw(st.one_of(st.none(), ints)),
    )


@needs_compiled
@settings(max_examples=300, deadline=None)
@given(
    params=parameters(),
    query_id=st.one_of(st.binary(max_size=20), st.binary(max_size=3).map(bytearray)),
    metadata_id=st.one_of(st.none(), st.binary(max_size=20)),
    version=st.sampled_from([4, 5]),
)
def test_execute_bodies_are_the_pure_ones(
    params: QueryParameters, query_id: bytes, metadata_id: bytes | None, version: int
) -> None:
    msg = Execute(query_id, params, metadata_id)
    with pytest.MonkeyPatch.context() as m:
        assert outcome(lambda: msg.encode(version)) == pure(m, lambda: msg.encode(version))


@needs_compiled
@settings(max_examples=200, deadline=None)
@given(params=parameters(), query=texts, version=st.sampled_from([4, 5]))
def test_query_bodies_are_the_pure_ones(params: QueryParameters, query: str, version: int) -> None:
    msg = Query(query, params)
    with pytest.MonkeyPatch.context() as m:
        assert outcome(lambda: msg.encode(version)) == pure(m, lambda: msg.encode(version))


@needs_compiled
def test_the_common_execute_is_compiled() -> None:
    # the point read a session sends on v5: the compiled function encodes it itself (no fallback)
    params = QueryParameters(10, [b"\x00\x00\x00\x07", None, UNSET], skip_metadata=True, page_size=5000)
    assert wire.fast is not None
    execute_body = wire.fast.execute_body
    body = execute_body(b"\x01\x02", b"\x03", params, 5)
    assert body is not None
    # id, metadata id, consistency, flags (values, skip metadata, page size), 3 values, page size
    expected = "0002" "0102" "0001" "03" "000a" "00000007" "0003" "0000000400000007"  # fmt: skip
    expected += "ffffffff" "fffffffe" "00001388"  # fmt: skip
    assert body.hex() == expected
    assert execute_body(b"\x01", None, params, 5) is None  # v5 needs the id
    assert execute_body(b"\x01", None, params, 4) is not None
