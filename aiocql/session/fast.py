"""The lean path of ``session.execute(prepared, values)``: a prepared statement executed with no per-call option.

What does not change from one execution to the next (consistency, page size, the EXECUTE's head and tail bytes
per protocol version, the retry and load-balancing policies, the result metadata and row decoder, where the
partition's keyspace is) is worked out once per statement and session: a :class:`StatementPlan` kept on the
statement (``PreparedStatement._fast``), dropped whenever any attribute of the statement is set (an option, or a
re-prepare's new id, metadata or bind types). A request then only encodes its values, picks the first host from
the token (no plan is made), borrows a connection, sends, waits under the session's deadline wheel, builds the
ResultSet and counts the attempt in the metrics.

Only a plain success ends here. Any other outcome of that first attempt (a server error, UNPREPARED, a lost
connection, no stream id) goes on in the execution core (:func:`aiocql.session.executor.resume`) with that
attempt handed to it, so that the retry policy judges it exactly once, as if the core had made it; a timeout or
a cancellation ends as in the core. A statement or session that needs more (a request tracker reading
operations, request hooks, a throttle, a slow-query threshold, speculation, a custom payload) never takes this
path: :func:`plan_for` says so once and ``Session.execute`` takes the general one.

Example:
    >>> rs = await session.execute(ps, (1,))  # doctest: +SKIP
"""

# No "from __future__ import annotations": aiocql/session/_lean.pyx includes this file (Cython takes no
# __future__ import there); the names only the type checker imports are quoted.

import asyncio
import logging
import struct
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from aiocql.connection.connection import Connection
from aiocql.connection.protocol import StreamsExhausted
from aiocql.connection.replies import ANY_RESULT, ROWS, Replies
from aiocql.errors import ConnectionError_, CqlError, OperationTimedOut
from aiocql.errors.server import ServerError
from aiocql.metrics.nodes import NodeMetrics
from aiocql.metrics.trackers import MetricsTracker
from aiocql.model.result_metadata import ResultMetadata
from aiocql.policies.load_balancing import TokenAwarePolicy
from aiocql.policies.request import RequestInfo
from aiocql.protocol.constants import Consistency
from aiocql.protocol.requests import Execute
from aiocql.protocol.responses import Response
from aiocql.protocol.results import RowsResult, VoidResult
from aiocql.protocol.unset import UNSET
from aiocql.results import ResultSet
from aiocql.session.call import _Call
from aiocql.session.deadlines import Deadline
from aiocql.session.describe import _log_failure, _query_text, _statement_text
from aiocql.session.executor import ExecutionOptions, First, Target, resume
from aiocql.session.reply import _result
from aiocql.session.specs import _spec_for
from aiocql.statements import BoundStatement, EncodedValue, PreparedStatement
from aiocql.types.udt_classes import UdtClasses

if TYPE_CHECKING:
    from aiocql.model.host import Host
    from aiocql.session.session import Session

__all__ = ["StatementPlan", "Template", "execute", "plan_for"]

log = logging.getLogger("aiocql.session")

_SHORT = struct.Struct(">H")
_INT = struct.Struct(">i")
_LONG = struct.Struct(">q")
_NULL = _INT.pack(-1)
_NOT_SET = _INT.pack(-2)
#: Template.body in C, set by the compiled build (aiocql/session/_lean.pyx, after it includes this file).
_native_body: Callable[[bytes, list[EncodedValue], bytes, int | None, bytes], bytes | None] | None = None
# <query_parameters> flags (spec 4.1.4)
_VALUES, _SKIP_METADATA, _PAGE_SIZE, _SERIAL, _TIMESTAMP, _KEYSPACE = 0x01, 0x02, 0x04, 0x10, 0x20, 0x80
# What a first attempt may fail with and still be the execution core's to judge (retry, re-prepare, next host).
_HANDED_OVER = (ServerError, ConnectionError_, StreamsExhausted)


