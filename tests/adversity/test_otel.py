"""OpenTelemetry under scripted faults (fake servers): a retried request is one span with both attempts as
child spans and the failed one as an event; a speculative execution is counted and the loser's span is not
an error; a client-side timeout is ``aiocql.OperationTimedOut``; a batch gets the conventions' batch
attributes; without attempt spans the retry is still visible as an event."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from aiocql import (
    BatchStatement,
    BatchType,
    Cluster,
    ConstantSpeculativeExecutionPolicy,
    OperationTimedOut,
    RoundRobinPolicy,
)
from aiocql.observability.otel import OpenTelemetryTracker
from aiocql.testing.fakeserver import FakeServer, Opcode, ReceivedRequest
from aiocql.testing.polling import wait_until
from aiocql.testing.replies import Prepared
from aiocql.types import INT, TEXT

from .conftest import echo_row, is_kv
from .fakecluster import Gate, cluster_of, fake_nodes
from .test_tracker import UNAVAILABLE, select


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    exporter.clear()


def tracker_for(exporter: InMemorySpanExporter, **kwargs: bool) -> OpenTelemetryTracker:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return OpenTelemetryTracker(tracer_provider=provider, record_metrics=False, **kwargs)


def request_spans(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == name]


def children_of(exporter: InMemorySpanExporter, span: ReadableSpan) -> list[ReadableSpan]:
    return [
        s for s in exporter.get_finished_spans() if s.parent is not None and s.parent.span_id == span.context.span_id
    ]


def unavailable_once() -> object:
    failed = {"done": False}

    def reply(req: ReceivedRequest) -> object:
        if not failed["done"]:
            failed["done"] = True
            return UNAVAILABLE
        return echo_row(req)

    return reply


async def test_a_retry_is_one_span_with_two_attempt_children(exporter: InMemorySpanExporter) -> None:
    async with fake_nodes(2) as nodes:
        reply = unavailable_once()
        for node in nodes:
            node.on(Opcode.QUERY, match=is_kv, reply=reply)
        tracker = tracker_for(exporter, attempt_spans=True)
        async with cluster_of(nodes, request_tracker=tracker, load_balancing_policy=RoundRobinPolicy()) as cluster:
            session = await cluster.connect()
            await session.execute(select(1))
        [span] = request_spans(exporter, "SELECT kv")
        attrs = dict(span.attributes or {})
        assert attrs["aiocql.attempts"] == 2 and span.status.status_code is StatusCode.UNSET
        first, second = sorted(children_of(exporter, span), key=lambda s: s.start_time or 0)
        assert (first.attributes or {})["aiocql.attempt"] == 0 and (second.attributes or {})["aiocql.retry"] is True
        assert first.status.status_code is StatusCode.ERROR and (first.attributes or {})["error.type"] == "0x1000"
        assert second.status.status_code is StatusCode.UNSET
        assert (first.attributes or {})["server.address"] != (second.attributes or {})["server.address"]
        assert attrs["server.address"] == (second.attributes or {})["server.address"]  # the node that answered
        [event] = span.events
        assert event.name == "aiocql.attempt_failed" and (event.attributes or {})["db.response.status_code"] == "0x1000"
        assert span.start_time is not None and first.start_time is not None and span.start_time <= first.start_time
        assert span.end_time is not None and second.end_time is not None and second.end_time <= span.end_time


async def test_without_attempt_spans_a_retry_is_an_event(exporter: InMemorySpanExporter) -> None:
    async with fake_nodes(2) as nodes:
        reply = unavailable_once()
        for node in nodes:
            node.on(Opcode.QUERY, match=is_kv, reply=reply)
        async with cluster_of(
            nodes, request_tracker=tracker_for(exporter), load_balancing_policy=RoundRobinPolicy()
        ) as cluster:
            session = await cluster.connect()
            await session.execute(select(1))
        [span] = request_spans(exporter, "SELECT kv")
        assert children_of(exporter, span) == []
        assert [e.name for e in span.events] == ["aiocql.attempt_failed"]
        assert (span.attributes or {})["aiocql.attempts"] == 2


async def test_a_speculative_execution_is_counted_and_the_loser_is_no_error(exporter: InMemorySpanExporter) -> None:
    async with fake_nodes(2) as nodes:
        slow = nodes[0]
        slow.on(Opcode.QUERY, match=is_kv, reply=echo_row, delay=0.3)
        async with cluster_of(
            nodes, request_tracker=tracker_for(exporter, attempt_spans=True), load_balancing_policy=RoundRobinPolicy(),
            speculative_execution_policy=ConstantSpeculativeExecutionPolicy(0.02, 1),
        ) as cluster:  # fmt: skip
            session = await cluster.connect()
            for k in range(2):
                await session.execute(select(k), is_idempotent=True)

            def attempt_on_slow(span: ReadableSpan) -> bool:
                return any(
                    (c.attributes or {})["aiocql.attempt"] == 0 and (c.attributes or {})["server.address"] == slow.host
                    for c in children_of(exporter, span)
                )

            # The loser's attempt span ends when its cancellation unwinds, just after the request's span.
            spans = request_spans(exporter, "SELECT kv")
            await wait_until(lambda: any(attempt_on_slow(s) for s in spans), timeout=10.0)
        # The request that started on the slow node was speculated (the other one may be too, on a slow machine).
        [span] = [s for s in spans if attempt_on_slow(s)]
        attrs = dict(span.attributes or {})
        assert attrs["cassandra.speculative_execution.count"] == 1 and attrs["cassandra.query.idempotent"] is True
        assert span.status.status_code is StatusCode.UNSET and span.events == ()
        [fast_attempt] = [c for c in children_of(exporter, span) if (c.attributes or {})["aiocql.speculative"]]
        assert attrs["server.address"] == (fast_attempt.attributes or {})["server.address"] != slow.host
        [loser] = [c for c in children_of(exporter, span) if (c.attributes or {}).get("aiocql.cancelled")]
        assert loser.status.status_code is StatusCode.UNSET and (loser.attributes or {})["server.address"] == slow.host


async def test_a_client_side_timeout(server: FakeServer, exporter: InMemorySpanExporter) -> None:
    gate = Gate()
    server.on(Opcode.QUERY, match=is_kv, reply=gate.hold)
    async with Cluster([server.host], port=server.port, request_tracker=tracker_for(exporter)) as cluster:
        session = await cluster.connect()
        with pytest.raises(OperationTimedOut):
            await session.execute(select(1), timeout=0.05)
        gate.open()
    [span] = request_spans(exporter, "SELECT kv")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "aiocql.OperationTimedOut"
    assert "db.response.status_code" not in (span.attributes or {})


async def test_a_batch_gets_the_batch_attributes(server: FakeServer, exporter: InMemorySpanExporter) -> None:
    server.on(Opcode.PREPARE, reply=Prepared(bind=[("k", INT), ("v", TEXT)], table="kv"))
    async with Cluster([server.host], port=server.port, request_tracker=tracker_for(exporter)) as cluster:
        session = await cluster.connect("ks")
        insert = await session.prepare("INSERT INTO kv (k, v) VALUES (?, ?)")
        batch = BatchStatement(BatchType.UNLOGGED)
        for k in range(3):
            batch.add(insert, (k, "secret-value"))
        await session.execute(batch)
        mixed = BatchStatement()
        mixed.add(insert, (1, "secret-value"))
        mixed.add("DELETE FROM kv WHERE k = 12345")
        await session.execute(mixed)
    [same] = request_spans(exporter, "BATCH INSERT kv")
    attrs = dict(same.attributes or {})
    assert attrs["db.operation.name"] == "BATCH INSERT" and attrs["db.operation.batch.size"] == 3
    assert attrs["db.query.text"] == "INSERT INTO kv (k, v) VALUES (?, ?)" and attrs["db.collection.name"] == "kv"
    [other] = request_spans(exporter, "BATCH kv")
    text = (other.attributes or {})["db.query.text"]
    assert text == "INSERT INTO kv (k, v) VALUES (?, ?); DELETE FROM kv WHERE k = ?"  # literals removed
    assert not any(
        "secret-value" in str(v) for s in exporter.get_finished_spans() for v in (s.attributes or {}).values()
    )
