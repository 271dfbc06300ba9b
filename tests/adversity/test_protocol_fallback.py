"""Version negotiation: a server that refuses v5 gets v4, on a fresh socket."""

from __future__ import annotations

import asyncio

import pytest

from aiocql import Cluster, NoHostAvailable, PlainTextAuthProvider
from aiocql.connection.connection import ConnectionOptions, negotiate
from aiocql.testing.fakeserver import FakeServer, Opcode
from aiocql.testing.polling import wait_until

from .conftest import echo_row, is_kv


@pytest.mark.parametrize("close_on_refusal", [True, False], ids=["server-closes", "server-keeps-socket"])
@pytest.mark.parametrize("compression", [False, True])
async def test_cluster_falls_back_to_v4_on_a_fresh_socket(close_on_refusal: bool, compression: bool) -> None:
    async with FakeServer(versions=(4,), close_on_refusal=close_on_refusal) as server:
        server.on(Opcode.QUERY, match=is_kv, reply=echo_row)
        async with Cluster([server.host], port=server.port, compression=compression) as cluster:
            session = await cluster.connect()
            assert cluster.protocol_version == 4
            assert all(c.version == 4 for c in session.pools[0].connections)
            startups = server.received(Opcode.STARTUP)
            assert [s.version for s in startups[:2]] == [5, 4]
            assert startups[0].connection != startups[1].connection  # a fresh socket, not a retry in place
            assert [s.version for s in startups[2:]] == [4] * len(startups[2:])  # the pool asks v4 directly
            refused = server.connections[0]
            await wait_until(lambda: not refused.is_open)  # the driver closes the refused socket either way
            assert (await session.execute("SELECT k, v FROM kv WHERE k = 4")).one() == (4, "value-4")
            assert server.connections[-1].startup_options.get("COMPRESSION") == ("lz4" if compression else None)
        assert server.errors == []


async def test_fallback_with_authentication() -> None:
    async with FakeServer(versions=(4,), authenticator="org.apache.cassandra.auth.PasswordAuthenticator") as server:
        conn = await negotiate(
            server.host,
            ConnectionOptions(port=server.port, auth_provider=PlainTextAuthProvider("cassandra", "cassandra")),
        )
        try:
            assert conn.version == 4
            assert [r.opcode for r in server.requests] == [Opcode.STARTUP, Opcode.STARTUP, Opcode.AUTH_RESPONSE]
        finally:
            await conn.close()


async def test_v5_server_is_not_downgraded(server: FakeServer) -> None:
    async with Cluster([server.host], port=server.port) as cluster:
        session = await cluster.connect()
        assert cluster.protocol_version == 5 and session.pools[0].connections[0].version == 5
        assert {r.version for r in server.requests} == {5}


async def test_pinned_v5_against_a_v4_server_fails_clearly_and_promptly() -> None:
    async with FakeServer(versions=(4,)) as server:
        cluster = Cluster([server.host], port=server.port, protocol_version=5)
        with pytest.raises(NoHostAvailable, match="unsupported protocol version"):
            await asyncio.wait_for(cluster.connect(), 2.0)
        await cluster.close()
        await wait_until(lambda: not server.open_connections)


async def test_cancel_negotiation_mid_handshake() -> None:
    async with FakeServer(versions=(4,)) as server:
        slow = server.on(Opcode.STARTUP, match=lambda r: r.version == 4, reply=None, delay=5.0)
        task = asyncio.ensure_future(negotiate(server.host, ConnectionOptions(port=server.port)))
        await wait_until(lambda: slow.hits == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await wait_until(lambda: not server.open_connections)  # no socket left behind
