"""The control connection under failure: when its node dies it moves to another host (discovered through
the peers tables, or another contact point when the tables list none) and events keep flowing; schema
events are debounced into one refresh, and a change that arrives while a refresh is running is not lost."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from aiocql import ConstantReconnectionPolicy, RoundRobinPolicy
from aiocql.cluster.control import ControlConnection
from aiocql.connection.connection import ConnectionOptions
from aiocql.model.host_status import stand_in_id
from aiocql.protocol.constants import SchemaChangeTarget, SchemaChangeType, StatusChangeType
from aiocql.testing.fakeserver import ABORT, Event, FakeServer, Opcode, ReceivedRequest, Rows
from aiocql.testing.polling import wait_until
from aiocql.types import BOOLEAN, TEXT, MapType

from .fakecluster import cluster_of, control_node, fake_nodes, label_of, pool_of


def select(k: int) -> str:
    return f"SELECT k, v FROM kv WHERE k = {k}"


def schema_queries(node: FakeServer, table: str = "") -> list[ReceivedRequest]:
    return node.received(Opcode.QUERY, lambda r: r.query is not None and f"system_schema.{table}" in r.query)


async def check_control_moves(nodes: list[FakeServer], *, all_contact_points: bool, kill: bool = True) -> None:
    async with cluster_of(
        nodes, all_contact_points=all_contact_points, load_balancing_policy=RoundRobinPolicy(),
        contact_points_are_hosts=all_contact_points,  # with no peers listed, the contact points are the hosts
    ) as cluster:  # fmt: skip
        session = await cluster.connect()
        assert control_node(cluster, nodes) is nodes[0]
        if kill:
            await nodes[0].close()  # the control node dies
        else:
            nodes[0].drop_connections()  # it resets every connection (and stays up): the others are tried first
        await wait_until(
            lambda: cluster.control is not None and cluster.control.address in (nodes[1].host, nodes[2].host),
            timeout=5.0,
            message=lambda: f"control connection on {cluster.control and cluster.control.address}",
        )
        new_control = control_node(cluster, nodes)
        assert new_control.received(Opcode.REGISTER)
        # events keep flowing: the new control node reports the third node down
        third = nodes[2] if new_control is nodes[1] else nodes[1]
        host = cluster.state.host_at(third.host)
        assert host is not None and cluster.is_up(host)
        assert new_control.push_event(Event.status_change(StatusChangeType.DOWN, third.host, third.port)) == 1
        await wait_until(lambda: not cluster.is_up(host), timeout=10.0)
        # and requests still work, on the nodes that are up (the one reported down comes last in plans)
        rows = [await session.execute(select(k)) for k in range(4)]
        assert [rs.one() for rs in rows] == [(k, f"value-{k}") for k in range(4)]
        assert third.host not in {rs.coordinator for rs in rows}
        if kill:
            assert {rs.coordinator for rs in rows} == {new_control.host}


@pytest.mark.parametrize("kill", [True, False], ids=["node-dies", "connections-reset"])
async def test_the_control_connection_moves_to_a_peer_when_its_node_fails(kill: bool) -> None:
    async with fake_nodes(3) as nodes:
        await check_control_moves(nodes, all_contact_points=False, kill=kill)


async def test_the_control_connection_moves_to_another_contact_point_when_no_peers_are_listed() -> None:
    async with fake_nodes(3, peers=False) as nodes:
        await check_control_moves(nodes, all_contact_points=True)


async def test_a_contact_point_known_by_a_stand_in_keeps_its_pool_when_its_real_identity_is_read() -> None:
    async with fake_nodes(3, peers=False) as nodes, cluster_of(
        nodes, all_contact_points=True, contact_points_are_hosts=True, load_balancing_policy=RoundRobinPolicy()
    ) as cluster:  # fmt: skip
        session = await cluster.connect()
        pool = pool_of(session, nodes[1])
        (conn,) = pool.connections
        assert pool.host_info.host_id == stand_in_id(nodes[1].host, nodes[1].port)  # no peers row names it
        await nodes[0].close()  # the control connection moves to nodes[1] and reads its system.local
        await wait_until(lambda: pool.host_info.host_id == nodes[1].host_id, timeout=5.0)
        # Re-keyed, not replaced: the same pool and connection, under the real id, and the host is up.
        assert pool_of(session, nodes[1]) is pool and pool.connections == [conn] and not conn.is_closed
        host = cluster.state.get_host(nodes[1].host_id)
        assert host is not None and cluster.is_up(host) and session.host_pools.get(host.host_id) is pool
        assert cluster.state.get_host(stand_in_id(nodes[1].host, nodes[1].port)) is None
        # The node's gauges read the cluster's pool registry: they count the re-keyed pool.
        assert cluster.metrics.node(label_of(nodes[1])).gauges()["open_connections"] == 1


async def test_a_burst_of_schema_events_causes_one_refresh() -> None:
    async with fake_nodes(3) as nodes, cluster_of(nodes) as cluster:
        await cluster.connect()
        control = control_node(cluster, nodes)
        baseline = len(schema_queries(control))
        assert baseline == 8  # the refresh at connect: one query per system_schema table
        for i in range(20):
            event = Event.schema_change(SchemaChangeType.CREATED, SchemaChangeTarget.TABLE, "ks", f"t{i}")
            assert control.push_event(event) == 1
        await wait_until(lambda: len(schema_queries(control)) >= baseline + 8, timeout=10.0)
        assert cluster.control is not None

        def settled() -> bool:
            return cluster.control is not None and not cluster.control.refreshing and not cluster.refreshing_schema

        await wait_until(settled, timeout=10.0)
        assert len(schema_queries(control)) == baseline + 8
        assert all(not schema_queries(n) for n in nodes if n is not control)


KEYSPACE_COLUMNS = [("keyspace_name", TEXT), ("durable_writes", BOOLEAN), ("replication", MapType(TEXT, TEXT))]


async def test_a_schema_change_during_a_refresh_is_not_lost() -> None:
    keyspaces = ["ks1"]
    gate = asyncio.Event()
    held: list[ReceivedRequest] = []

    async def keyspace_rows(req: ReceivedRequest) -> Rows:
        # A refresh after one event reads only the keyspace it names ("... WHERE keyspace_name = 'ks2'").
        wanted = (req.query or "").partition("WHERE keyspace_name = ")[2].strip("'") or None
        rows = [
            (ks, True, {"class": "SimpleStrategy", "replication_factor": "1"})
            for ks in keyspaces
            if wanted is None or ks == wanted
        ]  # read now
        if len(keyspaces) > 1 and not gate.is_set():
            held.append(req)
            await gate.wait()  # ...answered later: the refresh is slow
        return Rows(KEYSPACE_COLUMNS, rows, keyspace="system_schema", table="keyspaces")

    async with fake_nodes(2) as nodes:
        for node in nodes:
            node.on(Opcode.QUERY, match=lambda r: (r.query or "").startswith("SELECT * FROM system_schema.keyspaces"),
                    reply=keyspace_rows)  # fmt: skip
        async with cluster_of(nodes) as cluster:
            await cluster.connect()
            assert sorted(cluster.metadata) == ["ks1"]
            control = control_node(cluster, nodes)
            keyspaces.append("ks2")
            control.push_event(Event.schema_change(SchemaChangeType.CREATED, SchemaChangeTarget.KEYSPACE, "ks2"))
            await wait_until(lambda: held, timeout=10.0)  # the refresh read its rows, before ks3 existed
            keyspaces.append("ks3")
            control.push_event(Event.schema_change(SchemaChangeType.CREATED, SchemaChangeTarget.KEYSPACE, "ks3"))
            watcher = cluster.control
            assert watcher is not None
            await wait_until(lambda: watcher.events_pending, timeout=10.0)  # the event arrived...
            await wait_until(lambda: not watcher.events_pending and not watcher.refreshing,
                             timeout=2.0)  # ...and was passed on (debounced) while the refresh still ran  # fmt: skip
            gate.set()
            await wait_until(
                lambda: sorted(cluster.metadata) == ["ks1", "ks2", "ks3"],
                timeout=3.0,
                message=lambda: f"metadata has {sorted(cluster.metadata)}",
            )


async def test_a_candidate_that_fails_during_setup_leaves_one_control_connection() -> None:
    # The first node drops the control connection while it reads system.local: the control connection
    # moves on to the next node, and the dropped candidate's late "connection lost" must not start a
    # second control connection (nor forget the live one).
    async with fake_nodes(3) as nodes:
        nodes[0].on(Opcode.QUERY, match=lambda r: r.query is not None and "system.local" in r.query, reply=ABORT,
                    times=1)  # fmt: skip
        async with cluster_of(nodes, all_contact_points=True) as cluster:
            session = await cluster.connect()
            assert cluster.control is not None and cluster.control.address == nodes[1].host

            def registered() -> list[object]:
                return [c for n in nodes for c in n.open_connections if c.id in n.control_connections]

            await wait_until(lambda: cluster.control is not None and not cluster.control.reconnecting, timeout=10.0)
            assert len(registered()) == 1
            assert cluster.control.conn is not None and not cluster.control.conn.is_closed
            assert len(session.pools) == 3
            await cluster.close()
            await wait_until(lambda: not registered(), timeout=10.0)


class _Quiet:
    """A control-connection listener that ignores what it is told."""

    def on_topology(self, hosts: object, partitioner: object) -> None:
        pass

    def on_status(self, address: str, up: bool) -> None:
        pass

    def on_schema_change(self, event: object) -> None:
        pass


async def test_the_control_connection_reconnects_on_the_reconnection_policy_schedule() -> None:
    policy = ConstantReconnectionPolicy(0.3, max_attempts=2)
    async with fake_nodes(1) as (node,):
        async with cluster_of([node], reconnection_policy=policy) as cluster:
            await cluster.connect()
            assert cluster.control is not None and cluster.control.reconnection is policy  # the cluster's own
        control = ControlConnection(ConnectionOptions(port=node.port), version=5, listener=_Quiet(),
                                    reconnection=policy)  # fmt: skip
        await control.connect([node.host])
        try:
            before = len(node.received(Opcode.STARTUP))
            node.on(Opcode.STARTUP, reply=ABORT)  # from now on every attempt fails in its handshake
            node.drop_connections()
            await wait_until(lambda: control.reconnecting, timeout=10.0)
            await wait_until(lambda: not control.reconnecting, timeout=5.0)  # the schedule ended: it gave up
            attempts = [r.time for r in node.received(Opcode.STARTUP)[before:]]
            # A first attempt at once, then one after each of the policy's two delays, and no more.
            assert len(attempts) == 3, attempts
            assert all(later - earlier >= 0.3 - 0.02 for earlier, later in itertools.pairwise(attempts))
            assert control.conn is None
            node.rules.clear()  # the node answers again, and a host is known to be reachable: wake it
            control.wake()
            await wait_until(lambda: control.conn is not None, timeout=10.0)
        finally:
            await control.close()
