"""Issue 10 item 5: the config objects a user gives are used as given and never changed: the negotiated
protocol version is the cluster's state (one config object serves clusters that negotiate different
versions), and each setting reaches the wire (compression, the pool size, the default profile)."""

from __future__ import annotations

from aiocql import Cluster, ConnectionConfig, ConsistencyLevel, ExecutionProfile, PoolConfig
from aiocql.protocol.requests import Query
from aiocql.testing.fakeserver import FakeServer, Opcode

from .conftest import echo_row, is_kv


async def test_negotiation_does_not_write_the_version_into_the_users_config() -> None:
    async with FakeServer(versions=(4,)) as old, FakeServer() as new:
        for server in (old, new):
            server.on(Opcode.QUERY, match=is_kv, reply=echo_row)
        config = ConnectionConfig(port=old.port, connect_timeout=2.0)
        async with Cluster([old.host], connection=config, schema_metadata=False) as first:
            session = await first.connect()
            assert first.protocol_version == 4 and session.pools[0].connections[0].version == 4
            assert first.connection is config and config.protocol_version is None
            assert first.options.protocol_version is None  # what connections are opened with: unchanged too
        # The same object, untouched, negotiates again with a server that speaks v5.
        moved = ConnectionConfig(port=new.port, connect_timeout=2.0)
        async with Cluster([new.host], connection=moved, schema_metadata=False) as second:
            session = await second.connect()
            assert second.protocol_version == 5 and session.pools[0].connections[0].version == 5
        assert config == ConnectionConfig(port=old.port, connect_timeout=2.0)
        assert moved == ConnectionConfig(port=new.port, connect_timeout=2.0) and moved.protocol_version is None


async def test_each_config_object_reaches_the_wire(server: FakeServer) -> None:
    server.on(Opcode.QUERY, match=is_kv, reply=echo_row)
    cluster = Cluster(
        [server.host],
        connection=ConnectionConfig(port=server.port, protocol_version=5, compression=True),
        pool=PoolConfig(connections_per_host=2),
        execution_profiles={"default": ExecutionProfile(consistency_level=ConsistencyLevel.QUORUM)},
        fetch_size=7,
        schema_metadata=False,
    )
    async with cluster:
        session = await cluster.connect()
        assert len(session.pools[0].connections) == 2
        await session.execute("SELECT k, v FROM kv WHERE k = 1")
    startups = server.received(Opcode.STARTUP)
    assert {s.version for s in startups} == {5}
    assert {c.startup_options.get("COMPRESSION") for c in server.connections} == {"lz4"}
    [sent] = server.received(Opcode.QUERY, is_kv)
    assert isinstance(sent.message, Query)
    assert sent.message.params.consistency == ConsistencyLevel.QUORUM and sent.message.params.page_size == 7
