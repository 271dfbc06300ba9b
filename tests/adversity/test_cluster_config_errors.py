"""Bad conditions get clear errors: every host down (at connect and later) is NoHostAvailable naming each
host's error; an unresolvable contact point is named (and does not stop a good one); a local_dc no host
has, or contact points in several DCs with no local_dc, fail connect() with the datacenters that exist,
leaving no socket or task behind."""

from __future__ import annotations

import asyncio

import pytest

from aiocql import Cluster, ConnectionLost, DCAwareRoundRobinPolicy, NoHostAvailable
from aiocql.testing.fakeserver import FakeServer, Opcode, start_fake_servers
from aiocql.testing.polling import wait_until

from .conftest import is_kv
from .fakecluster import cluster_of, fake_nodes, kv_requests


def select(k: int) -> str:
    return f"SELECT k, v FROM kv WHERE k = {k}"


def other_tasks() -> set[asyncio.Task[object]]:
    return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]


@pytest.mark.parametrize("version", [None, 5], ids=["negotiated", "pinned"])
async def test_every_contact_point_down_names_each_host(version: int | None) -> None:
    servers = await start_fake_servers(3)
    port = servers[0].port
    for server in servers:
        await server.close()  # nothing listens there any more
    hosts = [s.host for s in servers]
    async with Cluster(hosts, port=port, protocol_version=version, connect_timeout=1.0) as cluster:
        with pytest.raises(NoHostAvailable) as info:
            await cluster.connect()
    assert sorted(info.value.errors) == hosts
    for host, error in info.value.errors.items():
        assert isinstance(error, ConnectionLost)
        assert f"{host}: ConnectionLost: cannot connect to {host}:{port}" in str(info.value)


async def test_every_host_down_after_connect_names_each_host() -> None:
    async with fake_nodes(3) as nodes, cluster_of(nodes, protocol_version=5) as cluster:
        session = await cluster.connect()
        assert len(session.pools) == 3
        for node in nodes:
            await node.close()
        await wait_until(lambda: not any(p.is_up for p in session.pools), timeout=5.0)
        with pytest.raises(NoHostAvailable) as info:
            await session.execute(select(1))
        assert sorted(info.value.errors) == [n.host for n in nodes]
        for node in nodes:
            assert f"{node.host}: ConnectionClosed: no open connection to {node.host}" in str(info.value)
        assert all(not cluster.is_up(h) for h in cluster.hosts)


async def test_an_unresolvable_contact_point_is_named() -> None:
    async with Cluster(["no-such-host.invalid"], port=9042, connect_timeout=1.0) as cluster:
        with pytest.raises(NoHostAvailable) as info:
            await cluster.connect()
    assert list(info.value.errors) == ["no-such-host.invalid"]
    assert "cannot resolve contact point 'no-such-host.invalid'" in str(info.value)


async def test_one_good_contact_point_is_enough(server: FakeServer) -> None:
    server.on(Opcode.QUERY, match=is_kv, reply=lambda r: None)
    async with Cluster(["no-such-host.invalid", server.host], port=server.port) as cluster:
        session = await cluster.connect()
        assert [p.host for p in session.pools] == [server.host]
        await session.execute(select(1))
        assert len(server.received(Opcode.QUERY, is_kv)) == 1


async def test_a_local_dc_no_host_has_fails_connect_and_leaves_nothing_open() -> None:
    async with fake_nodes(2) as nodes:
        nodes[1].datacenter = "dc2"
        nodes[0].peers = [nodes[1].peer_row()]
        before = other_tasks()
        cluster = cluster_of(nodes, local_dc="dc-nowhere")
        for _ in range(2):  # and again: the failed connect left no half-made state behind
            with pytest.raises(ValueError) as info:
                await cluster.connect()
            assert str(info.value) == (
                "local_dc 'dc-nowhere' is not a datacenter of this cluster; its datacenters are: 'datacenter1', 'dc2'"
            )
            assert cluster.control is None and cluster.sessions == []
            await wait_until(lambda: not any(n.open_connections for n in nodes), timeout=10.0)
            await wait_until(
                lambda: other_tasks() <= before, timeout=10.0, message=lambda: repr(other_tasks() - before)
            )
        await cluster.close()
        assert kv_requests(nodes) == []


async def test_contact_points_in_several_dcs_need_a_local_dc() -> None:
    async with fake_nodes(2, peers=False) as nodes:
        nodes[1].datacenter = "dc2"
        nodes[0].peers = [nodes[1].peer_row()]
        nodes[1].peers = [nodes[0].peer_row()]
        async with cluster_of(nodes, all_contact_points=True) as cluster:
            with pytest.raises(ValueError, match=r"several datacenters \('datacenter1', 'dc2'\)"):
                await cluster.connect()
            await wait_until(lambda: not any(n.open_connections for n in nodes), timeout=10.0)
        # naming the DC fixes it: only its hosts get pools
        async with cluster_of(
            nodes, all_contact_points=True, load_balancing_policy=DCAwareRoundRobinPolicy("dc2")
        ) as cluster:
            session = await cluster.connect()
            assert [p.host for p in session.pools] == [nodes[1].host]
