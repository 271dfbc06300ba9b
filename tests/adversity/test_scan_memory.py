"""A paged scan holds a bounded number of pages: each page (its ResultSet and its rows) is freed by reference
counting as soon as the reader is past it, not left to the garbage collector. A reference cycle per page
(the session's next-page function holding its own ResultSet) kept every page read so far alive until a
full collection: memory grew with the scan and each collection walked every page."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from aiocql import Cluster
from aiocql.results import ResultSet
from aiocql.testing.fakeserver import FakeServer, Opcode, ReceivedRequest, Rows
from aiocql.types import INT

PAGES = 12
PAGE_ROWS = 50


def _page(req: ReceivedRequest) -> Rows:
    state = req.message.params.paging_state  # type: ignore[attr-defined]
    n = 0 if state is None else int(state)
    rows = [(n * PAGE_ROWS + i,) for i in range(PAGE_ROWS)]
    return Rows([("k", INT)], rows, paging_state=str(n + 1).encode() if n + 1 < PAGES else None)


def _live_result_sets() -> int:
    return sum(1 for o in gc.get_objects() if type(o) is ResultSet)


@pytest.fixture
def no_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.usefixtures("no_collector")
@pytest.mark.parametrize("way", ["async_for", "pages", "fetch_next_page"])
async def test_pages_already_read_are_freed_without_the_garbage_collector(server: FakeServer, way: str) -> None:
    server.on(Opcode.QUERY, match=lambda r: "scan" in (r.query or ""), reply=_page)
    async with Cluster([server.host], port=server.port) as cluster:
        session = await cluster.connect()
        before = _live_result_sets()
        most = seen = 0
        if way == "async_for":
            async for row in await session.execute("SELECT k FROM scan", fetch_size=PAGE_ROWS):
                assert row.k == seen
                seen += 1
                if seen % PAGE_ROWS == 1:
                    most = max(most, _live_result_sets() - before)
        elif way == "pages":
            async for rows in (await session.execute("SELECT k FROM scan", fetch_size=PAGE_ROWS)).pages():
                assert [r.k for r in rows] == list(range(seen, seen + PAGE_ROWS))
                seen += len(rows)
                most = max(most, _live_result_sets() - before)
        else:
            page = await session.execute("SELECT k FROM scan", fetch_size=PAGE_ROWS)
            while True:
                seen += len(page.current_rows)
                most = max(most, _live_result_sets() - before)
                if not page.has_more_pages:
                    break
                page = await page.fetch_next_page()
            assert len(page.tracing_ids) == 0
            del page
        assert seen == PAGES * PAGE_ROWS
        # the page being read and the one prefetched (plus one in hand-over), never the pages already read
        assert most <= 3, f"{most} ResultSets alive at once while reading {PAGES} pages"
        assert _live_result_sets() - before <= 1
