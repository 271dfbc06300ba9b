"""A STATUS_CHANGE DOWN outranks a pool that reconnects: a node shutting down gracefully announces itself down
but accepts connections for a few more seconds (seen on real Cassandra 5.0 nodes: tests/cluster), and a pool
reconnecting meanwhile must not mark it up again. The node's UP event does; so does a new control connection,
on which the UP event may have been missed. The pool reconnects at once, often before the DOWN event comes:
a connection replacing a lost one counts only after ``UP_SETTLE`` seconds without a DOWN event. The settle
time runs on a :class:`~aiocql.testing.clock.ManualClock` the tests step, not on the wall clock."""

from __future__ import annotations

from aiocql import Host
from aiocql.cluster.cluster import HostStateListener
from aiocql.model.host_status import UP_SETTLE
from aiocql.protocol.constants import StatusChangeType
from aiocql.testing.clock import ManualClock
from aiocql.testing.fakeserver import Event
from aiocql.testing.polling import wait_until

from .fakecluster import cluster_of, control_node, fake_nodes, pool_of


async def test_a_pool_reconnecting_after_a_down_event_leaves_the_host_down_until_its_up_event() -> None:
    async with fake_nodes(3) as nodes, cluster_of(nodes) as cluster:
        session = await cluster.connect()
        control = control_node(cluster, nodes)
        target = next(n for n in nodes if n is not control)
        host = cluster.state.host_at(target.host)
        assert host is not None and cluster.is_up(host)
        pool = pool_of(session, target)
        first = pool.connections[0]

        control.push_event(Event.status_change(StatusChangeType.DOWN, target.host, target.port))
        await wait_until(lambda: not cluster.is_up(host), timeout=10.0)
        # The node drops its clients but still accepts new ones (a graceful shutdown): the pool reconnects.
        target.drop_connections()
        await wait_until(lambda: pool.is_up and pool.connections and pool.connections[0] is not first, timeout=10.0)
        # Fails without the fix: the reconnected pool marked the host up although the server said DOWN.
        assert not cluster.is_up(host)

        control.push_event(Event.status_change(StatusChangeType.UP, target.host, target.port))
        await wait_until(lambda: cluster.is_up(host), timeout=10.0)


async def test_a_new_control_connection_trusts_the_pools_again() -> None:
    async with fake_nodes(3) as nodes, cluster_of(nodes, all_contact_points=True) as cluster:
        session = await cluster.connect()
        control = control_node(cluster, nodes)
        target = next(n for n in nodes if n is not control)
        host = cluster.state.host_at(target.host)
        assert host is not None
        pool = pool_of(session, target)

        control.push_event(Event.status_change(StatusChangeType.DOWN, target.host, target.port))
        await wait_until(lambda: not cluster.is_up(host), timeout=10.0)
        assert pool.is_up  # its connection is fine: only the server's report says down
        # The control connection is lost and moves to another node: an UP event sent meanwhile would be
        # lost, so the report of DOWN is forgotten and the connected pool counts again.
        control.drop_connections()
        await wait_until(lambda: cluster.control is not None and cluster.control.address not in (None, control.host),
                         timeout=5.0)  # fmt: skip
        await wait_until(lambda: cluster.is_up(host), timeout=10.0)


class Transitions(HostStateListener):
    def __init__(self, address: str, clock: ManualClock) -> None:
        self.address = address
        self.clock = clock
        self.seen: list[tuple[float, str]] = []

    def _add(self, host: Host, kind: str) -> None:
        if host.address == self.address:
            self.seen.append((self.clock.time(), kind))

    def on_up(self, host: Host) -> None:
        self._add(host, "up")

    def on_down(self, host: Host) -> None:
        self._add(host, "down")


async def test_a_down_event_arriving_after_the_pool_reconnected_leaves_no_up_in_between() -> None:
    async with fake_nodes(3) as nodes, cluster_of(nodes) as cluster:
        clock = ManualClock().install(cluster)
        session = await cluster.connect()
        control = control_node(cluster, nodes)
        target = next(n for n in nodes if n is not control)
        host = cluster.state.host_at(target.host)
        assert host is not None
        pool = pool_of(session, target)
        first = pool.connections[0]
        transitions = Transitions(target.host, clock)
        cluster.add_listener(transitions)

        target.drop_connections()  # the shutdown begins: clients dropped, new ones still accepted
        await wait_until(lambda: pool.is_up and pool.connections and pool.connections[0] is not first, timeout=10.0)
        clock.advance(UP_SETTLE / 2)  # the DOWN event comes a moment after the pool has reconnected
        assert not cluster.is_up(host)  # settling: the reconnected pool does not count yet
        control.push_event(Event.status_change(StatusChangeType.DOWN, target.host, target.port))
        await wait_until(lambda: cluster.reported_down(host), timeout=10.0)
        clock.advance(UP_SETTLE)  # well past the settle time
        # Fails without the settle time: the reconnected pool marked the host up before the DOWN event.
        assert [kind for _, kind in transitions.seen] == ["down"]
        assert not cluster.is_up(host)


async def test_a_dropped_connection_without_a_down_event_is_up_again_after_the_settle_time() -> None:
    async with fake_nodes(3) as nodes, cluster_of(nodes) as cluster:
        clock = ManualClock().install(cluster)
        session = await cluster.connect()
        control = control_node(cluster, nodes)
        target = next(n for n in nodes if n is not control)
        host = cluster.state.host_at(target.host)
        assert host is not None
        pool = pool_of(session, target)
        first = pool.connections[0]
        transitions = Transitions(target.host, clock)
        cluster.add_listener(transitions)
        target.drop_connections()
        await wait_until(lambda: pool.is_up and pool.connections and pool.connections[0] is not first, timeout=10.0)
        assert [kind for _, kind in transitions.seen] == ["down"] and not cluster.is_up(host)
        clock.advance(UP_SETTLE * 0.99)
        assert not cluster.is_up(host)  # fails if the host came back at once (no settle)
        clock.advance(UP_SETTLE * 0.02)
        assert cluster.is_up(host)  # fails if it did not come back once the settle time passed
        (down_at, down), (up_at, up) = transitions.seen
        assert (down, up) == ("down", "up") and up_at - down_at == UP_SETTLE
        assert pool.is_up and not cluster.reported_down(host)
