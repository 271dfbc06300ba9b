"""Three real nodes started by the launcher: they see each other and the driver reaches all of them."""

from __future__ import annotations

import pytest

from aiocql import Cluster
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

pytestmark = pytest.mark.cluster3


async def test_one_contact_point_sees_the_other_two_in_peers_v2(cassandra: ServerInfo) -> None:
    first, *others = cassandra.contact_points
    async with Cluster(**cluster_kwargs(cassandra, contact_points=[first])) as cluster:
        session = await cluster.connect()
        local = (await session.execute("SELECT broadcast_address, tokens FROM system.local")).one()
        peers = await (await session.execute("SELECT peer, tokens, data_center FROM system.peers_v2")).all()
    assert str(local.broadcast_address) == first
    assert sorted(str(p.peer) for p in peers) == sorted(others)
    assert all(p.data_center == "datacenter1" for p in peers)
    # Each node owns exactly one token, and together they split the ring as the launcher configured.
    tokens = sorted(int(t) for row in [local, *peers] for t in row.tokens)
    assert tokens == [-9223372036854775808, -3074457345618258603, 3074457345618258602]


async def test_every_node_accepts_cql(cassandra: ServerInfo) -> None:
    for host in cassandra.contact_points:
        async with Cluster(**cluster_kwargs(cassandra, contact_points=[host])) as cluster:
            session = await cluster.connect()
            row = (await session.execute("SELECT broadcast_address FROM system.local")).one()
            assert str(row.broadcast_address) == host


def test_nodetool_reports_three_nodes_up(cassandra: ServerInfo) -> None:
    assert cassandra.cluster is not None
    status = cassandra.cluster.nodetool(1, "status")
    up = [line for line in status.splitlines() if line.startswith("UN ")]
    assert sorted(line.split()[1] for line in up) == sorted(cassandra.contact_points)
