"""Deployment realism on fake nodes: address translation (peers and events), a node that comes back at
a new address with the same host id, and contact points resolved again when every known host is gone."""

from __future__ import annotations

from aiocql import Cluster, ConstantReconnectionPolicy, MappingTranslator
from aiocql.net import DnsResolver
from aiocql.protocol.constants import StatusChangeType
from aiocql.testing.dnsserver import DnsServer
from aiocql.testing.fakeserver import Event, FakeServer, Opcode, start_fake_servers
from aiocql.testing.polling import wait_until

from .conftest import echo_row, is_kv
from .fakecluster import cluster_of, fake_nodes, pool_of, topology_change


def select(k: int) -> str:
    return f"SELECT k, v FROM kv WHERE k = {k}"


async def test_translator_maps_every_peer_and_event_address() -> None:
    async with fake_nodes(3) as nodes:
        first, *others = nodes
        # The first node announces its peers at addresses the client cannot reach (as behind NAT).
        announced = {n.host: f"10.99.0.{i}" for i, n in enumerate(others, start=2)}
        for row in first.peers:
            row["native_address"] = announced[str(row["native_address"])]
        nat = MappingTranslator({a: (real, first.port) for real, a in announced.items()})
        calls: list[tuple[str, int]] = []

        class Recording:
            def translate(self, address: str, port: int) -> tuple[str, int]:
                calls.append((address, port))
                return nat.translate(address, port)

        async with cluster_of(nodes, address_translator=Recording(), connect_timeout=1.0) as cluster:
            session = await cluster.connect()
            assert sorted(h.address for h in cluster.hosts) == sorted(n.host for n in nodes)
            assert {a for a, _ in calls} == set(announced.values())
            for node in others:
                assert pool_of(session, node).is_up
            coordinators = {(await session.execute(select(k))).coordinator for k in range(9)}
            assert coordinators == {n.host for n in nodes}
            # A status event names the node as it announces itself: translated before use.
            target = others[0]
            first.push_event(Event.status_change(StatusChangeType.DOWN, announced[target.host], first.port))
            host = cluster.state.host_at(target.host)
            assert host is not None
            await wait_until(lambda: not cluster.is_up(host), timeout=10.0)


async def test_a_node_back_at_a_new_address_with_its_host_id_gets_a_new_pool() -> None:
    async with fake_nodes(2) as nodes:
        first, moving = nodes
        async with cluster_of(nodes, reconnection_policy=ConstantReconnectionPolicy(0.2)) as cluster:
            session = await cluster.connect()
            host_id = moving.host_id
            assert pool_of(session, moving).is_up
            # The node stops and starts again at 127.0.0.3 with the same data (so the same host id).
            await moving.close()
            moved = await FakeServer("127.0.0.3", first.port).start()
            try:
                moved.host_id, moved.token, moved.schema_version = host_id, moving.token, moving.schema_version
                moved.peers = [first.peer_row()]
                moved.on(Opcode.QUERY, match=is_kv, reply=echo_row)
                first.peers = [moved.peer_row()]
                first.push_event(Event.status_change(StatusChangeType.DOWN, moving.host, first.port))
                first.push_event(topology_change("NEW_NODE", moved))
                first.push_event(Event.status_change(StatusChangeType.UP, moved.host, first.port))

                def followed() -> bool:
                    host = cluster.state.get_host(host_id)
                    pool = session.host_pools.get(host_id)
                    return (
                        host is not None
                        and host.address == moved.host
                        and cluster.is_up(host)
                        and pool is not None
                        and pool.host == moved.host
                        and pool.is_up
                    )

                await wait_until(followed, timeout=5.0)
                assert len(cluster.hosts) == 2
                coordinators = {(await session.execute(select(k))).coordinator for k in range(8)}
                assert coordinators == {first.host, moved.host}
                assert moved.received(Opcode.QUERY, is_kv)
            finally:
                await moved.close()


async def test_contact_points_are_resolved_again_when_no_known_host_answers() -> None:
    old, new = await start_fake_servers(2)  # unrelated nodes: neither lists the other
    for node in (old, new):
        node.on(Opcode.QUERY, match=is_kv, reply=echo_row)
    try:
        async with DnsServer({"cassandra.test": [old.host]}) as dns:
            resolver = DnsResolver(nameservers=[dns.address], resolv_conf=None, hosts=None, ipv6=False, timeout=1.0)
            cluster = Cluster(
                ["cassandra.test"],
                port=old.port,
                protocol_version=5,
                resolver=resolver,
                connect_timeout=1.0,
                reconnection_policy=ConstantReconnectionPolicy(0.2),
            )
            async with cluster:
                session = await cluster.connect()
                assert (await session.execute(select(1))).coordinator == old.host
                # Every pod restarts with a new address (and new data): the name now points there.
                dns.records["cassandra.test"] = [new.host]
                await old.close()
                await wait_until(
                    lambda: cluster.control is not None and cluster.control.address == new.host, timeout=10.0
                )
                await wait_until(lambda: [h.address for h in cluster.hosts] == [new.host], timeout=5.0)
                await wait_until(lambda: any(p.host == new.host and p.is_up for p in session.pools), timeout=5.0)
                assert (await session.execute(select(2))).coordinator == new.host
                assert dns.questions[("udp", "cassandra.test", 1)] >= 2
    finally:
        await old.close()
        await new.close()


async def test_a_node_replaced_at_the_same_address_becomes_a_new_host() -> None:
    async with fake_nodes(2) as nodes:
        first, old = nodes
        async with cluster_of(nodes, reconnection_policy=ConstantReconnectionPolicy(0.2)) as cluster:
            session = await cluster.connect()
            old_id = old.host_id
            await old.close()
            # A replacement node at the same address: empty data, so a new host id (same token).
            new = await FakeServer(old.host, first.port).start()
            try:
                new.token, new.schema_version, new.peers = old.token, old.schema_version, [first.peer_row()]
                new.on(Opcode.QUERY, match=is_kv, reply=echo_row)
                assert new.host_id != old_id
                first.peers = [new.peer_row()]
                first.push_event(topology_change("REMOVED_NODE", old))
                first.push_event(topology_change("NEW_NODE", new))

                def replaced() -> bool:
                    host = cluster.state.host_at(new.host)
                    pool = session.host_pools.get(new.host_id)
                    return (
                        host is not None
                        and host.host_id == new.host_id
                        and cluster.state.get_host(old_id) is None
                        and old_id not in session.host_pools
                        and pool is not None
                        and pool.is_up
                    )

                await wait_until(replaced, timeout=5.0)
                coordinators = {(await session.execute(select(k))).coordinator for k in range(8)}
                assert coordinators == {first.host, new.host}
                assert new.received(Opcode.QUERY, is_kv)
            finally:
                await new.close()
