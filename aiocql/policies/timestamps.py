"""Client-side timestamps: monotonic microseconds, on by default.

Example:
    >>> gen = MonotonicTimestampGenerator()
    >>> a, b = gen(), gen()
    >>> b > a
    True
"""

from __future__ import annotations

import time


class MonotonicTimestampGenerator:
    """Microseconds since the epoch, strictly increasing even if the wall clock steps back or two
    requests fall in the same microsecond (the next value is then last + 1)."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last = 0

    def __call__(self) -> int:
        now = time.time_ns() // 1000
        last = self._last
        self._last = now = now if now > last else last + 1
        return now
