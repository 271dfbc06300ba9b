"""Errors: bad input is refused before anything is sent, with a typed error naming what to fix; server
errors arrive as their own classes with their fields."""

from __future__ import annotations

import pytest

import aiocql
from aiocql import (
    AlreadyExists,
    CqlSyntaxError,
    InvalidRequest,
    InvalidValueError,
    PreparedStatement,
    ServerError,
    Session,
    SimpleStatement,
)
from aiocql.protocol.constants import Opcode
from aiocql.testing.pytest_plugin import ServerInfo

from .conftest import VARIANTS, VERSIONS, count_requests, ddl

pytestmark = pytest.mark.server


@pytest.fixture(scope="module", autouse=True)
def tables(server: ServerInfo, keyspace: str) -> None:
    ddl(server, keyspace, "CREATE TABLE e (k int PRIMARY KEY, name text, n bigint, tags set<text>)")


@pytest.mark.parametrize("session", VERSIONS, indirect=True)
async def test_bad_bind_values(session: Session) -> None:
    insert = "INSERT INTO e (k, name, n) VALUES (?, ?, ?)"
    prepared = await session.prepare(insert)
    counts = count_requests(session)
    with pytest.raises(InvalidValueError, match=r"expected 3 values, got 2"):
        await session.execute(insert, (1, "a"))
    with pytest.raises(InvalidValueError, match=r"expected 3 values, got 4"):
        await session.execute(prepared, (1, "a", 2, 3))
    with pytest.raises(InvalidValueError, match=r"column 'k' \(int\): expected int, got str '1'"):
        await session.execute(insert, ("1", "a", 2))
    with pytest.raises(InvalidValueError, match=r"column 'name' \(text\)"):
        await session.execute(insert, (1, 2, 2))
    with pytest.raises(InvalidValueError, match=r"column 'n' \(bigint\)"):
        await session.execute(insert, (1, "a", 2**63))
    with pytest.raises(InvalidValueError, match=r"column 'tags'"):
        await session.execute("UPDATE e SET tags = ? WHERE k = ?", ({1, 2}, 1))
    with pytest.raises(InvalidValueError, match=r"unknown named parameter.*'nme'"):
        await session.execute("INSERT INTO e (k, name) VALUES (:k, :name)", {"k": 1, "nme": "x"})
    with pytest.raises(InvalidValueError, match=r"missing value for column.*'name'"):
        await session.execute("INSERT INTO e (k, name) VALUES (:k, :name)", {"k": 1})
    with pytest.raises(InvalidValueError, match=r"wrap it in a tuple"):
        await session.execute(prepared, "abc")
    with pytest.raises(InvalidValueError, match=r"carries its own values"):
        await session.execute(prepared.bind((1, "a", 2)), (1, "a", 2))
    # InvalidValueError is also a TypeError and a ValueError, for code that catches those.
    assert issubclass(InvalidValueError, TypeError) and issubclass(InvalidValueError, ValueError)
    # Nothing reached the server but the PREPAREs of the new statements.
    assert counts[Opcode.EXECUTE] == counts[Opcode.QUERY] == 0


@pytest.mark.parametrize("session", VARIANTS, indirect=True)
async def test_server_errors_as_classes(session: Session, keyspace: str) -> None:
    with pytest.raises(CqlSyntaxError) as syntax:
        await session.execute("SELEKT * FROM e")
    assert isinstance(syntax.value, ServerError) and syntax.value.code == 0x2000
    with pytest.raises(CqlSyntaxError):
        await session.prepare("INSERT INTO e (k) VALUES (")
    with pytest.raises(InvalidRequest, match=r"does not exist") as invalid:
        await session.execute("SELECT * FROM no_such_table")
    assert invalid.value.code == 0x2200
    with pytest.raises(InvalidRequest, match=r"(?i)undefined column name"):
        await session.execute("SELECT nope FROM e")
    with pytest.raises(InvalidRequest):
        await session.execute(SimpleStatement("INSERT INTO e (k, name) VALUES (1, 1)"))  # int literal for text
    with pytest.raises(AlreadyExists) as table_exists:
        await session.execute("CREATE TABLE e (k int PRIMARY KEY)")
    assert (table_exists.value.keyspace, table_exists.value.table) == (keyspace, "e")
    with pytest.raises(AlreadyExists) as ks_exists:
        await session.execute(
            f"CREATE KEYSPACE {keyspace} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
        )
    assert (ks_exists.value.keyspace, ks_exists.value.table) == (keyspace, "")
    # The connection is still fine after all that.
    assert (await session.execute("SELECT count(*) FROM e WHERE k = 1")).one().count == 0


@pytest.mark.parametrize("session", VERSIONS, indirect=True)
async def test_closed_session(session: Session) -> None:
    prepared = await session.prepare("SELECT k FROM e WHERE k = ?")
    assert isinstance(prepared, PreparedStatement)
    await session.close()
    with pytest.raises(aiocql.ConnectionClosed, match=r"session is closed"):
        await session.execute(prepared, (1,))
    with pytest.raises(aiocql.ConnectionClosed):
        await session.execute("SELECT k FROM e")
    # ConnectionClosed is a connection error: code that catches aiocql.ConnectionError sees it too.
    assert issubclass(aiocql.ConnectionClosed, aiocql.ConnectionError)
