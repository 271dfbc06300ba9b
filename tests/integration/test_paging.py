"""Paging: 10,003 rows of one partition, 100 per page, arrive exactly once and in clustering order,
whichever way they are consumed (async for, pages(), stream(), manual paging_state, fetch_next_page)."""

from __future__ import annotations

import asyncio

import pytest

from aiocql import NO_PAGING, Cluster, Session, SimpleStatement, UsageError, tuple_factory
from aiocql.testing.polling import wait_until
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

from .conftest import VARIANTS, VERSIONS, ddl, load_rows

pytestmark = pytest.mark.server

N = 10_003
PAGE = 100
EXPECTED = [(c, c * 7) for c in range(N)]
QUERY = "SELECT c, v FROM pg WHERE k = ?"


@pytest.fixture(scope="module", autouse=True)
def rows(server: ServerInfo, keyspace: str) -> None:
    ddl(server, keyspace, "CREATE TABLE pg (k int, c int, v int, PRIMARY KEY (k, c))")

    async def fill() -> None:
        async with Cluster(**cluster_kwargs(server)) as cluster:
            session = await cluster.connect(keyspace)
            # Inserted in a shuffled order: the order read back is the server's clustering order.
            order = list(range(N))
            order = order[1::2] + order[::2]
            await load_rows(session, "pg", [(1, c, c * 7) for c in order])

    asyncio.run(fill())


@pytest.mark.parametrize("session", VARIANTS, indirect=True)
async def test_async_for(session: Session) -> None:
    rs = await session.execute(QUERY, (1,), fetch_size=PAGE, row_factory=tuple_factory)
    assert len(rs.current_rows) == PAGE and rs.has_more_pages
    got = [row async for row in rs]
    assert got == EXPECTED
    # A SimpleStatement without parameters (QUERY, not EXECUTE) pages the same way.
    simple = SimpleStatement("SELECT c, v FROM pg WHERE k = 1", fetch_size=PAGE)
    assert [tuple(r) async for r in await session.execute(simple)] == EXPECTED


@pytest.mark.parametrize("session", VARIANTS, indirect=True)
async def test_pages(session: Session) -> None:
    rs = await session.execute(QUERY, (1,), fetch_size=PAGE, row_factory=tuple_factory)
    sizes = []
    got = []
    async for page in rs.pages():
        sizes.append(len(page))
        got.extend(page)
    assert got == EXPECTED
    assert sizes == [PAGE] * (N // PAGE) + [N % PAGE]


@pytest.mark.parametrize("session", VERSIONS, indirect=True)
async def test_manual_paging_state(session: Session) -> None:
    prepared = await session.prepare(QUERY)
    got: list[tuple[int, int]] = []
    paging_state = None
    requests = 0
    while True:
        rs = await session.execute(prepared, (1,), fetch_size=PAGE, paging_state=paging_state)
        requests += 1
        got.extend((r.c, r.v) for r in rs.current_rows)
        if not rs.has_more_pages:
            break
        assert isinstance(rs.paging_state, bytes)
        paging_state = rs.paging_state
    assert got == EXPECTED
    assert requests == N // PAGE + 1
    # The same with a plain string and a resumed state from a *different* call of the same statement.
    first = await session.execute("SELECT c, v FROM pg WHERE k = 1", fetch_size=5000)
    resumed = await session.execute("SELECT c, v FROM pg WHERE k = 1", fetch_size=5000, paging_state=first.paging_state)
    assert [tuple(r) for r in resumed.current_rows] == EXPECTED[5000:10000]


@pytest.mark.parametrize("session", VERSIONS, indirect=True)
async def test_fetch_next_page_and_stream(session: Session) -> None:
    rs = await session.execute(QUERY, (1,), fetch_size=4000)
    second = await rs.fetch_next_page()
    third = await second.fetch_next_page()
    assert [tuple(r) for r in rs.current_rows + second.current_rows + third.current_rows] == EXPECTED
    assert not third.has_more_pages
    with pytest.raises(UsageError, match="no more pages"):  # not StopAsyncIteration: safe inside generators
        await third.fetch_next_page()
    streamed = [tuple(r) async for r in session.stream(QUERY, (1,), fetch_size=PAGE)]
    assert streamed == EXPECTED


@pytest.mark.parametrize("session", VERSIONS, indirect=True)
async def test_early_exit_leaves_the_session_usable(session: Session) -> None:
    rs = await session.execute(QUERY, (1,), fetch_size=PAGE)
    pages = rs.pages()
    seen = 0
    async for _page in pages:
        seen += 1
        if seen == 3:
            break
    await pages.aclose()  # cancels the prefetched page
    # Its request had left (the next page is requested before a page is handed over): its stream stays
    # reserved until the late reply comes, then nothing is left in flight.
    await wait_until(lambda: sum(p.in_flight for p in session.pools) == 0, timeout=10)
    assert (await session.execute("SELECT c FROM pg WHERE k = 1 AND c = 5")).one().c == 5
    # Paging is by rows, also with a page size that does not divide the partition.
    assert len(await (await session.execute(QUERY, (1,), fetch_size=997)).all()) == N


@pytest.mark.parametrize("session", VERSIONS, indirect=True)
async def test_an_empty_last_page(session: Session) -> None:
    """10,003 = 7 x 1429: the server fills seven pages and, not looking ahead, says more may follow after
    the seventh; the eighth page is empty and final. Only the absence of a paging state ends paging."""
    rs = await session.execute(QUERY, (1,), fetch_size=1429, row_factory=tuple_factory)
    sizes = []
    got = []
    async for page in rs.pages():
        sizes.append(len(page))
        got.extend(page)
    assert sizes == [1429] * 7 + [0]
    assert got == EXPECTED
    page = rs
    for _ in range(6):
        page = await page.fetch_next_page()
    assert page.has_more_pages and len(page) == 1429
    last = await page.fetch_next_page()
    assert last.current_rows == [] and not last.has_more_pages and not last


@pytest.mark.parametrize("session", VERSIONS, indirect=True)
async def test_no_paging_returns_every_row_in_one_reply(session: Session) -> None:
    """``fetch_size=NO_PAGING`` is the explicit way to turn paging off (``None`` inherits), on a call
    and on a statement, even where the cluster's default pages."""
    rs = await session.execute(QUERY, (1,), fetch_size=NO_PAGING, row_factory=tuple_factory)
    assert rs.current_rows == EXPECTED and not rs.has_more_pages and rs.paging_state is None
    simple = SimpleStatement("SELECT c, v FROM pg WHERE k = 1", fetch_size=NO_PAGING)
    rs = await session.execute(simple)
    assert len(rs.current_rows) == N and rs.paging_state is None
    paged = await session.execute(QUERY, (1,))  # the cluster's default (5000) still pages
    assert len(paged.current_rows) == 5000 and paged.has_more_pages


async def test_no_paging_as_the_cluster_default(server: ServerInfo, keyspace: str) -> None:
    async with Cluster(**cluster_kwargs(server), fetch_size=NO_PAGING) as cluster:
        session = await cluster.connect(keyspace)
        rs = await session.execute(QUERY, (1,))
        assert len(rs.current_rows) == N and rs.paging_state is None
        rs = await session.execute(QUERY, (1,), fetch_size=PAGE)  # a call still pages when it asks
        assert len(rs.current_rows) == PAGE and rs.has_more_pages
