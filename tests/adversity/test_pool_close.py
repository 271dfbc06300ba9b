"""``HostPool.close()`` leaves no connection of the pool open, those it is retiring included.

A connection holding ``max_orphans`` orphaned stream ids is retired once its replacement is ready: it
drains the requests still in flight on it, then closes. Closing the pool while one drains must close
it too (within the pool's own close timeout), not leave it open until its own drain ends.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from aiocql import Cluster, OperationTimedOut, ResultSet
from aiocql.connection.connection import Connection
from aiocql.pool.host_pool import HostPool
from aiocql.testing.fakeserver import FakeServer, Opcode, ReceivedRequest
from aiocql.testing.polling import wait_until

from .conftest import echo_row, is_kv, key_of

MAX_ORPHANS = 2


def slow(req: ReceivedRequest) -> bool:
    return is_kv(req) and key_of(req) < 0


async def retiring_pool(cluster: Cluster) -> tuple[HostPool, Connection, asyncio.Future[ResultSet]]:
    """A session's pool whose first connection is being retired while a request still drains on it."""
    session = await cluster.connect()
    pool = session.pools[0]
    old = pool.connections[0]
    for k in range(1, MAX_ORPHANS + 1):
        with pytest.raises(OperationTimedOut):
            await session.execute(f"SELECT k, v FROM kv WHERE k = {-k}", timeout=0.05)
    assert old.needs_replacement
    # The replacement is not ready yet: this request goes to the worn connection and stays in flight.
    draining = asyncio.ensure_future(session.execute("SELECT k, v FROM kv WHERE k = -100", timeout=120))
    await wait_until(lambda: old.in_flight == 1, timeout=10.0)
    await wait_until(lambda: pool.connections and old not in pool.connections, timeout=10.0)
    assert not old.is_closed and old.is_closing  # retired: draining its request
    return pool, old, draining


async def test_close_closes_the_connections_being_retired(server: FakeServer) -> None:
    server.on(Opcode.QUERY, match=is_kv, reply=echo_row)
    server.on(Opcode.QUERY, match=slow, reply=echo_row, delay=60.0)
    async with Cluster([server.host], port=server.port, max_orphans_per_connection=MAX_ORPHANS) as cluster:
        pool, old, draining = await retiring_pool(cluster)
        await pool.close(timeout=0.2)
        assert old.is_closed
        assert pool.connections == []
        # Server side: every connection the pool opened is gone (the control connection stays).
        await wait_until(lambda: len(server.open_connections) == 1, timeout=10.0)
        draining.cancel()
        with contextlib.suppress(BaseException):
            await draining


async def test_abort_aborts_the_connections_being_retired(server: FakeServer) -> None:
    server.on(Opcode.QUERY, match=is_kv, reply=echo_row)
    server.on(Opcode.QUERY, match=slow, reply=echo_row, delay=60.0)
    async with Cluster([server.host], port=server.port, max_orphans_per_connection=MAX_ORPHANS) as cluster:
        pool, old, draining = await retiring_pool(cluster)
        pool.abort()
        assert old.is_closed
        await wait_until(lambda: len(server.open_connections) == 1, timeout=10.0)
        draining.cancel()
        with contextlib.suppress(BaseException):
            await draining
