"""Request trackers and metrics through the whole request path: one on_start and exactly one on_success /
on_error per attempt, with the same AttemptInfo; retries and speculative attempts marked; cancelled
attempts report CancelledError and client-side timeouts OperationTimedOut; the per-node counters, the
latency summary and the in_flight / open_connections / orphaned_streams gauges, as_dict and Prometheus."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aiocql import (
    AttemptInfo,
    Cluster,
    ConsistencyLevel,
    ConstantSpeculativeExecutionPolicy,
    OperationTimedOut,
    RoundRobinPolicy,
    Unavailable,
)
from aiocql.testing.fakeserver import Error, FakeServer, Opcode, ReceivedRequest
from aiocql.testing.polling import wait_until

from .conftest import echo_row, is_kv, key_of
from .fakecluster import Gate, cluster_of, fake_nodes, label_of


def select(k: int) -> str:
    return f"SELECT k, v FROM kv WHERE k = {k}"


class Recorder:
    """A request tracker that records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, AttemptInfo, Any]] = []

    def on_start(self, info: AttemptInfo) -> None:
        self.calls.append(("start", info, None))

    def on_success(self, info: AttemptInfo, latency: float) -> None:
        self.calls.append(("success", info, latency))

    def on_error(self, info: AttemptInfo, error: BaseException, latency: float) -> None:
        self.calls.append(("error", info, error))

    def attempts(self) -> list[AttemptInfo]:
        return [a for kind, a, _ in self.calls if kind == "start"]

    def ends(self, attempt: AttemptInfo) -> list[tuple[str, Any]]:
        return [(kind, value) for kind, a, value in self.calls if a is attempt and kind != "start"]

    def check_pairs(self) -> None:
        """Every attempt started once and ended exactly once, with the very object it started with."""
        started = self.attempts()
        assert len({id(a) for a in started}) == len(started)
        for attempt in started:
            assert len(self.ends(attempt)) == 1, (attempt, self.ends(attempt))
        assert all(any(a is s for s in started) for _, a, _ in self.calls)


UNAVAILABLE = Error(Unavailable("Cannot achieve consistency", consistency=ConsistencyLevel.QUORUM, required=2, alive=1))


async def test_one_start_and_one_success_per_attempt(server: FakeServer) -> None:
    server.on(Opcode.QUERY, match=is_kv, reply=echo_row)
    tracker = Recorder()
    async with Cluster([server.host], port=server.port, request_tracker=tracker) as cluster:
        session = await cluster.connect()
        await session.execute(select(1))
        kv = [a for a in tracker.attempts() if a.query == select(1)]
        assert len(kv) == 1
        attempt = kv[0]
        assert (attempt.attempt, attempt.speculative, attempt.is_retry) == (0, False, False)
        assert attempt.host.address == server.host
        [(kind, latency)] = tracker.ends(attempt)
        assert kind == "success" and 0 < latency < 1.0
        tracker.check_pairs()


async def test_a_retry_is_a_second_attempt_of_the_same_request() -> None:
    tracker = Recorder()
    async with fake_nodes(2) as nodes:
        first = {"done": False}

        def unavailable_once(req: ReceivedRequest) -> object:
            if not first["done"]:
                first["done"] = True
                return UNAVAILABLE
            return echo_row(req)

        for node in nodes:
            node.on(Opcode.QUERY, match=is_kv, reply=unavailable_once)
        async with cluster_of(nodes, request_tracker=tracker, load_balancing_policy=RoundRobinPolicy()) as cluster:
            session = await cluster.connect()
            assert (await session.execute(select(1))).one() == (1, "value-1")
            a0, a1 = [a for a in tracker.attempts() if a.query == select(1)]
            assert a0.request_id == a1.request_id
            assert (a0.attempt, a0.is_retry, a1.attempt, a1.is_retry) == (0, False, 1, True)
            assert not a0.speculative and not a1.speculative
            assert a0.host != a1.host  # Unavailable: the next node
            [(kind, error)] = tracker.ends(a0)
            assert kind == "error" and isinstance(error, Unavailable)
            assert [kind for kind, _ in tracker.ends(a1)] == ["success"]
            tracker.check_pairs()
            failed, retried = cluster.metrics.node(label_of(nodes[0])), cluster.metrics.node(label_of(nodes[1]))
            if a0.host.address != nodes[0].host:
                failed, retried = retried, failed
            assert failed.errors == {"Unavailable": 1} and failed.retries == 0
            assert retried.retries == 1 and retried.errors == {}


