"""Speculative executions against one slow node: three fake nodes form one cluster (discovered from one
contact point through the peers tables); node A answers kv reads late, the others at once. Idempotent
reads speculated after 20 ms cut the tail; non-idempotent requests are never speculated; the losing
execution is cancelled and its stream id orphaned until the late reply; metrics count it all.

Where a test is about "no read waited for the slow node", that node holds its replies behind a gate until
the reads are done rather than for a fixed delay: a read that completed did not wait for it, however
slow (loaded) the machine is, and no wall-clock bound has to stand in for that.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from aiocql import (
    ConstantSpeculativeExecutionPolicy,
    FallthroughRetryPolicy,
    InvalidRequest,
    RequestInfo,
    RoundRobinPolicy,
)
from aiocql.testing.fakeserver import Error, FakeServer, Opcode, ReceivedRequest
from aiocql.testing.polling import wait_until

from .conftest import echo_row, is_kv, key_of
from .fakecluster import Gate, cluster_of, fake_nodes, kv_requests, label_of, pool_of

SLOW = 0.2
READS = 300
CONCURRENCY = 10
DELAY = 0.02


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def slow_down(node: FakeServer, delay: float = SLOW) -> None:
    node.on(Opcode.QUERY, match=is_kv, reply=echo_row, delay=delay)


def hold(node: FakeServer) -> Gate:
    """``node`` holds every kv read until the returned gate is opened."""
    gate = Gate()
    node.on(Opcode.QUERY, match=is_kv, reply=gate.hold)
    return gate


def kv(k: int) -> str:
    return f"SELECT k, v FROM kv WHERE k = {k}"


async def test_without_speculation_a_read_waits_for_its_slow_node() -> None:
    """The baseline of the next test: without a policy, the reads round robin starts on the slow node
    wait for it (and run nowhere else) while the others are answered."""
    async with fake_nodes(3) as nodes:
        gate = hold(nodes[0])
        async with cluster_of(nodes, load_balancing_policy=RoundRobinPolicy()) as cluster:
            session = await cluster.connect()
            tasks = [asyncio.ensure_future(session.execute(kv(k), is_idempotent=True)) for k in range(30)]
            await wait_until(
                lambda: gate.held == 10 and sum(t.done() for t in tasks) == 20,
                timeout=8.0,  # under the 10 s request timeout of the held reads
                message=lambda: f"{gate.held} held, {sum(t.done() for t in tasks)} of 30 done",
            )
            slow_keys = {key_of(r) for r in gate.order}
            assert len(slow_keys) == 10 and not [k for k in slow_keys if tasks[k].done()]
            gate.open()
            rows = await asyncio.gather(*tasks)
            assert [rs.one() for rs in rows] == [(k, f"value-{k}") for k in range(30)]
            assert {rows[k].coordinator for k in slow_keys} == {nodes[0].host}
            assert sum(cluster.metrics.node(label_of(n)).speculative_executions for n in nodes) == 0
            assert len(kv_requests(nodes)) == 30


async def test_speculation_cuts_the_tail_of_a_slow_node() -> None:
    """READS idempotent reads, CONCURRENCY at a time, while the slow node holds every reply until all of
    them are done: each read round robin started there completed through a speculative execution on a
    fast node, sent no earlier than the policy's delay after the read started and, on the median, within
    10 delays (the timer fires; nothing waits for the slow node). Then the losers' late replies come and
    are dropped."""
    policy = ConstantSpeculativeExecutionPolicy(delay=DELAY, max_executions=2)
    async with fake_nodes(3) as nodes:
        slow = nodes[0]
        gate = hold(slow)
        async with cluster_of(
            nodes, load_balancing_policy=RoundRobinPolicy(), speculative_execution_policy=policy
        ) as cluster:
            session = await cluster.connect()
            assert sorted(p.host for p in session.pools) == [n.host for n in nodes]  # discovered
            loop = asyncio.get_running_loop()
            started: dict[int, float] = {}
            latencies: list[float] = []
            keys = iter(range(READS))

            async def worker() -> None:
                for k in keys:
                    started[k] = loop.time()
                    rs = await session.execute(kv(k), is_idempotent=True)
                    latencies.append(loop.time() - started[k])
                    assert rs.one() == (k, f"value-{k}")
                    assert rs.coordinator != slow.host

            async with asyncio.timeout(60):  # a read waiting for the held node would hang: fail instead
                await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
            assert len(latencies) == READS

            arrivals: dict[int, list[tuple[float, FakeServer]]] = {}
            for node in nodes:
                for req in node.received(Opcode.QUERY, is_kv):
                    arrivals.setdefault(key_of(req), []).append((req.time, node))
            first_on_slow = [k for k, seen in arrivals.items() if min(seen, key=lambda a: a[0])[1] is slow]
            assert len(first_on_slow) >= READS // 3 - 5  # the slow node got its share of first executions
            speculated = sum(cluster.metrics.node(label_of(n)).speculative_executions for n in nodes)
            assert speculated >= len(first_on_slow)
            assert len(kv_requests(nodes)) == READS + speculated
            # When each of those reads' speculative execution reached a fast node, from the read's start.
            waited = sorted(min(t for t, node in arrivals[k] if node is not slow) - started[k] for k in first_on_slow)
            assert waited[0] >= DELAY * 0.95, f"a speculative execution was sent {waited[0] * 1000:.1f} ms in"
            median = waited[len(waited) // 2]
            print(
                f"\nspeculative execution, {READS} reads ({CONCURRENCY} at a time), 1 of 3 nodes holding its "
                f"replies, delay {DELAY * 1000:.0f} ms: p50/p99 {percentile(latencies, 0.5) * 1000:.1f}/"
                f"{percentile(latencies, 0.99) * 1000:.1f} ms; speculative executions reached a fast node "
                f"{waited[0] * 1000:.1f}/{median * 1000:.1f}/{waited[-1] * 1000:.1f} ms (min/median/max) in"
            )
            assert median < 10 * DELAY, f"speculative executions reached a fast node {median * 1000:.0f} ms in"
            # The losers' stream ids stay orphaned until their late replies, which are then dropped.
            slow_pool = pool_of(session, slow)
            # (Also those of reads started on a fast node that a loaded machine made speculate to the slow one.)
            await wait_until(lambda: slow_pool.orphaned == gate.held == len(slow.received(Opcode.QUERY, is_kv)))
            gate.open()
            await wait_until(lambda: slow_pool.orphaned == 0 and slow_pool.in_flight == 0, timeout=10.0)


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
        gate = hold(slow)
        # A delay no fast read comes near on a loaded machine, so only the held read speculates.
        policy = ConstantSpeculativeExecutionPolicy(delay=0.5, max_executions=2)
        async with cluster_of(
            nodes, load_balancing_policy=RoundRobinPolicy(), speculative_execution_policy=policy
        ) as cluster:
            session = await cluster.connect()
            slow_pool = pool_of(session, slow)
            # Round robin: of three consecutive reads exactly one starts on the slow node, which holds its
            # reply until after all three are done: none waited for it.
            async with asyncio.timeout(30):
                rows = [await session.execute(kv(k), is_idempotent=True) for k in range(3)]
            assert [rs.one() for rs in rows] == [(k, f"value-{k}") for k in range(3)]
            assert {rs.coordinator for rs in rows} <= {n.host for n in nodes[1:]}
            assert len(slow.received(Opcode.QUERY, is_kv)) == 1 and gate.held == 1
            # its execution was cancelled: the stream id stays reserved (orphaned) for the late reply...
            await wait_until(lambda: slow_pool.orphaned == 1, timeout=10.0)
            node = cluster.metrics.node(label_of(slow))
            assert node.cancelled == 1 and node.latency.count == 0
            assert cluster.metrics.as_dict()[label_of(slow)]["gauges"]["orphaned_streams"] == 1
            # ...and the late reply releases it.
            gate.open()
            await wait_until(lambda: slow.pending == 0, timeout=10.0)
            await wait_until(lambda: slow_pool.orphaned == 0 and slow_pool.in_flight == 0, timeout=10.0)
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
    # Three executions EVERY seconds apart: the first hangs, the second fails HOLD seconds after it arrived
    # (no retry), the third answers. The second's failure must not push the third back: the third is sent
    # EVERY after the second, not EVERY after the failure (that would be EVERY + HOLD). The spacing is
    # large so that a loaded machine's timer lateness (well under HOLD / 2) cannot blur the two.
    every, hold_for = 1.0, 0.5
    arrivals: list[float] = []
    failed_at: list[float] = []
    hang = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def by_arrival(req: ReceivedRequest) -> object:
        arrivals.append(req.time)
        if len(arrivals) == 1:
            await hang.wait()
        elif len(arrivals) == 2:
            await asyncio.sleep(hold_for)  # the second execution's scripted latency, then its error
            failed_at.append(loop.time())
            return Error(InvalidRequest("early failure"))
        return echo_row(req)

    async with fake_nodes(3) as nodes:
        for node in nodes:
            node.on(Opcode.QUERY, match=is_kv, reply=by_arrival)
        policy = ConstantSpeculativeExecutionPolicy(delay=every, max_executions=2)
        async with cluster_of(
            nodes,
            load_balancing_policy=RoundRobinPolicy(),
            speculative_execution_policy=policy,
            retry_policy=FallthroughRetryPolicy(),
        ) as cluster:
            session = await cluster.connect()
            began = loop.time()
            rs = await session.execute(kv(7), is_idempotent=True)
            hang.set()
            assert rs.one() == (7, "value-7")
            assert len(arrivals) == 3 and len(failed_at) == 1
            assert failed_at[0] < arrivals[2]  # the second failed before the third was sent: the case at hand
            # No execution starts before its delay from the previous one's start...
            assert arrivals[1] - began >= every * 0.99 and arrivals[2] - began >= 2 * every * 0.99, arrivals
            # ...and the third is not pushed back by the second's failure (that would put it EVERY + HOLD after).
            second, third = arrivals[1] - arrivals[0], arrivals[2] - arrivals[1]
            assert second < every + hold_for / 2, second
            assert third < every + hold_for / 2, third
