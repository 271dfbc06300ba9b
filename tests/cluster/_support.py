"""Helpers shared by the three-node tests: keyspaces, the server's own view of replicas, node handles."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from aiocql import ExecutionProfile, HostFilterPolicy, RoundRobinPolicy, Session
from aiocql.testing.launcher import LocalCluster
from aiocql.testing.pytest_plugin import ServerInfo

_RANGE = re.compile(r"TokenRange\(start_token:(-?\d+), end_token:(-?\d+), endpoints:\[([^\]]*)\]")


def local_cluster(info: ServerInfo) -> LocalCluster:
    """The launcher's handle on the three nodes (every test here runs on nodes the plugin started)."""
    assert info.cluster is not None, "these tests need the nodes the plugin starts (cluster3)"
    return info.cluster


async def create_keyspace(session: Session, name: str, rf: int) -> None:
    """A fresh SimpleStrategy keyspace with replication factor ``rf``, agreed on by every node."""
    await session.execute(f"DROP KEYSPACE IF EXISTS {name}", timeout=60)
    rs = await session.execute(
        f"CREATE KEYSPACE {name} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': {rf}}}",
        timeout=60,
    )
    assert rs.schema_agreement is True


@dataclass(frozen=True, slots=True)
class TokenRange:
    """One range of ``nodetool describering``: tokens in (start, end], wrapping past the largest token."""

    start: int
    end: int
    endpoints: frozenset[str]

    def __contains__(self, token: int) -> bool:
        if self.start < self.end:
            return self.start < token <= self.end
        return token > self.start or token <= self.end  # the range that wraps around the ring


async def server_ring(info: ServerInfo, keyspace: str, node: int = 1) -> list[TokenRange]:
    """The server's own ranges and replica endpoints for ``keyspace`` (``nodetool describering``)."""
    text = await asyncio.to_thread(local_cluster(info).nodetool, node, "describering", keyspace)
    ranges = [
        TokenRange(int(start), int(end), frozenset(e.strip() for e in endpoints.split(",") if e.strip()))
        for start, end, endpoints in _RANGE.findall(text)
    ]
    assert ranges, f"no token range in describering output:\n{text}"
    return ranges


def server_replicas(ring: list[TokenRange], token: int) -> frozenset[str]:
    """The endpoints of the one range holding ``token`` (a token computed by the server, ``token(k)``)."""
    holding = [r.endpoints for r in ring if token in r]
    assert len(holding) == 1, f"token {token} is in {len(holding)} ranges of {ring}"
    return holding[0]


async def getendpoints(info: ServerInfo, keyspace: str, table: str, key: object) -> frozenset[str]:
    """``nodetool getendpoints``: the server's replicas of one partition key."""
    text = await asyncio.to_thread(local_cluster(info).nodetool, 1, "getendpoints", keyspace, table, str(key))
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def on_node(address: str) -> ExecutionProfile:
    """An execution profile whose plan is the one node at ``address`` (to read node-local tables)."""
    return ExecutionProfile(load_balancing_policy=HostFilterPolicy(RoundRobinPolicy(), lambda h: h.address == address))


async def schema_versions(session: Session, addresses: list[str]) -> dict[str, object]:
    """Each node's own ``system.local.schema_version``, read on that node."""
    out: dict[str, object] = {}
    for address in addresses:
        rs = await session.execute("SELECT schema_version FROM system.local", execution_profile=on_node(address))
        assert rs.coordinator == address
        row = rs.one()
        assert row is not None
        out[address] = row.schema_version
    return out
