"""UNPREPARED: a node that lost a prepared statement gets it re-prepared, on
that node, and the request is retried transparently."""

from __future__ import annotations

import asyncio

import pytest

from aiocql import BatchStatement, Cluster, ConsistencyLevel, ReadTimeout, Unprepared
from aiocql.testing.fakeserver import ABORT, Error, FakeServer, Opcode, Prepared, ReceivedRequest, start_fake_servers
from aiocql.testing.polling import wait_until
from aiocql.testing.replies import prepared_id
from aiocql.types import INT

from .conftest import KV_COLUMNS, echo_row

QUERY = "SELECT k, v FROM kv WHERE k = ?"
INSERT = "INSERT INTO kv (k, v) VALUES (?, 'x')"


def script_kv(server: FakeServer) -> None:
    server.on(Opcode.PREPARE, match=lambda r: r.query == QUERY, reply=Prepared(bind=[("k", INT)], result=KV_COLUMNS))
    server.on(Opcode.PREPARE, match=lambda r: r.query == INSERT, reply=Prepared(bind=[("k", INT)]))
    server.on(Opcode.EXECUTE, match=lambda r: r.query == QUERY, reply=echo_row)


def opcodes(server: FakeServer) -> list[str]:
    return [r.opcode.name for r in server.requests if r.opcode in (Opcode.PREPARE, Opcode.EXECUTE, Opcode.BATCH)]


@pytest.mark.parametrize("version", [4, 5])
async def test_node_that_forgot_the_statement_gets_it_again(server: FakeServer, version: int) -> None:
    script_kv(server)
    async with Cluster([server.host], port=server.port, protocol_version=version) as cluster:
        session = await cluster.connect()
        ps = await session.prepare(QUERY)
        assert (await session.execute(ps, (1,))).one() == (1, "value-1")
        server.forget_prepared()  # as a restart does
        assert (await session.execute(ps, (2,))).one() == (2, "value-2")
        assert opcodes(server) == ["PREPARE", "EXECUTE", "EXECUTE", "PREPARE", "EXECUTE"]
        reprepare = server.received(Opcode.PREPARE)[-1]
        unprepared_execute = server.received(Opcode.EXECUTE)[-2]
        assert reprepare.connection == unprepared_execute.connection  # same node, same connection here
        assert reprepare.query == QUERY


async def test_unprepared_reply_to_one_execute_is_transparent(server: FakeServer) -> None:
    script_kv(server)
    async with Cluster([server.host], port=server.port) as cluster:
        session = await cluster.connect()
        ps = await session.prepare(QUERY)
        server.on(Opcode.EXECUTE, reply=Error(Unprepared("gone", statement_id=ps.query_id)), times=1)
        rows = await asyncio.gather(*(session.execute(ps, (k,)) for k in range(20)))
        assert [rs.one() for rs in rows] == [(k, f"value-{k}") for k in range(20)]
        assert len(server.received(Opcode.PREPARE)) == 2


async def test_reprepare_happens_on_the_node_that_answered_unprepared() -> None:
    servers = await start_fake_servers(2)
    try:
        for s in servers:
            script_kv(s)
        async with Cluster([s.host for s in servers], port=servers[0].port, contact_points_are_hosts=True) as cluster:
            session = await cluster.connect()
            ps = await session.prepare(QUERY)  # prepared on one node only
            results = [(await session.execute(ps, (k,))).one() for k in range(4)]  # round robin: both nodes
            assert results == [(k, f"value-{k}") for k in range(4)]
            for s in servers:
                executes = s.received(Opcode.EXECUTE)
                assert executes, f"{s.host} never got an EXECUTE"
                assert len(s.received(Opcode.PREPARE)) == 1  # prepared there (first, or after UNPREPARED)
            assert all(s.errors == [] for s in servers)
    finally:
        for s in servers:
            await s.close()


