"""Observability, server-free: the CQL helpers (operation, table, summary; literals replaced, markers kept);
the optional integrations stay out of the core (importing aiocql imports neither OpenTelemetry nor
prometheus_client, and only their own modules name them); the docs example runs."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from aiocql.metrics.cql import describe, describe_batch, sanitize
from tests.helpers.doctests import run_doctests

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("query", "operation", "keyspace", "table"),
    [
        ("SELECT * FROM users WHERE id = ?", "SELECT", None, "users"),
        ("select count(*) from ks.users", "select", "ks", "users"),
        ('SELECT "Name" FROM "Ks"."Users" WHERE k = :k', "SELECT", '"Ks"', '"Users"'),
        ("SELECT JSON a FROM t", "SELECT", None, "t"),
        ("INSERT INTO t (k, v) VALUES (?, ?) IF NOT EXISTS", "INSERT", None, "t"),
        ("UPDATE ks.t USING TTL 5 SET v = ? WHERE k = ?", "UPDATE", "ks", "t"),
        ("DELETE v FROM t WHERE k = 1", "DELETE", None, "t"),
        ("TRUNCATE TABLE ks.t", "TRUNCATE", "ks", "t"),
        ("TRUNCATE t", "TRUNCATE", None, "t"),
        ("CREATE TABLE IF NOT EXISTS ks.t (k int PRIMARY KEY)", "CREATE TABLE", "ks", "t"),
        ("DROP TABLE t", "DROP TABLE", None, "t"),
        ("CREATE INDEX IF NOT EXISTS ON ks.t (v)", "CREATE INDEX", "ks", "t"),
        ("CREATE KEYSPACE k2 WITH replication = {'class': 'SimpleStrategy'}", "CREATE KEYSPACE", "k2", None),
        ("CREATE MATERIALIZED VIEW ks.mv AS SELECT * FROM t", "CREATE MATERIALIZED VIEW", "ks", "mv"),
        ("CREATE TYPE ks.address (street text)", "CREATE TYPE", "ks", None),
        ("USE ks", "USE", "ks", None),
        ("-- comment\n  /* more */ SELECT a FROM t", "SELECT", None, "t"),
        ("GRANT SELECT ON ks.t TO bob", "GRANT", None, None),
        ("", None, None, None),
        ("(", None, None, None),
    ],
)
def test_describe(query: str, operation: str | None, keyspace: str | None, table: str | None) -> None:
    d = describe(query)
    assert (d.operation, d.keyspace, d.table) == (operation, keyspace, table)
    if operation is not None:
        assert d.summary is not None and d.summary.startswith(operation) and len(d.summary) <= 255


def test_summaries_are_operation_then_target() -> None:
    assert describe("SELECT * FROM ks.users WHERE id = 1").summary == "SELECT users"
    assert describe("CREATE KEYSPACE k2 WITH replication = {}").summary == "CREATE KEYSPACE k2"
    assert describe("GRANT SELECT ON t TO bob").summary == "GRANT"
    assert describe("SELECT * FROM " + "x" * 300).summary == "SELECT"  # too long: the operation alone


def test_textual_and_protocol_batches() -> None:
    text = "BEGIN UNLOGGED BATCH INSERT INTO t (k) VALUES (1); INSERT INTO t (k) VALUES (2); APPLY BATCH"
    assert describe(text).operation == "BATCH INSERT" and describe(text).table == "t"
    mixed = "BEGIN BATCH INSERT INTO t (k) VALUES (1); DELETE FROM u WHERE k = 2 APPLY BATCH"
    assert (describe(mixed).operation, describe(mixed).table) == ("BATCH", None)
    assert describe_batch([None, "INSERT INTO t (k) VALUES (?)"]).operation == "BATCH"
    assert describe_batch([]).operation == "BATCH"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SELECT * FROM t WHERE k = 'it''s secret'", "SELECT * FROM t WHERE k = ?"),
        ("SELECT * FROM t WHERE k IN (1, 2, 3.5, -4e10)", "SELECT * FROM t WHERE k IN (?, ?, ?, -?)"),
        ("UPDATE t SET b = 0xDEADbeef, d = 1h30m, u = 5b6962dd-3f90-4c93-8f61-eabfa4a803e2 WHERE k = ?",
         "UPDATE t SET b = ?, d = ?, u = ? WHERE k = ?"),
        ("INSERT INTO t (k, f) VALUES (?, $$ code $$)", "INSERT INTO t (k, f) VALUES (?, ?)"),
        ("UPDATE t SET ok = TRUE, n = NaN, i = -Infinity WHERE k = :key",
         "UPDATE t SET ok = ?, n = ?, i = -? WHERE k = :key"),
        ('SELECT "col1", t2.c FROM ks.t2 WHERE k = ?', 'SELECT "col1", t2.c FROM ks.t2 WHERE k = ?'),
        ("SELECT  *\n FROM t -- trailing 42\n WHERE k = 7 /* 8 */", "SELECT * FROM t WHERE k = ?"),
        ("SELECT * FROM t WHERE k = 'unterminated", "SELECT * FROM t WHERE k = ?"),
    ],
)  # fmt: skip
def test_sanitize_replaces_every_literal(query: str, expected: str) -> None:
    assert sanitize(query) == expected


def test_importing_aiocql_imports_no_optional_integration() -> None:
    code = (
        "import sys, aiocql, aiocql.observability, aiocql.metrics.cql, aiocql.observability.slow_queries\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('opentelemetry', 'prometheus_client')]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_only_the_integration_modules_name_the_optional_libraries() -> None:
    allowed = {"aiocql/observability/otel.py", "aiocql/observability/prometheus.py"}
    offenders = []
    for path in sorted((ROOT / "aiocql").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] in ("opentelemetry", "prometheus_client") for n in names) and rel not in allowed:
                offenders.append(rel)
    assert offenders == []


@pytest.mark.parametrize(
    "name",
    ["aiocql.observability", "aiocql.metrics.cql", "aiocql.observability.slow_queries",
     "aiocql.observability.otel", "aiocql.observability.prometheus"],
)  # fmt: skip
def test_docstring_examples(name: str) -> None:
    if name.endswith(".otel"):
        pytest.importorskip("opentelemetry.sdk")
    if name.endswith(".prometheus"):
        pytest.importorskip("prometheus_client")
    run_doctests(name, require_examples=name != "aiocql.observability.slow_queries")


def test_the_prometheus_collector_and_the_text_export_agree() -> None:
    prometheus_client = pytest.importorskip("prometheus_client")
    from prometheus_client.parser import text_string_to_metric_families

    from aiocql import Metrics
    from aiocql.observability.prometheus import AiocqlCollector, register

    metrics = Metrics()
    node = metrics.node("10.0.0.1:9042")
    for us in (300, 800, 4000, 20_000, 2_000_000):
        node.latency.record_us(us)
    node.requests, node.retries = 5, 1
    node.count_error("ReadTimeout")
    node.add_gauge("in_flight", lambda: 2)
    node.add_gauge("pool_size", lambda: 3)
    registry = prometheus_client.CollectorRegistry()
    register(metrics, registry)
    get = registry.get_sample_value
    labels = {"node": "10.0.0.1:9042"}
    assert get("aiocql_requests_total", labels) == 5 and get("aiocql_retries_total", labels) == 1
    assert get("aiocql_errors_total", {**labels, "kind": "ReadTimeout"}) == 1
    assert get("aiocql_in_flight", labels) == 2 and get("aiocql_pool_size", labels) == 3
    bucket = "aiocql_request_latency_seconds_bucket"
    assert get(bucket, {**labels, "le": "0.0005"}) == 1 and get(bucket, {**labels, "le": "0.001"}) == 2
    assert get(bucket, {**labels, "le": "0.005"}) == 3 and get(bucket, {**labels, "le": "0.025"}) == 4
    assert get(bucket, {**labels, "le": "2.5"}) == 5 and get(bucket, {**labels, "le": "+Inf"}) == 5
    assert get("aiocql_request_latency_seconds_count", labels) == 5
    assert get("aiocql_request_latency_seconds_sum", labels) == pytest.approx(2.0251)

    def parsed(text: str) -> dict[tuple[str, str, tuple[tuple[str, str], ...]], float]:
        return {
            (f.name, f.type, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
            if not s.name.endswith("_created")
        }

    assert parsed(prometheus_client.generate_latest(registry).decode()) == parsed(metrics.prometheus_text())
    with pytest.raises(ValueError, match="Duplicated"):
        registry.register(AiocqlCollector(metrics))  # the same names twice: refused at registration
    other = prometheus_client.CollectorRegistry()
    register(Metrics(prefix="second"), other)  # nothing yet: no samples, no error
    assert prometheus_client.generate_latest(other) == b""


def test_latency_buckets_are_configurable_and_checked() -> None:
    from aiocql import Metrics

    m = Metrics(latency_buckets=(0.01, 0.1))
    m.node("n").latency.record(0.05)
    assert m.node("n").latency.cumulative() == [(0.01, 0), (0.1, 1), (float("inf"), 1)]
    for bad in ((), (0.1, 0.01), (0.0,), (0.001, 0.0010000001)):
        with pytest.raises(ValueError, match="latency buckets"):
            Metrics(latency_buckets=bad)


def test_the_otel_tracker_does_nothing_while_no_sdk_is_configured() -> None:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from aiocql import OperationInfo
    from aiocql.observability.otel import OpenTelemetryTracker

    off = OpenTelemetryTracker()  # the global providers: the API's placeholders in this process
    op = OperationInfo("QUERY", "SELECT * FROM t", latency=0.001)
    off.on_request_start(op)
    assert off.in_progress == 0  # no SDK: nothing recorded, nothing kept
    off.on_request_end(op)

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    on = OpenTelemetryTracker(tracer_provider=provider, record_metrics=False)
    on.on_request_start(op)
    assert on.in_progress == 1
    on.on_request_end(op)
    assert on.in_progress == 0 and [s.name for s in exporter.get_finished_spans()] == ["SELECT t"]
