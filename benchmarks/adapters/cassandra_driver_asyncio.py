"""cassandra-driver behind an asyncio facade: the ResponseFuture -> asyncio.Future bridge.

This is what asyncio wrappers of cassandra-driver do: the driver's callbacks run on its event-loop
thread and hand the result to the asyncio loop with ``loop.call_soon_threadsafe``. Paging goes
through an ``asyncio.Queue`` fed from the same callbacks.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from cassandra.cluster import ResponseFuture

from benchmarks import workloads as w
from benchmarks.adapters.cassandra_driver_common import Common


def _resolve(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _reject(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


def bridge(response: ResponseFuture, loop: asyncio.AbstractEventLoop) -> asyncio.Future[Any]:
    """An asyncio.Future completed (on ``loop``) when the driver's ResponseFuture completes."""
    future = loop.create_future()
    response.add_callbacks(
        lambda rows: loop.call_soon_threadsafe(_resolve, future, rows),
        lambda exc: loop.call_soon_threadsafe(_reject, future, exc),
    )
    return future


class Adapter(Common):
    async def setup(self, conf: w.Conf) -> None:
        self.loop = asyncio.get_running_loop()
        await asyncio.to_thread(self.connect, conf)  # connect and prepare block: keep them off the loop

    async def begin_cell(self, cell: w.CellParams) -> None:
        self.cell = cell

    async def run_op(self, i: int) -> None:
        rows = await bridge(self.session.execute_async(self.statement(i)), self.loop)
        self.check(i, rows)

    async def scan(self, stop_at: float) -> tuple[int, int]:
        loop = self.loop
        pages: asyncio.Queue[Any] = asyncio.Queue()
        response = self.session.execute_async(self.scan_statement())
        response.add_callbacks(
            lambda page: loop.call_soon_threadsafe(pages.put_nowait, page),
            lambda exc: loop.call_soon_threadsafe(pages.put_nowait, exc),
        )
        rows = total = 0
        while True:
            page = await pages.get()
            if isinstance(page, BaseException):
                raise page
            more = response.has_more_pages and time.monotonic() < stop_at  # read before asking for the next page
            if more:
                response.start_fetching_next_page()  # same callbacks fire for the next page
            for row in page:
                rows += 1
                total += row[2]
            if not more:
                return rows, total

    async def close(self) -> None:
        await asyncio.to_thread(self.shutdown)

    def info(self) -> dict[str, Any]:
        return Common.info(self)
