"""``ManualClock``: a clock that moves only when a test says so, for timers that would otherwise be slept out.

The cluster's host-status machine keeps one timer, the settle time (``UP_SETTLE``) a reconnected pool waits
for a DOWN event before its host counts as up again. ``ManualClock().install(cluster)`` puts it on this
clock: the test steps time with :meth:`ManualClock.advance` instead of sleeping on the wall clock.

Example:
    >>> clock = ManualClock()
    >>> fired = []
    >>> _ = clock.call_at(1.0, lambda: fired.append(clock.time()))
    >>> clock.advance(0.5); fired
    []
    >>> clock.advance(0.5); fired
    [1.0]
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiocql.cluster.cluster import Cluster

__all__ = ["ManualClock", "ManualTimer"]


class ManualTimer:
    """A callback waiting on a :class:`ManualClock`; :meth:`cancel` drops it."""

    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], object]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        """Do not call the callback.

        Example:
            >>> clock = ManualClock()
            >>> clock.call_at(1.0, lambda: print("never")).cancel()
            >>> clock.advance(2.0)
        """
        self.cancelled = True


class ManualClock:
    """Time in seconds that starts at ``start`` and moves only by :meth:`advance`; ``call_at`` timers run
    inside the :meth:`advance` that reaches their time, earliest first (the event loop's ``time`` and
    ``call_at``, so it stands where the cluster would use the loop).

    Example:
        >>> clock = ManualClock(start=10.0)
        >>> clock.time()
        10.0
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._timers: list[tuple[float, int, ManualTimer]] = []
        self._order = itertools.count()

    def time(self) -> float:
        """The current time.

        Example:
            >>> ManualClock().time()
            0.0
        """
        return self._now

    def call_at(self, when: float, callback: Callable[[], object]) -> ManualTimer:
        """Call ``callback()`` once the clock reads ``when`` or later (at the next :meth:`advance` if it does
        already).

        Example:
            >>> clock = ManualClock()
            >>> timer = clock.call_at(0.0, lambda: print("due"))
            >>> clock.advance(0)
            due
        """
        timer = ManualTimer(when, callback)
        heapq.heappush(self._timers, (when, next(self._order), timer))
        return timer

    @property
    def pending(self) -> int:
        """Timers not yet run nor cancelled.

        Example:
            >>> clock = ManualClock()
            >>> _ = clock.call_at(5.0, lambda: None)
            >>> clock.pending
            1
        """
        return sum(not timer.cancelled for _, _, timer in self._timers)

    def install(self, cluster: Cluster) -> ManualClock:
        """Run ``cluster``'s host-status machine on this clock instead of the event loop (before it connects):
        its reading of the time and its settle timer. Returns the clock.

        Example:
            >>> from aiocql import Cluster
            >>> clock = ManualClock().install(Cluster(["127.0.0.1"]))
            >>> clock.advance(1.0)  # a reconnected host counts as up once the settle time has passed
        """
        from aiocql.errors import TestingError

        if cluster.control is not None or cluster.is_closed:
            raise TestingError("ManualClock.install() takes a cluster that has not connected yet")
        cluster._hosts.use_clock(self)  # the cluster's own hosts: this harness is part of aiocql
        return self

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward, running every timer due on the way at its own time.

        Example:
            >>> clock = ManualClock()
            >>> _ = clock.call_at(2.0, lambda: print("at", clock.time()))
            >>> clock.advance(3.0)
            at 2.0
            >>> clock.time()
            3.0
        """
        if seconds < 0:
            from aiocql.errors import TestingError

            raise TestingError(f"a clock only moves forward: advance({seconds!r})")
        end = self._now + seconds
        while self._timers and self._timers[0][0] <= end:
            when, _, timer = heapq.heappop(self._timers)
            self._now = max(self._now, when)
            if not timer.cancelled:
                timer.callback()
        self._now = end
