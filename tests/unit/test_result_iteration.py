"""ResultSet iteration without a server: page order, empty non-final pages, prefetch, early exit; on both row
iterators (the pure-Python one, a coroutine per row, and the compiled one, a coroutine per page)."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Iterator
from typing import Any

import pytest

from aiocql.results import ResultSet, _RowIterator, named_tuple_factory
from aiocql.types import speedups

IMPLEMENTATIONS = ["pure", "compiled"]


@pytest.fixture(autouse=True, params=IMPLEMENTATIONS)
def implementation(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Every test of this file runs on both iterators (the compiled one is skipped only where it is not built
    and CI does not require it: AIOCQL_REQUIRE_EXTENSIONS=1 turns a missing build into a failure)."""
    if request.param == "pure":
        monkeypatch.setattr(speedups, "core", None)
    elif speedups.core is None:
        if os.environ.get("AIOCQL_REQUIRE_EXTENSIONS", "") not in ("", "0"):
            pytest.fail("the compiled core is required (AIOCQL_REQUIRE_EXTENSIONS) but not built")
        pytest.skip("the compiled core is not built")
    yield request.param


def iterator_kind(rs: ResultSet[Any]) -> str:
    return "pure" if isinstance(aiter(rs), _RowIterator) else "compiled"


def chain(pages: list[list[int]], started: list[int], gate: asyncio.Event | None = None) -> ResultSet:
    """A first page whose next pages come from ``pages``; ``started`` records each fetch."""

    async def next_page(state: bytes) -> ResultSet:
        started.append(int(state))
        if gate is not None:
            await gate.wait()
        return page_at(int(state))

    def page_at(index: int) -> ResultSet:
        if index + 1 < len(pages):
            return ResultSet.from_rows(pages[index], paging_state=str(index + 1).encode(), next_page=next_page)
        return ResultSet.from_rows(pages[index])

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


async def test_the_selected_iterator_is_used(implementation: str) -> None:
    assert iterator_kind(chain([[1]], [])) == implementation


async def test_anext_calls_awaited_out_of_order_each_get_one_row() -> None:
    rs = chain([[1, 2, 3], [4]], [])
    it = aiter(rs)
    first, second = anext(it), anext(it)
    assert sorted([await second, await first]) == [1, 2]  # which gets which: the pure iterator's is await order
    assert [await anext(it), await anext(it)] == [3, 4]
    with pytest.raises(StopAsyncIteration):
        await anext(it)
    with pytest.raises(StopAsyncIteration):
        await anext(it)


async def test_an_error_fetching_a_page_reaches_the_loop() -> None:
    async def broken(state: bytes) -> ResultSet[Any]:
        raise ConnectionResetError("gone")

    rs = ResultSet.from_rows([1, 2], paging_state=b"x", next_page=broken)
    seen = []
    with pytest.raises(ConnectionResetError, match="gone"):
        async for row in rs:
            seen.append(row)
    assert seen == [1, 2]


async def test_many_rows_and_pages_and_none_values() -> None:
    pages = [[(i, None) for i in range(p * 1000, p * 1000 + 1000)] for p in range(5)]
    rows = [row async for row in chain(pages, [])]
    assert rows == [r for page in pages for r in page]


async def test_awaiting_a_row_step_by_hand() -> None:
    # What asyncio does with an awaitable that is not a coroutine: next() on its __await__(); the completed
    # value travels in StopIteration.value, and a caught StopIteration does not keep growing a traceback.
    rs = chain([list(range(200))], [])
    it = aiter(rs)
    for expected in range(200):
        step = it.__anext__().__await__()
        with pytest.raises(StopIteration) as caught:
            next(step)
        assert caught.value.value == expected
        tb, depth = caught.value.__traceback__, 0
        while tb is not None:
            tb, depth = tb.tb_next, depth + 1
        assert depth < 5


async def test_rows_as_tasks() -> None:
    rs = chain([[1, 2], [3]], [])
    it = aiter(rs)
    assert [await asyncio.ensure_future(anext(it)) for _ in range(3)] == [1, 2, 3]


def test_a_paging_state_without_a_next_page_is_refused() -> None:
    from aiocql import InvalidValueError

    with pytest.raises(InvalidValueError, match="needs next_page"):
        ResultSet.from_rows([1], paging_state=b"x")