async def test_speculative_attempts_are_marked_and_the_loser_reports_its_cancellation() -> None:
    tracker = Recorder()
    async with fake_nodes(3) as nodes:
        slow = nodes[0]
        slow.on(Opcode.QUERY, match=is_kv, reply=echo_row, delay=0.3)
        policy = ConstantSpeculativeExecutionPolicy(0.02, 2)
        balancing = RoundRobinPolicy()
        async with cluster_of(
            nodes, request_tracker=tracker, load_balancing_policy=balancing, speculative_execution_policy=policy
        ) as cluster:
            session = await cluster.connect()
            for k in range(3):  # round robin: one of the three starts on the slow node
                await session.execute(select(k), is_idempotent=True)
            [losing] = [a for a in tracker.attempts() if a.host.address == slow.host and a.query]
            same = [a for a in tracker.attempts() if a.request_id == losing.request_id]
            assert [(a.attempt, a.speculative) for a in same] == [(0, False), (1, True)]
            assert [kind for kind, _ in tracker.ends(same[1])] == ["success"]
            await wait_until(lambda: tracker.ends(losing), timeout=10.0)
            [(kind, error)] = tracker.ends(losing)
            assert kind == "error" and isinstance(error, asyncio.CancelledError)
            tracker.check_pairs()
            metrics = cluster.metrics.as_dict()
            assert metrics[label_of(slow)]["cancelled"] == 1
            assert sum(m["speculative_executions"] for m in metrics.values()) == 1


