"""ResultSet iteration without a server: page order, empty non-final pages, prefetch, early exit."""

from __future__ import annotations

import asyncio
import gc

from aiocql.results import ResultSet, named_tuple_factory


def chain(pages: list[list[int]], started: list[int], gate: asyncio.Event | None = None) -> ResultSet:
    """A first page whose next pages come from ``pages``; ``started`` records each fetch."""

    def page_at(index: int) -> ResultSet:
        rs = ResultSet(current_rows=pages[index])
        if index + 1 < len(pages):
            rs.paging_state = str(index + 1).encode()

            async def next_page(state: bytes) -> ResultSet:
                started.append(int(state))
                if gate is not None:
                    await gate.wait()
                return page_at(int(state))

            rs._next_page = next_page
        return rs

    return page_at(0)


async def test_rows_of_every_page_in_order_including_empty_non_final_pages() -> None:
    started: list[int] = []
    rs = chain([[1, 2], [], [3], [], [], [4, 5]], started)
    assert [row async for row in rs] == [1, 2, 3, 4, 5]
    assert started == [1, 2, 3, 4, 5]


async def test_next_page_is_prefetched_before_the_current_one_is_consumed() -> None:
    started: list[int] = []
    rs = chain([[1, 2], [3]], started)
    iterator = aiter(rs)
    assert await anext(iterator) == 1
    await asyncio.sleep(0)  # let the prefetch task start
    assert started == [1]  # page 2 is on its way while row 2 of page 1 is still unread
    assert [await anext(iterator), await anext(iterator)] == [2, 3]


async def test_leaving_the_loop_early_cancels_the_prefetched_page() -> None:
    started: list[int] = []
    gate = asyncio.Event()
    rs = chain([[1, 2], [3]], started, gate)
    seen = []
    async for row in rs:
        seen.append(row)
        await asyncio.sleep(0)
        break
    gc.collect()
    await asyncio.sleep(0)
    assert seen == [1] and started == [1]
    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert pending == []  # the prefetch was cancelled, not left waiting on its gate


def test_named_tuple_rows_are_built_per_column_names() -> None:
    rows = named_tuple_factory(("k", "count(*)", "writetime(v)"), [(1, 2, 3)])
    assert rows[0].k == 1 and rows[0] == (1, 2, 3)
    assert type(rows[0]) is type(named_tuple_factory(("k", "count(*)", "writetime(v)"), [(4, 5, 6)])[0])
