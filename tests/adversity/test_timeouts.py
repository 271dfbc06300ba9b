"""Client-side timeouts against a fake server that answers some requests late.

The contract: a timed-out request raises
OperationTimedOut at its deadline; its stream id stays orphaned until the late reply arrives; that
reply is dropped and never reaches another caller; the connection stays usable.
"""

from __future__ import annotations

import asyncio

import pytest

from aiocql import Cluster, OperationTimedOut
from aiocql.connection.connection import Connection, ConnectionOptions
from aiocql.protocol.requests import Query
from aiocql.protocol.results import RowsResult
from aiocql.testing.fakeserver import FakeServer, Opcode, ReceivedRequest, Rows
from aiocql.testing.polling import wait_until

from .conftest import echo_row, is_kv, key_of

pytestmark = pytest.mark.parametrize("version", [4, 5])


def kv_query(k: int) -> str:
    return f"SELECT k, v FROM kv WHERE k = {k}"


async def test_late_replies_never_reach_other_callers(server: FakeServer, version: int) -> None:
    """300 concurrent requests, a third answered after the caller's deadline; then 300 more sent while
    those late replies arrive: every caller gets exactly its own row, late replies are dropped."""
    late_sent: list[int] = []

    def late_reply(req: ReceivedRequest) -> Rows:
        late_sent.append(key_of(req))
        return echo_row(req)

    server.on(Opcode.QUERY, match=lambda r: is_kv(r) and key_of(r) % 3 == 0, reply=late_reply, delay=0.8)
    server.on(Opcode.QUERY, match=lambda r: is_kv(r) and key_of(r) >= 1000, reply=echo_row, delay=1.2)
    server.on(Opcode.QUERY, match=lambda r: is_kv(r) and key_of(r) < 1000 and key_of(r) % 3, reply=echo_row)
    loop = asyncio.get_running_loop()
    async with Cluster([server.host], port=server.port, protocol_version=version) as cluster:
        session = await cluster.connect()
        conn = session.pools[0].connections[0]

        async def fetch(k: int, timeout: float) -> tuple[int, object, float]:
            start = loop.time()
            try:
                row = (await session.execute(kv_query(k), timeout=timeout)).one()
            except OperationTimedOut as exc:
                return k, exc, loop.time() - start
            return k, row, loop.time() - start

        first = await asyncio.gather(*(fetch(k, 0.25) for k in range(300)))
        for k, outcome, elapsed in first:
            if k % 3 == 0:
                assert isinstance(outcome, OperationTimedOut), (k, outcome)
                assert 0.2 <= elapsed < 0.75, f"request {k} timed out after {elapsed:.3f}s, deadline 0.25s"
            else:
                assert outcome == (k, f"value-{k}"), (k, outcome)
        orphans_after_first_wave = conn.orphaned
        assert server.pending == 100  # the late replies are still to come

        # Stream ids are reused lowest-first: if an orphaned id were handed out again, one of these
        # would receive a late row of the first wave.
        second = asyncio.gather(*(fetch(k, 5.0) for k in range(1000, 1300)))
        await wait_until(lambda: len(late_sent) == 100, timeout=3.0)  # the late replies went out...
        assert not second.done()  # ...while the second wave is in flight
        for k, outcome, _ in await second:
            assert outcome == (k, f"value-{k}"), (k, outcome)
        assert orphans_after_first_wave == 100

        await wait_until(lambda: conn.orphaned == 0, timeout=2.0, message=lambda: f"{conn.orphaned} orphans left")
        assert conn.in_flight == 0
        assert session.pools[0].connections == [conn] and not conn.is_closed
        row = (await session.execute(kv_query(7), timeout=1.0)).one()
        assert row == (7, "value-7")


async def test_timeout_raises_promptly_and_connection_stays_usable(server: FakeServer, version: int) -> None:
    server.on(Opcode.QUERY, match=is_kv, reply=echo_row)
    rule = server.on(Opcode.QUERY, match=is_kv, reply=echo_row, delay=2.0, times=1)  # newest rule first
    loop = asyncio.get_running_loop()
    async with Cluster([server.host], port=server.port, protocol_version=version) as cluster:
        session = await cluster.connect()
        conn = session.pools[0].connections[0]
        start = loop.time()
        with pytest.raises(OperationTimedOut):
            await session.execute(kv_query(1), timeout=0.1)
        assert loop.time() - start < 0.5
        assert rule.hits == 1 and conn.orphaned == 1
        # The connection keeps working while the orphan waits for its late reply.
        assert (await session.execute(kv_query(2), timeout=1.0)).one() == (2, "value-2")
        assert len(server.received(Opcode.QUERY, is_kv)) == 2  # a client-side timeout is not retried


async def test_connection_send_timeout_orphans_until_late_reply(server: FakeServer, version: int) -> None:
    server.on(Opcode.QUERY, match=is_kv, reply=echo_row)
    server.on(Opcode.QUERY, match=lambda r: key_of(r) == 1, reply=echo_row, delay=0.3)  # newest rule first
    conn = await Connection.open(server.host, ConnectionOptions(port=server.port, protocol_version=version))
    try:
        with pytest.raises(OperationTimedOut):
            await conn.send(Query(kv_query(1)), timeout=0.05)
        assert conn.orphaned == 1 and conn.in_flight == 0
        reply = await conn.send(Query(kv_query(2)), timeout=1.0)
        assert isinstance(reply, RowsResult) and reply.rows_count == 1
        await wait_until(lambda: conn.orphaned == 0, timeout=2.0)
        assert not conn.is_closed
    finally:
        await conn.close()
