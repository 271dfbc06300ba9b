"""cassandra-driver, callbacks: ``execute_async`` + ``add_callbacks``; each completion issues the next request.

The callbacks run on the driver's event-loop thread (libev); the main thread only opens and closes the
measured window and waits for the in-flight requests to drain.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

from benchmarks import workloads as w
from benchmarks.adapters.cassandra_driver_common import Common
from benchmarks.metrics import Window


class Adapter(Common):
    def setup(self, conf: w.Conf) -> None:
        self.connect(conf)

    def run_cell(self, cell: w.CellParams, concurrency: int, window: Window) -> int:
        self.cell = cell
        counter = itertools.count()
        stopping = False
        lock = threading.Lock()
        in_flight = 0
        drained = threading.Event()
        execute_async, statement, check = self.session.execute_async, self.statement, self.check
        now = time.perf_counter_ns

        def issue() -> None:
            i = next(counter)
            t0 = now()
            try:
                future = execute_async(statement(i))
            except Exception as exc:
                window.error(exc)
                finished()
                return
            future.add_callbacks(on_rows, on_error, callback_args=(i, t0), errback_args=(i, t0))

        def finished() -> None:
            nonlocal in_flight
            if stopping:
                with lock:
                    in_flight -= 1
                    if in_flight == 0:
                        drained.set()
            else:
                issue()

        def on_rows(rows: Any, i: int, t0: int) -> None:
            try:
                check(i, rows)
                window.record(t0, now())
            except Exception as exc:
                window.error(exc)
            finished()

        def on_error(exc: BaseException, i: int, t0: int) -> None:
            window.error(exc)
            finished()

        in_flight = concurrency
        for _ in range(concurrency):
            issue()
        deadline = time.monotonic() + window.warmup_s
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.1))
            window.sample_threads()
        window.open()
        deadline = time.monotonic() + window.measure_s
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.1))
            window.sample_threads()
        window.close()
        stopping = True
        if not drained.wait(60):
            window.error(TimeoutError(f"{in_flight} requests still in flight 60 s after the window"))
        return next(counter)

    def scan(self, stop_at: float) -> tuple[int, int]:
        done = threading.Event()
        counts = [0, 0]
        failure: list[BaseException] = []
        future = self.session.execute_async(self.scan_statement())

        def on_page(rows: list[Any]) -> None:
            more = future.has_more_pages and time.monotonic() < stop_at
            if more:
                future.start_fetching_next_page()  # the server works on the next page meanwhile
            n = total = 0
            for row in rows:
                n += 1
                total += row[2]
            counts[0] += n
            counts[1] += total
            if not more:
                done.set()

        def on_error(exc: BaseException) -> None:
            failure.append(exc)
            done.set()

        future.add_callbacks(on_page, on_error)
        done.wait()
        if failure:
            raise failure[0]
        return counts[0], counts[1]

    def close(self) -> None:
        self.shutdown()

    def info(self) -> dict[str, Any]:
        return Common.info(self)
