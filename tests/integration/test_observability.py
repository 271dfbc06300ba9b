"""OpenTelemetry against the real server: one CLIENT span per request, parented under the caller's span
even with many concurrent tasks; the conventions' attributes (keyspace, table from the prepared metadata,
operation, summary, the prepared CQL and never a bound value, consistency, page size, coordinator); server
errors recorded with their code; db.client.operation.duration recorded with the conventions' buckets; and
the Prometheus collector reading the same cluster."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from aiocql import Cluster, ConsistencyLevel, InvalidRequest, Session
from aiocql.observability.otel import DURATION_BUCKETS, OpenTelemetryTracker
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

from .conftest import ddl

pytestmark = pytest.mark.server
SECRET = 987_654_321  # a bound value that must appear in no attribute


@pytest.fixture(scope="module", autouse=True)
def tables(server: ServerInfo, keyspace: str) -> None:
    ddl(server, keyspace, "CREATE TABLE users (id int PRIMARY KEY, name text)")


@dataclass
class Otel:
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    session: Session

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def db_spans(self) -> list[ReadableSpan]:
        return [s for s in self.finished() if (s.attributes or {}).get("db.system.name") == "cassandra"]

    def duration_points(self) -> list[HistogramDataPoint]:
        data = self.reader.get_metrics_data()
        points: list[HistogramDataPoint] = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == "db.client.operation.duration":
                        assert metric.unit == "s"
                        points += [p for p in metric.data.data_points if isinstance(p, HistogramDataPoint)]
        return points


@pytest.fixture
async def otel(cassandra: ServerInfo, keyspace: str) -> AsyncIterator[Otel]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))  # exports on span end, on this thread
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    tracker = OpenTelemetryTracker(tracer_provider=provider, meter_provider=meters, attempt_spans=True)
    async with Cluster(**cluster_kwargs(cassandra, request_tracker=tracker)) as cluster:
        session = await cluster.connect(keyspace)
        exporter.clear()
        yield Otel(exporter, reader, provider, session)
    meters.shutdown()
    provider.shutdown()


def _all_attribute_values(spans: list[ReadableSpan]) -> Iterator[Any]:
    for span in spans:
        yield from (span.attributes or {}).values()
        for event in span.events:
            yield from (event.attributes or {}).values()


async def test_spans_are_parented_under_each_callers_span_under_concurrency(otel: Otel, keyspace: str) -> None:
    session = otel.session
    insert = await session.prepare("INSERT INTO users (id, name) VALUES (?, ?)")
    select = await session.prepare("SELECT name FROM users WHERE id = ?")
    tracer = otel.tracer_provider.get_tracer("app")
    otel.spans.clear()

    async def handler(i: int) -> int:
        with tracer.start_as_current_span(f"handler-{i}") as parent:
            await session.execute(insert, (SECRET + i, f"user-{i}"))
            await asyncio.sleep(0)  # interleave with the other handlers
            rs = await session.execute(select, (SECRET + i,), consistency_level=ConsistencyLevel.ONE)
            assert rs.one() == (f"user-{i}",)
            return parent.get_span_context().span_id

    parents = await asyncio.gather(*(handler(i) for i in range(40)))
    spans = otel.finished()
    handlers = {s.context.span_id: s for s in spans if s.name.startswith("handler-")}
    db = otel.db_spans()
    assert len(db) == 80 and set(handlers) == set(parents)
    by_parent: dict[int, list[ReadableSpan]] = {}
    for span in db:
        assert span.kind is SpanKind.CLIENT
        assert span.parent is not None and span.parent.span_id in handlers
        assert span.context.trace_id == handlers[span.parent.span_id].context.trace_id
        by_parent.setdefault(span.parent.span_id, []).append(span)
    assert all(sorted(s.name for s in kids) == ["INSERT users", "SELECT users"] for kids in by_parent.values())
    read = next(s for s in db if s.name == "SELECT users")
    attrs = dict(read.attributes or {})
    assert attrs["db.system.name"] == "cassandra" and attrs["db.namespace"] == keyspace
    assert attrs["db.collection.name"] == "users" and attrs["db.operation.name"] == "SELECT"
    assert attrs["db.query.summary"] == "SELECT users"
    assert attrs["db.query.text"] == "SELECT name FROM users WHERE id = ?"
    assert attrs["cassandra.consistency.level"] == "one" and attrs["cassandra.page.size"] == 5000
    assert attrs["cassandra.query.idempotent"] is False and attrs["cassandra.speculative_execution.count"] == 0
    host = session.pools[0].host_info
    assert (attrs["server.address"], attrs["server.port"]) == (host.address, host.port)
    assert attrs["cassandra.coordinator.id"] == str(host.host_id)
    assert attrs["cassandra.coordinator.dc"] == host.datacenter
    assert read.status.status_code is StatusCode.UNSET
    # each request has one attempt span under it, and no attribute anywhere holds a bound value
    attempts = [s for s in spans if s.name.endswith(" attempt")]
    assert len(attempts) == 80 and {s.parent.span_id for s in attempts if s.parent} == {s.context.span_id for s in db}
    values = [str(v) for v in _all_attribute_values(spans)]
    assert not [v for v in values if str(SECRET) in v or "user-" in v]


async def test_a_server_error_is_recorded_with_its_code(otel: Otel) -> None:
    with pytest.raises(InvalidRequest):
        await otel.session.execute("SELECT * FROM no_such_table WHERE id = 1")
    [span] = otel.db_spans()
    attrs = dict(span.attributes or {})
    assert span.status.status_code is StatusCode.ERROR
    assert attrs["error.type"] == "0x2200" and attrs["db.response.status_code"] == "0x2200"
    assert attrs["db.query.text"] == "SELECT * FROM no_such_table WHERE id = ?"  # unprepared: literal removed
    assert attrs["db.collection.name"] == "no_such_table"
    assert sorted(e.name for e in span.events) == ["aiocql.attempt_failed", "exception"]


async def test_the_duration_histogram_has_the_conventions_buckets(otel: Otel, keyspace: str) -> None:
    select = await otel.session.prepare("SELECT name FROM users WHERE id = ?")
    before = sum(p.count for p in otel.duration_points() if p.attributes.get("db.query.summary") == "SELECT users")
    for i in range(25):
        await otel.session.execute(select, (i,))
    points = [p for p in otel.duration_points() if p.attributes.get("db.query.summary") == "SELECT users"]
    assert len(points) == 1
    [point] = points
    assert point.count - before == 25 and tuple(point.explicit_bounds) == DURATION_BUCKETS
    assert sum(point.bucket_counts) == point.count and 0 < point.sum < 25 * 10
    assert point.attributes["db.namespace"] == keyspace and point.attributes["db.system.name"] == "cassandra"
    assert "db.query.text" not in point.attributes  # high cardinality: spans only
    spans = [s for s in otel.db_spans() if s.name == "SELECT users"]
    assert len(spans) == 25  # the metric and the spans describe the same requests


async def test_the_prometheus_collector_exposes_the_clusters_metrics(cassandra: ServerInfo, keyspace: str) -> None:
    prometheus_client = pytest.importorskip("prometheus_client")
    from aiocql.observability.prometheus import register

    registry = prometheus_client.CollectorRegistry()
    async with Cluster(**cluster_kwargs(cassandra, connections_per_host=2)) as cluster:
        session = await cluster.connect(keyspace)
        register(cluster.metrics, registry)
        select = await session.prepare("SELECT name FROM users WHERE id = ?")
        await asyncio.gather(*(session.execute(select, (i,)) for i in range(30)))
        with pytest.raises(InvalidRequest):
            await session.execute("SELECT * FROM no_such_table")
        host = session.pools[0].host_info
        labels = {"node": f"{host.address}:{host.port}"}
        get = registry.get_sample_value
        requests = get("aiocql_requests_total", labels)
        assert requests is not None and requests >= 32  # the prepare, 30 reads, the failed query
        assert get("aiocql_errors_total", {**labels, "kind": "InvalidRequest"}) == 1
        assert get("aiocql_pool_size", labels) == 2 and get("aiocql_open_connections", labels) == 2
        assert get("aiocql_in_flight", labels) == 0
        count = get("aiocql_request_latency_seconds_count", labels)
        assert count is not None and count == requests - 1  # every success, not the failure
        assert get("aiocql_request_latency_seconds_bucket", {**labels, "le": "+Inf"}) == count
        assert get("aiocql_request_latency_seconds_bucket", {**labels, "le": "10.0"}) == count
