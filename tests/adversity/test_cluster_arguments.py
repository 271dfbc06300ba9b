"""Effects of ``Cluster(...)`` arguments no other test observed (tests/unit/test_cluster_arguments_honoured.py
names a test for every argument)."""

from __future__ import annotations

import pytest

from aiocql import Cluster, ConnectionConfig, HostDistance, NoHostAvailable, RoundRobinPolicy
from aiocql.model.host import Host
from aiocql.policies.load_balancing import ClusterStateView
from aiocql.testing.fakeserver import NO_REPLY, FakeServer, Opcode, start_fake_servers
from aiocql.testing.polling import wait_until


class SecondIsRemote(RoundRobinPolicy):
    """127.0.0.2 is REMOTE, 127.0.0.3 IGNORED, every other host LOCAL."""

    def distance(self, host: Host, state: ClusterStateView) -> HostDistance:
        return {"127.0.0.2": HostDistance.REMOTE, "127.0.0.3": HostDistance.IGNORED}.get(
            host.address, HostDistance.LOCAL
        )


async def test_pools_are_sized_by_distance() -> None:
    """Pools are sized by the distance the load-balancing policy gives each host: LOCAL hosts get
    ``connections_per_host``, REMOTE ones ``remote_connections_per_host``, IGNORED ones no pool."""
    local, remote, ignored = servers = await start_fake_servers(3)
    try:
        async with Cluster(
            [s.host for s in servers],
            port=local.port,
            connections_per_host=3,
            remote_connections_per_host=2,
            load_balancing_policy=SecondIsRemote(),
            contact_points_are_hosts=True,
        ) as cluster:
            session = await cluster.connect()
            sizes = {pool.host: len(pool.connections) for pool in session.pools}
            assert sizes == {local.host: 3, remote.host: 2}
            # The servers see the same: the pool's connections (and the control connection on the first).
            await wait_until(lambda: len(remote.open_connections) == 2, timeout=10.0)
            assert len(local.open_connections) == 3 + 1
            assert ignored.open_connections == []
    finally:
        for server in servers:
            await server.close()


def schema_reads(server: FakeServer) -> int:
    return len(server.received(Opcode.QUERY, lambda r: r.query is not None and "system_schema." in r.query))


@pytest.mark.parametrize("schema_metadata", [True, False])
async def test_schema_metadata_false_reads_no_schema(server: FakeServer, schema_metadata: bool) -> None:
    async with Cluster([server.host], port=server.port, schema_metadata=schema_metadata) as cluster:
        await cluster.connect()
        if schema_metadata:
            await wait_until(lambda: schema_reads(server) > 0, timeout=10.0)
        else:
            assert schema_reads(server) == 0 and len(cluster.metadata) == 0


async def test_internal_request_timeout_bounds_the_control_connections_queries(server: FakeServer) -> None:
    """``ConnectionConfig.internal_request_timeout`` (no Cluster keyword) is the deadline of each request
    the driver sends for itself: a peers query left unanswered fails after it, not after the default."""
    server.on(Opcode.QUERY, match=lambda r: r.query is not None and "peers" in r.query, reply=NO_REPLY)
    config = ConnectionConfig(port=server.port, internal_request_timeout=0.5)
    async with Cluster([server.host], connection=config) as cluster:
        with pytest.raises(NoHostAvailable, match=r"OperationTimedOut: request timed out after 0\.5s"):
            await cluster.connect()
