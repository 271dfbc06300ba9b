"""What trackers learn of a whole request (OperationInfo): resolved consistency, page size, keyspace, table,
attempts, speculative executions, coordinator, latency and error; request hooks called once per request in
the caller's task; nothing built for the built-in metrics alone; the slow-query log (per execution profile,
CQL without values). Fake servers: retries, speculation and delays are scripted."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
from typing import Any

import pytest

from aiocql import (
    AttemptInfo,
    Cluster,
    ConsistencyLevel,
    ConstantSpeculativeExecutionPolicy,
    ExecutionProfile,
    InvalidValueError,
    OperationInfo,
    OperationTimedOut,
    RoundRobinPolicy,
)
from aiocql.testing.fakeserver import FakeServer, Opcode, ReceivedRequest
from aiocql.testing.polling import wait_until
from aiocql.testing.replies import Prepared
from aiocql.types import INT

from .conftest import KV_COLUMNS, echo_row, is_kv, key_of
from .fakecluster import Gate, cluster_of, fake_nodes, label_of
from .test_tracker import UNAVAILABLE, select

_current: contextvars.ContextVar[OperationInfo | None] = contextvars.ContextVar("_current", default=None)


class OpRecorder:
    """A tracker with request hooks: records both levels, and sets a contextvar for the attempts to see."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.context_of: dict[int, OperationInfo | None] = {}  # id(attempt) -> the contextvar it saw
        self._tokens: dict[int, contextvars.Token[OperationInfo | None]] = {}

    def on_request_start(self, op: OperationInfo) -> None:
        self.events.append(("request_start", op))
        self._tokens[id(op)] = _current.set(op)

    def on_request_end(self, op: OperationInfo) -> None:
        self.events.append(("request_end", op))
        _current.reset(self._tokens.pop(id(op)))

    def on_start(self, info: AttemptInfo) -> None:
        self.events.append(("start", info))
        self.context_of[id(info)] = _current.get()

    def on_success(self, info: AttemptInfo, latency: float) -> None:
        self.events.append(("success", info))

    def on_error(self, info: AttemptInfo, error: BaseException, latency: float) -> None:
        self.events.append(("error", info))

    def ops(self, query: str | None = None) -> list[OperationInfo]:
        return [op for kind, op in self.events if kind == "request_start" and (query is None or op.query == query)]

    def attempts_of(self, op: OperationInfo) -> list[AttemptInfo]:
        return [a for kind, a in self.events if kind == "start" and a.operation is op]

    def check_pairs(self) -> None:
        starts = [id(op) for kind, op in self.events if kind == "request_start"]
        ends = [id(op) for kind, op in self.events if kind == "request_end"]
        assert sorted(starts) == sorted(ends) and len(set(starts)) == len(starts)


async def test_a_query_carries_its_resolved_settings_and_its_coordinator(server: FakeServer) -> None:
    tracker = OpRecorder()
    async with Cluster([server.host], port=server.port, request_tracker=tracker, fetch_size=321) as cluster:
        session = await cluster.connect("ks")
        assert session.builds_operation_info and session.calls_request_hooks  # a tracker with request hooks
        await session.execute(select(1), consistency_level=ConsistencyLevel.QUORUM, fetch_size=100)
        await session.execute(select(2))
        [first] = tracker.ops(select(1))
        [second] = tracker.ops(select(2))
        assert (first.kind, first.consistency_level, first.page_size) == ("QUERY", ConsistencyLevel.QUORUM, 100)
        assert (second.consistency_level, second.page_size) == (ConsistencyLevel.LOCAL_ONE, 321)  # the defaults
        assert first.keyspace == "ks" and first.table is None and not first.parameterized
        assert first.safe_query() == "SELECT k, v FROM kv WHERE k = ?"
        assert first.attempts == 1 and first.speculative_executions == 0 and first.error is None
        assert first.coordinator is not None and first.coordinator.address == server.host
        assert first.latency is not None and 0 < first.latency < 5
        [attempt] = tracker.attempts_of(first)
        assert attempt.consistency_level == ConsistencyLevel.QUORUM and attempt.page_size == 100
        assert tracker.context_of[id(attempt)] is first  # the attempt ran inside the request's context
        assert _current.get() is None  # and the context was reset when the request ended
        tracker.check_pairs()


