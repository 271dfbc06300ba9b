"""Waiting for a condition with a deadline, instead of sleeping and hoping.

Example:
    >>> import asyncio
    >>> async def main():
    ...     box = []
    ...     asyncio.get_running_loop().call_later(0.01, box.append, 1)
    ...     return await wait_until(lambda: box, timeout=1.0)
    >>> asyncio.run(main())
    [1]
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from aiocql.errors import WaitTimeout

__all__ = ["wait_until"]

T = TypeVar("T")


async def wait_until(
    condition: Callable[[], T],
    *,
    timeout: float = 5.0,
    interval: float = 0.005,
    message: str | Callable[[], str] = "",
) -> T:
    """Poll ``condition`` until it returns something truthy, and return that; raise
    :class:`~aiocql.errors.WaitTimeout` (a ``TimeoutError`` and a :class:`~aiocql.CqlError`, with
    ``message`` or a description of the condition) when ``timeout`` seconds pass first.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = condition()
        if result:
            return result
        if loop.time() >= deadline:
            text = message() if callable(message) else message
            raise WaitTimeout(
                text or f"condition {getattr(condition, '__name__', condition)!r} still false after {timeout}s"
            )
        await asyncio.sleep(interval)