class Template:
    """The bytes of one statement's EXECUTE on one protocol version, around its values and timestamp:
    ``head`` (ids, consistency, flags), ``tail`` (page size, serial consistency), ``keyspace`` (v5's field);
    ``sent_metadata`` is the result metadata the request asks the server to skip (v5), None when it does not."""

    __slots__ = ("head", "keyspace", "sent_metadata", "tail", "timestamped")

    def __init__(self, plan: "StatementPlan", prepared: PreparedStatement, version: int) -> None:
        sent = prepared.result_metadata if version >= 5 else None
        flags = _VALUES if prepared.bind_columns else 0
        if sent is not None:
            flags |= _SKIP_METADATA
        tail = b""
        if plan.page_size is not None:
            flags |= _PAGE_SIZE
            tail += _INT.pack(plan.page_size)
        if plan.serial is not None:
            flags |= _SERIAL
            tail += _SHORT.pack(plan.serial)
        if plan.client_timestamps:
            flags |= _TIMESTAMP
        keyspace = b""
        if plan.keyspace is not None and version >= 5:
            flags |= _KEYSPACE
            name = plan.keyspace.encode()
            keyspace = _SHORT.pack(len(name)) + name
        query_id = prepared.query_id
        head = _SHORT.pack(len(query_id)) + query_id
        if version >= 5:
            metadata_id = prepared.result_metadata_id or b""
            head += _SHORT.pack(len(metadata_id)) + metadata_id
        head += _SHORT.pack(plan.consistency) + (_INT.pack(flags) if version >= 5 else bytes((flags,)))
        self.head = head
        self.tail = tail
        self.keyspace = keyspace
        self.timestamped = plan.client_timestamps
        self.sent_metadata = sent

    def body(self, values: list[EncodedValue], timestamp: int | None) -> bytes:
        """The EXECUTE body with these encoded values (and this timestamp, when the template has one)."""
        if _native_body is not None and type(values) is list:  # the compiled build's (None: a value it leaves to us)
            body = _native_body(self.head, values, self.tail, timestamp if self.timestamped else None, self.keyspace)
            if body is not None:
                return body
        parts = [self.head]
        if values:
            parts.append(_SHORT.pack(len(values)))
            int_pack = _INT.pack
            for v in values:
                if v is None:
                    parts.append(_NULL)
                elif v is UNSET:
                    parts.append(_NOT_SET)
                else:
                    parts.append(int_pack(len(v)))  # type: ignore[arg-type]
                    parts.append(v)  # type: ignore[arg-type]
        parts.append(self.tail)
        if self.timestamped:
            parts.append(_LONG.pack(timestamp))
        parts.append(self.keyspace)
        return b"".join(parts)


class _Encoded(Execute):
    """An EXECUTE whose body is encoded already (from its statement's :class:`Template`)."""

    __slots__ = ("body",)

    def __init__(self, query_id: bytes, body: bytes) -> None:
        self.query_id = query_id
        self.body = body

    def encode(self, version: int) -> bytes:
        """The body, as encoded for the connection it is sent on."""
        return self.body


