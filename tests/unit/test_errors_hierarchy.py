"""Everything aiocql raises derives from CqlError: argument checks of Cluster and the policies, results
used where they do not apply, traces; the new classes are exported."""

from __future__ import annotations

import uuid

import pytest

import aiocql
from aiocql import (
    Cluster,
    ConstantReconnectionPolicy,
    ConstantSpeculativeExecutionPolicy,
    CqlError,
    DCAwareRoundRobinPolicy,
    ExponentialReconnectionPolicy,
    InvalidValueError,
    Metrics,
    ResultSet,
    TraceUnavailable,
    UsageError,
)
from aiocql.model.host import Host
from aiocql.model.state import ClusterState


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Cluster([]), "contact_points must be a non-empty"),
        (lambda: Cluster(["h"], protocol_version=3), "protocol_version"),
        (lambda: Cluster(["h"], local_dc="dc1", load_balancing_policy=DCAwareRoundRobinPolicy()), "local_dc"),
        (lambda: DCAwareRoundRobinPolicy(used_hosts_per_remote_dc=-1), "used_hosts_per_remote_dc"),
        (lambda: ConstantSpeculativeExecutionPolicy(-1, 1), "delay"),
        (lambda: ExponentialReconnectionPolicy(0, 1), "base"),
        (lambda: ConstantReconnectionPolicy(-1), "delay"),
        (lambda: Metrics(prefix="bad prefix"), "prefix"),
    ],
)
def test_argument_checks_raise_invalid_value_error(make: object, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message) as info:
        make()  # type: ignore[operator]
    assert isinstance(info.value, CqlError) and isinstance(info.value, ValueError)


def test_an_unknown_local_dc_is_a_cql_error() -> None:
    state = ClusterState.create([Host(uuid.UUID(int=1), "h1", datacenter="dc1")])
    with pytest.raises(InvalidValueError, match="'dc9' is not a datacenter"):
        DCAwareRoundRobinPolicy("dc9").on_init(state, [])


def test_was_applied_on_a_plain_result_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="conditional") as info:
        _ = ResultSet(column_names=("k",), current_rows=[(1,)]).was_applied
    assert isinstance(info.value, CqlError) and isinstance(info.value, RuntimeError)


async def test_fetch_next_page_after_the_last_is_a_usage_error_not_stop_async_iteration() -> None:
    async def pages() -> object:
        # Inside an async generator a StopAsyncIteration would turn into "RuntimeError: async generator raised".
        yield await ResultSet().fetch_next_page()

    with pytest.raises(UsageError, match="no more pages"):
        async for _ in pages():  # type: ignore[attr-defined]
            pass


async def test_trace_unavailable_is_a_cql_error_and_one_class() -> None:
    assert await ResultSet().get_query_trace() is None  # not traced: None, as in cassandra-driver
    assert issubclass(TraceUnavailable, CqlError) and issubclass(TraceUnavailable, RuntimeError)
    from aiocql.session.tracing import TraceUnavailable as from_tracing

    assert from_tracing is TraceUnavailable


def test_every_exported_exception_derives_from_cql_error() -> None:
    exported = [getattr(aiocql, n) for n in aiocql.__all__]
    exceptions = [e for e in exported if isinstance(e, type) and issubclass(e, BaseException)]
    assert len(exceptions) > 20
    assert [e.__name__ for e in exceptions if not issubclass(e, CqlError)] == []
    for name in ("TraceUnavailable", "UsageError", "InvalidPagingState"):
        assert name in aiocql.__all__