async def test_a_cancelled_caller_and_a_timed_out_request(server: FakeServer) -> None:
    gate = Gate()
    server.on(Opcode.QUERY, match=is_kv, reply=gate.hold)
    tracker = Recorder()
    async with Cluster([server.host], port=server.port, request_tracker=tracker) as cluster:
        session = await cluster.connect()
        task = asyncio.ensure_future(session.execute(select(1)))
        await wait_until(lambda: gate.held == 1, timeout=10.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        [cancelled] = [a for a in tracker.attempts() if a.query == select(1)]
        [(kind, error)] = tracker.ends(cancelled)
        assert kind == "error" and isinstance(error, asyncio.CancelledError)

        with pytest.raises(OperationTimedOut):
            await session.execute(select(2), timeout=0.05)
        [timed_out] = [a for a in tracker.attempts() if a.query == select(2)]
        [(kind, error)] = tracker.ends(timed_out)
        assert kind == "error" and isinstance(error, OperationTimedOut)
        tracker.check_pairs()
        node = cluster.metrics.as_dict()[label_of(server)]
        assert (node["cancelled"], node["timeouts"], node["errors"]) == (1, 1, {"OperationTimedOut": 1})
        gate.open()


async def test_metrics_per_node_and_their_prometheus_export() -> None:
    async with fake_nodes(2) as nodes:
        busy, idle = nodes
        gate = Gate()
        busy.on(Opcode.QUERY, match=lambda r: is_kv(r) and key_of(r) >= 100, reply=gate.hold)
        busy.on(Opcode.QUERY, match=lambda r: is_kv(r) and key_of(r) == 50, reply=UNAVAILABLE)
        async with cluster_of(nodes, connections_per_host=2, load_balancing_policy=RoundRobinPolicy()) as cluster:
            session = await cluster.connect()
            for k in range(10):
                await session.execute(select(k))
            # an Unavailable from the busy node is retried on the idle one
            await asyncio.gather(*(session.execute(select(50)) for _ in range(2)))
            held = [asyncio.ensure_future(session.execute(select(100 + k))) for k in range(12)]
            await wait_until(lambda: gate.held == 6, timeout=10.0)  # every other one is on the busy node
            await wait_until(lambda: sum(t.done() for t in held) == 6, timeout=10.0)  # the idle node answered its six
            await asyncio.gather(*(t for t in held if t.done()))
            metrics = cluster.metrics.as_dict()
            b, i = metrics[label_of(busy)], metrics[label_of(idle)]
            gauges = {"open_connections": 2.0, "orphaned_streams": 0.0, "pool_size": 2.0}
            assert b["gauges"] == {"in_flight": 6.0, **gauges}
            assert i["gauges"] == {"in_flight": 0.0, **gauges}
            assert b["errors"] == {"Unavailable": 1} and i["errors"] == {}
            assert (b["retries"], i["retries"]) == (0, 1)
            assert b["requests"] + i["requests"] == 10 + 2 + 1 + 12
            assert (b["latency"]["count"], i["latency"]["count"]) == (5, 5 + 2 + 6)
            assert 0 < i["latency"]["p50_us"] <= i["latency"]["max_us"] < 1_000_000

            families = {f.name: f for f in text_string_to_metric_families(cluster.metrics.prometheus_text())}

            def sample(family: str, node: str, **labels: str) -> float:
                found = [
                    s.value
                    for s in families[family].samples
                    if s.labels.get("node") == node
                    and all(s.labels.get(k) == v for k, v in labels.items())
                    and s.name == (family if families[family].type != "counter" else family + "_total")
                ]
                assert len(found) == 1, (family, node, labels, found)
                return found[0]

            assert sample("aiocql_in_flight", label_of(busy)) == 6
            assert sample("aiocql_in_flight", label_of(idle)) == 0
            assert sample("aiocql_open_connections", label_of(busy)) == 2
            assert sample("aiocql_requests", label_of(busy)) == b["requests"]
            assert sample("aiocql_errors", label_of(busy), kind="Unavailable") == 1
            assert sample("aiocql_retries", label_of(idle)) == 1
            latency = families["aiocql_request_latency_seconds"]
            assert latency.type == "histogram"
            idle_buckets = [
                x for x in latency.samples if x.labels["node"] == label_of(idle) and x.name.endswith("_bucket")
            ]
            assert idle_buckets[-1].labels["le"] == "+Inf" and idle_buckets[-1].value == i["latency"]["count"]
            assert [x.value for x in idle_buckets] == sorted(x.value for x in idle_buckets)  # cumulative

            gate.open()
            await asyncio.gather(*held)
            assert metrics_gauge(cluster, busy, "in_flight") == 0


async def test_the_orphaned_streams_gauge(server: FakeServer) -> None:
    gate = Gate()
    server.on(Opcode.QUERY, match=is_kv, reply=gate.hold)
    async with Cluster([server.host], port=server.port) as cluster:
        session = await cluster.connect()
        for k in range(3):
            with pytest.raises(OperationTimedOut):
                await session.execute(select(k), timeout=0.05)
        assert gate.held == 3
        await wait_until(lambda: metrics_gauge(cluster, server, "orphaned_streams") == 3, timeout=10.0)
        gate.open()  # the late replies release the stream ids
        await wait_until(lambda: metrics_gauge(cluster, server, "orphaned_streams") == 0, timeout=10.0)
        assert metrics_gauge(cluster, server, "in_flight") == 0
        assert cluster.metrics.node(label_of(server)).timeouts == 3


def metrics_gauge(cluster: Cluster, node: FakeServer, name: str) -> float:
    value = cluster.metrics.as_dict()[label_of(node)]["gauges"][name]
    assert isinstance(value, float)
    return value


async def test_prepare_attempts_are_tracked_too(server: FakeServer) -> None:
    tracker = Recorder()
    async with Cluster([server.host], port=server.port, request_tracker=tracker) as cluster:
        session = await cluster.connect()
        await session.prepare("SELECT k, v FROM kv WHERE k = ?")
        [attempt] = [a for a in tracker.attempts() if a.query == "SELECT k, v FROM kv WHERE k = ?"]
        assert attempt.host.address == server.host and attempt.request.is_idempotent
        assert [kind for kind, _ in tracker.ends(attempt)] == ["success"]
        assert cluster.metrics.node(label_of(server)).requests == 1
