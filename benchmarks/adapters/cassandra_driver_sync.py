"""cassandra-driver, blocking: ``session.execute`` in a loop, one request in flight.

The scan iterates the ResultSet, which fetches the next page only when the current one is used up: the
blocking API has no way to ask for it earlier (that is the callbacks style, measured separately).
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks import workloads as w
from benchmarks.adapters.cassandra_driver_common import Common
from benchmarks.metrics import Window


class Adapter(Common):
    def setup(self, conf: w.Conf) -> None:
        self.connect(conf)

    def run_cell(self, cell: w.CellParams, concurrency: int, window: Window) -> int:
        if concurrency != 1:
            raise ValueError("the blocking loop has exactly one request in flight")
        self.cell = cell
        execute, statement, check = self.session.execute, self.statement, self.check
        now = time.perf_counter_ns
        began = now()
        open_at = began + int(window.warmup_s * 1e9)
        close_at = open_at + int(window.measure_s * 1e9)
        i = 0
        while True:
            t0 = now()
            if t0 >= open_at and not window.t_open:
                window.open()
            if t0 >= close_at:
                window.close()
                break
            if i & 255 == 0:
                window.sample_threads()
            try:
                check(i, execute(statement(i)).current_rows)
                window.record(t0, now())
            except Exception as exc:
                window.error(exc)
            i += 1
        return i

    def scan(self, stop_at: float) -> tuple[int, int]:
        rows = total = 0
        page = self.conf.page_size
        for row in self.session.execute(self.scan_statement()):
            rows += 1
            total += row[2]
            if rows % page == 0 and time.monotonic() > stop_at:
                break
        return rows, total

    def close(self) -> None:
        self.shutdown()

    def info(self) -> dict[str, Any]:
        return Common.info(self)
