"""How late the event loop wakes a short sleeper while a block runs: the loop lag a workload causes
(or, on a shared machine, the part of a latency that came from other processes)."""

from __future__ import annotations

import asyncio


class LoopLag:
    """``async with LoopLag() as lag:`` samples, every ``period`` seconds, how much later than asked the
    loop woke a sleeper; ``lag.lags`` holds every sample, ``lag.worst`` the largest (0.0 if none)."""

    def __init__(self, period: float = 0.005) -> None:
        self.period = period
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def worst(self) -> float:
        return max(self.lags, default=0.0)

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.period)  # the probe itself: how late does this wake?
            self.lags.append(loop.time() - before - self.period)

    async def __aenter__(self) -> LoopLag:
        self._task = asyncio.ensure_future(self._watch())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