class StatementPlan:
    """What a prepared statement's executions in one session share (see the module docs)."""

    __slots__ = (
        "client_timestamps",
        "consistency",
        "eligible",
        "encoder",
        "fetch_size",
        "idempotent",
        "is_lwt",
        "key_index",
        "keyspace",
        "page",
        "page_size",
        "pk_indexes",
        "policy",
        "profile",
        "query_id",
        "replies",
        "reply_types",
        "retry_policy",
        "routing_key",
        "routing_keyspace",
        "row_factory",
        "serial",
        "session",
        "templates",
        "timeout",
        "token_aware",
        "tracker",
        "udt_classes",
    )  # fmt: skip

    def __init__(self, session: "Session", prepared: PreparedStatement) -> None:
        profile = session._default_profile
        self.session = session
        self.profile = profile
        self.consistency: Consistency = (
            prepared.consistency_level if prepared.consistency_level is not None else profile.consistency_level
        )
        self.serial: Consistency | None = (
            prepared.serial_consistency_level
            if prepared.serial_consistency_level is not None
            else profile.serial_consistency_level
        )
        self.timeout = profile.request_timeout if prepared.timeout is None else prepared.timeout
        self.fetch_size = prepared.fetch_size if prepared.fetch_size is not None else profile.fetch_size
        self.page_size = self.fetch_size if type(self.fetch_size) is int else None  # None: NO_PAGING
        self.idempotent = prepared.is_idempotent
        self.keyspace = prepared.keyspace
        self.client_timestamps = session.defaults.client_timestamps
        self.row_factory = profile.row_factory
        self.retry_policy = profile.retry_policy
        self.policy = profile.load_balancing_policy
        self.token_aware = type(self.policy) is TokenAwarePolicy
        tracker = session.defaults.request_tracker
        # (the lean path is taken only when it is None or a MetricsTracker)
        self.tracker: MetricsTracker | None = tracker if isinstance(tracker, MetricsTracker) else None
        self.encoder = prepared.encoder
        self.pk_indexes = prepared.pk_indexes
        self.key_index = prepared.pk_indexes[0] if len(prepared.pk_indexes) == 1 else -1
        self.query_id = prepared.query_id
        self.routing_key = prepared.routing_key  # an explicit one (None: from the values)
        self.routing_keyspace = prepared.bind_columns[0].keyspace if prepared.bind_columns else None
        self.is_lwt = prepared.is_lwt
        self.replies: Replies = ROWS if prepared.result_metadata is not None else ANY_RESULT
        self.reply_types = frozenset(self.replies)  # the exact classes: a subclass goes through response_of
        self.templates: dict[int, Template] = {}
        self.udt_classes: UdtClasses | None = None
        self.page: Any = None  # RowDecoder.page_decoder of the statement's result metadata and row factory
        self.eligible = (
            session._throttle is None
            and not session._describe
            and session._request_hooks is None
            and profile.slow_query_threshold is None
            and (tracker is None or type(tracker) is MetricsTracker)
            and prepared.custom_payload is None  # a mapping may change in place: the general path encodes it
            and not (self.idempotent and profile.speculative_execution_policy is not None)
        )

    def template(self, prepared: PreparedStatement, version: int) -> Template:
        """The EXECUTE template for protocol ``version`` (made on first use)."""
        template = self.templates.get(version)
        if template is None:
            template = self.templates[version] = Template(self, prepared, version)
        return template

    def page_for(self, metadata: ResultMetadata, classes: UdtClasses) -> Any:
        """The page decoder of ``metadata`` for the session's user-type classes and the plan's row factory
        (kept while the classes are the same)."""
        if classes is not self.udt_classes:
            decoder = metadata.decoder_for(classes) if classes else metadata.decoder
            self.page = decoder.page_decoder(self.row_factory)
            self.udt_classes = classes
        return self.page

    def call(self, prepared: PreparedStatement, timestamp: int | None) -> _Call:
        """The general path's settings of this execution (when it hands over to the execution core)."""
        return _Call(
            self.consistency, self.serial, self.timeout, self.fetch_size, timestamp, self.idempotent,
            self.keyspace, False, None, self.row_factory, self.profile,
        )  # fmt: skip


def plan_for(session: "Session", prepared: PreparedStatement) -> StatementPlan:
    """The statement's plan for ``session`` (made once, kept on the statement until an attribute of it is set).

    The statement's options are checked here as ``execute`` checks them (a wrong one raises
    :class:`aiocql.InvalidValueError`, and no plan is kept).
    """
    from aiocql.session.call import _check_statement

    _check_statement(prepared)
    plan = StatementPlan(session, prepared)
    prepared._fast = plan
    return plan


def _pools_of(session: "Session", hosts: "Iterator[Host]") -> Iterator[Target]:
    pools = session._pools
    for host in hosts:
        pool = pools.get(host.host_id)
        if pool is not None:
            yield pool


