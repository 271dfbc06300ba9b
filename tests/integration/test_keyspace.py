"""Keyspaces: connect(keyspace), USE through execute() (on every pooled connection), set_keyspace(), and
the per-request keyspace of protocol v5 (a clear error on v4)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from aiocql import BatchStatement, Cluster, InvalidRequest, InvalidValueError, Session, SimpleStatement
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

from .conftest import V4, V5, ddl

pytestmark = pytest.mark.server

OTHER = "ks_keyspace_other"
MIXED = '"MixedCase_Ks"'


@pytest.fixture(scope="module", autouse=True)
def tables(server: ServerInfo, keyspace: str) -> Iterator[None]:
    replication = "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    ddl(
        server,
        keyspace,
        "CREATE TABLE here (k int PRIMARY KEY, v text)",
        "INSERT INTO here (k, v) VALUES (1, 'module keyspace')",
        f"DROP KEYSPACE IF EXISTS {OTHER}",
        f"CREATE KEYSPACE {OTHER} WITH replication = {replication}",
        f"CREATE TABLE {OTHER}.here (k int PRIMARY KEY, v text)",
        f"INSERT INTO {OTHER}.here (k, v) VALUES (1, 'other keyspace')",
        f"DROP KEYSPACE IF EXISTS {MIXED}",
        f"CREATE KEYSPACE {MIXED} WITH replication = {replication}",
        f"CREATE TABLE {MIXED}.here (k int PRIMARY KEY, v text)",
        f"INSERT INTO {MIXED}.here (k, v) VALUES (1, 'mixed case')",
    )
    yield
    ddl(server, keyspace, f"DROP KEYSPACE {OTHER}", f"DROP KEYSPACE {MIXED}")


async def _where(session: Session) -> str:
    return str((await session.execute("SELECT v FROM here WHERE k = 1")).one().v)


async def _everywhere(session: Session) -> set[str]:
    """Where each pooled connection is: concurrent requests go to the least busy connection, so 12 at
    once reach all of them."""
    return set(await asyncio.gather(*(_where(session) for _ in range(12))))


@pytest.mark.parametrize("version", [4, 5])
async def test_connect_with_keyspace_and_use(cassandra: ServerInfo, keyspace: str, version: int) -> None:
    async with Cluster(**cluster_kwargs(cassandra, protocol_version=version, connections_per_host=3)) as cluster:
        session = await cluster.connect(keyspace)
        assert session.keyspace == keyspace
        assert [c.keyspace for c in session.pools[0].connections] == [keyspace] * 3
        # Every connection answers in the module keyspace.
        assert await _everywhere(session) == {"module keyspace"}
        # USE through execute() moves every connection, not only the one that ran it.
        await session.execute(f"USE {OTHER}")
        assert session.keyspace == OTHER
        assert [c.keyspace for c in session.pools[0].connections] == [OTHER] * 3
        assert await _everywhere(session) == {"other keyspace"}
        # Prepared statements are cached per keyspace: the same text in another keyspace is another statement.
        in_other = await session.prepare("SELECT v FROM here WHERE k = ?")
        await session.set_keyspace("MixedCase_Ks")
        in_mixed = await session.prepare("SELECT v FROM here WHERE k = ?")
        assert in_mixed is not in_other
        assert (await session.execute(in_mixed, (1,))).one().v == "mixed case"
        assert (await session.execute(in_other, (1,))).one().v == "other keyspace"
        assert await _everywhere(session) == {"mixed case"}
        with pytest.raises(InvalidRequest, match=r"(?i)keyspace"):
            await session.execute("USE no_such_keyspace")
        # A session without a keyspace needs qualified names.
        bare = await cluster.connect()
        assert bare.keyspace is None
        with pytest.raises(InvalidRequest, match=r"(?i)no keyspace"):
            await bare.execute("SELECT v FROM here WHERE k = 1")
        assert (await bare.execute(f"SELECT v FROM {keyspace}.here WHERE k = 1")).one().v == "module keyspace"


@pytest.mark.parametrize("session", [V5], indirect=True)
async def test_per_request_keyspace_on_v5(session: Session) -> None:
    assert session.keyspace is not None and session.keyspace != OTHER
    assert (await session.execute("SELECT v FROM here WHERE k = 1", keyspace=OTHER)).one().v == "other keyspace"
    stmt = SimpleStatement("SELECT v FROM here WHERE k = ?", keyspace=OTHER)
    assert (await session.execute(stmt, (1,))).one().v == "other keyspace"  # prepared in OTHER
    ps = await session.prepare("SELECT v FROM here WHERE k = ?", keyspace=OTHER)
    assert ps.prepared_keyspace == OTHER
    assert (await session.execute(ps, (1,))).one().v == "other keyspace"
    batch = BatchStatement(keyspace=OTHER)
    batch.add("INSERT INTO here (k, v) VALUES (2, 'batched')")
    await session.execute(batch)
    assert (await session.execute(f"SELECT v FROM {OTHER}.here WHERE k = 2")).one().v == "batched"
    # The session keyspace did not move.
    assert await _where(session) == "module keyspace"
    assert session.keyspace != OTHER


@pytest.mark.parametrize("session", [V4], indirect=True)
async def test_per_request_keyspace_on_v4_is_a_clear_error(session: Session) -> None:
    for attempt in (
        session.execute("SELECT v FROM here WHERE k = 1", keyspace=OTHER),
        session.execute(SimpleStatement("SELECT v FROM here WHERE k = ?", keyspace=OTHER), (1,)),
        session.prepare("SELECT v FROM here WHERE k = ?", keyspace=OTHER),
    ):
        with pytest.raises(InvalidValueError, match=r"needs protocol v5"):
            await attempt
    batch = BatchStatement(keyspace=OTHER)
    batch.add("INSERT INTO here (k, v) VALUES (3, 'x')")
    with pytest.raises(InvalidValueError, match=r"needs protocol v5"):
        await session.execute(batch)
    # Naming the keyspace the connection is already in is fine.
    assert session.keyspace is not None
    assert (await session.execute("SELECT v FROM here WHERE k = 1", keyspace=session.keyspace)).one()
