"""Failover on three real nodes: a QUORUM read load loses nothing while one node stops and starts again.

Timeline (seconds from the start of the load): node 3 is stopped (SIGTERM, a graceful shutdown) at 15 and
started again at 35; the load runs for 60 s, and longer if the driver has not used node 3 again by then.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field

import pytest

from aiocql import AttemptInfo, Cluster, ConsistencyLevel
from aiocql.metrics.operations import node_label
from aiocql.testing.polling import wait_until
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

from ._recorder import Recorder
from ._support import create_keyspace, local_cluster

pytestmark = [pytest.mark.cluster3, pytest.mark.slow]

KS = "failover_rf3"
KEYS = 1000
WORKERS = 32
STOP_AT, START_AT, LOAD_SECONDS = 15.0, 35.0, 60.0


class FailedAttempts:
    """A request tracker keeping each failed attempt (host, error, loop time): retried ones included."""

    def __init__(self) -> None:
        self.failed: list[tuple[float, str, str]] = []

    def on_start(self, attempt: AttemptInfo) -> None:
        pass

    def on_success(self, attempt: AttemptInfo, latency: float) -> None:
        pass

    def on_error(self, attempt: AttemptInfo, error: BaseException, latency: float) -> None:
        what = f"{type(error).__name__} ({str(error)[:60]})"
        self.failed.append((asyncio.get_running_loop().time(), attempt.host.address, what))

    def summary(self, stop_sent: float, started: float) -> str:
        """Failed attempts grouped by host, error and phase (around the stop / after the start)."""
        groups: dict[tuple[str, str, str], list[float]] = {}
        for at, host, error in self.failed:
            phase = "after start_node" if at >= started else "around the stop"
            groups.setdefault((host, error, phase), []).append(at - stop_sent)
        return (
            "; ".join(
                f"{host} {error} x{len(ts)} {phase} ({min(ts):.2f}..{max(ts):.2f})"
                for (host, error, phase), ts in sorted(groups.items())
            )
            or "none"
        )


@dataclass
class Load:
    """What the workers saw: successes per coordinator, failures, and when node 3 answered again."""

    watched: str
    ok: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[float, BaseException]] = field(default_factory=list)
    last_ok: dict[str, float] = field(default_factory=dict)
    per_window: dict[int, Counter[str]] = field(default_factory=dict)  # 5-second windows of the load
    reused_after: float | None = None  # set by the test: loop time from which an answer of `watched` counts
    reused_at: float | None = None
    back: Counter[str] = field(default_factory=Counter)  # answers from 1 s after node 3 was used again


async def test_quorum_reads_survive_a_node_stopping_and_starting(cassandra: ServerInfo) -> None:
    nodes = local_cluster(cassandra)
    node3 = cassandra.contact_points[2]
    loop = asyncio.get_running_loop()
    try:
        failed_attempts = FailedAttempts()
        async with Cluster(**cluster_kwargs(cassandra, request_tracker=failed_attempts)) as cluster:
            session = await cluster.connect()
            await create_keyspace(session, KS, 3)
            await session.execute(f"CREATE TABLE {KS}.t (k int PRIMARY KEY, v int)", timeout=60)
            insert = await session.prepare(f"INSERT INTO {KS}.t (k, v) VALUES (?, ?)")
            for start in range(0, KEYS, 100):
                await asyncio.gather(
                    *(session.execute(insert, (k, k), consistency_level=ConsistencyLevel.ALL)
                      for k in range(start, start + 100))
                )  # fmt: skip
            select = await session.prepare(f"SELECT v FROM {KS}.t WHERE k = ?")
            select.is_idempotent = True
            select.consistency_level = ConsistencyLevel.QUORUM

            host3 = next(h for h in cluster.hosts if h.address == node3)
            recorder = Recorder(cluster)
            load = Load(node3)
            done = asyncio.Event()

            async def worker(seed: int) -> None:
                rng = random.Random(seed)
                while not done.is_set():
                    k = rng.randrange(KEYS)
                    try:
                        rs = await session.execute(select, (k,))
                        row = rs.one()
                        assert row is not None and row.v == k
                    except Exception as exc:
                        load.failures.append((loop.time(), exc))
                        continue
                    now = loop.time()
                    load.ok[rs.coordinator] += 1
                    load.last_ok[rs.coordinator] = now
                    load.per_window.setdefault(int((now - began) // 5), Counter())[rs.coordinator] += 1
                    after = load.reused_after
                    if rs.coordinator == node3 and after is not None and now >= after and load.reused_at is None:
                        load.reused_at = now
                    if load.reused_at is not None and now >= load.reused_at + 1.0:
                        load.back[rs.coordinator] += 1

            began = loop.time()
            workers = [asyncio.create_task(worker(i)) for i in range(WORKERS)]
            try:
                await asyncio.sleep(STOP_AT)  # the load runs for this long before the stop
                before_stop = Counter(load.ok)
                stop_sent = loop.time()
                await asyncio.to_thread(nodes.stop_node, 3)
                stopped = loop.time()
                down = await wait_until(
                    lambda: recorder.first(node3, "down", stop_sent), timeout=10, interval=0.05,
                    message="node 3 was not marked down within 10 s of its SIGTERM",
                )  # fmt: skip
                assert not cluster.is_up(host3)
                await asyncio.sleep(max(0.0, began + START_AT - loop.time()))
                requests_before_start = cluster.metrics.node(node_label(host3)).requests
                await asyncio.to_thread(nodes.start_node, 3)
                started = loop.time()
                load.reused_after = started
                await wait_until(
                    lambda: load.reused_at, timeout=60, interval=0.05,
                    message="the driver did not use node 3 again within 60 s of its start",
                )  # fmt: skip
                assert load.reused_at is not None
                up = recorder.first(node3, "up", stop_sent)
                # The rest of the 60 s, and at least 5 s with node 3 back (its start can take 25 s).
                reused = load.reused_at
                await asyncio.sleep(max(0.0, began + LOAD_SECONDS - loop.time(), reused + 5.0 - loop.time()))
            finally:
                done.set()
                await asyncio.gather(*workers)
            ended = loop.time()
            requests_after = cluster.metrics.node(node_label(host3)).requests
            attempts = {n: (v["requests"], v["retries"], v["errors"]) for n, v in cluster.metrics.as_dict().items()}

        total = sum(load.ok.values())
        print(
            f"\nfailover: {total} reads in {ended - began:.0f} s, {len(load.failures)} failed; per node {dict(load.ok)}"
            f"\n  stop_node(3) took {stopped - stop_sent:.1f} s; marked down {down.at - stop_sent:.2f} s after SIGTERM"
            f"\n  start_node(3) took {started - (began + START_AT):.1f} s; "
            f"marked up {(up.at - started) if up else float('nan'):+.2f} s and used again "
            f"{load.reused_at - started:.2f} s after start_node returned"
            f"\n  node 3 attempts before/after its restart: {requests_before_start} / {requests_after}"
            f"\n  attempts, retries and failed attempts per node: {attempts}"
            f"\n  failed attempts (retried), s from SIGTERM: {failed_attempts.summary(stop_sent, started)}"
        )
        names = sorted(cassandra.contact_points)
        for window, counts in sorted(load.per_window.items()):
            print(f"  {window * 5:3d}-{window * 5 + 5:3d} s: " + "  ".join(f"{n} {counts[n]:6d}" for n in names))
        # Fails on any request that reached the caller as an error (idempotent reads must be retried elsewhere).
        assert not load.failures, [f"{at - began:.1f}s {type(e).__name__}: {e}" for at, e in load.failures[:10]]
        # The load was real and every node served before the stop.
        assert set(before_stop) == set(cassandra.contact_points) and total > 1000
        # Marked down within a few seconds of the SIGTERM (the graceful shutdown closes client connections
        # and gossips the node's shutdown), and not up again before it was started.
        assert down.at - stop_sent <= 5.0
        assert up is not None and up.at > stopped
        # Used again soon after it accepts CQL again (its UP event or the pool's reconnection schedule).
        assert load.reused_at - started <= 15.0
        assert requests_after > requests_before_start
        # ...and it takes its share again: with three replicas shuffled, about a third of the reads once
        # its pool is back (fails if it only served a stray request or two).
        back = load.back
        assert sum(back.values()) > 0 and back[node3] / sum(back.values()) >= 0.15, back
    finally:
        if not nodes.running():  # never leave node 3 down for the tests that follow
            await asyncio.to_thread(nodes.start_node, 3)
