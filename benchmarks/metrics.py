"""Measuring one cell inside the client's own process: CPU time, latencies, peak RSS, OS threads, loop lag.

A :class:`Window` is opened after the warm-up and closed after the measured duration. Requests are
counted when they *complete* inside the window; client CPU is the process CPU time (every thread:
user + system) spent between opening and closing it.
"""

from __future__ import annotations

import math
import os
import time
from array import array
from typing import Any


def proc_status(field: str) -> int:
    """One numeric field of /proc/self/status (``Threads``; ``VmHWM``/``VmRSS`` in kB)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


_TICK = os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy (every core, every process) since boot."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / _TICK


def process_cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of another process (the server), 0.0 when unknown."""
    if not pid:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS so the peak is this cell's own (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def percentile(sorted_values: list[int] | list[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values (p in 0..100)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(round(p * len(sorted_values) / 100.0, 9)))  # round: 99.9% of 1000 is 999, not 999.0..01
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


class Window:
    """Collects one cell's figures; ``record`` is cheap enough for the hot path."""

    def __init__(self, warmup_s: float, measure_s: float, server_pid: int | None = None) -> None:
        self.warmup_s, self.measure_s, self.server_pid = warmup_s, measure_s, server_pid
        self.machine_open = self.machine_close = self.server_open = self.server_close = 0.0
        self.ends = array("q")
        self.lats = array("q")
        self.errors = 0
        self.first_error = ""
        self.threads_max = 0
        self.loop_lag_max_s: float | None = None
        self.loop_busy_lag_max_s: float | None = None
        self.rows_extra = 0  # rows counted by the scan
        self.partial = False  # the scan hit its time cap
        self.t_open = self.t_close = 0
        self.cpu_open = self.cpu_close = 0.0
        self.hwm_reset = False
        self.sample_threads()

    # hot path
    def record(self, t0: int, t1: int) -> None:
        self.ends.append(t1)
        self.lats.append(t1 - t0)

    def error(self, exc: BaseException) -> None:
        self.errors += 1
        if not self.first_error:
            self.first_error = f"{type(exc).__name__}: {exc}"[:500]

    # window edges
    def open(self) -> None:
        self.hwm_reset = reset_peak_rss()
        self.sample_threads()
        self.machine_open, self.server_open = machine_busy_s(), process_cpu_s(self.server_pid)
        self.cpu_open = time.process_time()
        self.t_open = time.perf_counter_ns()

    def close(self) -> None:
        self.t_close = time.perf_counter_ns()
        self.cpu_close = time.process_time()
        self.machine_close, self.server_close = machine_busy_s(), process_cpu_s(self.server_pid)
        self.sample_threads()

    @property
    def is_open(self) -> bool:
        return self.t_open != 0 and self.t_close == 0

    def sample_threads(self) -> None:
        self.threads_max = max(self.threads_max, proc_status("Threads"))

    def lag(self, seconds: float, busy_s: float | None = None) -> None:
        """One probe's overshoot; ``busy_s``: CPU time the loop's thread used during that probe's sleep.

        ``min(overshoot, busy_s)`` bounds the part of the overshoot the process's own work can explain: on a
        machine others share, the rest is the OS running something else (the wall lag alone cannot tell).
        """
        if self.is_open:
            self.loop_lag_max_s = max(self.loop_lag_max_s or 0.0, seconds)
            if busy_s is not None:
                self.loop_busy_lag_max_s = max(self.loop_busy_lag_max_s or 0.0, min(seconds, busy_s))

    def result(self, rows_per_op: int) -> dict[str, Any]:
        """The cell's figures (requests completed inside the window only)."""
        lo, hi = self.t_open, self.t_close
        lats = sorted(lat for end, lat in zip(self.ends, self.lats, strict=True) if lo <= end < hi)
        window_s = (hi - lo) / 1e9
        ops = len(lats)
        cpu_s = self.cpu_close - self.cpu_open
        rows = self.rows_extra if self.rows_extra else ops * rows_per_op
        per = rows if self.rows_extra else ops
        return {
            "ops": ops,
            "rows": rows,
            "window_s": round(window_s, 4),
            "ops_per_s": ops / window_s if window_s > 0 else 0.0,
            "rows_per_s": rows / window_s if window_s > 0 else 0.0,
            "cpu_s": round(cpu_s, 4),
            "cpu_us_per_op": cpu_s * 1e6 / per if per else None,
            "p50_ms": percentile(lats, 50) / 1e6 if lats else None,
            "p99_ms": percentile(lats, 99) / 1e6 if lats else None,
            "p999_ms": percentile(lats, 99.9) / 1e6 if lats else None,
            "peak_rss_mb": round(proc_status("VmHWM") / 1024, 1),
            "peak_rss_is_cell": self.hwm_reset,
            "threads_max": self.threads_max,
            "loop_lag_max_ms": None if self.loop_lag_max_s is None else round(self.loop_lag_max_s * 1e3, 2),
            # the worst overshoot counting at most the CPU the loop's thread used meanwhile (its own work)
            "loop_busy_lag_max_ms": (
                None if self.loop_busy_lag_max_s is None else round(self.loop_busy_lag_max_s * 1e3, 2)
            ),
            "server_cpu_s": round(self.server_close - self.server_open, 3) if self.server_pid else None,
            # CPU the rest of the machine (neither this client nor the server) used in the window: noise
            "others_cpu_s": round(
                max(0.0, self.machine_close - self.machine_open - cpu_s - (self.server_close - self.server_open)), 3
            ),
            "partial": self.partial,
            "errors": self.errors,
            "first_error": self.first_error,
        }
