"""Reconnection policies: how long to wait before each attempt to reconnect to a down host.

A policy hands out a fresh *schedule* per outage: an iterator of delays in seconds. The pool (or
control connection) sleeps ``next(schedule)`` before each attempt and starts a new schedule once the
host is back; a schedule that ends means "stop trying" (the host stays down until an UP event or
the next topology refresh brings it back).

Example:
    >>> import random
    >>> schedule = ExponentialReconnectionPolicy(base=1.0, max=60.0, jitter=0.0).new_schedule()
    >>> [next(schedule) for _ in range(8)]
    [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from typing import Protocol

from aiocql.errors import InvalidValueError

__all__ = ["ConstantReconnectionPolicy", "ExponentialReconnectionPolicy", "ReconnectionPolicy"]


class ReconnectionPolicy(Protocol):
    """Makes a new delay schedule for each outage."""

    def new_schedule(self) -> Iterator[float]:
        """Delays in seconds before each reconnection attempt; may be infinite."""
        ...


class ExponentialReconnectionPolicy:
    """``base``, ``2*base``, ``4*base``... capped at ``max`` seconds, forever, each with random jitter.

    Jitter only shortens a delay, by up to the ``jitter`` fraction (0.15: each delay is in
    ``[0.85 d, d]``), so delays never exceed ``max`` yet clients that lost a node together do not
    reconnect in lock step. ``rng`` is for tests.

    Example:
        >>> import random
        >>> s = ExponentialReconnectionPolicy(base=0.5, max=3.0, rng=random.Random(1)).new_schedule()
        >>> [round(next(s), 3) for _ in range(5)]
        [0.49, 0.873, 1.771, 2.885, 2.777]
    """

    __slots__ = ("_rng", "base", "jitter", "max")

    def __init__(
        self, base: float = 1.0, max: float = 60.0, jitter: float = 0.15, *, rng: random.Random | None = None
    ) -> None:
        if not 0 < base <= max:
            raise InvalidValueError(f"need 0 < base <= max, got base={base}, max={max}")
        if not 0 <= jitter < 1:
            raise InvalidValueError(f"jitter must be in [0, 1), not {jitter}")
        self.base = base
        self.max = max
        self.jitter = jitter
        self._rng = rng or random.Random()

    def new_schedule(self) -> Iterator[float]:
        """An infinite schedule, starting again at ``base``."""
        return self._schedule()

    def _schedule(self) -> Iterator[float]:
        delay = self.base
        rng, jitter = self._rng, self.jitter
        while True:
            yield delay * (1.0 - jitter * rng.random()) if jitter else delay
            if delay < self.max:
                delay = min(delay * 2.0, self.max)


class ConstantReconnectionPolicy:
    """The same ``delay`` before every attempt; ``max_attempts`` attempts, or forever if ``None``.

    Example:
        >>> list(ConstantReconnectionPolicy(2.0, max_attempts=3).new_schedule())
        [2.0, 2.0, 2.0]
    """

    __slots__ = ("delay", "max_attempts")

    def __init__(self, delay: float, max_attempts: int | None = None) -> None:
        if delay < 0:
            raise InvalidValueError(f"delay must be >= 0, not {delay}")
        if max_attempts is not None and max_attempts < 0:
            raise InvalidValueError(f"max_attempts must be >= 0 or None, not {max_attempts}")
        self.delay = delay
        self.max_attempts = max_attempts

    def new_schedule(self) -> Iterator[float]:
        """``delay`` repeated ``max_attempts`` times (forever if ``None``)."""
        return (
            itertools.repeat(self.delay)
            if self.max_attempts is None
            else itertools.repeat(self.delay, self.max_attempts)
        )
