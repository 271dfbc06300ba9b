"""Closing: session.close() lets in-flight requests finish, then closes its connections; closing twice is
harmless; anything used after closing raises aiocql.ConnectionClosed."""

from __future__ import annotations

import asyncio

import pytest

import aiocql
from aiocql import Cluster, Session
from aiocql.testing.polling import wait_until
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

from .conftest import VERSIONS, ddl, load_rows

pytestmark = pytest.mark.server


@pytest.fixture(scope="module", autouse=True)
def tables(server: ServerInfo, keyspace: str) -> None:
    ddl(server, keyspace, "CREATE TABLE cl (k int, c int, v text, PRIMARY KEY (k, c))")

    async def fill() -> None:
        async with Cluster(**cluster_kwargs(server)) as cluster:
            session = await cluster.connect(keyspace)
            await load_rows(session, "cl", [(k, c, "x" * 100) for k in range(4) for c in range(1000)])

    asyncio.run(fill())


@pytest.mark.parametrize("session", VERSIONS, indirect=True)
async def test_close_drains_in_flight_requests(session: Session) -> None:
    select = await session.prepare("SELECT c, v FROM cl WHERE k = ?")
    tasks = [asyncio.ensure_future(session.execute(select, (i % 4,), fetch_size=1000)) for i in range(60)]
    # Every task has sent its request (or already has its reply) ...
    await wait_until(
        lambda: sum(p.in_flight for p in session.pools) + sum(t.done() for t in tasks) == len(tasks),
        timeout=10.0,
        interval=0.001,  # every loop turn: close while most are still in flight
    )
    in_flight_at_close = sum(p.in_flight for p in session.pools)
    connections = [c for p in session.pools for c in p.connections]
    await session.close()
    # ... and every one of them completed with its rows, though close() began while they were in flight.
    assert in_flight_at_close > 0
    assert all(t.done() for t in tasks)
    results = [t.result() for t in tasks]
    assert all(len(r.current_rows) == 1000 for r in results)
    assert session.is_closed
    assert connections and all(c.is_closed for c in connections)


async def test_close_twice_and_use_after_close(cassandra: ServerInfo, keyspace: str) -> None:
    cluster = Cluster(**cluster_kwargs(cassandra))
    session = await cluster.connect(keyspace)
    rs = await session.execute("SELECT c FROM cl WHERE k = 0", fetch_size=10)
    prepared = await session.prepare("SELECT c FROM cl WHERE k = ?")
    await session.close()
    await session.close()  # harmless
    for attempt in (
        session.execute("SELECT c FROM cl WHERE k = 0"),
        session.execute(prepared, (0,)),
        session.prepare("SELECT v FROM cl WHERE k = ?"),
        rs.fetch_next_page(),
        aiocql.execute_concurrent(session, [("SELECT c FROM cl WHERE k = 0", None)]),
    ):
        with pytest.raises(aiocql.ConnectionClosed, match=r"closed"):
            await attempt
    with pytest.raises(aiocql.ConnectionClosed):
        async for _ in rs:
            pass
    # The cluster still makes new sessions until it is closed itself.
    other = await cluster.connect(keyspace)
    assert (await other.execute("SELECT c FROM cl WHERE k = 0 AND c = 3")).one().c == 3
    await cluster.close()
    await cluster.close()
    assert other.is_closed
    with pytest.raises(aiocql.ConnectionClosed):
        await other.execute("SELECT c FROM cl WHERE k = 0")
    with pytest.raises(aiocql.ConnectionClosed):
        await cluster.connect()


async def test_context_managers_close(cassandra: ServerInfo, keyspace: str) -> None:
    async with Cluster(**cluster_kwargs(cassandra)) as cluster:
        async with await cluster.connect(keyspace) as session:
            assert (await session.execute("SELECT c FROM cl WHERE k = 1 AND c = 1")).one().c == 1
        assert session.is_closed
        kept = await cluster.connect(keyspace)
    assert kept.is_closed
    assert all(c.is_closed for p in kept.pools for c in p.connections)
