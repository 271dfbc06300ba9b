"""Live progress of a bulk operation: rows, rows/s, total and ETA, request latency percentiles, errors.

One line on stderr, redrawn twice a second while stderr is a terminal (or ``--progress`` forces it),
and a summary at the end. Latencies are kept in a bounded reservoir (the most recent 20,000).

Example:
    >>> p = Progress("load", total=100, enabled=False)
    >>> p.add(40, latency=0.002); p.add(10, latency=0.004); p.add(5, latency=0.003)
    >>> p.rows, p.requests, p.percentile(50) * 1000
    (55, 3, 3.0)
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TextIO


class Progress:
    """Counters of one run (or of several worker processes added together) and their display."""

    def __init__(
        self,
        operation: str,
        total: int | None = None,
        *,
        enabled: bool | None = None,
        stream: TextIO | None = None,
        fraction: Callable[[], float | None] | None = None,
    ) -> None:
        self.operation = operation
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.fraction = fraction  # share of the work done (bytes read, ring covered), for the ETA
        self.rows = 0
        self.errors = 0
        self.skipped = 0  # done by an earlier, interrupted run (checkpoint)
        self.requests = 0
        self.started = time.monotonic()
        self.latencies: deque[float] = deque(maxlen=20_000)
        self._task: asyncio.Task[None] | None = None
        self._extra: dict[str, Any] = {}

    def add(self, rows: int, latency: float | None = None) -> None:
        """Count ``rows`` done by one request that took ``latency`` seconds."""
        self.rows += rows
        if latency is not None:
            self.requests += 1
            self.latencies.append(latency)

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile (nearest rank) of recent request latencies, seconds; 0 with none."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
        return ordered[rank]

    @property
    def elapsed(self) -> float:
        """Seconds since the start."""
        return time.monotonic() - self.started

    def rate(self) -> float:
        """Rows per second so far."""
        return self.rows / self.elapsed if self.elapsed > 0 else 0.0

    def line(self) -> str:
        """The progress line."""
        rate = self.rate()
        parts = [f"{self.operation}: {self.rows:,} rows"]
        share = self.fraction() if self.fraction is not None else None
        if self.total:
            parts[0] += f" / {self.total:,}"
            share = share if share is not None else self.rows / self.total
        parts.append(f"{rate:,.0f} rows/s")
        if share:
            remaining = self.elapsed * (1 - share) / share if share > 0 else 0
            parts.append(f"{share * 100:.0f}% ETA {remaining:.0f}s")
        if self.latencies:
            parts.append(f"p50 {self.percentile(50) * 1000:.1f} ms p99 {self.percentile(99) * 1000:.1f} ms")
        parts.append(f"errors {self.errors}")
        return " | ".join(parts)

    def draw(self) -> None:
        """Redraw the line (when enabled)."""
        if self.enabled:
            self.stream.write("\r\x1b[K" + self.line())
            self.stream.flush()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            self.draw()

    def start(self) -> None:
        """Start redrawing twice a second (on the running loop)."""
        if self.enabled and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    def stop(self) -> None:
        """Stop redrawing and end the line."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
            self.draw()
            self.stream.write("\n")
            self.stream.flush()

    def summary(self, **extra: Any) -> dict[str, Any]:
        """The run's figures as a dict (also what ``--summary-json`` prints)."""
        out: dict[str, Any] = {
            "operation": self.operation,
            "rows": self.rows,
            "errors": self.errors,
            "skipped_from_checkpoint": self.skipped,
            "seconds": round(self.elapsed, 3),
            "rows_per_second": round(self.rate(), 1),
            "requests": self.requests,
            "latency_ms_p50": round(self.percentile(50) * 1000, 2),
            "latency_ms_p99": round(self.percentile(99) * 1000, 2),
            "latency_ms_max": round(max(self.latencies, default=0.0) * 1000, 2),
        }
        out.update(self._extra)
        out.update(extra)
        return out

    def print_summary(self, summary: dict[str, Any]) -> None:
        """The end-of-run summary, human-readable, on the progress stream."""
        lines = [
            f"{summary['operation']}: {summary['rows']:,} rows in {summary['seconds']:.1f} s "
            f"({summary['rows_per_second']:,.0f} rows/s), {summary['errors']} errors",
        ]
        if summary.get("requests"):
            lines.append(
                f"  requests {summary['requests']:,}, latency p50 {summary['latency_ms_p50']} ms, "
                f"p99 {summary['latency_ms_p99']} ms, max {summary['latency_ms_max']} ms"
            )
        if summary.get("skipped_from_checkpoint"):
            lines.append(f"  {summary['skipped_from_checkpoint']:,} records were done by an earlier run (checkpoint)")
        for key in ("replayed", "bad_file", "error_log", "checkpoint", "output", "status"):
            if summary.get(key):
                lines.append(f"  {key.replace('_', ' ')}: {summary[key]}")
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()
