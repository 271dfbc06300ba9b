"""What request trackers are told: one :class:`OperationInfo` per logical request, one :class:`AttemptInfo`
per attempt on a host, and :func:`node_label`, the ``node`` label of a host.

Example:
    >>> import uuid
    >>> op = OperationInfo("QUERY", "SELECT v FROM t WHERE k = 42", keyspace="ks")
    >>> attempt = AttemptInfo(RequestInfo(), Host(uuid.UUID(int=1), "10.0.0.1"), request_id=1, operation=op)
    >>> node_label(attempt.host), attempt.keyspace, op.safe_query()
    ('10.0.0.1:9042', 'ks', 'SELECT v FROM t WHERE k = ?')
"""

from __future__ import annotations

from dataclasses import dataclass

from aiocql.metrics.cql import Described, describe, describe_batch, sanitize
from aiocql.model.host import Host
from aiocql.policies.request import RequestInfo
from aiocql.protocol.constants import Consistency

__all__ = ["AttemptInfo", "OperationInfo", "node_label"]


@dataclass(slots=True, eq=False)
class OperationInfo:
    """One logical request as trackers see it: a page of a statement, a BATCH or a PREPARE, with every
    attempt, retry and speculative execution it took.

    The session builds one per request for trackers that want it (see :class:`RequestTracker`) and passes
    the *same object* to ``on_request_start``, to every attempt (:attr:`AttemptInfo.operation`) and to
    ``on_request_end``. What is known up front: ``kind`` (``QUERY``, ``EXECUTE``, ``BATCH`` or
    ``PREPARE``), ``query`` (the CQL text; for a batch its statements' texts joined by ``"; "``),
    ``parameterized`` (the text holds bind markers only, never values: true for prepared statements; use
    :meth:`safe_query` otherwise), ``keyspace`` and ``table`` (from the prepared metadata when there is
    some, else the statement's or the session's keyspace), the resolved ``consistency_level``,
    ``serial_consistency_level`` and ``page_size``, ``is_idempotent``, ``batch_size`` and
    ``batch_queries`` (a batch's statements' texts). What the executor fills in: ``attempts``,
    ``speculative_executions``, ``coordinator`` (the host that answered) and ``last_host`` (the host the
    last attempt went to; the coordinator of a request no host answered).
    When it ends: ``latency`` (seconds, the whole request) and ``error`` (``None`` on success; what the
    caller got otherwise, e.g. :class:`aiocql.OperationTimedOut`, a server error, or
    :class:`asyncio.CancelledError`). Bound values are never here. New fields may be added with defaults.

    Example:
        >>> op = OperationInfo("QUERY", "SELECT v FROM t WHERE k = 42", keyspace="ks")
        >>> op.safe_query(), op.describe().summary
        ('SELECT v FROM t WHERE k = ?', 'SELECT t')
    """

    kind: str
    query: str | None = None
    keyspace: str | None = None
    table: str | None = None
    consistency_level: Consistency | None = None
    serial_consistency_level: Consistency | None = None
    page_size: int | None = None
    is_idempotent: bool = False
    parameterized: bool = False
    batch_size: int | None = None
    batch_queries: tuple[str | None, ...] = ()
    attempts: int = 0
    speculative_executions: int = 0
    coordinator: Host | None = None
    last_host: Host | None = None
    latency: float | None = None
    error: BaseException | None = None

    def safe_query(self) -> str | None:
        """The CQL text without values: as is when prepared, with literals replaced by ``?`` otherwise.

        Example:
            >>> OperationInfo("EXECUTE", "SELECT v FROM t WHERE k = ? LIMIT 10", parameterized=True).safe_query()
            'SELECT v FROM t WHERE k = ? LIMIT 10'
        """
        if self.query is None or self.parameterized:
            return self.query
        return sanitize(self.query)

    def describe(self) -> Described:
        """Operation, keyspace, table and summary parsed from the text (cached per text); a batch's combined.

        Example:
            >>> OperationInfo("BATCH", batch_queries=("INSERT INTO t (k) VALUES (?)",) * 2).describe().operation
            'BATCH INSERT'
        """
        if self.kind == "BATCH":
            return describe_batch(list(self.batch_queries))
        if self.query is None:
            return Described(None, None, None, None)
        return describe(self.query)


@dataclass(frozen=True, slots=True, eq=False)
class AttemptInfo:
    """One attempt of a request on one host, as trackers see it.

    The executor passes the *same object* to :meth:`RequestTracker.on_start` and then to exactly one
    of ``on_success`` / ``on_error``: use it as a dict key (it hashes by identity) to find your span.
    ``request_id`` is shared by every attempt of one request; ``attempt`` counts attempts from 0 in
    the order they start; ``speculative`` marks attempts started while an earlier one still ran
    (an attempt with ``attempt > 0`` that is not speculative is a retry). ``query`` is the CQL text
    when known (for a span's ``db.query.text``). ``operation`` is the request's :class:`OperationInfo`
    (``None`` when no tracker asked for it): ``consistency_level``, ``page_size``, ``keyspace`` and
    ``table`` read it. The attempt's coordinator is ``host``. New fields may be added with defaults.

    Example:
        >>> import uuid
        >>> a = AttemptInfo(RequestInfo(keyspace="ks"), Host(uuid.UUID(int=1), "::1"), request_id=7, attempt=1)
        >>> a.is_retry, node_label(a.host), a.keyspace
        (True, '[::1]:9042', 'ks')
    """

    request: RequestInfo
    host: Host
    request_id: int
    attempt: int = 0
    speculative: bool = False
    query: str | None = None
    operation: OperationInfo | None = None

    @property
    def is_retry(self) -> bool:
        """A later, non-speculative attempt."""
        return self.attempt > 0 and not self.speculative

    @property
    def consistency_level(self) -> Consistency | None:
        """The request's resolved consistency level (``None`` without :attr:`operation`)."""
        return None if self.operation is None else self.operation.consistency_level

    @property
    def page_size(self) -> int | None:
        """The request's page size (``None`` without :attr:`operation`, and for batches and PREPARE)."""
        return None if self.operation is None else self.operation.page_size

    @property
    def keyspace(self) -> str | None:
        """The request's keyspace: the operation's, else the routing keyspace."""
        if self.operation is not None and self.operation.keyspace is not None:
            return self.operation.keyspace
        return self.request.keyspace

    @property
    def table(self) -> str | None:
        """The table, from the prepared metadata (``None`` when unknown or without :attr:`operation`)."""
        return None if self.operation is None else self.operation.table


def node_label(host: Host) -> str:
    """The ``node`` label of a host: ``address:port``, IPv6 in brackets.

    Example:
        >>> import uuid
        >>> node_label(Host(uuid.UUID(int=1), "10.0.0.1", 9043))
        '10.0.0.1:9043'
    """
    address = f"[{host.address}]" if ":" in host.address else host.address
    return f"{address}:{host.port}"
