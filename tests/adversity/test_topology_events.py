"""Server events through the control connection, seen in the cluster state, the pools and the plans:
STATUS_CHANGE DOWN marks a host down (plans put it last), UP marks it up and reconnects its pool at once
(not after the back-off); TOPOLOGY_CHANGE NEW_NODE adds a host and a pool, REMOVED_NODE removes both (and
the node's metrics). A down host's pool reconnects on the reconnection policy's schedule."""

from __future__ import annotations

from collections.abc import Iterator

from aiocql import ConstantReconnectionPolicy, RequestInfo, RoundRobinPolicy
from aiocql.protocol.constants import StatusChangeType
from aiocql.testing.fakeserver import ABORT, Event, FakeServer, Opcode
from aiocql.testing.polling import wait_until

from .conftest import echo_row, is_kv
from .fakecluster import cluster_of, control_node, fake_nodes, label_of, pool_of, topology_change


def select(k: int) -> str:
    return f"SELECT k, v FROM kv WHERE k = {k}"


async def test_status_down_puts_the_host_last_and_up_brings_it_back() -> None:
    async with fake_nodes(3) as nodes:
        policy = RoundRobinPolicy()
        async with cluster_of(nodes, load_balancing_policy=policy) as cluster:
            session = await cluster.connect()
            control = control_node(cluster, nodes)
            target = nodes[1] if control is not nodes[1] else nodes[2]
            host = cluster.state.host_at(target.host)
            assert host is not None and cluster.is_up(host)
            control.push_event(Event.status_change(StatusChangeType.DOWN, target.host, target.port))
            await wait_until(lambda: not cluster.is_up(host), timeout=10.0)
            for _ in range(6):
                assert list(policy.plan(RequestInfo(), cluster.state))[-1] == host
            for k in range(6):  # its pool is still open, but plans try the up hosts first
                assert (await session.execute(select(k))).coordinator != target.host
            assert target.received(Opcode.QUERY, is_kv) == []

            control.push_event(Event.status_change(StatusChangeType.UP, target.host, target.port))
            await wait_until(lambda: cluster.is_up(host), timeout=10.0)
            coordinators = {(await session.execute(select(k))).coordinator for k in range(6)}
            assert coordinators == {n.host for n in nodes}


async def test_status_up_reconnects_the_pool_at_once() -> None:
    # 30 s between attempts: without the UP event the pool would not reconnect within the test
    slow = ConstantReconnectionPolicy(30.0)
    async with fake_nodes(3) as nodes, cluster_of(nodes, reconnection_policy=slow) as cluster:
        session = await cluster.connect()
        control = control_node(cluster, nodes)
        target = nodes[1] if control is not nodes[1] else nodes[2]
        host = cluster.state.host_at(target.host)
        assert host is not None
        pool = pool_of(session, target)
        await target.close()  # the node dies...
        await wait_until(lambda: not cluster.is_up(host) and not pool.connections, timeout=10.0)
        # ...its pool tried once at once, failed, and now waits out the schedule's 30 s
        await wait_until(lambda: pool.backing_off, timeout=10.0)
        revived = await FakeServer(target.host, target.port).start()  # the node restarts
        try:
            revived.host_id = target.host_id
            revived.on(Opcode.QUERY, match=is_kv, reply=echo_row)
            assert revived.received(Opcode.STARTUP) == []
            control.push_event(Event.status_change(StatusChangeType.UP, target.host, target.port))
            await wait_until(lambda: pool.connections and pool.is_up and cluster.is_up(host), timeout=10.0)
            assert len(revived.received(Opcode.STARTUP)) == 1
            rows = [await session.execute(select(k)) for k in range(9)]
            assert target.host in {rs.coordinator for rs in rows}
        finally:
            await revived.close()


