"""The two shapes of client adapter the worker knows how to drive.

* :class:`AsyncAdapter`: an asyncio client. The worker runs ``concurrency`` tasks, each awaiting
  ``run_op(i)`` in a loop, plus a 10 ms loop-lag probe.
* :class:`SyncAdapter`: a client with its own threads (cassandra-driver's blocking and callback
  styles). It drives a whole cell itself and records into the :class:`~benchmarks.metrics.Window`.

``run_op`` raises on a server error or on a wrong result (:class:`~benchmarks.workloads.CheckFailed`).
``scan`` returns ``(rows, sum of column a)`` (sum ``-1`` when the client does not decode rows); it stops
early, between pages (or every page-size rows), once ``time.monotonic()`` passes ``stop_at``.
"""

from __future__ import annotations

from typing import Any, Protocol

from benchmarks.metrics import Window
from benchmarks.workloads import CellParams, Conf


class AsyncAdapter(Protocol):
    async def setup(self, conf: Conf) -> None: ...
    async def begin_cell(self, cell: CellParams) -> None: ...
    async def run_op(self, i: int) -> None: ...
    async def scan(self, stop_at: float) -> tuple[int, int]: ...
    async def close(self) -> None: ...
    def info(self) -> dict[str, Any]: ...


class SyncAdapter(Protocol):
    def setup(self, conf: Conf) -> None: ...
    def run_cell(self, cell: CellParams, concurrency: int, window: Window) -> int: ...  # requests issued
    def scan(self, stop_at: float) -> tuple[int, int]: ...
    def close(self) -> None: ...
    def info(self) -> dict[str, Any]: ...
