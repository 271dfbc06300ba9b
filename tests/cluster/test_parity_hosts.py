"""Issue 13 features that concern several hosts, on three real nodes: per-request host targeting (and its
error when the host is down), get_replicas against the server's own view, and every host's details."""

from __future__ import annotations

import asyncio

import pytest

from aiocql import Cluster, NoHostAvailable
from aiocql.testing.polling import wait_until
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

from ._support import create_keyspace, getendpoints, local_cluster

pytestmark = pytest.mark.cluster3

KS = "parity_rf2"


async def test_each_request_runs_on_the_host_it_names(cassandra: ServerInfo) -> None:
    async with Cluster(**cluster_kwargs(cassandra)) as cluster:
        session = await cluster.connect()
        assert len(cluster.hosts) == 3
        for host in cluster.hosts:
            for target in (host, host.address):  # a Host or its address
                rs = await session.execute("SELECT broadcast_address FROM system.local", host=target)
                assert rs.coordinator == host.address and str(rs.one().broadcast_address) == host.address
            # A per-node virtual table, paged: every page comes from the same node.
            rs = await session.execute("SELECT name FROM system_views.settings", host=host, fetch_size=50)
            pages = [rs]
            while pages[-1].has_more_pages and len(pages) < 4:
                pages.append(await pages[-1].fetch_next_page())
            assert len(pages) > 1 and {p.coordinator for p in pages} == {host.address}


async def test_a_targeted_host_that_is_down_is_a_clear_error(cassandra: ServerInfo) -> None:
    lc = local_cluster(cassandra)
    node = 3
    address = cassandra.contact_points[node - 1]
    async with Cluster(**cluster_kwargs(cassandra)) as cluster:
        session = await cluster.connect()
        host = next(h for h in cluster.hosts if h.address == address)
        await asyncio.to_thread(lc.nodetool, node, "disablebinary")
        try:
            await wait_until(lambda: not cluster.is_up(host), timeout=15, message="the node was not marked down")
            with pytest.raises(NoHostAvailable, match=rf"host {address} is down: the request was not sent"):
                await session.execute("SELECT key FROM system.local", host=host)
            other = next(h for h in cluster.hosts if h.address != address)
            assert (await session.execute("SELECT key FROM system.local", host=other)).coordinator == other.address
        finally:
            await asyncio.to_thread(lc.nodetool, node, "enablebinary")
        await wait_until(lambda: cluster.is_up(host), timeout=30, message="the node did not come back up")
        assert (await session.execute("SELECT key FROM system.local", host=host)).coordinator == address


async def test_get_replicas_matches_the_server(cassandra: ServerInfo) -> None:
    async with Cluster(**cluster_kwargs(cassandra)) as cluster:
        session = await cluster.connect()
        await create_keyspace(session, KS, 2)
        await session.execute(f"CREATE TABLE {KS}.t (k int PRIMARY KEY)", timeout=60)
        for key in (1, 42, 12345):
            replicas = cluster.metadata.get_replicas(KS, key.to_bytes(4, "big", signed=True))
            assert len(replicas) == 2
            assert frozenset(h.address for h in replicas) == await getendpoints(cassandra, KS, "t", key)
        assert cluster.metadata.get_replicas("system", (1).to_bytes(4, "big")) == []  # LocalStrategy


async def test_every_host_has_its_details(cassandra: ServerInfo) -> None:
    async with Cluster(**cluster_kwargs(cassandra)) as cluster:
        session = await cluster.connect()
        for host in cluster.hosts:
            local = (
                await session.execute(
                    "SELECT host_id, release_version, broadcast_address, broadcast_port, rpc_address, rpc_port"
                    " FROM system.local",
                    host=host,
                )
            ).one()
            assert host.host_id == local.host_id and host.release_version == local.release_version
            assert (host.broadcast_address, host.broadcast_port) == (str(local.broadcast_address), local.broadcast_port)
            assert (host.broadcast_rpc_address, host.broadcast_rpc_port) == (str(local.rpc_address), local.rpc_port)
        assert cluster.metadata.cluster_name is not None
        names = {
            (await session.execute("SELECT cluster_name FROM system.local", host=h)).one()[0] for h in cluster.hosts
        }
        assert names == {cluster.metadata.cluster_name}