async def execute(
    session: "Session", stmt: PreparedStatement | BoundStatement, parameters: Any
) -> ResultSet[Any] | None:
    """``session.execute(stmt, parameters)`` (no per-call option) on the lean path (see the module docs); None,
    having done nothing, when the statement or session needs the general path."""
    if type(stmt) is PreparedStatement:
        prepared = stmt
        bound: BoundStatement | None = None
    else:  # a BoundStatement whose options are its prepared statement's (as bind() made it)
        bound = stmt  # type: ignore[assignment]
        maybe = bound.prepared  # type: ignore[union-attr]
        if maybe is None or parameters is not None or not _inherits(bound, maybe):  # type: ignore[arg-type]
            return None
        prepared = maybe
    plan: StatementPlan | None = prepared._fast
    if plan is None or plan.session is not session:
        plan = plan_for(session, prepared)
    if not plan.eligible:
        return None
    if bound is not None:
        values = bound.values
        parameters = bound.parameters
        routing_key = bound.routing_key
    else:
        if type(parameters) is tuple or type(parameters) is list:  # PreparedStatement.encode's checks, inline
            values = plan.encoder.encode(parameters)
            for i in plan.pk_indexes:
                if values[i] is UNSET:
                    prepared.encode(parameters)  # raises, naming the column
        else:
            values = prepared.encode(parameters)
        routing_key = plan.routing_key
        if routing_key is None:
            key_index = plan.key_index
            key = values[key_index] if key_index >= 0 else None  # one partition key column: the common case
            routing_key = key if type(key) is bytes else prepared.routing_key_from(values)
    routing_key = routing_key or None
    timestamp = session.timestamps() if plan.client_timestamps else None
    keyspace = plan.routing_keyspace or plan.keyspace or session.keyspace
    if session.stream_waiters.waiting:  # requests wait for stream ids: queue behind them, on the general path
        return await _general(session, plan, prepared, bound, values, parameters, timestamp)
    host = None
    if plan.token_aware:  # the first host without a plan (most requests need no other)
        host = plan.policy.first_replica(  # type: ignore[attr-defined]
            keyspace, routing_key, prepared.routing_token, plan.is_lwt, session.state
        )
    info: RequestInfo | None = None
    hosts: Iterator[Target] | None = None  # the rest of the plan, once it is made
    pool = None if host is None else session._pools.by_id.get(host.host_id)
    if pool is None:  # the policy's plan, as the general path makes it
        if bound is None:
            bound = _bound(prepared, values, parameters)
        info = RequestInfo(keyspace, routing_key, prepared.routing_token, plan.idempotent, bound, plan.is_lwt)
        hosts = session.plan(info, plan.policy)
        pool = next(hosts, None)
        if pool is None:
            return await _general(session, plan, prepared, bound, values, parameters, timestamp)
    try:
        conn = pool.borrow()
    except ConnectionError_:
        return await _general(session, plan, prepared, bound, values, parameters, timestamp)
    template = plan.templates.get(conn.version)
    if template is None:
        template = plan.template(prepared, conn.version)
    message = _Encoded(plan.query_id, template.body(values, timestamp))
    timeout = plan.timeout
    deadline = session.deadlines.start(timeout) if timeout is not None else None
    tracker = plan.tracker
    host_info = pool.host_info
    node: NodeMetrics | None = None
    started = 0.0
    if tracker is not None and host_info is not None:
        node = tracker.metrics.node_of(host_info)  # MetricsTracker.start of a first attempt, inline
        node.requests += 1
        started = time.perf_counter()
    failure: BaseException | None = None
    try:
        # Connection.request without its coroutine (no deadline of its own: the wheel's cancels the task)
        submitted = conn.submit(message)
        if submitted is not None:
            stream, fut = submitted
            try:
                reply = await fut
            except asyncio.CancelledError:
                conn.abandon(stream, fut)  # the stream id stays reserved until the late reply
                raise
            # the router's decoded result of a kind the statement expects is its response as it is (response_of's
            # answer without the call); an envelope, an error or another kind, response_of
            if type(reply) in plan.reply_types:
                response: Response = reply  # type: ignore[assignment]
            else:
                response = conn.response_of(message, reply, plan.replies)
        else:  # the server is not reading: request() waits until the transport is writable
            response = await conn.request(message, replies=plan.replies)
    except BaseException as exc:
        failure = exc
    if failure is not None:
        if bound is None:
            bound = _bound(prepared, values, parameters)
        if info is None:
            info = RequestInfo(keyspace, routing_key, prepared.routing_token, plan.idempotent, bound, plan.is_lwt)
        if hosts is None:  # the rest of the plan whose first host the token gave
            assert host is not None
            hosts = _pools_of(session, plan.policy.plan_after(host, info, session.state))  # type: ignore[attr-defined]
        first = First(pool, conn, failure)
        return await _failed(session, plan, prepared, bound, info, hosts, first, timestamp, deadline, node, started)
    if deadline is not None:
        deadline.stop()
    if node is not None:
        node.latency.record_us(int((time.perf_counter() - started) * 1_000_000))  # MetricsTracker.end, a success
    sent = template.sent_metadata
    if type(response) is RowsResult:
        md = response.metadata
        if md.columns is None and md.paging_state is None and sent is not None and md.column_count == len(sent.names):
            classes = session.udt_classes
            page = plan.page if classes is plan.udt_classes else plan.page_for(sent, classes)
            rows = page(response.buffer, response.offset, response.rows_count)
            return _done(session, response, conn, prepared, rows, sent)
    elif type(response) is VoidResult:
        return _done(session, response, conn, prepared, [], None)
    # Rows with their metadata (it changed), a page with more, DDL, USE...: what the general path does.
    if bound is None:
        bound = _bound(prepared, values, parameters)
    call = plan.call(prepared, timestamp)
    call.sent_metadata = sent
    return await _result(session, response, conn, bound, call)


