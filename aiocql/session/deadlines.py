"""Request deadlines on a wheel: one loop timer per slot of time, not one per request.

``asyncio.timeout`` costs a timer handle pushed on (and later cancelled from) the loop's heap for every
request, plus its context manager's state machine. The executor's deadline needs less: cancel the task
when its deadline passes and tell that apart from any other cancellation. A :class:`DeadlineWheel`
groups deadlines into slots of :data:`RESOLUTION` seconds; the first deadline of a slot schedules the
slot's one timer (at the slot's end, so a deadline never fires early and at most ``RESOLUTION`` late);
a request that finishes first just leaves its slot (a set removal).

Example:
    >>> wheel = DeadlineWheel()  # doctest: +SKIP
    >>> deadline = wheel.start(2.0)  # doctest: +SKIP
    >>> try:  # doctest: +SKIP
    ...     await work()
    ... except asyncio.CancelledError as exc:
    ...     if deadline.owns(exc):
    ...         raise OperationTimedOut("...") from None
    ...     raise
    ... finally:
    ...     deadline.stop()
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

__all__ = ["RESOLUTION", "Deadline", "DeadlineWheel"]

#: The wheel's slot length in seconds: how late at most a deadline fires.
RESOLUTION = 1 / 256


class Deadline:
    """One request's deadline on a :class:`DeadlineWheel` (for the task that started it)."""

    __slots__ = ("_cancelling", "_expired", "_slot", "task", "when")

    def __init__(self, task: asyncio.Task[object], when: float, slot: set[Deadline]) -> None:
        self.task = task
        self.when = when
        self._slot = slot
        self._cancelling = task.cancelling()
        self._expired = False

    def expired(self) -> bool:
        """True once the deadline passed and the task was cancelled for it."""
        return self._expired

    def stop(self) -> None:
        """The request ended: its deadline no longer applies (harmless after it fired)."""
        self._slot.discard(self)

    def owns(self, exc: BaseException) -> bool:
        """Whether ``exc`` (a CancelledError caught in the task) is this deadline's own cancellation and not
        also someone else's; if so the task's cancellation request is withdrawn (as ``asyncio.timeout``
        does), so the caller may raise a timeout error instead."""
        if not self._expired or not isinstance(exc, asyncio.CancelledError):
            return False
        return self.task.uncancel() <= self._cancelling


class DeadlineWheel:
    """The deadlines of the requests running on one event loop (see the module docs)."""

    __slots__ = ("_clock", "_loop", "_slots")

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: dict[int, set[Deadline]] = {}
        self._clock: Callable[[], float] = time.monotonic  # the loop's time(), as _clock_of gives it

    def start(self, timeout: float) -> Deadline:
        """A deadline ``timeout`` seconds from now for the current task: when it passes, the task is cancelled."""
        # current_task(loop) of the wheel's loop: None unless that loop runs us. Asking for the running loop
        # instead would cost a getpid() system call per request (asyncio checks the loop's process).
        loop = self._loop
        task = asyncio.current_task(loop) if loop is not None else None
        if loop is None or task is None:
            loop = asyncio.get_running_loop()
            if loop is not self._loop:  # first use, or a new loop: the old one's slots are gone with it
                self._loop, self._slots, self._clock = loop, {}, _clock_of(loop)
            task = asyncio.current_task(loop)
            assert task is not None, "a deadline is started from a task"
        when = self._clock() + timeout
        key = math.ceil(when / RESOLUTION)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = set()
            loop.call_at(key * RESOLUTION, self._fire, key)
        deadline = Deadline(task, when, slot)
        slot.add(deadline)
        return deadline

    def _fire(self, key: int) -> None:
        for deadline in self._slots.pop(key, ()):
            if not deadline.task.done():
                deadline._expired = True
                deadline.task.cancel()

    @property
    def pending(self) -> int:
        """Deadlines started and not yet stopped or fired."""
        return sum(len(slot) for slot in self._slots.values())

    @property
    def timers(self) -> int:
        """Loop timers the wheel holds (one per slot in use)."""
        return len(self._slots)


def _clock_of(loop: asyncio.AbstractEventLoop) -> Callable[[], float]:
    """``loop.time``, or ``time.monotonic`` itself where that is all the loop's ``time()`` does (asyncio's own
    loops: one Python call fewer per deadline); the slot timers are scheduled on the same clock."""
    if type(loop).time is asyncio.BaseEventLoop.time:
        return time.monotonic
    return loop.time
