"""``nodetool disablebinary`` / ``enablebinary`` on a real node under load: the driver stops using the node
without failing a request, marks it down, and uses it again once it accepts CQL again.

The node stays in the ring (gossip and storage run on), so QUORUM reads keep all three replicas: only the
native transport goes away. Done on node 1, which holds the control connection (it must move to another
node to keep hearing events), and on node 2.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest

from aiocql import Cluster, ConsistencyLevel, execute_concurrent
from aiocql.testing.polling import wait_until
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

from ._recorder import Recorder
from ._support import create_keyspace, local_cluster

pytestmark = pytest.mark.cluster3

KS = "binary_rf3"
KEYS = 200


@pytest.mark.parametrize("node", [1, 2])
async def test_disablebinary_then_enablebinary_under_load(cassandra: ServerInfo, node: int) -> None:
    lc = local_cluster(cassandra)
    address = cassandra.contact_points[node - 1]
    loop = asyncio.get_running_loop()
    disabled = False
    try:
        async with Cluster(**cluster_kwargs(cassandra)) as cluster:
            session = await cluster.connect()
            await create_keyspace(session, KS, 3)
            await session.execute(f"CREATE TABLE {KS}.t (k int PRIMARY KEY, v int)", timeout=60)
            insert = await session.prepare(f"INSERT INTO {KS}.t (k, v) VALUES (?, ?)")
            # QUORUM writes and QUORUM reads overlap on a replica: every read finds its row. (ALL made one
            # slow replica of a loaded machine fail the setup with a write timeout.)
            results = await execute_concurrent(
                session,
                [(insert, (k, k)) for k in range(KEYS)],
                concurrency=16,
                consistency_level=ConsistencyLevel.QUORUM,
                timeout=60,
            )
            assert all(r.success for r in results), [r.result_or_exc for r in results if not r.success][:3]
            select = await session.prepare(f"SELECT v FROM {KS}.t WHERE k = ?")
            select.is_idempotent = True
            select.consistency_level = ConsistencyLevel.QUORUM
            host = next(h for h in cluster.hosts if h.address == address)
            recorder = Recorder(cluster)
            control_before = cluster.control.address if cluster.control else None

            answers: list[tuple[float, str]] = []  # (answered at, coordinator)
            started: list[tuple[float, str]] = []  # (sent at, coordinator) of the same reads
            failures: list[BaseException] = []
            done = asyncio.Event()

            async def worker(seed: int) -> None:
                rng = random.Random(seed)
                while not done.is_set():
                    try:
                        at = loop.time()
                        rs = await session.execute(select, (rng.randrange(KEYS),))
                    except Exception as exc:
                        failures.append(exc)
                        continue
                    answers.append((loop.time(), rs.coordinator))
                    started.append((at, rs.coordinator))

            workers = [asyncio.create_task(worker(i)) for i in range(8)]
            try:
                await wait_until(  # the load is running on all three nodes
                    lambda: len(answers) >= 200 and {c for _, c in answers} == set(cassandra.contact_points),
                    timeout=60, interval=0.1,
                    message=lambda: f"{len(answers)} reads, from {sorted({c for _, c in answers})}",
                )  # fmt: skip
                sent = loop.time()
                disabled = True
                await asyncio.to_thread(lc.nodetool, node, "disablebinary")
                returned = loop.time()
                down = await wait_until(
                    lambda: recorder.first(address, "down", sent), timeout=10, interval=0.02,
                    message=f"node {node} was not marked down within 10 s of disablebinary returning",
                )  # fmt: skip
                assert not cluster.is_up(host)
                # The requests that were on the node when its transport went have all ended...
                pool = next(p for p in session.pools if p.host == address)
                await wait_until(lambda: pool.in_flight == 0, timeout=30, message="requests still on the node")
                quiet_from = loop.time()
                # ...and from then on, a stretch of load (counted in reads, not seconds) reaches it not once.
                await wait_until(
                    lambda: sum(1 for at, _ in answers if at >= quiet_from) >= 500, timeout=60, interval=0.1
                )
                # (by when each read was sent: one answered just before quiet_from may be recorded after it)
                served_while_off = sum(1 for at, c in started if c == address and at >= quiet_from)
                enable_sent = loop.time()
                await asyncio.to_thread(lc.nodetool, node, "enablebinary")
                disabled = False
                enabled = loop.time()
                await wait_until(
                    lambda: any(c == address for at, c in answers[-500:] if at >= enable_sent), timeout=30,
                    interval=0.02, message=f"node {node} was not used again within 30 s of enablebinary",
                )  # fmt: skip
                reused = next(at for at, c in answers if c == address and at >= enable_sent)
                up = recorder.first(address, "up", sent)
                # enough reads after the node is back to tell its share (counted, not a fixed time)
                await wait_until(
                    lambda: sum(1 for at, _ in answers if at >= reused + 0.5) >= 600, timeout=60, interval=0.1
                )
            finally:
                done.set()
                await asyncio.gather(*workers)
            control_after = cluster.control.address if cluster.control else None
        before = Counter(c for at, c in answers if at < sent)
        after = Counter(c for at, c in answers if at >= reused + 0.5)
        print(
            f"\nnode {node}: {len(answers)} reads, {len(failures)} failed; marked down {down.at - sent:.2f} s after "
            f"disablebinary was run (nodetool returned after {returned - sent:.2f} s); used again "
            f"{reused - enabled:+.2f} s after enablebinary returned (marked up "
            f"{(up.at - enabled) if up else float('nan'):+.2f} s); control connection {control_before} -> "
            f"{control_after}\n  before {dict(before)}; after {dict(after)}"
        )
        assert not failures, [f"{type(e).__name__}: {e}" for e in failures[:10]]
        assert set(before) == set(cassandra.contact_points)
        # disablebinary takes effect somewhere between `sent` and `returned` (nodetool is a JVM that can take
        # seconds to start on a loaded machine): the node must be marked down within 10 s of that.
        assert down.at - returned <= 10.0
        assert served_while_off == 0  # fails if requests sent with its transport off still reached the node
        assert up is not None and up.at >= down.at
        # enablebinary sends no event: the pool finds the node on its exponential reconnection schedule, whose
        # pending delay grows with the time the node was off (nodetool alone can take 10 s on a loaded machine).
        # Each delay is at most the time already waited plus the base, so reuse comes within that of enable.
        assert reused - enabled <= max(15.0, (enabled - down.at) + 5.0)
        assert after[address] / sum(after.values()) >= 0.15, after  # it takes its share again
    finally:
        if disabled:
            await asyncio.to_thread(lc.nodetool, node, "enablebinary")
