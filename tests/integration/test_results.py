"""ResultSet: rows and their metadata, LWT results, warnings, tracing, custom payloads, row factories."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from aiocql import (
    Cluster,
    QueryTrace,
    Session,
    SimpleStatement,
    dict_factory,
    named_tuple_factory,
    object_factory,
    tuple_factory,
)
from aiocql.protocol.cqltypes import INT, TEXT, ListType
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

from .conftest import VARIANTS, VERSIONS, ddl

pytestmark = pytest.mark.server


@pytest.fixture(scope="module", autouse=True)
def tables(server: ServerInfo, keyspace: str) -> None:
    ddl(
        server,
        keyspace,
        "CREATE TABLE r (k text, c int, v text, l list<int>, PRIMARY KEY (k, c))",
        "CREATE TABLE lwt (k text PRIMARY KEY, v int)",
    )


@pytest.mark.parametrize("session", VARIANTS, indirect=True)
async def test_rows_and_metadata(session: Session, request: pytest.FixtureRequest) -> None:
    key = f"rows-{request.node.callspec.id}"
    for c in range(5):
        await session.execute("INSERT INTO r (k, c, v, l) VALUES (?, ?, ?, ?)", (key, c, f"v{c}", [c, c]))
    rs = await session.execute("SELECT c, v, l FROM r WHERE k = ?", (key,), fetch_size=2)
    assert rs.column_names == ("c", "v", "l")
    assert rs.column_types == (INT, TEXT, ListType(INT))
    assert rs.current_rows == [(0, "v0", [0, 0]), (1, "v1", [1, 1])]
    assert len(rs) == 2 and rs and rs.has_more_pages
    assert rs.one() == (0, "v0", [0, 0])
    assert rs.one().v == "v0"
    # all() collects every page from this one on; current_rows stays the first page.
    assert [r.c for r in await rs.all()] == [0, 1, 2, 3, 4]
    assert len(rs.current_rows) == 2
    empty = await session.execute("SELECT c FROM r WHERE k = 'nothing here'")
    assert empty.one() is None
    assert empty.current_rows == [] and not empty and not empty.has_more_pages
    assert await empty.all() == []
    assert empty.column_names == ("c",)
    # A write has no rows and no columns.
    write = await session.execute("INSERT INTO r (k, c) VALUES (?, 99)", (key,))
    assert write.current_rows == [] and write.column_names == () and write.one() is None
    assert write.coordinator == session.pools[0].host


@pytest.mark.parametrize("session", VERSIONS, indirect=True)
async def test_was_applied(session: Session, request: pytest.FixtureRequest) -> None:
    key = request.node.callspec.id
    first = await session.execute("INSERT INTO lwt (k, v) VALUES (?, 1) IF NOT EXISTS", (key,))
    assert first.was_applied is True
    assert first.one().applied is True  # "[applied]" as a Python identifier
    second = await session.execute("INSERT INTO lwt (k, v) VALUES (?, 2) IF NOT EXISTS", (key,))
    assert second.was_applied is False
    assert second.column_names[0] == "[applied]"
    assert (second.one().k, second.one().v) == (key, 1)  # the existing row comes back
    update = await session.execute("UPDATE lwt SET v = 3 WHERE k = ? IF v = 1", (key,))
    assert update.was_applied is True
    stale = await session.execute(f"UPDATE lwt SET v = 4 WHERE k = '{key}' IF v = 1")
    assert stale.was_applied is False and stale.one().v == 3
    as_dicts = await session.execute(f"UPDATE lwt SET v = 5 WHERE k = '{key}' IF v = 3", row_factory=dict_factory)
    assert as_dicts.was_applied is True
    with pytest.raises(RuntimeError, match=r"conditional"):
        _ = (await session.execute("SELECT v FROM lwt WHERE k = ?", (key,))).was_applied


@pytest.mark.parametrize("session", VERSIONS, indirect=True)
async def test_server_warnings(session: Session) -> None:
    rs = await session.execute("SELECT count(*) FROM r")
    assert rs.warnings == ("Aggregation query used without partition key",)
    assert (await session.execute("SELECT count(*) FROM r WHERE k = 'x'")).warnings == ()


@pytest.mark.parametrize("session", VARIANTS, indirect=True)
async def test_tracing(session: Session, request: pytest.FixtureRequest) -> None:
    key = request.node.callspec.id
    untraced = await session.execute("SELECT * FROM r WHERE k = ?", (key,))
    assert untraced.tracing_id is None
    assert await untraced.get_query_trace() is None  # as cassandra-driver: no trace, no error
    rs = await session.execute("SELECT * FROM r WHERE k = ?", (key,), trace=True)
    assert isinstance(rs.tracing_id, uuid.UUID)
    trace = await rs.get_query_trace(max_wait=10)
    assert isinstance(trace, QueryTrace)
    assert trace.trace_id == rs.tracing_id
    assert trace.request_type == "Execute CQL3 prepared query"
    assert trace.coordinator == session.pools[0].host
    assert trace.duration_us is not None and trace.duration_us > 0
    assert len(trace.events) > 0
    assert all(e.description for e in trace.events)
    simple = await session.execute(SimpleStatement(f"SELECT * FROM r WHERE k = '{key}'"), trace=True)
    simple_trace = await simple.get_query_trace(max_wait=10)
    assert simple_trace is not None and simple_trace.request_type == "Execute CQL3 query"


@pytest.mark.parametrize("session", VARIANTS, indirect=True)
async def test_custom_payload_is_accepted(session: Session, request: pytest.FixtureRequest) -> None:
    """Cassandra's default query handler reads a request's custom payload and answers without one (only
    a custom QueryHandler such as the test-only CustomPayloadMirroringQueryHandler echoes it). So: a
    payload, well-formed on v4 and v5 framing, is accepted, and the reply carries none."""
    key = f"payload-{request.node.callspec.id}"
    payload = {"k1": b"\x00\x01", "k2": b"", "ünï": b"x" * 1000}
    await session.execute("INSERT INTO r (k, c, v) VALUES (?, 1, 'p')", (key,), custom_payload=payload)
    rs = await session.execute(
        SimpleStatement(f"SELECT v FROM r WHERE k = '{key}'", custom_payload=payload), trace=True
    )
    assert rs.one().v == "p"
    assert rs.tracing_id is not None  # both header flags together: tracing and custom payload
    assert rs.custom_payload is None


@dataclass
class Item:
    k: str
    c: int
    v: str | None


@pytest.mark.parametrize("factory", ["tuple", "named_tuple", "dict", "object"])
async def test_row_factories(cassandra: ServerInfo, keyspace: str, factory: str) -> None:
    factories = {
        "tuple": tuple_factory,
        "named_tuple": named_tuple_factory,
        "dict": dict_factory,
        "object": object_factory(Item),
    }
    expected = {
        "tuple": [("f", 0, "a"), ("f", 1, "b")],
        "named_tuple": [("f", 0, "a"), ("f", 1, "b")],
        "dict": [{"k": "f", "c": 0, "v": "a"}, {"k": "f", "c": 1, "v": "b"}],
        "object": [Item("f", 0, "a"), Item("f", 1, "b")],
    }[factory]
    async with Cluster(**cluster_kwargs(cassandra, row_factory=factories[factory])) as cluster:
        session = await cluster.connect(keyspace)
        await session.execute("INSERT INTO r (k, c, v) VALUES ('f', 0, 'a')")
        await session.execute("INSERT INTO r (k, c, v) VALUES ('f', 1, 'b')")
        rs = await session.execute("SELECT k, c, v FROM r WHERE k = 'f' AND c < 2", fetch_size=1)
        rows = await rs.all()
        assert rows == expected
        assert type(rows[0]) is type(expected[0]) or factory == "named_tuple"
        if factory == "named_tuple":
            assert (rows[1].k, rows[1].c, rows[1].v) == ("f", 1, "b")
        # Per call, the factory can be overridden.
        one = (await session.execute("SELECT k, c, v FROM r WHERE k = 'f' AND c = 0", row_factory=dict_factory)).one()
        assert one == {"k": "f", "c": 0, "v": "a"}
        # Columns that are not identifiers still make usable named tuples.
        odd = await session.execute(
            "SELECT writetime(v), ttl(v), \"k\" FROM r WHERE k = 'f' AND c = 0", row_factory=named_tuple_factory
        )
        assert odd.one()._fields == ("writetime_v", "ttl_v", "k")
