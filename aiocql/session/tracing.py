"""Reading a request's trace from ``system_traces`` (for ``execute(..., trace=True)``).

The trace tables are read at ``LOCAL_ONE`` by default (``query_cl=``), whatever the session's default
consistency: Cassandra writes them with replication factor 2, so a QUORUM-like default would fail on a
small cluster (cassandra-driver reads them at LOCAL_ONE too). Each read is a request of the session
(the execution core) with a deadline: the session's request timeout, or ``max_wait`` when it has none.
``wait_for_complete=False`` returns the trace as soon as its session row exists, even before the coordinator
wrote its duration.

Example:
    >>> rs = await session.execute("SELECT * FROM t", trace=True)  # doctest: +SKIP
    >>> trace = await rs.get_query_trace()  # doctest: +SKIP
    >>> trace.duration, trace.client, trace.started_at  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import datetime
import uuid
from typing import TYPE_CHECKING, Any

from aiocql.errors import TraceUnavailable
from aiocql.protocol.constants import Consistency
from aiocql.results import QueryTrace, TraceEvent, tuple_factory

if TYPE_CHECKING:
    from aiocql.session.session import Session

__all__ = ["TraceUnavailable", "fetch_trace"]

_SESSION_QUERY = (
    "SELECT request, coordinator, duration, parameters, client, started_at FROM system_traces.sessions "
    "WHERE session_id = ?"
)
_EVENTS_QUERY = (
    "SELECT activity, source, source_elapsed, thread, event_id FROM system_traces.events WHERE session_id = ?"
)
_POLL = 0.05  # seconds between two reads of a trace that is not complete yet


def _timeuuid_datetime(value: object) -> datetime.datetime | None:
    """The UTC time of a version-1 UUID (an event id)."""
    if not isinstance(value, uuid.UUID) or value.version != 1:
        return None
    micros = (value.time - 0x01B21DD213814000) // 10  # 100-ns intervals since 1582-10-15 -> us since 1970
    return datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(microseconds=micros)


async def fetch_trace(
    session: Session,
    trace_id: uuid.UUID,
    max_wait: float,
    *,
    query_cl: Consistency = Consistency.LOCAL_ONE,
    wait_for_complete: bool = True,
) -> QueryTrace:
    """Read the trace session and its events, waiting (up to ``max_wait`` seconds) until the session row has
    its duration (``wait_for_complete=False``: until the row exists). Raises :class:`TraceUnavailable`.

    Example:
        >>> trace = await fetch_trace(session, rs.tracing_id, 2.0)  # doctest: +SKIP
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_wait
    # Each read has a deadline: the session's request timeout, or the trace wait when it has none.
    profile_timeout = session._default_profile.request_timeout
    timeout = profile_timeout if profile_timeout is not None else max(max_wait, _POLL)
    while True:
        rs = await session.execute(
            _SESSION_QUERY, (trace_id,), row_factory=tuple_factory, consistency_level=query_cl, timeout=timeout
        )
        row: Any = rs.one()
        if row is not None and (row[2] is not None or not wait_for_complete):
            events = await session.execute(
                _EVENTS_QUERY, (trace_id,), row_factory=tuple_factory, consistency_level=query_cl, timeout=timeout
            )
            return QueryTrace(
                trace_id=trace_id,
                request_type=row[0],
                coordinator=str(row[1]) if row[1] is not None else None,
                duration_us=row[2],
                parameters=dict(row[3] or {}),
                events=[TraceEvent(e[0], str(e[1]), e[2], e[3], _timeuuid_datetime(e[4])) for e in await events.all()],
                client=str(row[4]) if row[4] is not None else None,
                started_at=row[5],
            )
        if loop.time() >= deadline:
            state = "not complete" if row is not None else "not written"
            raise TraceUnavailable(f"trace {trace_id} was {state} within {max_wait}s")
        await asyncio.sleep(_POLL)
