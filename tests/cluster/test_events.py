"""Server events on three real nodes: schema changes made by another client reach ``cluster.metadata``, and a
node stopping and starting shows as down and up transitions (``cluster.state`` and the host listener)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from aiocql import Cluster
from aiocql.testing.polling import wait_until
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

from ._recorder import Recorder
from ._support import local_cluster, on_node

pytestmark = pytest.mark.cluster3

KS = "events_schema"


@pytest.fixture
async def other_client(cassandra: ServerInfo) -> AsyncIterator[Callable[[str], Any]]:
    """Runs CQL through cassandra-driver (another client, other connections) in a thread."""
    from cassandra.cluster import Cluster as OtherCluster

    other = OtherCluster(list(cassandra.contact_points), port=cassandra.port, protocol_version=5)
    session = await asyncio.to_thread(other.connect)

    async def run(cql: str) -> None:
        await asyncio.to_thread(session.execute, cql, timeout=60)

    try:
        yield run
    finally:
        await asyncio.to_thread(other.shutdown)


async def test_schema_changed_by_another_client_reaches_the_metadata(
    cassandra: ServerInfo, other_client: Callable[[str], Any]
) -> None:
    # Nothing in this test asks the aiocql cluster to refresh and it runs no DDL itself: only its control
    # connection's SCHEMA_CHANGE events can bring each change in. Each wait fails if the event is not
    # registered, not handled, or the refresh misses the change.
    run = other_client
    loop = asyncio.get_running_loop()
    lag: dict[str, float] = {}

    async def seen(what: str, condition: Callable[[], object]) -> Any:
        began = loop.time()
        found = await wait_until(condition, timeout=10, interval=0.02, message=f"{what}: not in the metadata in 10 s")
        lag[what] = loop.time() - began
        return found

    await run(f"DROP KEYSPACE IF EXISTS {KS}")
    async with Cluster(**cluster_kwargs(cassandra)) as cluster:
        await cluster.connect()
        assert KS not in cluster.metadata
        await run(f"CREATE KEYSPACE {KS} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 3}}")
        keyspace = await seen("CREATE KEYSPACE", lambda: cluster.metadata.get(KS))
        assert keyspace.replication["replication_factor"] == "3"

        await run(f"CREATE TABLE {KS}.made_elsewhere (k int, c text, v bigint, PRIMARY KEY (k, c))")
        table = await seen("CREATE TABLE", lambda: cluster.metadata[KS].tables.get("made_elsewhere"))
        assert [c.name for c in table.partition_key] == ["k"] and [c.name for c in table.clustering_key] == ["c"]
        assert set(table.columns) == {"k", "c", "v"}

        await run(f"ALTER TABLE {KS}.made_elsewhere ADD w boolean")
        await seen("ALTER TABLE", lambda: "w" in cluster.metadata[KS].tables["made_elsewhere"].columns)

        await run(f"CREATE TYPE {KS}.address (street text, zip int)")
        udt = await seen("CREATE TYPE", lambda: cluster.metadata[KS].user_types.get("address"))
        assert udt.field_names == ("street", "zip")

        await run(f"DROP TABLE {KS}.made_elsewhere")
        await seen("DROP TABLE", lambda: "made_elsewhere" not in cluster.metadata[KS].tables)

        await run(f"DROP TYPE {KS}.address")
        await seen("DROP TYPE", lambda: "address" not in cluster.metadata[KS].user_types)

        await run(f"DROP KEYSPACE {KS}")
        await seen("DROP KEYSPACE", lambda: KS not in cluster.metadata)
    print("\nschema change -> metadata, after the other client's DDL returned: " + ", ".join(
        f"{what} {seconds * 1000:.0f} ms" for what, seconds in lag.items()
    ))  # fmt: skip


async def test_a_node_stopped_and_started_goes_down_then_up(cassandra: ServerInfo) -> None:
    lc = local_cluster(cassandra)
    node3 = cassandra.contact_points[2]
    loop = asyncio.get_running_loop()
    try:
        async with Cluster(**cluster_kwargs(cassandra)) as cluster:
            recorder = Recorder(cluster)  # before connect: discovery reports each host as added
            session = await cluster.connect()
            assert sorted(t.address for t in recorder.transitions if t.kind == "add") == sorted(
                cassandra.contact_points
            )
            host3 = next(h for h in cluster.hosts if h.address == node3)
            assert all(cluster.is_up(h) for h in cluster.hosts)

            # An independent view: what cluster.is_up says, sampled every 50 ms.
            sampled: list[tuple[float, bool]] = []

            async def sample() -> None:
                while True:
                    up = cluster.is_up(host3)
                    if not sampled or sampled[-1][1] != up:
                        sampled.append((loop.time(), up))
                    await asyncio.sleep(0.05)

            sampler = asyncio.create_task(sample())
            try:
                stop_sent = loop.time()
                await asyncio.to_thread(lc.stop_node, 3)
                stopped = loop.time()
                down = await wait_until(lambda: recorder.first(node3, "down", stop_sent), timeout=10, interval=0.02)
                state = cluster.state  # one snapshot: node 3 is down in it, the others up
                assert not state.is_up(host3) and down.is_up is False
                assert sorted(h.address for h in state.up_hosts) == sorted(cassandra.contact_points[:2])
                await asyncio.to_thread(lc.start_node, 3)
                started = loop.time()
                up = await wait_until(lambda: recorder.first(node3, "up", stopped), timeout=30, interval=0.02)
                assert up.is_up is True and cluster.state.is_up(host3)
                await wait_until(lambda: len(sampled) >= 3, timeout=15, interval=0.05)
            finally:
                sampler.cancel()
            # Exactly one down, then one up: no flapping, and nothing happened to the other two nodes.
            assert [t.kind for t in recorder.of(node3, stop_sent)] == ["down", "up"]
            assert [t for t in recorder.transitions if t.address != node3 and t.kind != "add"] == []
            assert [up for _, up in sampled] == [True, False, True]
            # The sampler agrees with the listener (to its 50 ms period, plus the scheduling slack of a
            # loaded machine, where a 50 ms sleep can wake far later).
            assert abs(sampled[1][0] - down.at) < 2.0 and abs(sampled[2][0] - up.at) < 2.0, (sampled, down, up)
            # And node 3 serves requests again.
            rs = await session.execute("SELECT release_version FROM system.local", execution_profile=on_node(node3))
            assert rs.coordinator == node3
            print(
                f"\nnode 3 marked down {down.at - stop_sent:.2f} s after SIGTERM (stop_node took "
                f"{stopped - stop_sent:.1f} s); marked up {up.at - started:+.2f} s after start_node returned"
            )
    finally:
        if not lc.running():  # never leave node 3 down for the tests that follow
            await asyncio.to_thread(lc.start_node, 3)
