"""prepare(): the prepared-statement cache (one round trip, shared object), bound statements, UNSET_VALUE."""

from __future__ import annotations

import asyncio

import pytest

from aiocql import UNSET_VALUE, BoundStatement, ConsistencyLevel, PreparedStatement, Session
from aiocql.protocol.constants import Opcode
from aiocql.testing.pytest_plugin import ServerInfo

from .conftest import VARIANTS, VERSIONS, count_requests, ddl

pytestmark = pytest.mark.server


@pytest.fixture(scope="module", autouse=True)
def tables(server: ServerInfo, keyspace: str) -> None:
    ddl(server, keyspace, "CREATE TABLE t (k int PRIMARY KEY, a text, b text, n int)")


def _base(request: pytest.FixtureRequest) -> int:
    return 1000 * (1 + [p.id for p in VARIANTS].index(request.node.callspec.id))


@pytest.mark.parametrize("session", VARIANTS, indirect=True)
async def test_prepare_twice_is_one_round_trip_and_one_object(session: Session, request: pytest.FixtureRequest) -> None:
    query = f"SELECT a FROM t WHERE k = ? /* {request.node.callspec.id} */"
    counts = count_requests(session)
    first = await session.prepare(query)
    second = await session.prepare(query)
    assert isinstance(first, PreparedStatement)
    assert second is first
    assert counts[Opcode.PREPARE] == 1
    # Concurrent prepares of a new statement share the one request in flight.
    other = query + " /* again */"
    many = await asyncio.gather(*(session.prepare(other) for _ in range(20)))
    assert all(p is many[0] for p in many)
    assert counts[Opcode.PREPARE] == 2
    # A parametrized string is prepared transparently, through the same cache.
    await session.execute(query, (1,))
    await session.execute(query, (2,))
    assert counts[Opcode.PREPARE] == 2
    assert counts[Opcode.EXECUTE] == 2
    assert counts[Opcode.QUERY] == 0


@pytest.mark.parametrize("session", VARIANTS, indirect=True)
async def test_bound_statements(session: Session, request: pytest.FixtureRequest) -> None:
    k = _base(request)
    insert = await session.prepare("INSERT INTO t (k, a, b, n) VALUES (?, ?, ?, ?)")
    assert [c.name for c in insert.bind_columns] == ["k", "a", "b", "n"]
    assert insert.pk_indexes == (0,)
    await session.execute(insert, (k, "a0", "b0", 0))
    bound = insert.bind({"k": k + 1, "a": "a1", "b": "b1", "n": 1})
    assert isinstance(bound, BoundStatement)
    assert bound.routing_key == (k + 1).to_bytes(4, "big")
    await session.execute(bound)
    select = await session.prepare("SELECT k, a, b, n FROM t WHERE k IN (?, ?)")
    select.consistency_level = ConsistencyLevel.ONE  # options set on the prepared statement are inherited
    assert select.bind((k, k + 1)).consistency_level == ConsistencyLevel.ONE
    rows = sorted(await (await session.execute(select, (k, k + 1))).all())
    assert rows == [(k, "a0", "b0", 0), (k + 1, "a1", "b1", 1)]
    # Executing the same prepared SELECT many times decodes with the cached metadata each time.
    for _ in range(3):
        assert (await session.execute(select, (k, k))).one() == (k, "a0", "b0", 0)


@pytest.mark.parametrize("session", VERSIONS, indirect=True)
async def test_unset_value_keeps_the_column(session: Session, request: pytest.FixtureRequest) -> None:
    k = _base(request) + 500
    insert = await session.prepare("INSERT INTO t (k, a, b, n) VALUES (?, ?, ?, ?)")
    await session.execute(insert, (k, "a", "b", 1))
    await session.execute(insert, (k, "a2", UNSET_VALUE, UNSET_VALUE))
    assert (await session.execute("SELECT a, b, n FROM t WHERE k = ?", (k,))).one() == ("a2", "b", 1)
    update = await session.prepare("UPDATE t SET a = :a, b = :b WHERE k = :k")
    await session.execute(update, {"k": k, "a": UNSET_VALUE, "b": "b3"})
    assert (await session.execute("SELECT a, b, n FROM t WHERE k = ?", (k,))).one() == ("a2", "b3", 1)
    # None is different: it writes a null.
    await session.execute(update, {"k": k, "a": None, "b": UNSET_VALUE})
    assert (await session.execute("SELECT a, b, n FROM t WHERE k = ?", (k,))).one() == (None, "b3", 1)


@pytest.mark.parametrize("session", VERSIONS, indirect=True)
async def test_prepared_select_sees_a_new_column(session: Session, request: pytest.FixtureRequest) -> None:
    """SELECT * prepared before ALTER TABLE ADD. The server evicts the statement (UNPREPARED), the driver
    re-prepares it, and on v5 the new result metadata id must come with the new columns: rows are never
    decoded with the old column list (that raised a ProtocolError, or worse, misread values)."""
    table = f"alter_{request.node.callspec.id.replace('-', '_')}"
    await session.execute(f"CREATE TABLE {table} (k int, c int, a int, PRIMARY KEY (k, c))")
    for c in range(3):
        await session.execute(f"INSERT INTO {table} (k, c, a) VALUES (1, {c}, 10)")
    select = await session.prepare(f"SELECT * FROM {table} WHERE k = ?")
    assert (await session.execute(select, (1,))).current_rows == [(1, c, 10) for c in range(3)]
    await session.execute(f"ALTER TABLE {table} ADD z text")
    await session.execute(f"UPDATE {table} SET z = 'zz' WHERE k = 1 AND c = 0")
    counts = count_requests(session)
    rs = await session.execute(select, (1,))
    assert rs.column_names == ("k", "c", "a", "z")
    assert rs.current_rows == [(1, 0, 10, "zz"), (1, 1, 10, None), (1, 2, 10, None)]
    assert counts[Opcode.PREPARE] == 1  # re-prepared once after UNPREPARED
    rs = await session.execute(select, (1,))
    assert rs.current_rows == [(1, 0, 10, "zz"), (1, 1, 10, None), (1, 2, 10, None)]
    assert counts[Opcode.PREPARE] == 1
