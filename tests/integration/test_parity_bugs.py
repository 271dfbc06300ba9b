"""Five scenarios of cassandra-driver's integration suite that aiocql got wrong (issue 13), on the real server:
phantom contact points, the load-balancing policy with one pool, stale transparently prepared statements,
waiting for stream ids, and the routing key of a batch."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from aiocql import (
    BatchStatement,
    BatchType,
    Cluster,
    ExecutionProfile,
    Host,
    HostFilterPolicy,
    NoHostAvailable,
    RequestInfo,
    RoundRobinPolicy,
    SimpleStatement,
)
from aiocql.policies.load_balancing import ClusterStateView
from aiocql.protocol.constants import Opcode
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

from .conftest import count_requests

pytestmark = pytest.mark.server

UNREACHABLE = "127.0.1.253"  # loopback, where nothing listens: connecting is refused at once


async def test_an_unreachable_contact_point_outside_the_ring_is_not_a_host(cassandra: ServerInfo) -> None:
    points = [*cassandra.contact_points, UNREACHABLE]
    async with Cluster(**cluster_kwargs(cassandra, contact_points=points, connect_timeout=2)) as cluster:
        session = await cluster.connect()
        assert [h.address for h in cluster.hosts] == list(cassandra.contact_points)
        assert [p.host for p in session.pools] == list(cassandra.contact_points)
        assert UNREACHABLE not in {h.address for h in cluster.contact_hosts}
        assert (await session.execute("SELECT key FROM system.local")).one() == ("local",)


async def test_a_filter_excluding_the_only_host_raises_no_host_available(cassandra: ServerInfo) -> None:
    nowhere = ExecutionProfile(load_balancing_policy=HostFilterPolicy(RoundRobinPolicy(), lambda host: False))
    async with Cluster(**cluster_kwargs(cassandra, execution_profiles={"nowhere": nowhere})) as cluster:
        session = await cluster.connect()
        assert len(session.pools) == 1
        counts = count_requests(session)
        with pytest.raises(NoHostAvailable):
            await session.execute("SELECT key FROM system.local", execution_profile="nowhere")
        assert counts[Opcode.QUERY] == 0
        assert (await session.execute("SELECT key FROM system.local")).one() == ("local",)


async def test_a_recreated_table_gets_new_bind_types(cassandra: ServerInfo, keyspace: str) -> None:
    async with Cluster(**cluster_kwargs(cassandra)) as cluster:
        session = await cluster.connect(keyspace)
        await session.execute("DROP TABLE IF EXISTS recreated", timeout=60)
        await session.execute("CREATE TABLE recreated (k int PRIMARY KEY, v int)", timeout=60)
        insert = "INSERT INTO recreated (k, v) VALUES (?, ?)"
        await session.execute(insert, (1, 1))
        await session.execute("DROP TABLE recreated", timeout=60)
        await session.execute("CREATE TABLE recreated (k int PRIMARY KEY, v text)", timeout=60)
        await session.execute(insert, (2, "two"))
        rows = await (await session.execute("SELECT k, v FROM recreated")).all()
        assert [tuple(r) for r in rows] == [(2, "two")]


async def test_an_altered_type_accepts_its_new_field(cassandra: ServerInfo, keyspace: str) -> None:
    async with Cluster(**cluster_kwargs(cassandra)) as cluster:
        session = await cluster.connect(keyspace)
        await session.execute("DROP TABLE IF EXISTS with_udt", timeout=60)
        await session.execute("DROP TYPE IF EXISTS pair", timeout=60)
        await session.execute("CREATE TYPE pair (a int)", timeout=60)
        await session.execute("CREATE TABLE with_udt (k int PRIMARY KEY, p frozen<pair>)", timeout=60)
        insert = "INSERT INTO with_udt (k, p) VALUES (?, ?)"
        await session.execute(insert, (1, {"a": 1}))
        await session.execute("ALTER TYPE pair ADD b text", timeout=60)
        await session.execute(insert, (2, {"a": 2, "b": "two"}))
        row = (await session.execute("SELECT p FROM with_udt WHERE k = 2")).one()
        assert (row.p.a, row.p.b) == (2, "two")


async def test_unprepared_after_another_client_changed_the_table_encodes_again(
    cassandra: ServerInfo, keyspace: str
) -> None:
    """Another client drops and recreates the table with v as bigint: the server answers UNPREPARED to
    the old statement id; the re-prepare brings the new bind types, and values bound with the old ones
    are encoded again (an int would be 4 bytes where the server now wants 8)."""
    async with Cluster(**cluster_kwargs(cassandra)) as cluster, Cluster(**cluster_kwargs(cassandra)) as other:
        session = await cluster.connect(keyspace)
        admin = await other.connect(keyspace)
        await admin.execute("DROP TABLE IF EXISTS changed", timeout=60)
        await admin.execute("CREATE TABLE changed (k int PRIMARY KEY, v int)", timeout=60)
        ps = await session.prepare("INSERT INTO changed (k, v) VALUES (?, ?)")
        bound = ps.bind((1, 7))
        await admin.execute("DROP TABLE changed", timeout=60)
        await admin.execute("CREATE TABLE changed (k int PRIMARY KEY, v bigint)", timeout=60)
        await session.execute(bound)
        await session.execute(ps, (2, 2**40))  # the statement's encoder follows the new types
        rows = await (await session.execute("SELECT k, v FROM changed")).all()
        assert sorted(tuple(r) for r in rows) == [(1, 7), (2, 2**40)]


async def test_requests_wait_for_a_free_stream_id(cassandra: ServerInfo) -> None:
    async with Cluster(**cluster_kwargs(cassandra, max_streams_per_connection=2)) as cluster:
        session = await cluster.connect()
        results = await asyncio.gather(
            *(session.execute("SELECT key FROM system.local", timeout=30) for _ in range(100))
        )
        assert [rs.one() for rs in results] == [("local",)] * 100
        assert session.stream_waiters.waiting == 0


async def test_many_waiters_on_128_streams(cassandra: ServerInfo) -> None:
    async with Cluster(**cluster_kwargs(cassandra, max_streams_per_connection=128)) as cluster:
        session = await cluster.connect()
        ps = await session.prepare("SELECT key FROM system.local WHERE key = ?")
        results = await asyncio.gather(*(session.execute(ps, ("local",), timeout=60) for _ in range(1000)))
        assert all(rs.one() == ("local",) for rs in results)


class Recording(RoundRobinPolicy):
    """Round robin that remembers the routing key of every request it plans."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[bytes | None] = []

    def plan(self, info: RequestInfo, state: ClusterStateView) -> Iterator[Host]:
        self.keys.append(info.routing_key)
        return super().plan(info, state)


