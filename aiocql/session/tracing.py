"""Reading a request's trace from ``system_traces`` (for ``execute(..., trace=True)``).

Example:
    >>> rs = await session.execute("SELECT * FROM t", trace=True)  # doctest: +SKIP
    >>> trace = await rs.get_query_trace()  # doctest: +SKIP
    >>> trace.duration_us  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

from aiocql.results import QueryTrace, TraceEvent, tuple_factory

if TYPE_CHECKING:
    from aiocql.session.session import Session


class TraceUnavailable(RuntimeError):
    """The trace was not complete in system_traces within the wait."""


async def fetch_trace(session: Session, trace_id: uuid.UUID, max_wait: float) -> QueryTrace:
    """Read the trace session and its events, waiting until the session row has its duration."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_wait
    while True:
        rs = await session.execute(
            "SELECT request, coordinator, duration, parameters FROM system_traces.sessions WHERE session_id = ?",
            (trace_id,), row_factory=tuple_factory,
        )  # fmt: skip
        row: Any = rs.one()
        if row is not None and row[2] is not None:
            events = await session.execute(
                "SELECT activity, source, source_elapsed, thread FROM system_traces.events WHERE session_id = ?",
                (trace_id,), row_factory=tuple_factory,
            )  # fmt: skip
            return QueryTrace(
                trace_id=trace_id,
                request_type=row[0],
                coordinator=str(row[1]) if row[1] is not None else None,
                duration_us=row[2],
                parameters=dict(row[3] or {}),
                events=[TraceEvent(e[0], str(e[1]), e[2], e[3]) for e in await events.all()],
            )
        if loop.time() >= deadline:
            raise TraceUnavailable(f"trace {trace_id} was not complete within {max_wait}s")
        await asyncio.sleep(0.05)