async def test_a_prepared_statement_gives_its_table_from_the_metadata(server: FakeServer) -> None:
    query = "SELECT k, v FROM kv WHERE k = ?"
    server.on(Opcode.PREPARE, match=lambda r: r.query == query, reply=Prepared(bind=[("k", INT)], result=KV_COLUMNS,
                                                                           keyspace="other", table="kv"))  # fmt: skip
    server.on(Opcode.EXECUTE, reply=echo_row)
    tracker = OpRecorder()
    async with Cluster([server.host], port=server.port, request_tracker=tracker) as cluster:
        session = await cluster.connect("ks")
        ps = await session.prepare(query)
        await session.execute(ps, (424242,), consistency_level=ConsistencyLevel.ONE)
        [prepare, execute] = tracker.ops(query)
        assert (prepare.kind, prepare.parameterized) == ("PREPARE", True)
        assert (execute.kind, execute.keyspace, execute.table) == ("EXECUTE", "other", "kv")
        assert execute.parameterized and execute.safe_query() == query
        [attempt] = tracker.attempts_of(execute)
        assert (attempt.keyspace, attempt.table, attempt.consistency_level) == ("other", "kv", ConsistencyLevel.ONE)
        assert "424242" not in repr(execute)  # bound values never reach the info object
        tracker.check_pairs()


async def test_a_retry_counts_two_attempts_and_the_second_host_coordinates() -> None:
    tracker = OpRecorder()
    async with fake_nodes(2) as nodes:
        failed = {"done": False}

        def unavailable_once(req: ReceivedRequest) -> object:
            if not failed["done"]:
                failed["done"] = True
                return UNAVAILABLE
            return echo_row(req)

        for node in nodes:
            node.on(Opcode.QUERY, match=is_kv, reply=unavailable_once)
        async with cluster_of(nodes, request_tracker=tracker, load_balancing_policy=RoundRobinPolicy()) as cluster:
            session = await cluster.connect()
            await session.execute(select(1))
            [op] = tracker.ops(select(1))
            a0, a1 = tracker.attempts_of(op)
            assert op.attempts == 2 and (a0.attempt, a1.attempt) == (0, 1) and a1.is_retry
            assert op.coordinator == a1.host and op.last_host == a1.host and a0.host != a1.host
            assert op.error is None
            tracker.check_pairs()


async def test_a_speculative_execution_is_counted_and_the_fast_node_coordinates() -> None:
    tracker = OpRecorder()
    async with fake_nodes(2) as nodes:
        slow, fast = nodes
        slow.on(Opcode.QUERY, match=is_kv, reply=echo_row, delay=0.3)
        async with cluster_of(
            nodes, request_tracker=tracker, load_balancing_policy=RoundRobinPolicy(),
            speculative_execution_policy=ConstantSpeculativeExecutionPolicy(0.02, 1),
        ) as cluster:  # fmt: skip
            session = await cluster.connect()
            for k in range(2):  # round robin: one of them starts on the slow node
                await session.execute(select(k), is_idempotent=True)
            # The request that started on the slow node was speculated (the other may be too, on a slow machine).
            [op] = [op for op in tracker.ops() if tracker.attempts_of(op)[0].host.address == slow.host]
            assert op.speculative_executions == 1
            assert op.attempts == 2 and op.is_idempotent
            assert op.coordinator is not None and op.coordinator.address == fast.host
            first, second = tracker.attempts_of(op)
            assert first.host.address == slow.host and second.speculative
            assert tracker.context_of[id(second)] is op  # the speculative task inherited the request's context
            tracker.check_pairs()


async def test_a_timeout_and_a_cancellation_end_the_request_with_their_error(server: FakeServer) -> None:
    gate = Gate()
    server.on(Opcode.QUERY, match=is_kv, reply=gate.hold)
    tracker = OpRecorder()
    async with Cluster([server.host], port=server.port, request_tracker=tracker) as cluster:
        session = await cluster.connect()
        with pytest.raises(OperationTimedOut) as timed_out:
            await session.execute(select(1), timeout=0.05)
        [op] = tracker.ops(select(1))
        # its 0.05 s deadline, less uvloop's millisecond timer resolution
        assert op.error is timed_out.value and op.latency is not None and op.latency >= 0.045
        task = asyncio.ensure_future(session.execute(select(2)))
        await wait_until(lambda: gate.held >= 2, timeout=5.0)  # the server holds the request
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        [op] = tracker.ops(select(2))
        assert isinstance(op.error, asyncio.CancelledError)
        tracker.check_pairs()
        gate.open()


