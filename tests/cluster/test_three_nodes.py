"""Three real nodes started by the launcher: they see each other and the driver reaches all of them."""

from __future__ import annotations

import pytest

from aiocql import Cluster
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

pytestmark = pytest.mark.cluster3


async def test_one_contact_point_sees_the_other_two_in_peers_v2(cassandra: ServerInfo) -> None:
    first = cassandra.contact_points[0]
    async with Cluster(**cluster_kwargs(cassandra, contact_points=[first])) as cluster:
        session = await cluster.connect()
        # The driver discovered every node from the one contact point and keeps a pool to each.
        assert sorted(h.address for h in cluster.hosts) == sorted(cassandra.contact_points)
        assert sorted(p.host for p in session.pools) == sorted(cassandra.contact_points)
        local_rs = await session.execute("SELECT broadcast_address, tokens FROM system.local")
        local = local_rs.one()
        coordinator = local_rs.coordinator
        peers_rs = await session.execute("SELECT peer, tokens, data_center FROM system.peers_v2")
        peers = await peers_rs.all()
        host_tokens = sorted(t for h in cluster.hosts for t in h.tokens)
    assert str(local.broadcast_address) == coordinator
    others = [h for h in cassandra.contact_points if h != peers_rs.coordinator]
    assert sorted(str(p.peer) for p in peers) == sorted(others)
    assert all(p.data_center == "datacenter1" for p in peers)
    # Each node owns exactly one token, and together they split the ring as the launcher configured.
    assert [int(t) for t in local.tokens] == [t for h in cluster.hosts if h.address == coordinator for t in h.tokens]
    assert host_tokens == [-9223372036854775808, -3074457345618258603, 3074457345618258602]


async def test_every_node_accepts_cql(cassandra: ServerInfo) -> None:
    async with Cluster(**cluster_kwargs(cassandra)) as cluster:
        session = await cluster.connect()
        seen = set()
        for _ in range(30):  # round robin over the three nodes: each coordinates and reports itself
            rs = await session.execute("SELECT broadcast_address FROM system.local")
            assert str(rs.one().broadcast_address) == rs.coordinator
            seen.add(rs.coordinator)
        assert seen == set(cassandra.contact_points)


def test_nodetool_reports_three_nodes_up(cassandra: ServerInfo) -> None:
    assert cassandra.cluster is not None
    status = cassandra.cluster.nodetool(1, "status")
    up = [line for line in status.splitlines() if line.startswith("UN ")]
    assert sorted(line.split()[1] for line in up) == sorted(cassandra.contact_points)
