"""execute(): query strings and SimpleStatements, positional and named parameters, on v4/v5, with and
without LZ4 compression."""

from __future__ import annotations

import uuid

import pytest

from aiocql import ConsistencyLevel, InvalidRequest, Session, SimpleStatement
from aiocql.testing.pytest_plugin import ServerInfo

from .conftest import VARIANTS, ddl

pytestmark = pytest.mark.server


@pytest.fixture(scope="module", autouse=True)
def tables(server: ServerInfo, keyspace: str) -> None:
    ddl(
        server,
        keyspace,
        "CREATE TABLE kv (k text PRIMARY KEY, n int, s text, b blob, u uuid)",
    )


def _key(request: pytest.FixtureRequest, name: str) -> str:
    return f"{name}-{request.node.callspec.id}"


@pytest.mark.parametrize("session", VARIANTS, indirect=True)
async def test_plain_strings_and_simple_statements(session: Session, request: pytest.FixtureRequest) -> None:
    key = _key(request, "plain")
    await session.execute(f"INSERT INTO kv (k, n, s) VALUES ('{key}', 7, 'seven')")
    rs = await session.execute(f"SELECT k, n, s FROM kv WHERE k = '{key}'")
    assert rs.current_rows == [(key, 7, "seven")]
    stmt = SimpleStatement(f"SELECT n FROM kv WHERE k = '{key}'", consistency_level=ConsistencyLevel.ONE)
    assert (await session.execute(stmt)).one().n == 7
    # Settings of the statement reach the server, even ConsistencyLevel.ANY (0, falsy): it is valid
    # for a write and refused for a read.
    await session.execute(
        SimpleStatement(f"UPDATE kv SET n = 8 WHERE k = '{key}'", consistency_level=ConsistencyLevel.ANY)
    )
    assert (await session.execute(stmt)).one().n == 8
    with pytest.raises(InvalidRequest, match=r"ANY"):
        await session.execute(SimpleStatement(stmt.query, consistency_level=ConsistencyLevel.ANY))
    with pytest.raises(InvalidRequest, match=r"ANY"):
        await session.execute(stmt, consistency_level=ConsistencyLevel.ANY)


@pytest.mark.parametrize("session", VARIANTS, indirect=True)
async def test_positional_parameters(session: Session, request: pytest.FixtureRequest) -> None:
    key = _key(request, "pos")
    blob = bytes(range(256)) * 300  # 76.8 KB: compressible, and bigger than one v5 frame payload
    u = uuid.uuid4()
    await session.execute("INSERT INTO kv (k, n, s, b, u) VALUES (?, ?, ?, ?, ?)", (key, -5, "é ✓ 😀", blob, u))
    row = (await session.execute("SELECT n, s, b, u FROM kv WHERE k = ?", [key])).one()
    assert (row.n, row.s, row.b, row.u) == (-5, "é ✓ 😀", blob, u)
    stmt = SimpleStatement("SELECT s FROM kv WHERE k = ?", fetch_size=10)
    assert (await session.execute(stmt, (key,))).one().s == "é ✓ 😀"


@pytest.mark.parametrize("session", VARIANTS, indirect=True)
async def test_named_parameters(session: Session, request: pytest.FixtureRequest) -> None:
    key = _key(request, "named")
    # Dict order differs from marker order: values are matched by name, not position.
    await session.execute("INSERT INTO kv (k, n, s) VALUES (:key, :num, :txt)", {"txt": "t", "num": 42, "key": key})
    row = (await session.execute("SELECT n, s FROM kv WHERE k = :key", {"key": key})).one()
    assert (row.n, row.s) == (42, "t")
    # None binds a null.
    await session.execute("UPDATE kv SET s = :s WHERE k = :k", {"k": key, "s": None})
    assert (await session.execute("SELECT s FROM kv WHERE k = :k", {"k": key})).one().s is None


@pytest.mark.parametrize("session", VARIANTS, indirect=True)
async def test_large_result_over_many_frames(session: Session, request: pytest.FixtureRequest) -> None:
    # 40 rows of 50 KB: a 2 MB page, many v5 frames (each at most 128 KiB), compressed or not.
    prefix = _key(request, "big")
    insert = await session.prepare("INSERT INTO kv (k, b) VALUES (?, ?)")
    payloads = {f"{prefix}-{i}": bytes([i]) * 50_000 for i in range(40)}
    for k, b in payloads.items():
        await session.execute(insert, (k, b))
    rows = (await session.execute("SELECT k, b FROM kv WHERE k IN ?", (list(payloads),))).current_rows
    assert {r.k: r.b for r in rows} == payloads
