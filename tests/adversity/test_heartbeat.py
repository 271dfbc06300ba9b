"""Heartbeats: an idle connection sends OPTIONS; a server that stops answering gets the connection
closed, and the requests waiting on it fail instead of hanging."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools

import pytest

from aiocql import Cluster, ConnectionLost, OperationTimedOut
from aiocql.connection.connection import Connection, ConnectionOptions
from aiocql.protocol.requests import Query
from aiocql.testing.fakeserver import NO_REPLY, FakeServer, Opcode
from aiocql.testing.polling import wait_until

from .conftest import echo_row, is_kv

INTERVAL = 0.1
TIMEOUT = 0.2


def options(server: FakeServer, version: int) -> ConnectionOptions:
    return ConnectionOptions(
        port=server.port, protocol_version=version, heartbeat_interval=INTERVAL, heartbeat_timeout=TIMEOUT
    )


@pytest.mark.parametrize("version", [4, 5])
async def test_idle_connection_sends_options(server: FakeServer, version: int) -> None:
    async with Cluster([server.host], port=server.port, protocol_version=version, heartbeat_interval=INTERVAL) as c:
        session = await c.connect()
        conn = session.pools[0].connections[0]
        # The pool's connection only: the control connection sends heartbeats of its own.
        probes = await server.wait_for_requests(3, Opcode.OPTIONS, server.is_pool_request, timeout=10.0)
        gaps = [b.time - a.time for a, b in itertools.pairwise(probes)]
        assert all(gap >= INTERVAL * 0.9 for gap in gaps), gaps  # only when idle, not in a busy loop
        assert not conn.is_closed


async def test_busy_connection_sends_no_heartbeat(server: FakeServer) -> None:
    server.on(Opcode.QUERY, match=is_kv, reply=echo_row)
    interval = 1.0  # roomy: a slow (shared, loaded) machine must not make a round trip look like idleness
    opts = dataclasses.replace(options(server, 5), heartbeat_interval=interval)
    conn = await Connection.open(server.host, opts)
    try:
        loop = asyncio.get_running_loop()
        end = loop.time() + 3 * interval
        while loop.time() < end:  # a reply about every interval / 10
            await conn.send(Query("SELECT k, v FROM kv WHERE k = 1"))
            await asyncio.sleep(interval / 10)
        assert server.received(Opcode.OPTIONS) == []
    finally:
        await conn.close()


@pytest.mark.parametrize("version", [4, 5])
async def test_unanswered_heartbeat_closes_connection_and_fails_waiting_requests(
    server: FakeServer, version: int
) -> None:
    conn = await Connection.open(server.host, options(server, version))
    try:
        server.on(reply=NO_REPLY)  # the server hangs: sockets open, nothing answered
        loop = asyncio.get_running_loop()
        start = loop.time()
        waiting = asyncio.ensure_future(conn.send(Query("SELECT k, v FROM kv WHERE k = 1")))  # no timeout
        with pytest.raises(ConnectionLost, match="heartbeat"):
            await asyncio.wait_for(waiting, timeout=5.0)
        elapsed = loop.time() - start
        assert conn.is_closed
        # Not before the interval and the timeout; after them, promptly (room for a loaded machine).
        assert INTERVAL + TIMEOUT * 0.9 <= elapsed < INTERVAL + TIMEOUT + 2.0, elapsed
        assert server.received(Opcode.OPTIONS)
        await wait_until(lambda: not server.open_connections)
    finally:
        conn.abort()


async def test_heartbeat_detects_a_hung_server_under_write_load(server: FakeServer) -> None:
    """Requests keep going out (each timing out), but nothing comes back: writes alone must not
    count as activity, or the heartbeat would never probe a server that stopped answering."""
    conn = await Connection.open(server.host, options(server, 5))
    try:
        server.on(reply=NO_REPLY)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10.0  # ends as soon as the heartbeat closes the connection (~0.3 s)
        while not conn.is_closed and loop.time() < deadline:
            with pytest.raises((OperationTimedOut, ConnectionLost)):
                await conn.send(Query("SELECT k, v FROM kv WHERE k = 1"), timeout=INTERVAL / 3)
        assert conn.is_closed, "the heartbeat never noticed the server stopped answering"
    finally:
        conn.abort()


async def test_heartbeat_through_the_session_pool_reconnects(server: FakeServer) -> None:
    """The pool replaces a connection closed by its heartbeat."""
    server.on(Opcode.QUERY, match=is_kv, reply=echo_row)
    # The new connection's heartbeats are answered: a timeout a loaded machine cannot miss (the old
    # connection's are never answered, so it closes after INTERVAL + 1 s whatever the load).
    cluster = Cluster(
        [server.host], port=server.port, protocol_version=5, heartbeat_interval=INTERVAL, heartbeat_timeout=1.0
    )
    async with cluster:
        session = await cluster.connect()
        pool = session.pools[0]
        old = pool.connections[0]
        old_id = server.open_connections[-1].id
        server.on(Opcode.OPTIONS, reply=NO_REPLY, match=lambda r: r.connection == old_id)
        await wait_until(lambda: old.is_closed, timeout=10.0)
        await wait_until(lambda: pool.connections and pool.connections[0] is not old and pool.is_up, timeout=15.0)
        assert (await session.execute("SELECT k, v FROM kv WHERE k = 3", timeout=10.0)).one() == (3, "value-3")
