"""Requests waiting for a free stream id: first come, first served, until each one's deadline.

When every connection a request's plan offers has all its stream ids in flight, the request is not
failed (cassandra-driver PYTHON-514): it waits here until a reply frees an id on one of the session's
connections, then walks its plan again. Waiters are woken one per freed id, oldest first; a request
that arrives while others wait queues behind them, so nobody overtakes. Waiting never blocks the
loop; the caller's deadline (a timeout around the request) ends the wait.

Example:
    >>> waiters = StreamWaiters()
    >>> waiters.waiting
    0
    >>> waiters.notify()  # a stream id was freed with nobody waiting: nothing to do
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

__all__ = ["StreamWaiters"]


class StreamWaiters:
    """A FIFO of requests waiting for a stream id; :meth:`notify` is called whenever one is freed."""

    __slots__ = ("_queue",)

    def __init__(self) -> None:
        self._queue: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        """Requests waiting now."""
        return len(self._queue)

    def notify(self, count: int = 1) -> None:
        """``count`` stream ids were freed (or a connection closed: 1): wake the ``count`` oldest waiters.

        Example:
            >>> waiters = StreamWaiters()
            >>> waiters.notify(3)  # nobody waits: nothing to do
        """
        queue = self._queue
        while queue and count > 0:
            fut = queue.popleft()
            if not fut.done():
                fut.set_result(None)
                count -= 1

    async def wait(self, *, again: bool = False) -> None:
        """Wait for a freed stream id. ``again``: a woken waiter that still found none goes back to the
        head of the queue (it keeps its turn)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if again:
            self._queue.appendleft(fut)
        else:
            self._queue.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.notify()  # woken just as our deadline passed: the freed id is the next waiter's
            else:
                fut.cancel()
                with contextlib.suppress(ValueError):
                    self._queue.remove(fut)  # or a new request would queue behind a waiter that left
            raise
