"""Issue 14 on a real node: configuration errors are the server's errors (a bad keyspace at connect,
Unavailable on one node), a bad paging token is InvalidPagingState, server warnings are logged."""

from __future__ import annotations

import logging

import pytest

from aiocql import (
    BatchStatement,
    BatchType,
    Cluster,
    ConsistencyLevel,
    InvalidPagingState,
    InvalidRequest,
    NoHostAvailable,
    Unavailable,
)
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

from .conftest import ddl

pytestmark = pytest.mark.server


@pytest.fixture(scope="module", autouse=True)
def tables(server: ServerInfo, keyspace: str) -> None:
    ddl(server, keyspace, "CREATE TABLE IF NOT EXISTS pg (k int, c int, PRIMARY KEY (k, c))",
        "CREATE KEYSPACE IF NOT EXISTS ks_rf3 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}",
        "CREATE TABLE IF NOT EXISTS ks_rf3.t (k int PRIMARY KEY)")  # fmt: skip


async def test_a_keyspace_that_does_not_exist_raises_invalid_request(cassandra: ServerInfo) -> None:
    async with Cluster(**cluster_kwargs(cassandra)) as cluster:
        with pytest.raises(InvalidRequest, match=r"(?i)keyspace") as info:
            await cluster.connect("no_such_keyspace_here")
        assert not isinstance(info.value, NoHostAvailable)


async def test_unavailable_on_one_node_is_raised_as_unavailable(cassandra: ServerInfo) -> None:
    async with Cluster(**cluster_kwargs(cassandra)) as cluster:
        session = await cluster.connect()
        with pytest.raises(Unavailable) as info:
            await session.execute("SELECT * FROM ks_rf3.t WHERE k = 1", consistency_level=ConsistencyLevel.QUORUM)
        assert (info.value.required, info.value.alive) == (2, 1)


async def test_a_tampered_paging_token_is_invalid_paging_state(cassandra: ServerInfo, keyspace: str) -> None:
    async with Cluster(**cluster_kwargs(cassandra)) as cluster:
        session = await cluster.connect(keyspace)
        insert = await session.prepare("INSERT INTO pg (k, c) VALUES (?, ?)")
        for c in range(10):
            await session.execute(insert, (1, c))
        first = await session.execute("SELECT c FROM pg WHERE k = 1", fetch_size=3)
        assert first.paging_state is not None
        # The real token works; a cut one is refused by the server as a bad paging state.
        again = await session.execute("SELECT c FROM pg WHERE k = 1", fetch_size=3, paging_state=first.paging_state)
        assert [r.c for r in again.current_rows] == [3, 4, 5]
        with pytest.raises(InvalidPagingState):
            await session.execute("SELECT c FROM pg WHERE k = 1", fetch_size=3, paging_state=b"\x07garbage")
        # The connection stays usable.
        assert (await session.execute("SELECT c FROM pg WHERE k = 1 AND c = 9")).one().c == 9


async def test_server_warnings_are_logged_with_the_query(
    cassandra: ServerInfo, keyspace: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with Cluster(**cluster_kwargs(cassandra)) as cluster:
        session = await cluster.connect(keyspace)
        batch = BatchStatement(BatchType.UNLOGGED)
        for k in range(40):
            batch.add(f"INSERT INTO pg (k, c) VALUES ({k}, 424242)")
        with caplog.at_level(logging.WARNING, logger="aiocql.session"):
            rs = await session.execute(batch)
    assert rs.warnings, "Cassandra warns about an unlogged batch over many partitions"
    logged = [r for r in caplog.records if r.name == "aiocql.session" and r.levelno == logging.WARNING]
    assert logged and "partitions" in logged[0].getMessage()
