"""What logs and request trackers learn of a statement: its CQL text (never bound values) and its
:class:`~aiocql.metrics.OperationInfo`.

Example:
    >>> _statement_text(SimpleStatement("SELECT * FROM t"))
    'SELECT * FROM t'
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiocql.metrics.operations import OperationInfo
from aiocql.metrics.trackers import OperationTracker
from aiocql.session.call import _Call
from aiocql.statements import BatchStatement, BoundStatement, PreparedStatement, SimpleStatement, Statement

log = logging.getLogger("aiocql.session")
_T = TypeVar("_T")


async def observed(
    hooks: OperationTracker | None, op: OperationInfo, threshold: float | None, run: Callable[[], Awaitable[_T]]
) -> _T:
    """Run one logical request between the trackers' request hooks; time it; log it if it was slow."""
    if hooks is not None:
        try:
            hooks.on_request_start(op)
        except Exception:
            log.exception("request tracker %r failed in on_request_start", hooks)
    started = time.perf_counter()
    try:
        return await run()
    except BaseException as exc:
        op.error = exc
        raise
    finally:
        op.latency = time.perf_counter() - started
        if hooks is not None:
            try:
                hooks.on_request_end(op)
            except Exception:
                log.exception("request tracker %r failed in on_request_end", hooks)
        if threshold is not None and op.latency >= threshold:
            from aiocql.observability.slow_queries import log_slow_query

            log_slow_query(op, threshold)


def _log_failure(exc: BaseException, stmt: Statement) -> None:
    if log.isEnabledFor(logging.DEBUG):
        log.debug("request failed (%s: %s): %s", type(exc).__name__, exc, _statement_text(stmt))


def _statement_text(stmt: Statement) -> str:
    """A statement for a log line: its CQL text (never bound values), a batch as its size and first child."""
    if isinstance(stmt, BatchStatement):
        first = _query_text(stmt.entries[0][0]) if stmt.entries else None
        return f"BATCH of {len(stmt.entries)} statements, the first: {_cut(first or '?')}"
    return _cut(_query_text(stmt) or "?")


def _cut(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _query_text(stmt: Statement) -> str | None:
    """The CQL text of a statement, for trackers (a batch has none of its own)."""
    if isinstance(stmt, SimpleStatement):
        return stmt.query
    if isinstance(stmt, BoundStatement) and stmt.prepared is not None:
        return stmt.prepared.query
    return None


def _operation_of(stmt: Statement, call: _Call, keyspace: str | None) -> OperationInfo:
    """What trackers and the slow-query log learn of one request (never its bound values)."""
    if isinstance(stmt, BoundStatement) and stmt.prepared is not None:
        prepared = stmt.prepared
        columns = prepared.bind_columns or (prepared.result_metadata.columns if prepared.result_metadata else ())
        return OperationInfo(
            "EXECUTE", prepared.query, keyspace=columns[0].keyspace if columns else keyspace,
            table=columns[0].table if columns else None, consistency_level=call.consistency,
            serial_consistency_level=call.serial, page_size=_page_size(call), is_idempotent=call.idempotent,
            parameterized=True,
        )  # fmt: skip
    if isinstance(stmt, BatchStatement):
        texts = tuple(
            c.prepared.query if isinstance(c, BoundStatement) and c.prepared is not None
            else (c.query if isinstance(c, (SimpleStatement, PreparedStatement)) else None)
            for c, _ in stmt.entries
        )  # fmt: skip
        distinct = {t for t in texts if t is not None}
        return OperationInfo(
            "BATCH", "; ".join(t for t in texts if t is not None) if len(distinct) > 1 else next(iter(distinct), None),
            keyspace=keyspace, consistency_level=call.consistency, serial_consistency_level=call.serial,
            is_idempotent=call.idempotent, batch_size=len(texts) if len(texts) > 1 else None, batch_queries=texts,
            parameterized=all(
                not isinstance(c, SimpleStatement) or p is not None for c, p in stmt.entries
            ),
        )  # fmt: skip
    return OperationInfo(
        "QUERY", _query_text(stmt), keyspace=keyspace, consistency_level=call.consistency,
        serial_consistency_level=call.serial, page_size=_page_size(call), is_idempotent=call.idempotent,
    )  # fmt: skip


def _page_size(call: _Call) -> int | None:
    """The page size trackers see: ``None`` for NO_PAGING."""
    return call.fetch_size if type(call.fetch_size) is int else None
