"""Tracing details on the real server: traces read at LOCAL_ONE whatever the session's consistency
(``query_cl=``), client and start time, incomplete traces, and the traces of every page of a result."""

from __future__ import annotations

import datetime
import ipaddress
import uuid

import pytest

from aiocql import Cluster, ConsistencyLevel, NoHostAvailable, ResultSet, TraceUnavailable, Unavailable
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

pytestmark = pytest.mark.server


async def test_traces_are_read_at_local_one_even_with_a_quorum_default(cassandra: ServerInfo, keyspace: str) -> None:
    # system_traces has replication factor 2: on one node a QUORUM read of it is Unavailable.
    async with Cluster(**cluster_kwargs(cassandra, consistency_level=ConsistencyLevel.QUORUM)) as cluster:
        session = await cluster.connect(keyspace)
        rs = await session.execute("SELECT key FROM system.local", trace=True)
        trace = await rs.get_query_trace(max_wait=10)
        assert trace is not None and trace.trace_id == rs.tracing_id
        assert trace.duration is not None and trace.duration == datetime.timedelta(microseconds=trace.duration_us or 0)
        with pytest.raises((Unavailable, NoHostAvailable)) as info:  # (wrapped after the retry policy's RETRY_NEXT)
            await rs.get_query_trace(max_wait=10, query_cl=ConsistencyLevel.QUORUM)
        errors = list(info.value.errors.values()) if isinstance(info.value, NoHostAvailable) else [info.value]
        assert errors and all(isinstance(e, Unavailable) for e in errors)


async def test_client_started_at_and_event_times(cassandra: ServerInfo) -> None:
    async with Cluster(**cluster_kwargs(cassandra)) as cluster:
        session = await cluster.connect()
        before = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=5)
        rs = await session.execute("SELECT key FROM system.local", trace=True)
        trace = await rs.get_query_trace(max_wait=10)
        assert trace is not None
        conn = session.pools[0].connections[0]
        local_address = conn.transport.get_extra_info("sockname")[0]  # type: ignore[union-attr]
        assert trace.client is not None and ipaddress.ip_address(trace.client) == ipaddress.ip_address(local_address)
        assert trace.started_at is not None and trace.started_at >= before
        assert trace.events and all(e.datetime is not None and e.datetime >= before for e in trace.events)
        assert all(e.source_elapsed is not None for e in trace.events if e.source_elapsed_us is not None)


async def test_an_incomplete_trace_waits_or_not(cassandra: ServerInfo) -> None:
    """A trace session row without its duration (written here, as a coordinator does before the request
    ends): wait_for_complete=False returns it; the default waits for the duration, then gives up."""
    async with Cluster(**cluster_kwargs(cassandra)) as cluster:
        session = await cluster.connect()
        trace_id = uuid.uuid1()
        await session.execute(
            "INSERT INTO system_traces.sessions (session_id, request, coordinator, started_at) VALUES (?, ?, ?, ?)",
            (trace_id, "Fake request", "127.0.0.1", datetime.datetime.now(datetime.UTC)),
        )
        rs = ResultSet(tracing_id=trace_id, _session=session)
        trace = await rs.get_query_trace(max_wait=5, wait_for_complete=False)
        assert trace is not None and trace.request_type == "Fake request" and trace.duration is None
        with pytest.raises(TraceUnavailable, match="not complete"):
            await rs.get_query_trace(max_wait=0.3)
        missing = ResultSet(tracing_id=uuid.uuid1(), _session=session)
        with pytest.raises(TraceUnavailable, match="not written"):
            await missing.get_query_trace(max_wait_sec=0.3, wait_for_complete=False)


async def test_every_page_of_a_traced_result_has_its_trace(cassandra: ServerInfo, keyspace: str) -> None:
    async with Cluster(**cluster_kwargs(cassandra)) as cluster:
        session = await cluster.connect(keyspace)
        await session.execute("CREATE TABLE IF NOT EXISTS traced (k int, c int, PRIMARY KEY (k, c))", timeout=60)
        for c in range(10):
            await session.execute("INSERT INTO traced (k, c) VALUES (1, ?)", (c,))
        page = await session.execute("SELECT c FROM traced WHERE k = 1", trace=True, fetch_size=3)
        pages = [page]
        while page.has_more_pages:
            page = await page.fetch_next_page()
            pages.append(page)
        assert len(pages) == 4
        traces = await page.get_all_query_traces(max_wait=10)
        assert [t.trace_id for t in traces] == [p.tracing_id for p in pages]
        assert len(set(page.tracing_ids)) == 4
        assert all(t.request_type == "Execute CQL3 query" for t in traces)