async def test_new_node_adds_a_host_and_a_pool_and_removed_node_takes_them_away() -> None:
    async with fake_nodes(3) as nodes, cluster_of(nodes, load_balancing_policy=RoundRobinPolicy()) as cluster:
        session = await cluster.connect()
        control = control_node(cluster, nodes)
        newcomer = await FakeServer("127.0.0.4", nodes[0].port).start()
        try:
            newcomer.on(Opcode.QUERY, match=is_kv, reply=echo_row)
            newcomer.schema_version = nodes[0].schema_version
            for node in nodes:
                node.peers.append(newcomer.peer_row())
            control.push_event(topology_change("NEW_NODE", newcomer))
            await wait_until(lambda: cluster.state.host_at(newcomer.host) is not None, timeout=10.0)
            host = cluster.state.host_at(newcomer.host)
            assert host is not None and host.host_id == newcomer.host_id and cluster.is_up(host)
            await wait_until(lambda: any(p.host == newcomer.host and p.is_up for p in session.pools), timeout=10.0)
            coordinators = [(await session.execute(select(k))).coordinator for k in range(8)]
            assert coordinators.count(newcomer.host) == 2  # round robin over four hosts
            assert label_of(newcomer) in cluster.metrics.nodes

            leaving = nodes[2] if control is not nodes[2] else nodes[1]
            for node in [*nodes, newcomer]:
                node.peers = [r for r in node.peers if r["host_id"] != leaving.host_id]
            control.push_event(topology_change("REMOVED_NODE", leaving))
            await wait_until(lambda: cluster.state.host_at(leaving.host) is None, timeout=10.0)
            await wait_until(lambda: all(p.host != leaving.host for p in session.pools), timeout=10.0)
            await wait_until(lambda: not leaving.open_connections, timeout=10.0)  # its pool was closed
            assert label_of(leaving) not in cluster.metrics.nodes  # and its metrics dropped
            before = len(leaving.received(Opcode.QUERY, is_kv))
            coordinators = [(await session.execute(select(k))).coordinator for k in range(9)]
            assert leaving.host not in coordinators and len(leaving.received(Opcode.QUERY, is_kv)) == before
            assert len(cluster.hosts) == 3
        finally:
            await newcomer.close()


class RecordingReconnection:
    """A reconnection policy that counts its schedules and hands out two short delays per schedule."""

    def __init__(self) -> None:
        self.schedules = 0
        self.delays_taken = 0

    def new_schedule(self) -> Iterator[float]:
        self.schedules += 1
        for _ in range(2):
            self.delays_taken += 1
            yield 0.05


async def test_a_down_host_reconnects_on_the_policy_schedule_then_waits_for_up() -> None:
    policy = RecordingReconnection()
    async with fake_nodes(2) as nodes, cluster_of(nodes, reconnection_policy=policy) as cluster:
        session = await cluster.connect()
        control = control_node(cluster, nodes)
        target = nodes[1] if control is not nodes[1] else nodes[0]
        pool = pool_of(session, target)
        startups = len(target.received(Opcode.STARTUP))
        refused = target.on(Opcode.STARTUP, reply=ABORT)  # the node is up but drops every new connection
        target.drop_connections(abort=False)  # ...and closes the pool's connection
        # a first attempt at once, then one after each of the schedule's two delays; then it stops
        await wait_until(lambda: len(target.received(Opcode.STARTUP)) - startups >= 3 and not pool.reconnecting
                         and not pool.connections, timeout=3.0)  # fmt: skip
        assert len(target.received(Opcode.STARTUP)) - startups == 3
        assert policy.delays_taken == 2
        host = cluster.state.host_at(target.host)
        assert host is not None and not cluster.is_up(host)
        # the server reports the node up: the pool tries again, at once, and gets in
        refused.remove()
        control.push_event(Event.status_change(StatusChangeType.UP, target.host, target.port))
        await wait_until(lambda: pool.connections and cluster.is_up(host), timeout=10.0)
        assert len(target.received(Opcode.STARTUP)) - startups == 4
