"""A request throttle: at most N requests in flight per session, with a bounded queue.

Time spent queued counts against the request's one deadline (the throttle is entered inside it).

Example:
    >>> throttle = RequestThrottle(max_in_flight=2, max_queued=10)
    >>> async def run():
    ...     async with throttle:
    ...         return throttle.in_flight
    >>> import asyncio
    >>> asyncio.run(run())
    1
"""

from __future__ import annotations

import asyncio
from collections import deque

from aiocql.errors.base import InvalidValueError
from aiocql.errors.base import RequestThrottled as RequestThrottled  # defined with the other errors; exported here too


class RequestThrottle:
    """Limits concurrent requests; callers past the limit wait in FIFO order, up to ``max_queued`` of them."""

    __slots__ = ("_waiters", "in_flight", "max_in_flight", "max_queued")

    def __init__(self, max_in_flight: int, max_queued: int) -> None:  # the defaults: SessionDefaults
        if max_in_flight < 1 or max_queued < 0:
            raise InvalidValueError("max_in_flight must be >= 1 and max_queued >= 0")
        self.max_in_flight = max_in_flight
        self.max_queued = max_queued
        self.in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def queued(self) -> int:
        """Requests waiting for a slot."""
        return len(self._waiters)

    async def __aenter__(self) -> None:
        if self.in_flight < self.max_in_flight and not self._waiters:
            self.in_flight += 1
            return
        if len(self._waiters) >= self.max_queued:
            raise RequestThrottled(
                f"{self.in_flight} requests in flight and {len(self._waiters)} queued (the maximum): slow down"
            )
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter  # the releasing request hands its slot over: in_flight stays counted
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._release()  # we were handed a slot but are leaving: pass it on
            else:
                self._waiters.remove(waiter)
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._release()

    def _release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.in_flight -= 1