async def test_reprepare_does_not_use_up_the_retry_policy(server: FakeServer) -> None:
    """UNPREPARED, re-prepare, then a read timeout the default policy retries once: the re-prepare
    is not a retry, so the read timeout still gets its retry."""
    script_kv(server)
    async with Cluster([server.host], port=server.port) as cluster:
        session = await cluster.connect()
        ps = await session.prepare(QUERY)
        timeout = ReadTimeout("rt", consistency=ConsistencyLevel.ONE, received=1, block_for=1, data_present=False)
        server.on(Opcode.EXECUTE, reply=Error(timeout), times=1)
        server.on(Opcode.EXECUTE, reply=Error(Unprepared("gone", statement_id=ps.query_id)), times=1)
        assert (await session.execute(ps, (3,))).one() == (3, "value-3")
        assert opcodes(server) == ["PREPARE", "EXECUTE", "PREPARE", "EXECUTE", "EXECUTE"]


async def test_a_node_that_never_keeps_the_statement_does_not_loop_forever(server: FakeServer) -> None:
    script_kv(server)
    async with Cluster([server.host], port=server.port) as cluster:
        session = await cluster.connect()
        ps = await session.prepare(QUERY)
        server.on(Opcode.EXECUTE, reply=Error(Unprepared("gone", statement_id=ps.query_id)))
        with pytest.raises(Unprepared):
            await session.execute(ps, (1,), timeout=5.0)
        assert len(server.received(Opcode.EXECUTE)) <= 4


async def test_batch_child_is_reprepared(server: FakeServer) -> None:
    script_kv(server)
    async with Cluster([server.host], port=server.port) as cluster:
        session = await cluster.connect()
        ps = await session.prepare(INSERT)
        batch = BatchStatement()
        batch.add(ps, (1,))
        batch.add(ps, (2,))
        server.forget_prepared()
        await session.execute(batch)
        assert opcodes(server) == ["PREPARE", "BATCH", "PREPARE", "BATCH"]
        assert server.prepared == {prepared_id(INSERT): INSERT}


async def test_cancel_during_reprepare(server: FakeServer) -> None:
    script_kv(server)
    async with Cluster([server.host], port=server.port) as cluster:
        session = await cluster.connect()
        ps = await session.prepare(QUERY)
        server.forget_prepared()
        slow = server.on(Opcode.PREPARE, reply=lambda r: _prepared_kv(r), delay=0.5, times=1)
        task = asyncio.ensure_future(session.execute(ps, (1,)))
        await wait_until(lambda: slow.hits == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        conn = session.pools[0].connections[0]
        assert conn.orphaned == 1  # the re-PREPARE's reply is still to come
        await wait_until(lambda: conn.orphaned == 0, timeout=10.0)
        assert (await session.execute(ps, (5,))).one() == (5, "value-5")


def _prepared_kv(req: ReceivedRequest) -> Prepared:
    return Prepared(bind=[("k", INT)], result=KV_COLUMNS)


async def test_connection_lost_during_reprepare_goes_through_the_retry_policy() -> None:
    """The node that said UNPREPARED dies while re-preparing: an idempotent request moves on to the
    other node, as for any lost connection."""
    servers = await start_fake_servers(2)
    try:
        for s in servers:
            script_kv(s)
        async with Cluster([s.host for s in servers], port=servers[0].port, contact_points_are_hosts=True) as cluster:
            session = await cluster.connect()
            ps = await session.prepare(QUERY)
            dropped: list[int] = []

            def drop_first(req: ReceivedRequest) -> object:  # only the first re-PREPARE, on either node
                dropped.append(req.connection)
                return ABORT if len(dropped) == 1 else _prepared_kv(req)

            for s in servers:
                s.on(Opcode.PREPARE, reply=drop_first)
                s.on(Opcode.EXECUTE, reply=Error(Unprepared("gone", statement_id=ps.query_id)), times=1)
            rs = await session.execute(ps, (8,), is_idempotent=True, timeout=5.0)
            assert rs.one() == (8, "value-8")
            assert len(dropped) == 2  # one re-PREPARE dropped the connection, the other node's worked
    finally:
        for s in servers:
            await s.close()