async def test_a_batch_routes_by_its_first_child_with_a_routing_key(cassandra: ServerInfo, keyspace: str) -> None:
    policy = Recording()
    async with Cluster(**cluster_kwargs(cassandra, load_balancing_policy=policy)) as cluster:
        session = await cluster.connect(keyspace)
        await session.execute("CREATE TABLE IF NOT EXISTS routed (k int PRIMARY KEY, v text)", timeout=60)
        ps = await session.prepare("INSERT INTO routed (k, v) VALUES (?, ?)")
        batch = BatchStatement(BatchType.UNLOGGED)
        batch.add(SimpleStatement("INSERT INTO routed (k, v) VALUES (0, 'zero')"))  # no routing key
        batch.add(ps, (5, "five"))
        batch.add("INSERT INTO routed (k, v) VALUES (?, ?)", (6, "six"))
        policy.keys.clear()
        await session.execute(batch)
        assert policy.keys == [(5).to_bytes(4, "big")]
        explicit = BatchStatement(BatchType.UNLOGGED, routing_key=b"\x00\x00\x00\x09")
        explicit.add(ps, (7, "seven"))
        policy.keys.clear()
        await session.execute(explicit)
        assert policy.keys == [b"\x00\x00\x00\x09"]
        rows = await (await session.execute("SELECT k FROM routed")).all()
        assert sorted(r.k for r in rows) == [0, 5, 6, 7]
