"""Schema agreement after DDL when the node misbehaves: the DDL call returns
within ``schema_agreement_wait`` whether versions agree, disagree, or the node stops answering."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from aiocql import Cluster
from aiocql.testing.fakeserver import NO_REPLY, FakeServer, Opcode, Rows, SchemaChange
from aiocql.types import INET, UUID

DDL = "CREATE TABLE ks.t (k int PRIMARY KEY)"


def is_ddl(req: object) -> bool:
    return getattr(req, "query", None) == DDL


def is_schema_poll(req: object) -> bool:
    query = getattr(req, "query", None) or ""
    return "schema_version" in query and "system." in query


@pytest.mark.parametrize("version", [4, 5])
async def test_ddl_waits_for_agreement_through_system_tables(server: FakeServer, version: int) -> None:
    server.on(Opcode.QUERY, match=is_ddl, reply=SchemaChange())
    async with Cluster([server.host], port=server.port, protocol_version=version) as cluster:
        session = await cluster.connect()
        rs = await session.execute(DDL)
        assert rs.schema_agreement is True
        polled = [r.query for r in server.received(Opcode.QUERY, is_schema_poll)]
        peers = "system.peers_v2" if version >= 5 else "system.peers"
        assert any("system.local" in q for q in polled) and any(peers in q for q in polled)


async def test_ddl_with_disagreeing_peer_returns_after_the_wait(server: FakeServer) -> None:
    server.on(Opcode.QUERY, match=is_ddl, reply=SchemaChange())
    other = Rows([("peer", INET), ("schema_version", UUID)], [("127.0.0.9", uuid.uuid4())])
    server.on(Opcode.QUERY, match=lambda r: "peers" in (r.query or ""), reply=other)
    loop = asyncio.get_running_loop()
    async with Cluster([server.host], port=server.port, schema_agreement_wait=0.5) as cluster:
        session = await cluster.connect()
        start = loop.time()
        rs = await asyncio.wait_for(session.execute(DDL), 10.0)
        assert rs.schema_agreement is False
        assert 0.5 <= loop.time() - start < 3.0  # the 0.5 s wait (not the default 10 s), room for load


async def test_ddl_on_a_node_that_stops_answering_the_poll_does_not_hang(server: FakeServer) -> None:
    server.on(Opcode.QUERY, match=is_ddl, reply=SchemaChange())
    server.on(Opcode.QUERY, match=is_schema_poll, reply=NO_REPLY)
    loop = asyncio.get_running_loop()
    async with Cluster([server.host], port=server.port, schema_agreement_wait=0.5) as cluster:
        session = await cluster.connect()
        start = loop.time()
        rs = await asyncio.wait_for(session.execute(DDL), 10.0)
        assert rs.schema_agreement is False
        assert loop.time() - start < 3.0  # the 0.5 s wait bounds unanswered polls too (room for load)
        await session.execute("SELECT k FROM ks.t")  # the connection is still usable


async def test_cancel_ddl_while_polling_for_agreement(server: FakeServer) -> None:
    server.on(Opcode.QUERY, match=is_ddl, reply=SchemaChange())
    server.on(Opcode.QUERY, match=is_schema_poll, reply=NO_REPLY)
    async with Cluster([server.host], port=server.port) as cluster:
        session = await cluster.connect()
        task = asyncio.ensure_future(session.execute(DDL))
        await server.wait_for_requests(1, Opcode.QUERY, is_schema_poll)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert session.pools[0].orphaned == 1
