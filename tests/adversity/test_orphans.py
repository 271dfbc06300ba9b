"""Orphaned stream ids past ``max_orphans``: the pool replaces the connection
without failing the requests that arrive meanwhile."""

from __future__ import annotations

import asyncio

import pytest

from aiocql import Cluster, OperationTimedOut
from aiocql.testing.fakeserver import FakeServer, Opcode
from aiocql.testing.polling import wait_until

from .conftest import echo_row, is_kv, key_of

MAX_ORPHANS = 5


def slow(req: object) -> bool:
    return is_kv(req) and key_of(req) < 0  # type: ignore[arg-type]


@pytest.mark.parametrize("version", [4, 5])
async def test_connection_is_replaced_past_max_orphans(server: FakeServer, version: int) -> None:
    server.on(Opcode.QUERY, match=is_kv, reply=echo_row)
    server.on(Opcode.QUERY, match=slow, reply=echo_row, delay=1.0)
    cluster = Cluster([server.host], port=server.port, protocol_version=version, max_orphans_per_connection=MAX_ORPHANS)
    async with cluster:
        session = await cluster.connect()
        pool = session.pools[0]
        old = pool.connections[0]
        old_server_side = server.open_connections[-1]

        async def timed_out(k: int) -> None:
            with pytest.raises(OperationTimedOut):
                await session.execute(f"SELECT k, v FROM kv WHERE k = {k}", timeout=0.05)

        await asyncio.gather(*(timed_out(-k) for k in range(1, MAX_ORPHANS + 1)))
        assert old.orphaned == MAX_ORPHANS and old.needs_replacement

        # Requests keep working while the replacement opens: none fails, each gets its own row.
        rows = await asyncio.gather(*(session.execute(f"SELECT k, v FROM kv WHERE k = {k}") for k in range(50)))
        assert [rs.one() for rs in rows] == [(k, f"value-{k}") for k in range(50)]

        await wait_until(lambda: pool.connections and old not in pool.connections, timeout=5.0)
        new = pool.connections[0]
        assert not new.is_closed and new.orphaned == 0
        await wait_until(lambda: old.is_closed and not old_server_side.is_open, timeout=5.0)
        assert (await session.execute("SELECT k, v FROM kv WHERE k = 99")).one() == (99, "value-99")


async def test_below_the_threshold_the_connection_is_kept(server: FakeServer) -> None:
    server.on(Opcode.QUERY, match=is_kv, reply=echo_row)
    server.on(Opcode.QUERY, match=slow, reply=echo_row, delay=0.3)
    async with Cluster([server.host], port=server.port, max_orphans_per_connection=MAX_ORPHANS) as cluster:
        session = await cluster.connect()
        conn = session.pools[0].connections[0]
        for k in range(1, MAX_ORPHANS):
            with pytest.raises(OperationTimedOut):
                await session.execute(f"SELECT k, v FROM kv WHERE k = {-k}", timeout=0.02)
        assert conn.orphaned == MAX_ORPHANS - 1 and not conn.needs_replacement
        await wait_until(lambda: conn.orphaned == 0, timeout=10.0)
        assert session.pools[0].connections == [conn]
        # negotiation, the control connection and the pool's one connection: no replacement was opened
        assert len(server.received(Opcode.STARTUP)) == 3