async def test_the_built_in_metrics_alone_build_no_operation_info(server: FakeServer) -> None:
    class AttemptsOnly:
        wants_operation_info = False

        def __init__(self) -> None:
            self.attempts: list[AttemptInfo] = []

        def on_start(self, info: AttemptInfo) -> None:
            self.attempts.append(info)

        def on_success(self, info: AttemptInfo, latency: float) -> None:
            pass

        def on_error(self, info: AttemptInfo, error: BaseException, latency: float) -> None:
            pass

    tracker = AttemptsOnly()
    async with Cluster([server.host], port=server.port, request_tracker=tracker) as cluster:
        session = await cluster.connect()
        assert not session.builds_operation_info and not session.calls_request_hooks
        await session.execute(select(1))
        assert [a.operation for a in tracker.attempts if a.query == select(1)] == [None]
    async with Cluster([server.host], port=server.port) as cluster:
        session = await cluster.connect()
        # The default cluster: the built-in metrics only.
        assert not session.builds_operation_info and not session.calls_request_hooks


async def test_a_failing_request_hook_does_not_fail_the_request(
    server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(OpRecorder):
        def on_request_start(self, op: OperationInfo) -> None:
            raise RuntimeError("tracker bug")

        def on_request_end(self, op: OperationInfo) -> None:
            raise RuntimeError("tracker bug")

    server.on(Opcode.QUERY, match=is_kv, reply=echo_row)
    async with Cluster([server.host], port=server.port, request_tracker=Broken()) as cluster:
        session = await cluster.connect()
        assert (await session.execute(select(3))).one() == (3, "value-3")
    assert sum("failed in on_request_start" in r.getMessage() for r in caplog.records) >= 1
    assert sum("failed in on_request_end" in r.getMessage() for r in caplog.records) >= 1


async def test_slow_queries_are_logged_without_values_per_profile(
    server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.on(Opcode.QUERY, match=lambda r: is_kv(r) and key_of(r) >= 100, reply=echo_row, delay=0.25)
    profiles = {
        "quiet": ExecutionProfile(slow_query_threshold=math.inf),
        "strict": ExecutionProfile(slow_query_threshold=0.0, consistency_level=ConsistencyLevel.TWO),
    }
    caplog.set_level(logging.WARNING, logger="aiocql.session.slow")
    async with Cluster(
        [server.host], port=server.port, slow_query_threshold=0.15, execution_profiles=profiles
    ) as cluster:
        session = await cluster.connect()
        assert not session.calls_request_hooks  # no tracker hooks: the slow log alone
        await session.execute(select(1))  # fast: not logged
        await session.execute(select(101))  # slow: logged
        await session.execute(select(102), execution_profile="quiet")  # slow but off for this profile
        await session.execute(select(3), execution_profile="strict")  # fast but over 0 s
    records = [r for r in caplog.records if r.name == "aiocql.session.slow"]
    assert [r.cql for r in records] == ["SELECT k, v FROM kv WHERE k = ?"] * 2  # type: ignore[attr-defined]
    slow, strict = records
    assert slow.levelno == logging.WARNING
    assert slow.latency >= 0.25 and slow.threshold == 0.15 and slow.attempts == 1  # type: ignore[attr-defined]
    assert slow.coordinator == label_of(server) and slow.consistency == "LOCAL_ONE"  # type: ignore[attr-defined]
    assert strict.consistency == "TWO" and strict.threshold == 0.0  # type: ignore[attr-defined]
    for record in records:
        message = record.getMessage()
        assert "k = ?" in message and "k = 101" not in message and "k = 3" not in message
        assert label_of(server) in message and "1 attempt" in message


def test_thresholds_are_checked() -> None:
    for bad in (-0.1, "1s", math.nan, True):
        with pytest.raises(InvalidValueError, match="slow_query_threshold"):
            Cluster(["127.0.0.1"], slow_query_threshold=bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidValueError, match="slow_query_threshold"):
            ExecutionProfile(slow_query_threshold=bad)  # type: ignore[arg-type]
    assert ExecutionProfile(slow_query_threshold=0).slow_query_threshold == 0
