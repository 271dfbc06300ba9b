"""Two datacenters (one node each, GossipingPropertyFileSnitch) on real nodes: local-DC routing by default,
LOCAL_QUORUM, remote-DC failover only when allowed, local_dc inferred and a wrong one refused; a peer
reached through a NAT (the fault proxy) by address translation; a node replaced at its address (new host
id) and a node that comes back at a new address with its data (same host id), followed without a restart.

The nodes sit at AIOCQL_NODE_BASE + 5 and + 6 (the moved node goes to + 7), apart from the single node the
plugin may be running at the base address; they are stopped at the end of the module.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Iterator

import pytest

from aiocql import (
    Cluster,
    ConsistencyLevel,
    DCAwareRoundRobinPolicy,
    DriverError,
    MappingTranslator,
    NoHostAvailable,
    RoundRobinPolicy,
    Session,
    TokenAwarePolicy,
)
from aiocql.protocol.requests import Options
from aiocql.protocol.responses import Supported
from aiocql.testing.launcher import LocalCluster
from aiocql.testing.polling import wait_until
from aiocql.testing.proxy import FaultProxy

pytestmark = pytest.mark.server

BASE = int(os.environ.get("AIOCQL_NODE_BASE", "1")) + 5
KS = "two_dcs"


@pytest.fixture(scope="module")
def two_dcs() -> Iterator[LocalCluster]:
    nodes = LocalCluster(2, dcs=2, base=BASE, name="twodc")
    nodes.start()
    try:
        asyncio.run(_schema(nodes.contact_points[0]))
        yield nodes
    finally:
        nodes.stop()


async def _schema(contact: str) -> None:
    async with Cluster([contact], local_dc="dc1") as cluster:
        session = await cluster.connect()
        await session.execute(f"DROP KEYSPACE IF EXISTS {KS}", timeout=60)
        await session.execute(
            f"CREATE KEYSPACE {KS} WITH replication = {{'class': 'NetworkTopologyStrategy', 'dc1': 1, 'dc2': 1}}",
            timeout=60,
        )
        await session.execute(f"CREATE TABLE {KS}.kv (k int PRIMARY KEY, v int)", timeout=60)


async def coordinators(session: Session, n: int = 12, **kw: object) -> Counter[str]:
    seen: Counter[str] = Counter()
    for k in range(n):
        rs = await session.execute(f"SELECT v FROM {KS}.kv WHERE k = {k}", **kw)  # type: ignore[arg-type]
        assert rs.coordinator is not None
        seen[rs.coordinator] += 1
    return seen


async def test_local_dc_is_inferred_and_requests_stay_in_it(two_dcs: LocalCluster) -> None:
    dc1, dc2 = two_dcs.contact_points
    assert {h.datacenter for h in (await _hosts(dc1))} == {"dc1", "dc2"}
    for contact, dc in ((dc1, "dc1"), (dc2, "dc2")):
        async with Cluster([contact]) as cluster:
            session = await cluster.connect()
            policy = cluster.load_balancing_policy
            assert isinstance(policy, TokenAwarePolicy) and isinstance(policy.child, DCAwareRoundRobinPolicy)
            assert policy.child.local_dc == dc
            assert len(session.pools) == 1  # the remote DC's node is IGNORED: no pool
            assert await coordinators(session) == Counter({contact: 12})
            # LOCAL_QUORUM: a quorum of the local DC's one replica.
            prepared = await session.prepare(f"INSERT INTO {KS}.kv (k, v) VALUES (?, ?)")
            await session.execute(prepared, (1, 10), consistency_level=ConsistencyLevel.LOCAL_QUORUM)
            rs = await session.execute(
                f"SELECT v FROM {KS}.kv WHERE k = 1", consistency_level=ConsistencyLevel.LOCAL_QUORUM
            )
            assert rs.one().v == 10 and rs.coordinator == contact


async def _hosts(contact: str) -> list[object]:
    async with Cluster([contact], load_balancing_policy=RoundRobinPolicy()) as cluster:
        await cluster.connect()
        return list(cluster.hosts)


async def test_a_wrong_local_dc_is_a_driver_error(two_dcs: LocalCluster) -> None:
    async with Cluster(two_dcs.contact_points[:1], local_dc="dc9") as cluster:
        with pytest.raises(DriverError, match=r"'dc9' is not a datacenter.*'dc1', 'dc2'"):
            await cluster.connect()
    async with Cluster(two_dcs.contact_points) as cluster:  # contact points in two DCs: which is local?
        with pytest.raises(DriverError, match="several datacenters"):
            await cluster.connect()


async def test_remote_dc_failover_only_when_allowed(two_dcs: LocalCluster) -> None:
    dc1, dc2 = two_dcs.contact_points
    strict = Cluster([dc1], connect_timeout=2.0)
    lenient = Cluster(
        [dc1],
        load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy("dc1", used_hosts_per_remote_dc=1)),
        connect_timeout=2.0,
    )
    async with strict, lenient:
        strict_session, lenient_session = await strict.connect(), await lenient.connect()
        assert await coordinators(lenient_session, 4) == Counter({dc1: 4})  # remote only after local
        await asyncio.to_thread(two_dcs.nodetool, 1, "disablebinary")  # dc1's node stops serving clients
        try:
            for cluster in (strict, lenient):
                host = cluster.state.host_at(dc1)
                assert host is not None
                await wait_until(lambda c=cluster, h=host: not c.is_up(h), timeout=20.0)
            with pytest.raises(NoHostAvailable):
                await strict_session.execute(f"SELECT v FROM {KS}.kv WHERE k = 1")
            assert await coordinators(lenient_session, 4) == Counter({dc2: 4})
        finally:
            await asyncio.to_thread(two_dcs.nodetool, 1, "enablebinary")
        host = lenient.state.host_at(dc1)
        assert host is not None
        await wait_until(lambda: lenient.is_up(host), timeout=30.0)
        assert await coordinators(lenient_session, 4) == Counter({dc1: 4})


async def test_lwt_goes_to_the_same_replica_every_time(two_dcs: LocalCluster) -> None:
    dc1, dc2 = two_dcs.contact_points
    policy = TokenAwarePolicy(RoundRobinPolicy())  # both DCs local: every key has two local replicas
    async with Cluster([dc1], load_balancing_policy=policy) as cluster:
        session = await cluster.connect(KS)
        # The server marks nothing as LWT (no prepared-metadata flag, no extension advertised here):
        # the driver recognizes conditional writes from their text.
        supported = await session.pools[0].connections[0].send(Options())
        assert isinstance(supported, Supported)
        assert not any("LWT" in key for key in supported.options), supported.options
        lwt = await session.prepare("UPDATE kv SET v = ? WHERE k = ? IF v = ?")
        plain = await session.prepare("UPDATE kv SET v = ? WHERE k = ?")
        assert lwt.is_lwt and not plain.is_lwt
        await session.execute(plain, (0, 7))
        lwt_coordinators: Counter[str] = Counter()
        for i in range(12):
            rs = await session.execute(lwt, (i + 1, 7, i))
            assert rs.one()[0] is True  # [applied]: each round saw the previous one's value
            lwt_coordinators[rs.coordinator] += 1
        plain_coordinators: Counter[str | None] = Counter()
        for _ in range(24):
            plain_coordinators[(await session.execute(plain, (0, 7))).coordinator] += 1
        token_map = cluster.state.token_map
        assert token_map is not None
        primary = token_map.replicas(KS, token_map.token_for(lwt.routing_key_from(lwt.encode((1, 7, 0))) or b""))[0]
        assert lwt_coordinators == Counter({primary.address: 12})
        assert set(plain_coordinators) == {dc1, dc2}  # plain writes spread over both replicas


async def test_a_peer_behind_nat_is_reached_through_the_translated_address(two_dcs: LocalCluster) -> None:
    dc1, dc2 = two_dcs.contact_points
    # The proxy is the NAT: dc2's node is reachable only at the proxy's address and port.
    async with FaultProxy(dc2, 9042, listen_host=f"127.0.0.{BASE + 3}") as nat:
        translator = MappingTranslator({dc2: (nat.host, nat.port)})
        policy = TokenAwarePolicy(RoundRobinPolicy())
        async with Cluster([dc1], address_translator=translator, load_balancing_policy=policy) as cluster:
            session = await cluster.connect()
            assert sorted((h.address, h.port) for h in cluster.hosts) == sorted([(dc1, 9042), (nat.host, nat.port)])
            assert nat.open_connections  # the pool to dc2's node goes through the NAT
            seen = await coordinators(session, 12)
            assert set(seen) == {dc1, nat.host}
            assert nat.bytes_to_client > 0


async def test_a_node_replaced_at_the_same_address_is_followed_as_a_new_host(two_dcs: LocalCluster) -> None:
    dc1, dc2 = two_dcs.contact_points
    policy = TokenAwarePolicy(RoundRobinPolicy())
    async with Cluster([dc1], load_balancing_policy=policy) as cluster:
        session = await cluster.connect()
        old = cluster.state.host_at(dc2)
        assert old is not None
        await asyncio.to_thread(two_dcs.replace_node, 2)

        def replaced() -> bool:
            host = cluster.state.host_at(dc2)
            pool = session.host_pools.get(host.host_id) if host is not None else None
            return (
                host is not None and host.host_id != old.host_id and cluster.state.get_host(old.host_id) is None
                and old.host_id not in session.host_pools and pool is not None and pool.is_up and cluster.is_up(host)
            )  # fmt: skip

        await wait_until(replaced, timeout=90.0, message=lambda: f"hosts: {cluster.hosts}")
        assert len(cluster.hosts) == 2
        # The fresh node may not have pulled the schema yet: a node-local table shows who served.
        seen = {(await session.execute("SELECT host_id FROM system.local")).coordinator for _ in range(12)}
        assert seen == {dc1, dc2}


async def test_a_node_back_at_a_new_address_with_its_data_is_followed(two_dcs: LocalCluster) -> None:
    dc1, dc2 = two_dcs.contact_points
    new_address = f"127.0.0.{BASE + 2}"
    policy = TokenAwarePolicy(RoundRobinPolicy())
    async with Cluster([dc1], load_balancing_policy=policy) as cluster:
        session = await cluster.connect()
        moving = cluster.state.host_at(dc2)
        assert moving is not None
        await asyncio.to_thread(two_dcs.move_node, 2, new_address)
        assert two_dcs.contact_points == [dc1, new_address]

        def followed() -> bool:
            host = cluster.state.get_host(moving.host_id)
            pool = session.host_pools.get(moving.host_id)
            return (
                host is not None and host.address == new_address and cluster.is_up(host)
                and pool is not None and pool.host == new_address and pool.is_up
            )  # fmt: skip

        await wait_until(followed, timeout=60.0, message=lambda: f"hosts: {cluster.hosts}")
        assert len(cluster.hosts) == 2
        seen = await coordinators(session, 12)
        assert set(seen) == {dc1, new_address}
