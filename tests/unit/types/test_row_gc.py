"""Rows and the garbage collector while pages stream (compiled core): the rows of a freed page are reused by the
next page's (a free list, as CPython keeps for its tuples), so decoding a page counts no allocation towards the
collector's next collection, and streaming a million rows runs next to no collection at all.

Why it matters: every GC allocation counts towards the next young collection, tracked or not. A page of 5,000
rows triggered 7 of them, each promoting the page's other objects (its list, result, the prefetch task) a
generation, until every so often a full collection walked the whole process: a 10-40 ms stall of the loop.
"""

from __future__ import annotations

import asyncio
import gc
import struct
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from aiocql.protocol import cqltypes as ct
from aiocql.results import ResultSet
from aiocql.types import speedups
from aiocql.types.rows import RowDecoder

from .test_row_core import compiled_available, page

TYPES = [ct.INT, ct.INT, ct.BIGINT, ct.TEXT]
NAMES = ("p", "c", "a", "b")


@pytest.fixture(autouse=True)
def core() -> Iterator[Any]:
    if not compiled_available():
        pytest.skip("the compiled core is not built")
    assert speedups.core is not None
    speedups.core.clear_free_rows()
    yield speedups.core
    speedups.core.clear_free_rows()


def rows_body(count: int, first: int = 0) -> bytes:
    out = []
    for i in range(first, first + count):
        text = f"row-{i}".encode()
        out.append(struct.pack(">iiiiiqi", 4, i, 4, i % 100, 8, i * 1000, len(text)) + text)
    return b"".join(out)


class _PausedCollector:
    def __enter__(self) -> None:
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was:
            gc.enable()


def test_a_freed_page_s_rows_are_reused_by_the_next_page(core: Any) -> None:
    decoder = RowDecoder(TYPES, NAMES, compiled=True)
    body = memoryview(rows_body(1000))
    rows = decoder.decode_rows(body, 0, 1000, decoder.row_type)
    assert core.free_rows()[0] == 0
    del rows
    kept, kept_bytes, budget = core.free_rows()
    assert kept == 1000 and 0 < kept_bytes <= budget
    with _PausedCollector():
        before = gc.get_count()[0]
        rows = decoder.decode_rows(body, 0, 1000, decoder.row_type)
        counted = gc.get_count()[0] - before
    assert counted < 10, counted  # 1000 without the free list: one per row
    assert core.free_rows()[0] == 0
    assert [tuple(r) for r in rows] == [(i, i % 100, i * 1000, f"row-{i}") for i in range(1000)]
    assert all(type(r) is decoder.row_type and not gc.is_tracked(r) for r in rows)
    assert rows[5].b == "row-5" and rows[5]["a"] == 5000 and rows[5] == (5, 5, 5000, "row-5")


def test_reused_rows_take_their_new_class_and_values(core: Any) -> None:
    first = RowDecoder(TYPES, NAMES, compiled=True)
    other_types = [ct.TEXT, ct.INT, ct.ListType(ct.INT), ct.BIGINT]
    other = RowDecoder(other_types, ("w", "x", "y", "z"), compiled=True)
    cls = first.row_type
    refs = sys.getrefcount(cls)
    rows = first.decode_rows(memoryview(rows_body(50)), 0, 50, cls)
    assert sys.getrefcount(cls) == refs + 50
    del rows
    assert core.free_rows()[0] == 50
    assert sys.getrefcount(cls) == refs  # a kept row holds no class (nor any value)
    values = [("t", 1, [1, 2], 7), (None, None, None, None)]
    reused = other.decode_rows(memoryview(page(other_types, values)), 0, 2, other.row_type)
    assert core.free_rows()[0] == 48
    assert [tuple(r) for r in reused] == values
    assert [type(r) for r in reused] == [other.row_type, other.row_type]
    assert reused[0].y == [1, 2] and reused[1]["w"] is None
    assert gc.is_tracked(reused[0]) and not gc.is_tracked(reused[1])  # a list: tracked, as a new row is
    reused[0].y.append(reused[0])  # a cycle through a reused row is collected
    del reused
    assert gc.collect() >= 2


def test_the_free_list_is_bounded(core: Any) -> None:
    decoder = RowDecoder(TYPES, NAMES, compiled=True)
    count = 40_000  # more rows than the budget keeps
    rows = decoder.decode_rows(memoryview(rows_body(count)), 0, count, decoder.row_type)
    del rows
    kept, kept_bytes, budget = core.free_rows()
    assert 0 < kept < count and kept_bytes <= budget
    assert core.clear_free_rows() == kept
    assert core.free_rows()[:2] == (0, 0)


async def test_streaming_a_million_rows_runs_next_to_no_collection() -> None:
    pages, per_page = 200, 5000
    decoder = RowDecoder(TYPES, NAMES, compiled=True)
    body = memoryview(rows_body(per_page))

    async def next_page(state: bytes) -> ResultSet[Any]:
        await asyncio.sleep(0)  # a page arrives through the loop
        return page_at(int(state))

    def page_at(index: int) -> ResultSet[Any]:
        rows = decoder.decode_rows(body, 0, per_page, decoder.row_type)
        more = str(index + 1).encode() if index + 1 < pages else None
        return ResultSet.from_rows(rows, paging_state=more, next_page=next_page if more else None)

    collections = [0, 0, 0]

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections[info["generation"]] += 1

    gc.collect()  # every generation's count back to zero
    gc.callbacks.append(count)
    try:
        total = rows = 0
        async for row in page_at(0):
            rows += 1
            total += row[2]
    finally:
        gc.callbacks.remove(count)
    assert rows == pages * per_page and total == pages * sum(i * 1000 for i in range(per_page))
    # Without the free list: about 7 young collections per page (1,400 here), a middle one every 10 of them,
    # and full ones. With it: the first two pages' rows are new, every later page reuses the rows of the page
    # before the last.
    assert collections[2] == 0, collections
    assert sum(collections) < 40, collections


def test_rows_of_another_width_take_the_place_of_those_kept_before(core: Any) -> None:
    # The budget is shared by every width: rows kept from an earlier result (4 columns here, enough to fill it)
    # give way to the rows being freed now (2 columns), so the next page of those reuses them too.
    earlier = RowDecoder(TYPES, NAMES, compiled=True)
    count = 40_000
    rows = earlier.decode_rows(memoryview(rows_body(count)), 0, count, earlier.row_type)
    del rows
    full, full_bytes, budget = core.free_rows()
    assert full_bytes + 200 > budget  # no room left for even a few small rows
    now = RowDecoder([ct.INT, ct.INT], ("p", "c"), compiled=True)
    body = memoryview(b"".join(struct.pack(">iiii", 4, i, 4, -i) for i in range(1000)))
    rows = now.decode_rows(body, 0, 1000, now.row_type)
    del rows
    kept, kept_bytes, _ = core.free_rows()
    assert kept_bytes <= budget
    assert kept > full  # the 1,000 narrow rows kept, fewer wide ones than before
    with _PausedCollector():
        before = gc.get_count()[0]
        rows = now.decode_rows(body, 0, 1000, now.row_type)
        counted = gc.get_count()[0] - before
    assert counted < 10, counted  # reused: 1000 allocations counted without room for them
    assert [tuple(r) for r in rows[:3]] == [(0, 0), (1, -1), (2, -2)]
    # the wide rows still kept serve the next wide page as before
    assert core.free_rows()[0] == kept - 1000