def _done(
    session: "Session", response: Any, conn: Connection, prepared: PreparedStatement, rows: list[Any],
    meta: ResultMetadata | None,
) -> ResultSet[Any]:  # fmt: skip
    extra = response.custom_payload
    warnings = response.warnings
    rs: ResultSet[Any] = ResultSet(
        rows, meta.names if meta is not None else (), meta.types if meta is not None else (), None, warnings,
        response.tracing_id, dict(extra) if extra else None, conn.host, None, None, session,
    )  # fmt: skip
    if warnings:
        for warning in warnings:  # as the general path: the server's words and the statement's text
            log.warning("server warning from %s: %s; query: %s", conn.host, warning, _statement_text(prepared))
    return rs


def _bound(prepared: PreparedStatement, values: list[EncodedValue], parameters: Any) -> BoundStatement:
    bound = BoundStatement(prepared, values)
    bound.parameters = parameters
    return bound


async def _general(
    session: "Session", plan: StatementPlan, prepared: PreparedStatement, bound: BoundStatement | None,
    values: list[EncodedValue], parameters: Any, timestamp: int | None,
) -> ResultSet[Any]:  # fmt: skip
    """The request from the start on the general path (nothing was sent)."""
    if bound is None:
        bound = _bound(prepared, values, parameters)
    return await session._execute(bound, plan.call(prepared, timestamp), None)


def _inherits(bound: BoundStatement, prepared: PreparedStatement) -> bool:
    """Whether a bound statement's options are those of its prepared statement (what the plan was made from)."""
    return (
        bound.consistency_level is prepared.consistency_level
        and bound.serial_consistency_level is prepared.serial_consistency_level
        and bound.fetch_size is prepared.fetch_size
        and bound.timeout is prepared.timeout
        and bound.is_idempotent is prepared.is_idempotent
        and bound.keyspace is prepared.keyspace
        and bound.custom_payload is prepared.custom_payload
        and bound.routing_token is prepared.routing_token
    )


async def _failed(
    session: "Session", plan: StatementPlan, prepared: PreparedStatement, bound: BoundStatement, info: RequestInfo,
    hosts: Iterator[Target], first: First, timestamp: int | None, deadline: Deadline | None,
    node: NodeMetrics | None, started: float,
) -> ResultSet[Any]:  # fmt: skip
    """The first attempt did not succeed: end it as the execution core would, or hand it over to the core."""
    exc = first.error
    expired = deadline is not None and deadline.expired()
    if node is not None:
        reported = exc
        if isinstance(exc, asyncio.CancelledError) and expired:
            reported = OperationTimedOut("the request's client-side deadline passed during this attempt")
        MetricsTracker.end(node, reported, time.perf_counter() - started)
    if not isinstance(exc, _HANDED_OVER):
        try:
            if isinstance(exc, asyncio.CancelledError):
                if expired:
                    first.conn.suspect()  # timed out with no reply: probe the connection
                if deadline is not None and deadline.owns(exc):
                    if log.isEnabledFor(logging.DEBUG):
                        log.debug("request timed out after %ss: %s", plan.timeout, _statement_text(prepared))
                    error = OperationTimedOut(f"request timed out after {plan.timeout}s (client-side deadline)")
                    _log_failure(error, prepared)
                    raise error from None
            elif isinstance(exc, CqlError):
                _log_failure(exc, prepared)
            raise exc
        finally:
            if deadline is not None:
                deadline.stop()
    call = plan.call(prepared, timestamp)
    spec = _spec_for(bound, call, None, session._prepared, session.keyspace)
    options = ExecutionOptions(plan.retry_policy, plan.policy, None, plan.tracker, _query_text(bound))
    try:
        response, conn = await resume(session, hosts, spec, info, options, first, deadline, plan.timeout)
    except CqlError as error:
        _log_failure(error, bound)
        raise
    return await _result(session, response, conn, bound, call)


# The compiled build of this same source (aiocql/session/_lean.pyx includes it), where it is built, switched on
# and built from this file as it is now (aiocql.extensions; AIOCQL_NO_EXTENSIONS=1 keeps the pure one).
if __name__ == "aiocql.session.fast":
    from aiocql import extensions as _extensions

    _lean = _extensions.load("aiocql.session._lean", "the compiled lean path")
    if _lean is not None:
        globals().update({name: getattr(_lean, name) for name in __all__})
    #: Whether the lean path in use is the compiled build.
    COMPILED = _lean is not None
