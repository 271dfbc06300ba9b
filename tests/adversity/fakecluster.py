"""Several fake nodes that form one cluster (each lists the others in its peers tables), and helpers to
find, from the driver's side, what belongs to which node: its pool, its metrics label, the control node."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiocql import Cluster, Session
from aiocql.pool.host_pool import HostPool
from aiocql.protocol.constants import EventType
from aiocql.protocol.primitives import write_inet, write_string
from aiocql.testing.fakeserver import Event, FakeServer, Opcode, ReceivedRequest, introduce, start_fake_servers

from .conftest import echo_row, is_kv


@asynccontextmanager
async def fake_nodes(count: int, *, peers: bool = True, **kwargs: Any) -> AsyncIterator[list[FakeServer]]:
    """``count`` fake nodes on 127.0.0.1..count (one port) answering kv reads with their own row;
    with ``peers`` they list each other in their peers tables. Fails the test if a node could not
    decode what the driver sent."""
    nodes = await start_fake_servers(count, **kwargs)
    if peers:
        introduce(nodes)
    for node in nodes:
        node.on(Opcode.QUERY, match=is_kv, reply=echo_row)
    try:
        yield nodes
        for node in nodes:
            assert node.errors == [], node.errors
    finally:
        for node in nodes:
            await node.close()


def cluster_of(nodes: list[FakeServer], *, all_contact_points: bool = False, **kwargs: Any) -> Cluster:
    """A cluster whose one contact point is the first node (the others are discovered), or all of them."""
    points = [n.host for n in nodes] if all_contact_points else [nodes[0].host]
    kwargs.setdefault("protocol_version", 5)
    return Cluster(points, port=nodes[0].port, **kwargs)


def pool_of(session: Session, node: FakeServer) -> HostPool:
    """The session's pool for ``node``."""
    found = [p for p in session.pools if p.host == node.host]
    assert len(found) == 1, (node, session.pools)
    return found[0]


def label_of(node: FakeServer) -> str:
    """The ``node`` label of a fake node in the metrics."""
    return f"{node.host}:{node.port}"


def control_node(cluster: Cluster, nodes: list[FakeServer]) -> FakeServer:
    """The node the cluster's control connection is on."""
    assert cluster.control is not None and cluster.control.address is not None
    return next(n for n in nodes if n.host == cluster.control.address)


def kv_requests(nodes: list[FakeServer], match: Callable[[ReceivedRequest], bool] = is_kv) -> list[ReceivedRequest]:
    """Every kv QUERY any node received."""
    return [r for n in nodes for r in n.received(Opcode.QUERY, match)]


def topology_change(change: str, node: FakeServer) -> Event:
    """A TOPOLOGY_CHANGE event (NEW_NODE / REMOVED_NODE) for ``node``."""
    return Event(write_string(EventType.TOPOLOGY_CHANGE) + write_string(change) + write_inet(node.host, node.port))


class Gate:
    """Holds requests at a fake node until opened (a handler: ``node.on(..., reply=gate.hold)``), counting
    how many are held at once and the most ever held together."""

    def __init__(self, reply: Callable[[ReceivedRequest], Any] = echo_row) -> None:
        self.reply = reply
        self.opened = asyncio.Event()
        self.held = 0
        self.peak = 0
        self.order: list[ReceivedRequest] = []

    async def hold(self, req: ReceivedRequest) -> Any:
        self.order.append(req)
        self.held += 1
        self.peak = max(self.peak, self.held)
        try:
            await self.opened.wait()
        finally:
            self.held -= 1
        return self.reply(req)

    def open(self) -> None:
        self.opened.set()


__all__ = [
    "Gate",
    "cluster_of",
    "control_node",
    "fake_nodes",
    "kv_requests",
    "label_of",
    "pool_of",
    "topology_change",
]
