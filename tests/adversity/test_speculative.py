"""Speculative executions against one slow node: three fake nodes form one cluster (discovered from one
contact point through the peers tables); node A answers kv reads after 200 ms, the others at once.
Idempotent reads speculated after 20 ms cut the tail; non-idempotent requests are never speculated; the
losing execution is cancelled and its stream id orphaned until the late reply; metrics count it all."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

from aiocql import (
    ConstantSpeculativeExecutionPolicy,
    FallthroughRetryPolicy,
    InvalidRequest,
    RequestInfo,
    RoundRobinPolicy,
    Session,
)
from aiocql.testing.fakeserver import Error, FakeServer, Opcode, ReceivedRequest
from aiocql.testing.polling import wait_until
from tests.helpers.looplag import LoopLag

from .conftest import echo_row, is_kv
from .fakecluster import cluster_of, fake_nodes, kv_requests, label_of, pool_of

SLOW = 0.2
READS = 300
CONCURRENCY = 10


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def read_latencies(session: Session, count: int = READS) -> list[float]:
    """``count`` idempotent reads, ``CONCURRENCY`` at a time; each checks it got its own row."""
    latencies: list[float] = []
    keys = iter(range(count))

    async def worker() -> None:
        for k in keys:
            started = time.perf_counter()
            rs = await session.execute(f"SELECT k, v FROM kv WHERE k = {k}", is_idempotent=True)
            latencies.append(time.perf_counter() - started)
            assert rs.one() == (k, f"value-{k}")

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    assert len(latencies) == count
    return latencies


def slow_down(node: FakeServer, delay: float = SLOW) -> None:
    node.on(Opcode.QUERY, match=is_kv, reply=echo_row, delay=delay)


async def measure(policy: ConstantSpeculativeExecutionPolicy | None) -> tuple[float, float, float]:
    """p50 and p99 of READS reads with one node at SLOW, and the worst loop lag meanwhile."""
    async with fake_nodes(3) as nodes:
        slow_down(nodes[0])
        async with cluster_of(
            nodes, load_balancing_policy=RoundRobinPolicy(), speculative_execution_policy=policy
        ) as cluster:
            session = await cluster.connect()
            assert sorted(p.host for p in session.pools) == [n.host for n in nodes]  # discovered
            async with LoopLag() as lag:
                latencies = await read_latencies(session)
            # the slow node got its share of first executions either way
            assert len(nodes[0].received(Opcode.QUERY, is_kv)) >= READS // 3 - 5
            speculated = sum(cluster.metrics.node(label_of(n)).speculative_executions for n in nodes)
            if policy is None:
                assert speculated == 0
                assert len(kv_requests(nodes)) == READS
            else:
                assert speculated >= READS // 3 - 5  # at least every read that started on the slow node
                assert len(kv_requests(nodes)) == READS + speculated
    return percentile(latencies, 0.5), percentile(latencies, 0.99), lag.worst


async def test_speculation_cuts_the_tail_of_a_slow_node() -> None:
    p50_without, p99_without, lag_without = await measure(None)
    policy = ConstantSpeculativeExecutionPolicy(delay=0.02, max_executions=2)
    runs = 0
    while True:
        runs += 1
        p50_with, p99_with, lag_with = await measure(policy)
        # A run during which the machine stalled the loop for 25 ms or more (other processes on the CPU)
        # says little about a 100 ms bound: measure again, three runs at most. A slow p99 on an
        # undisturbed loop fails at once.
        if p99_with < 0.1 or lag_with < 0.025 or runs == 3:
            break
    print(
        f"\nspeculative execution, {READS} reads ({CONCURRENCY} at a time), 1 of 3 nodes at {SLOW * 1000:.0f} ms: "
        f"p50/p99 without {p50_without * 1000:.1f}/{p99_without * 1000:.1f} ms, "
        f"with (delay 20 ms, max 2) {p50_with * 1000:.1f}/{p99_with * 1000:.1f} ms "
        f"(worst loop lag {lag_without * 1000:.0f} / {lag_with * 1000:.0f} ms; run {runs} with speculation)"
    )
    assert p99_without > 0.15
    assert p99_with < 0.1, f"p99 {p99_with * 1000:.0f} ms with speculation; the loop lagged {lag_with * 1000:.0f} ms"


class AlwaysSpeculate:
    """A careless policy that would speculate any request: the executor must not even ask it for a
    non-idempotent one."""

    def __init__(self) -> None:
        self.asked: list[RequestInfo] = []

    def new_plan(self, info: RequestInfo) -> Iterator[float]:
        self.asked.append(info)
        return iter([0.01, 0.01])


async def test_non_idempotent_requests_are_never_speculated() -> None:
    async with fake_nodes(3) as nodes:
        slow = nodes[0]
        slow_down(slow)
        policy = AlwaysSpeculate()
        async with cluster_of(
            nodes, load_balancing_policy=RoundRobinPolicy(), speculative_execution_policy=policy
        ) as cluster:
            session = await cluster.connect()
            queries = [f"SELECT k, v FROM kv WHERE k = {k}" for k in range(30)]
            rows = await asyncio.gather(*(session.execute(q, is_idempotent=False) for q in queries))
            assert [rs.one() for rs in rows] == [(k, f"value-{k}") for k in range(30)]
            seen = [r.query for r in kv_requests(nodes)]
            assert sorted(seen) == sorted(queries)  # each exactly once, anywhere
            assert len(slow.received(Opcode.QUERY, is_kv)) == 10  # round robin: its share, each once
            assert all(cluster.metrics.node(label_of(n)).speculative_executions == 0 for n in nodes)
            assert policy.asked == []
            # the same policy does speculate idempotent requests
            await asyncio.gather(*(session.execute(q, is_idempotent=True) for q in queries[:3]))
            assert len(policy.asked) == 3 and all(info.is_idempotent for info in policy.asked)
            assert sum(cluster.metrics.node(label_of(n)).speculative_executions for n in nodes) >= 1


async def test_the_losing_execution_is_cancelled_and_its_stream_released_by_the_late_reply() -> None:
    async with fake_nodes(3) as nodes:
        slow = nodes[0]
        slow_down(slow, 0.5)
        policy = ConstantSpeculativeExecutionPolicy(delay=0.02, max_executions=2)
        async with cluster_of(
            nodes, load_balancing_policy=RoundRobinPolicy(), speculative_execution_policy=policy
        ) as cluster:
            session = await cluster.connect()
            slow_pool = pool_of(session, slow)
            # Round robin: of three consecutive reads exactly one starts on the slow node.
            started = time.perf_counter()
            rows = [await session.execute(f"SELECT k, v FROM kv WHERE k = {k}", is_idempotent=True) for k in range(3)]
            assert time.perf_counter() - started < 0.4  # none waited for the slow node
            assert [rs.one() for rs in rows] == [(k, f"value-{k}") for k in range(3)]
            assert {rs.coordinator for rs in rows} <= {n.host for n in nodes[1:]}
            assert len(slow.received(Opcode.QUERY, is_kv)) == 1
            # its execution was cancelled: the stream id stays reserved (orphaned) for the late reply...
            await wait_until(lambda: slow_pool.orphaned == 1, timeout=2.0)
            node = cluster.metrics.node(label_of(slow))
            assert node.cancelled == 1 and node.latency.count == 0
            assert cluster.metrics.as_dict()[label_of(slow)]["gauges"]["orphaned_streams"] == 1
            # ...and the late reply releases it.
            await wait_until(lambda: slow.replies_sent and slow.pending == 0, timeout=2.0)
            await wait_until(lambda: slow_pool.orphaned == 0 and slow_pool.in_flight == 0, timeout=2.0)
            assert cluster.metrics.as_dict()[label_of(slow)]["gauges"]["orphaned_streams"] == 0
            speculated = sum(cluster.metrics.node(label_of(n)).speculative_executions for n in nodes)
            assert speculated == 1


async def test_the_real_error_wins_over_an_exhausted_plan() -> None:
    # One node: the speculative execution finds no host left. The request must fail with the node's own
    # error, not with an empty "no host could run the request".
    async with fake_nodes(1) as nodes:
        nodes[0].on(Opcode.QUERY, match=is_kv, reply=Error(InvalidRequest("no such table kv")), delay=0.1)
        policy = ConstantSpeculativeExecutionPolicy(delay=0.01, max_executions=2)
        async with cluster_of(nodes, speculative_execution_policy=policy) as cluster:
            session = await cluster.connect()
            try:
                await session.execute("SELECT k, v FROM kv WHERE k = 1", is_idempotent=True)
            except InvalidRequest as exc:
                assert "no such table" in str(exc)
            else:
                raise AssertionError("the request succeeded")


async def test_each_delay_counts_from_the_start_of_the_previous_execution() -> None:
    # Three executions 0.3 s apart: the first hangs, the second fails after 0.25 s (no retry), the third
    # answers. The second's failure must not push the third back: it starts 0.6 s after the first.
    arrivals: list[float] = []
    hang = asyncio.Event()

    async def by_arrival(req: ReceivedRequest) -> object:
        arrivals.append(req.time)
        if len(arrivals) == 1:
            await hang.wait()
        elif len(arrivals) == 2:
            await asyncio.sleep(0.25)  # the second execution's scripted latency, then its error
            return Error(InvalidRequest("early failure"))
        return echo_row(req)

    async with fake_nodes(3) as nodes:
        for node in nodes:
            node.on(Opcode.QUERY, match=is_kv, reply=by_arrival)
        policy = ConstantSpeculativeExecutionPolicy(delay=0.3, max_executions=2)
        async with cluster_of(
            nodes,
            load_balancing_policy=RoundRobinPolicy(),
            speculative_execution_policy=policy,
            retry_policy=FallthroughRetryPolicy(),
        ) as cluster:
            session = await cluster.connect()
            rs = await session.execute("SELECT k, v FROM kv WHERE k = 7", is_idempotent=True)
            hang.set()
            assert rs.one() == (7, "value-7")
            assert len(arrivals) == 3
            second, third = arrivals[1] - arrivals[0], arrivals[2] - arrivals[0]
            assert 0.25 < second < 0.45, second
            assert 0.55 < third < 0.75, third  # 0.3 + 0.3; not 0.3 + 0.25 + 0.3
