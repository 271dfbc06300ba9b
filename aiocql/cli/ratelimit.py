"""A token bucket for ``--rate``: at most so many rows per second.

Example:
    >>> limiter = RateLimiter(1000.0)
    >>> await limiter.take(100)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import time

__all__ = ["RateLimiter"]


class RateLimiter:
    """At most ``rate`` rows per second (a token bucket one second deep)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.last = time.monotonic()

    async def take(self, n: int) -> None:
        while True:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens >= n or self.tokens >= self.rate:
                self.tokens -= n
                return
            await asyncio.sleep((n - self.tokens) / self.rate)
