"""The fault-injecting proxy itself, in front of the fake server (no Java needed)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from aiocql import Cluster, ConnectionLost, NoHostAvailable, OperationTimedOut
from aiocql.testing.fakeserver import FakeServer, Opcode
from aiocql.testing.polling import wait_until
from aiocql.testing.proxy import FaultProxy

from .conftest import echo_row, is_kv


@pytest.fixture
async def proxy(server: FakeServer) -> AsyncIterator[FaultProxy]:
    server.on(Opcode.QUERY, match=is_kv, reply=echo_row)
    async with FaultProxy(server.host, server.port) as p:
        yield p


def kv(k: int) -> str:
    return f"SELECT k, v FROM kv WHERE k = {k}"


async def test_pass_through_counts_bytes(server: FakeServer, proxy: FaultProxy) -> None:
    async with Cluster([proxy.host], port=proxy.port) as cluster:
        session = await cluster.connect()
        rows = await asyncio.gather(*(session.execute(kv(k)) for k in range(100)))
        assert [rs.one() for rs in rows] == [(k, f"value-{k}") for k in range(100)]
        assert proxy.bytes_to_server > 100 * len(kv(0)) and proxy.bytes_to_client > 100 * len("value-0")
        # the control connection and the pool's connection
        assert len(proxy.open_connections) == len(server.open_connections) == 2


async def test_delay_to_client_makes_requests_time_out_and_late_replies_are_dropped(
    server: FakeServer, proxy: FaultProxy
) -> None:
    loop = asyncio.get_running_loop()
    async with Cluster([proxy.host], port=proxy.port) as cluster:
        session = await cluster.connect()
        conn = session.pools[0].connections[0]
        proxy.delay_to_client = 0.3
        start = loop.time()
        assert (await session.execute(kv(1))).one() == (1, "value-1")
        # uvloop's clock counts whole milliseconds (and is read once per loop iteration): allow 5 ms
        assert loop.time() - start >= 0.3 - 0.005
        results = await asyncio.gather(
            *(session.execute(kv(k), timeout=0.1) for k in range(50)), return_exceptions=True
        )
        assert all(isinstance(r, OperationTimedOut) for r in results)
        assert conn.orphaned == 50
        proxy.delay_to_client = 0.0  # the late replies still arrive after their callers gave up: dropped
        rows = await asyncio.gather(*(session.execute(kv(k)) for k in range(100, 150)))
        assert [rs.one() for rs in rows] == [(k, f"value-{k}") for k in range(100, 150)]
        await wait_until(lambda: conn.orphaned == 0, timeout=10.0)


async def test_pause_holds_traffic_and_resume_releases_it(server: FakeServer, proxy: FaultProxy) -> None:
    async with Cluster([proxy.host], port=proxy.port) as cluster:
        session = await cluster.connect()
        proxy.pause()
        task = asyncio.ensure_future(session.execute(kv(3)))
        await wait_until(lambda: proxy.paused and session.pools[0].in_flight == 1)
        assert not task.done() and server.received(Opcode.QUERY, is_kv) == []
        proxy.resume()
        assert (await task).one() == (3, "value-3")


async def test_cut_and_refuse(server: FakeServer, proxy: FaultProxy) -> None:
    async with Cluster([proxy.host], port=proxy.port) as cluster:
        session = await cluster.connect()
        proxy.pause()
        task = asyncio.ensure_future(session.execute(kv(4)))
        await wait_until(lambda: session.pools[0].in_flight == 1)
        proxy.refuse()
        assert proxy.cut() == 2  # the control connection and the pool's connection
        with pytest.raises(ConnectionLost):
            await asyncio.wait_for(task, 1.0)
        await wait_until(lambda: not server.open_connections)  # the server side was cut too
        await wait_until(lambda: proxy.refused >= 1, timeout=5.0)  # the pool tries to reconnect: refused
        with pytest.raises(NoHostAvailable):
            await session.execute(kv(5))
        proxy.resume()
        proxy.accept()
        await wait_until(lambda: session.pools[0].is_up and proxy.open_connections, timeout=5.0)
        assert (await session.execute(kv(6))).one() == (6, "value-6")
