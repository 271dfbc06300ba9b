"""Token-aware routing on three real nodes: prepared point reads go to a replica of their key.

The driver's view (its token map) is checked against the server's own view: the server computes each
key's token (``token(k)`` in the read itself) and says which nodes replicate each token range
(``nodetool describering``) or each key (``nodetool getendpoints``).

With RF 3 on three nodes every node is a replica of every key, so "the coordinator is a replica" holds
for any policy; the RF 1 tests are the ones that tell token-aware routing from round robin, and the
round-robin control shows that they can fail.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from aiocql import Cluster, ConsistencyLevel, DCAwareRoundRobinPolicy, LoadBalancingPolicy, PreparedStatement, Session
from aiocql.model.token_map import token_for
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

from ._support import TokenRange, create_keyspace, getendpoints, server_replicas, server_ring

pytestmark = pytest.mark.cluster3

KEYSPACES = {1: "tok_rf1", 2: "tok_rf2", 3: "tok_rf3"}
READS = 1000


async def _load(info: ServerInfo) -> None:
    async with Cluster(**cluster_kwargs(info)) as cluster:
        session = await cluster.connect()
        for rf, ks in KEYSPACES.items():
            await create_keyspace(session, ks, rf)
            rs = await session.execute(f"CREATE TABLE {ks}.t (k int PRIMARY KEY, v int)", timeout=60)
            assert rs.schema_agreement is True
            insert = await session.prepare(f"INSERT INTO {ks}.t (k, v) VALUES (?, ?)")
            keys = iter(range(READS))

            async def writer(insert: PreparedStatement = insert, keys: Iterator[int] = keys) -> None:
                for k in keys:
                    await session.execute(insert, (k, k * 10), consistency_level=ConsistencyLevel.ALL)

            await asyncio.gather(*(writer() for _ in range(16)))


@pytest.fixture(scope="module")
def keyspaces() -> dict[int, str]:
    """tok_rf1, tok_rf2, tok_rf3, each with ``t (k int PRIMARY KEY, v int)`` holding keys 0..999.

    Loaded once for the module (the plugin's ``cassandra`` fixture is per test, hence its manager here).
    """
    from aiocql.testing.pytest_plugin import _MANAGER, ServerMode

    asyncio.run(_load(_MANAGER.get(ServerMode(nodes=3))))
    return KEYSPACES


@dataclass(frozen=True, slots=True)
class Read:
    key: int
    coordinator: str  # the node that answered (rs.coordinator)
    server_token: int  # token(k), computed by the server
    driver_token: int  # Murmur3 of the routing key, computed by the driver
    driver_replicas: frozenset[str]  # cluster.state.token_map.replicas(...)


async def _reads(cluster: Cluster, session: Session, ks: str, keys: list[int]) -> list[Read]:
    ps = await session.prepare(f"SELECT k, v, token(k) AS tk FROM {ks}.t WHERE k = ?")
    out: list[Read] = []
    pending = iter(keys)

    async def worker() -> None:
        for k in pending:
            bound = ps.bind((k,))
            rs = await session.execute(bound, consistency_level=ConsistencyLevel.ONE)
            row = rs.one()
            assert row is not None and row.k == k and row.v == k * 10
            assert bound.routing_key is not None
            token = token_for(bound.routing_key)
            token_map = cluster.state.token_map
            assert token_map is not None
            replicas = frozenset(h.address for h in token_map.replicas(ks, token))
            out.append(Read(k, rs.coordinator, row.tk, token, replicas))

    await asyncio.gather(*(worker() for _ in range(8)))
    assert len(out) == len(keys)
    return out


async def _run(
    info: ServerInfo, rf: int, policy: LoadBalancingPolicy | None = None
) -> tuple[list[Read], list[TokenRange]]:
    ks = KEYSPACES[rf]
    async with Cluster(**cluster_kwargs(info, load_balancing_policy=policy)) as cluster:
        session = await cluster.connect()
        reads = await _reads(cluster, session, ks, list(range(READS)))
    return reads, await server_ring(info, ks)


def _share(reads: list[Read], hit: list[bool]) -> float:
    return sum(hit) / len(reads)


async def test_rf3_coordinator_is_a_replica_and_replicas_share_the_load(
    cassandra: ServerInfo, keyspaces: dict[int, str]
) -> None:
    reads, ring = await _run(cassandra, 3)
    # The driver hashes keys exactly as the server does.
    assert all(r.driver_token == r.server_token for r in reads)
    # Fails if the token map gives fewer than 3 replicas for RF 3 (then the coordinator would often not be one).
    assert all(len(r.driver_replicas) == 3 for r in reads)
    by_driver = _share(reads, [r.coordinator in r.driver_replicas for r in reads])
    by_server = _share(reads, [r.coordinator in server_replicas(ring, r.server_token) for r in reads])
    per_node = Counter(r.coordinator for r in reads)
    print(f"\nRF3: coordinator a replica {by_driver:.1%} (driver's map), {by_server:.1%} (server's ring); {per_node}")
    assert by_driver >= 0.99 and by_server >= 0.99
    # The replicas are shuffled (TokenAwarePolicy's default): each of the three nodes coordinates about a
    # third of the reads. Fails if the driver always picked the primary replica of each key (the shares
    # would then follow token ownership) or a single node.
    assert sorted(per_node) == sorted(cassandra.contact_points)
    assert all(0.2 <= n / READS <= 0.47 for n in per_node.values()), per_node


async def test_rf1_coordinator_is_the_one_replica(cassandra: ServerInfo, keyspaces: dict[int, str]) -> None:
    reads, ring = await _run(cassandra, 1)
    assert all(r.driver_token == r.server_token for r in reads)
    assert all(len(r.driver_replicas) == 1 for r in reads)
    by_driver = _share(reads, [r.coordinator in r.driver_replicas for r in reads])
    by_server = _share(reads, [{r.coordinator} == server_replicas(ring, r.server_token) for r in reads])
    print(
        f"\nRF1 token-aware: coordinator is THE replica {by_driver:.1%} (driver's map), {by_server:.1%} (server's ring)"
    )
    # Each key has one replica; a policy that is not token-aware hits it a third of the time (next test).
    assert by_driver >= 0.99
    assert by_server >= 0.99
    # Every node owns keys, so every node coordinated some reads.
    assert {r.coordinator for r in reads} == set(cassandra.contact_points)


async def test_rf1_round_robin_control_hits_the_replica_a_third_of_the_time(
    cassandra: ServerInfo, keyspaces: dict[int, str]
) -> None:
    # The control for the test above: the same reads with a policy that ignores tokens. It shows the
    # measurement can fail: only ~1/3 of the coordinators are the key's replica.
    reads, ring = await _run(cassandra, 1, DCAwareRoundRobinPolicy())
    by_driver = _share(reads, [r.coordinator in r.driver_replicas for r in reads])
    by_server = _share(reads, [{r.coordinator} == server_replicas(ring, r.server_token) for r in reads])
    print(f"\nRF1 round robin: coordinator is the replica {by_driver:.1%} (driver's map), {by_server:.1%} (server's)")
    assert 0.2 <= by_driver <= 0.5
    assert 0.2 <= by_server <= 0.5


@pytest.mark.parametrize("rf", [1, 2])
async def test_driver_replicas_equal_the_servers(cassandra: ServerInfo, keyspaces: dict[int, str], rf: int) -> None:
    ks = KEYSPACES[rf]
    keys = random.Random(rf).sample(range(READS), 100)
    async with Cluster(**cluster_kwargs(cassandra)) as cluster:
        session = await cluster.connect()
        reads = await _reads(cluster, session, ks, keys)
    ring = await server_ring(cassandra, ks)
    # The server's replicas of each of the 100 keys: its own token for the key, in its own ranges.
    mismatched = [(r.key, r.driver_replicas, server_replicas(ring, r.server_token)) for r in reads
                  if r.driver_replicas != server_replicas(ring, r.server_token)]  # fmt: skip
    assert not mismatched
    assert all(len(r.driver_replicas) == rf for r in reads)
    # And straight from `nodetool getendpoints` for some of them (one JVM per key: ~1 s each, so a
    # sample of 10 rather than all 100; describering above answers for the same server state).
    sample = reads[:10]
    endpoints = await asyncio.gather(*(getendpoints(cassandra, ks, "t", r.key) for r in sample))
    assert [set(e) for e in endpoints] == [set(r.driver_replicas) for r in sample]
