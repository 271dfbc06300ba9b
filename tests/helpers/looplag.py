"""How late the event loop wakes a short sleeper while a block runs: the loop lag a workload causes,
and the part of it that is the process's own (what remains once the time the loop's thread spent
waiting for a CPU taken by other processes is subtracted).

On a loaded machine the wall-clock lag mostly measures the other processes: a thread that is runnable
but not running is late for its timers through no fault of its own. Linux counts that time per thread
(the second field of ``/proc/thread-self/schedstat``, the run-queue wait); the rest of a late wake-up is
the loop's own doing: CPU work that did not yield, or a blocking call (sleeping in it is not waiting for
a CPU, so it stays in). Where the kernel does not expose it, ``own`` equals the wall-clock lag.
"""

from __future__ import annotations

import asyncio

_SCHEDSTAT = "/proc/thread-self/schedstat"


def run_queue_wait() -> float | None:
    """Seconds the calling thread has spent runnable but waiting for a CPU, or None if unknown."""
    try:
        with open(_SCHEDSTAT, "rb") as stat:
            return int(stat.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


class LoopLag:
    """``async with LoopLag() as lag:`` samples, every ``period`` seconds, how much later than asked the
    loop woke a sleeper: ``lag.lags`` holds every wall-clock sample, ``lag.own`` the same samples less the
    run-queue wait of the loop's thread meanwhile; ``lag.worst`` and ``lag.worst_own`` the largest (0.0
    if none)."""

    def __init__(self, period: float = 0.005) -> None:
        self.period = period
        self.lags: list[float] = []
        self.own: list[float] = []
        self.measures_own = run_queue_wait() is not None
        self._task: asyncio.Task[None] | None = None

    @property
    def worst(self) -> float:
        return max(self.lags, default=0.0)

    @property
    def worst_own(self) -> float:
        return max(self.own, default=0.0)

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            waited_before = run_queue_wait()
            await asyncio.sleep(self.period)  # the probe itself: how late does this wake?
            lag = loop.time() - before - self.period
            waited_after = run_queue_wait()
            self.lags.append(lag)
            if waited_before is None or waited_after is None:
                self.own.append(lag)
            else:
                self.own.append(max(0.0, lag - (waited_after - waited_before)))

    async def __aenter__(self) -> LoopLag:
        self._task = asyncio.ensure_future(self._watch())
        await asyncio.sleep(0)  # the probe is asleep, its clock running, before the block starts
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
