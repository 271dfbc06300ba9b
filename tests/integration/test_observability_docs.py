"""The FastAPI + OpenTelemetry example of docs/observability.md, run as written against the real server: its
``create_app`` serves a user, answers 404 for a missing one, and each Cassandra span sits under the HTTP span
of the request that made it."""

from __future__ import annotations

import asyncio
import re
import types
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("fastapi")
pytest.importorskip("httpx")

import httpx
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from aiocql.testing.pytest_plugin import ServerInfo

from .conftest import ddl

pytestmark = pytest.mark.server
DOC = Path(__file__).resolve().parents[2] / "docs" / "observability.md"


@pytest.fixture(scope="module", autouse=True)
def tables(server: ServerInfo, keyspace: str) -> None:
    ddl(
        server, keyspace, "CREATE TABLE users (id int PRIMARY KEY, name text)",
        "INSERT INTO users (id, name) VALUES (1, 'Ada')", "INSERT INTO users (id, name) VALUES (2, 'Grace')",
    )  # fmt: skip


def load_example(monkeypatch: pytest.MonkeyPatch, cassandra: ServerInfo, keyspace: str) -> types.ModuleType:
    [code] = re.findall(r"```python\n(# app\.py\n.*?)```", DOC.read_text(), flags=re.S)
    monkeypatch.setenv("CASSANDRA_CONTACT_POINTS", ",".join(cassandra.contact_points))
    monkeypatch.setenv("CASSANDRA_PORT", str(cassandra.port))
    monkeypatch.setenv("CASSANDRA_KEYSPACE", keyspace)
    module = types.ModuleType("app")
    exec(compile(code, str(DOC), "exec"), module.__dict__)  # as `import app` would, not as __main__
    return module


async def test_the_fastapi_example_traces_each_request(
    monkeypatch: pytest.MonkeyPatch, cassandra: ServerInfo, keyspace: str
) -> None:
    if cassandra.username is not None or cassandra.ca_file is not None:
        pytest.skip("the example connects without auth or TLS")
    example = load_example(monkeypatch, cassandra, keyspace)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = example.create_app(tracer_provider=provider)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://shop") as client:
            found, missing, again = await asyncio.gather(
                client.get("/users/1"), client.get("/users/404"), client.get("/users/2")
            )
    assert found.status_code == 200 and found.json() == {"id": 1, "name": "Ada"}
    assert again.json() == {"id": 2, "name": "Grace"}
    assert missing.status_code == 404
    spans = exporter.get_finished_spans()
    http = {s.context.span_id: s for s in spans if s.kind is SpanKind.SERVER}
    db = [s for s in spans if (s.attributes or {}).get("db.system.name") == "cassandra"]
    reads = [s for s in db if s.name == "SELECT users"]
    assert len(http) == 3 and len(reads) == 3
    for read in reads:
        assert read.parent is not None and read.parent.span_id in http
        assert read.context.trace_id == http[read.parent.span_id].context.trace_id
    assert {(http[r.parent.span_id].attributes or {})["url.path"] for r in reads if r.parent} == {
        "/users/1", "/users/2", "/users/404",
    }  # fmt: skip
    [prepare] = [s for s in db if s.name == "PREPARE users"]
    assert prepare.parent is None  # made at start-up, outside any HTTP request
