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
    """300 concurrent requests, a third answered only after the caller's deadline fired; then 300 more
    sent before those late replies are let out: every caller gets exactly its own row, late replies are
    dropped, and the timed-out callers return at their deadline.

    The late and the second-wave replies are held back by events, not by delays, so the order
    "deadline fires, second wave in flight on the same connection, late replies arrive, second wave
    answered" holds however slow a loaded machine is; only callers that must time out get a short
    deadline, those that must succeed get one that cannot fire on a slow loop.
    """
    late_sent: list[int] = []
    release_late = asyncio.Event()
    release_second = asyncio.Event()

    async def late_reply(req: ReceivedRequest) -> Rows:
        await release_late.wait()
        late_sent.append(key_of(req))
        return echo_row(req)

    async def second_wave_reply(req: ReceivedRequest) -> Rows:
        await release_second.wait()
        return echo_row(req)

    server.on(Opcode.QUERY, match=lambda r: is_kv(r) and key_of(r) % 3 == 0, reply=late_reply)
    server.on(Opcode.QUERY, match=lambda r: is_kv(r) and key_of(r) >= 1000, reply=second_wave_reply)
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

        # The late replies are held until released: a deadline that did not fire would hang, so bound it.
        async with asyncio.timeout(30):
            first = await asyncio.gather(*(fetch(k, 0.25 if k % 3 == 0 else 10.0) for k in range(300)))
        for k, outcome, elapsed in first:
            if k % 3 == 0:
                assert isinstance(outcome, OperationTimedOut), (k, outcome)
                assert 0.2 <= elapsed < 2.0, f"request {k} timed out after {elapsed:.3f}s, deadline 0.25s"
            else:
                assert outcome == (k, f"value-{k}"), (k, outcome)
        assert conn.orphaned == 100  # every timed-out stream id stays reserved...
        assert server.pending == 100 and late_sent == []  # ...for a late reply still to come

        # 300 more on the same connection while the orphans are reserved: if an orphaned id were handed
        # out again (or a late reply dispatched to anything but its dropped caller), one of these would
        # receive a late row of the first wave.
        second = [asyncio.create_task(fetch(k, 10.0)) for k in range(1000, 1300)]
        await wait_until(lambda: server.pending == 400, timeout=10.0, message=lambda: f"{server.pending} held")
        assert session.pools[0].connections == [conn]  # the second wave shares the orphans' connection
        release_late.set()
        await wait_until(lambda: conn.orphaned == 0, timeout=10.0, message=lambda: f"{conn.orphaned} orphans left")
        assert sorted(late_sent) == list(range(0, 300, 3))
        assert not [t for t in second if t.done()]  # the late replies reached no second-wave caller
        release_second.set()
        for k, outcome, _ in await asyncio.gather(*second):
            assert outcome == (k, f"value-{k}"), (k, outcome)

        await wait_until(lambda: conn.in_flight == 0, timeout=10.0, message=lambda: f"{conn.in_flight} in flight")
        assert session.pools[0].connections == [conn] and not conn.is_closed
        row = (await session.execute(kv_query(7), timeout=10.0)).one()
        assert row == (7, "value-7")


async def test_timeout_raises_promptly_and_connection_stays_usable(server: FakeServer, version: int) -> None:
    release = asyncio.Event()

    async def held_reply(req: ReceivedRequest) -> Rows:
        await release.wait()
        return echo_row(req)

    server.on(Opcode.QUERY, match=is_kv, reply=echo_row)
    rule = server.on(Opcode.QUERY, match=is_kv, reply=held_reply, times=1)  # newest rule first
    loop = asyncio.get_running_loop()
    async with Cluster([server.host], port=server.port, protocol_version=version) as cluster:
        session = await cluster.connect()
        conn = session.pools[0].connections[0]
        start = loop.time()
        with pytest.raises(OperationTimedOut):
            await session.execute(kv_query(1), timeout=0.1)
        # The reply is held until released, so only the deadline can have ended the wait; the bound
        # says "at the deadline, not much later" with room for a loaded machine.
        assert loop.time() - start < 2.0
        assert rule.hits == 1 and conn.orphaned == 1
        # The connection keeps working while the orphan waits for its late reply.
        assert (await session.execute(kv_query(2), timeout=10.0)).one() == (2, "value-2")
        assert len(server.received(Opcode.QUERY, is_kv)) == 2  # a client-side timeout is not retried
        release.set()
        await wait_until(lambda: conn.orphaned == 0, timeout=10.0)  # the late reply was dropped
        assert conn.in_flight == 0 and not conn.is_closed


async def test_connection_send_timeout_orphans_until_late_reply(server: FakeServer, version: int) -> None:
    release = asyncio.Event()

    async def held_reply(req: ReceivedRequest) -> Rows:
        await release.wait()
        return echo_row(req)

    server.on(Opcode.QUERY, match=is_kv, reply=echo_row)
    server.on(Opcode.QUERY, match=lambda r: key_of(r) == 1, reply=held_reply)  # newest rule first
    conn = await Connection.open(server.host, ConnectionOptions(port=server.port, protocol_version=version))
    try:
        with pytest.raises(OperationTimedOut):
            await conn.send(Query(kv_query(1)), timeout=0.05)
        assert conn.orphaned == 1 and conn.in_flight == 0
        reply = await conn.send(Query(kv_query(2)), timeout=10.0)
        assert isinstance(reply, RowsResult) and reply.rows_count == 1
        assert conn.orphaned == 1  # still reserved: its reply has not come
        release.set()
        await wait_until(lambda: conn.orphaned == 0, timeout=10.0)
        assert not conn.is_closed
    finally:
        await conn.close()
