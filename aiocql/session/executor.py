"""The one execution core: every request the driver sends, under one deadline covering all its attempts.

Only this module loops over hosts or retries, and only :func:`_attempt` here puts a request on a
connection (besides the connection's own handshake and heartbeat). A request is described by a
:class:`RequestSpec`: how to build its message for a connection, whether it is idempotent, and
(for prepared statements) how to re-prepare it when a node answers UNPREPARED.

The core is generic over its target: a :class:`Router` gives the plan of :class:`Target` s to try.
A session routes user requests by its load-balancing plan; :class:`Fixed` is a plan of one target,
either a host's pool (PREPARE on each other host) or one connection (:class:`OneConnection`: the
control connection's queries, schema-agreement polls, ``USE`` on each connection).

Example:
    >>> spec = RequestSpec(build=lambda conn: Query("SELECT 1 FROM system.local"))  # doctest: +SKIP
    >>> response, conn = await run_with_deadline(session, spec, RequestInfo(), options, 10.0)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from aiocql.connection.connection import Connection
from aiocql.connection.protocol import StreamsExhausted
from aiocql.connection.replies import Replies
from aiocql.errors import ConnectionError_, NoHostAvailable, OperationTimedOut
from aiocql.errors.server import ServerError, Unprepared
from aiocql.metrics.nodes import NodeMetrics
from aiocql.metrics.operations import AttemptInfo, OperationInfo
from aiocql.metrics.trackers import MetricsTracker, RequestTracker
from aiocql.policies.load_balancing import LoadBalancingPolicy
from aiocql.policies.request import RequestInfo
from aiocql.policies.retry import RetryDecision, RetryInfo, RetryPolicy
from aiocql.policies.speculative import SpeculativeExecutionPolicy
from aiocql.pool.stream_waiters import StreamWaiters
from aiocql.protocol.message import Response
from aiocql.protocol.requests import Request
from aiocql.protocol.results import VoidResult
from aiocql.session.deadlines import Deadline, DeadlineWheel
from aiocql.session.throttle import RequestThrottle

if TYPE_CHECKING:
    from aiocql.model.host import Host


@dataclass(slots=True)
class RequestSpec:
    """What the executor needs to run one request."""

    build: Callable[[Connection], Request]
    is_idempotent: bool = False
    flags: int = 0
    custom_payload_prefix: bytes = b""
    # On UNPREPARED: the PREPARE to send on the same connection, and what to do with its reply.
    reprepare: Callable[[Unprepared], Reprepare] | None = None
    # The reply kinds that answer it (None: what its request kind allows); any other is a ProtocolError.
    replies: Replies | None = None
    routing_key: bytes | None = None  # found while building (a batch's first child that has one)
    routing_keyspace: str | None = None


class Reprepare(NamedTuple):
    """How to answer an UNPREPARED: ``spec`` (a PREPARE) runs on the connection that answered it, under the
    request's deadline; ``apply`` takes its reply and updates the statement in one step (no await between
    the fields it changes, so no other request sees half of them). Raising from
    :attr:`RequestSpec.reprepare` instead (the statement is not one of the request's) fails the attempt."""

    spec: RequestSpec
    apply: Callable[[Response], None]


class Target(Protocol):
    """Where one attempt goes: a host's pool (which lends one of its connections) or one fixed connection."""

    @property
    def host(self) -> str:
        """The node's address (keys the errors of a :class:`NoHostAvailable`)."""
        ...

    @property
    def host_info(self) -> Host | None:
        """The node as trackers see it (``None``: a connection outside any pool, e.g. the control connection)."""
        ...

    def borrow(self) -> Connection:
        """A connection to send on; raises :class:`ConnectionError_` when there is none."""
        ...


class Router(Protocol):
    """Where a request may go: the session's pools in the order of the load-balancing plan, or one target."""

    def plan(self, info: RequestInfo, policy: LoadBalancingPolicy | None = None) -> Iterator[Target]:
        """Targets to try, best first (each host at most once)."""
        ...


class OneConnection:
    """A target that is one given connection (the control connection, or one pool connection for ``USE``).

    Example:
        >>> OneConnection(conn).borrow() is conn  # doctest: +SKIP
        True
    """

    __slots__ = ("conn", "host_info")

    def __init__(self, conn: Connection, host_info: Host | None = None) -> None:
        self.conn = conn
        self.host_info = host_info

    @property
    def host(self) -> str:
        """The connection's node."""
        return self.conn.host

    def borrow(self) -> Connection:
        """The connection itself (a closed one fails the attempt with its connection error)."""
        return self.conn


class Fixed:
    """A router whose every plan is one target: no other host is tried, whatever the retry policy says.

    Example:
        >>> [t.host for t in Fixed(OneConnection(conn)).plan(RequestInfo())]  # doctest: +SKIP
        ['127.0.0.1']
    """

    __slots__ = ("target",)

    def __init__(self, target: Target) -> None:
        self.target = target

    def plan(self, info: RequestInfo, policy: LoadBalancingPolicy | None = None) -> Iterator[Target]:
        """The one target."""
        return iter((self.target,))


class Expiring(Protocol):
    """A request's deadline as the executor sees it (an ``asyncio.Timeout`` or a wheel's :class:`Deadline`)."""

    def expired(self) -> bool:
        """True once the deadline passed."""
        ...


@dataclass(slots=True)
class ExecutionOptions:
    """Per-request policies the executor applies."""

    retry_policy: RetryPolicy
    load_balancing_policy: LoadBalancingPolicy | None = None
    speculative_policy: SpeculativeExecutionPolicy | None = None
    tracker: RequestTracker | None = None
    query: str | None = None
    deadline: Expiring | None = None  # set by run_with_deadline: tells a timeout from a cancellation
    operation: OperationInfo | None = None  # filled in as attempts run, when a tracker or the slow-query log wants it


_request_ids = itertools.count(1)
log = logging.getLogger("aiocql.session")


async def _attempt(conn: Connection, spec: RequestSpec) -> Response:
    # Server errors are raised; a reply of a kind that does not answer the request drops the connection.
    return await conn.request(spec.build(conn), flags=spec.flags, payload=spec.custom_payload_prefix,
                              replies=spec.replies)  # fmt: skip


async def run(
    router: Router,
    spec: RequestSpec,
    info: RequestInfo,
    options: ExecutionOptions,
    timeout: float | None = None,
) -> tuple[Response, Connection]:
    """Run ``spec`` on the plan's hosts until it succeeds or the retry policy gives up.

    Idempotent requests may be speculated: after each delay of the speculative-execution policy
    another execution starts on the next host of the same plan; the first success wins and the
    others are cancelled (their stream ids stay reserved until the late replies). Non-idempotent
    requests are never retried after a write timeout, a lost connection or an overloaded/server
    error, whatever the policy says.

    ``timeout`` (seconds) is one deadline over every attempt, kept on the router's ``deadlines`` wheel
    (a session's: one loop timer per slot of time, not one per request); it raises
    :class:`OperationTimedOut`. Without a timeout the caller applies its own deadline, if any. This is
    one coroutine for the whole request (no wrapper around it), as the common path must be.
    """
    deadline: Deadline | None = None
    if timeout is not None:
        wheel: DeadlineWheel = router.deadlines  # type: ignore[attr-defined]
        deadline = options.deadline = wheel.start(timeout)
    try:
        waiters: StreamWaiters | None = getattr(router, "stream_waiters", None)
        if waiters is not None and waiters.waiting:
            await waiters.wait()  # requests already wait for a stream id: queue behind them, in order
        hosts = router.plan(info, options.load_balancing_policy)
        request_id = next(_request_ids)
        if info.is_idempotent and options.speculative_policy is not None:
            delays = iter(options.speculative_policy.new_plan(info))
            return await _speculate(router, hosts, spec, info, options, request_id, delays)
        counter = _Counter()
        try:  # the common case, one coroutine less than _execution
            return await _walk(hosts, spec, info, options, request_id, counter, False, waiters)
        except _Exhausted as exc:
            assert waiters is not None
            return await _walk_again(router, waiters, spec, info, options, request_id, counter, exc.errors)
    except asyncio.CancelledError as exc:
        if deadline is not None and deadline.owns(exc):
            raise _timed_out(timeout, options) from None
        raise
    finally:
        if deadline is not None:
            deadline.stop()


class First(NamedTuple):
    """An attempt made before the executor took the request over (the session's lean path sent it): where it
    went and how it failed. Its tracker record is closed already; the executor judges the failure exactly as
    if it had made the attempt itself (re-prepare, retry policy, next host)."""

    target: Target
    conn: Connection
    error: BaseException


async def resume(
    router: Router,
    hosts: Iterator[Target],
    spec: RequestSpec,
    info: RequestInfo,
    options: ExecutionOptions,
    first: First,
    deadline: Deadline | None,
    timeout: float | None,
) -> tuple[Response, Connection]:
    """Go on with a request whose first attempt (on ``first.target``, the head of the plan whose rest is
    ``hosts``) failed, under the deadline that attempt ran under (stopped here): what :func:`run` does after
    that attempt. No speculation (the lean path takes no request that may speculate)."""
    options.deadline = deadline
    try:
        waiters: StreamWaiters | None = getattr(router, "stream_waiters", None)
        counter = _Counter()
        counter.attempts = 1
        request_id = next(_request_ids)
        try:
            return await _walk(hosts, spec, info, options, request_id, counter, False, waiters, None, first)
        except _Exhausted as exc:
            assert waiters is not None
            return await _walk_again(router, waiters, spec, info, options, request_id, counter, exc.errors)
    except asyncio.CancelledError as exc:
        if deadline is not None and deadline.owns(exc):
            raise _timed_out(timeout, options) from None
        raise
    finally:
        if deadline is not None:
            deadline.stop()


class _Counter:
    """Attempts made so far for one request (shared by its speculative executions)."""

    __slots__ = ("attempts",)

    def __init__(self) -> None:
        self.attempts = 0


async def _speculate(
    router: Router,
    hosts: Iterator[Target],
    spec: RequestSpec,
    info: RequestInfo,
    options: ExecutionOptions,
    request_id: int,
    delays: Iterator[float],
) -> tuple[Response, Connection]:
    counter = _Counter()
    running: set[asyncio.Task[tuple[Response, Connection]]] = set()
    first_error: BaseException | None = None
    loop = asyncio.get_running_loop()

    def start(plan: Iterator[Target], speculative: bool) -> None:
        task = asyncio.ensure_future(
            _execution(plan, spec, info, options, request_id, counter, speculative=speculative, router=router)
        )
        task.add_done_callback(_retrieve)  # a loser that fails after the race must not log "never retrieved"
        running.add(task)

    def speculate() -> bool:
        # Only while the plan has a host left: an execution with nowhere to go would end at once with an
        # empty NoHostAvailable that could hide the real error of the executions still running.
        pool = next(hosts, None)
        if pool is None:
            return False
        start(itertools.chain((pool,), hosts), True)  # its first host, then the rest of the shared plan
        return True

    start(hosts, False)
    try:
        delay = next(delays, None)
        # Each delay counts from the start of the previous execution, whatever finished in between.
        next_start = None if delay is None else loop.time() + delay
        while running:
            timeout = None if next_start is None else max(0.0, next_start - loop.time())
            done, _ = await asyncio.wait(running, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                running.discard(task)
                exc = task.exception()
                if exc is None:
                    return task.result()
                if first_error is None:
                    first_error = exc
            if next_start is not None and running and (not done or loop.time() >= next_start):
                if speculate():  # the delay passed with nothing back: one more execution
                    if log.isEnabledFor(logging.DEBUG):
                        log.debug("request %d: started a speculative execution (%d running): %s", request_id,
                                  len(running), _text(options))  # fmt: skip
                    delay = next(delays, None)
                    next_start = None if delay is None else loop.time() + delay
                else:
                    next_start = None
        assert first_error is not None
        raise first_error
    finally:
        for task in running:
            task.cancel()


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


async def _execution(
    hosts: Iterator[Target],
    spec: RequestSpec,
    info: RequestInfo,
    options: ExecutionOptions,
    request_id: int,
    counter: _Counter,
    *,
    speculative: bool,
    router: Router | None = None,
) -> tuple[Response, Connection]:
    """One execution: walk the plan, retrying as the retry policy allows. When the plan ends and some of
    its hosts had no free stream id, wait for one (in turn, until the deadline) and walk a new plan."""
    waiters: StreamWaiters | None = getattr(router, "stream_waiters", None)
    try:
        return await _walk(hosts, spec, info, options, request_id, counter, speculative, waiters)
    except _Exhausted as exc:
        assert router is not None and waiters is not None
        return await _walk_again(router, waiters, spec, info, options, request_id, counter, exc.errors)


async def _walk_again(
    router: Router,
    waiters: StreamWaiters,
    spec: RequestSpec,
    info: RequestInfo,
    options: ExecutionOptions,
    request_id: int,
    counter: _Counter,
    errors: dict[str, BaseException],
) -> tuple[Response, Connection]:
    """The plan ended with hosts out of stream ids: wait for one (in turn, until the deadline) and walk a
    new plan, again and again."""
    woken = False
    while True:
        await waiters.wait(again=woken)
        woken = True
        try:
            return await _walk(
                router.plan(info, options.load_balancing_policy), spec, info, options, request_id, counter,
                False, waiters, errors,
            )  # fmt: skip
        except _Exhausted as exc:
            errors = exc.errors
        except BaseException:
            waiters.notify()  # the id we were woken for is unused: the next waiter's turn
            raise


class _Exhausted(Exception):
    """The plan ended with hosts out of stream ids (internal: the execution waits for one)."""

    def __init__(self, errors: dict[str, BaseException]) -> None:
        super().__init__("every connection is out of stream ids")
        self.errors = errors


async def _walk(
    hosts: Iterator[Target],
    spec: RequestSpec,
    info: RequestInfo,
    options: ExecutionOptions,
    request_id: int,
    counter: _Counter,
    speculative: bool,
    waiters: StreamWaiters | None,
    previous: dict[str, BaseException] | None = None,
    first: First | None = None,
) -> tuple[Response, Connection]:
    errors: dict[str, BaseException] = dict(previous or {})
    exhausted = False
    retries = 0  # what the retry policy sees; re-preparing is not a retry
    reprepares = 0
    retry_policy = options.retry_policy
    tracker = options.tracker
    pool = next(hosts, None) if first is None else first.target
    while pool is not None:
        attempt: _Attempt | None = None  # the tracker's record of this attempt
        started = 0.0
        op = options.operation
        if first is not None:  # an attempt made (and counted) already: judge its outcome as any other's
            conn = first.conn
        else:
            try:
                conn = pool.borrow()
            except ConnectionError_ as exc:
                errors[pool.host] = exc
                pool = next(hosts, None)
                continue
            host_info = pool.host_info
            if op is not None:
                op.attempts += 1
                op.speculative_executions += speculative
                op.last_host = host_info
            if tracker is not None and host_info is not None:
                attempt = _start(tracker, info, host_info, request_id, counter, speculative, options)
                started = time.perf_counter()
        speculative = False  # only an execution's first attempt counts as speculative
        try:
            try:
                if first is not None:
                    failed, first = first.error, None
                    raise failed
                # _attempt, inlined: the common path awaits one coroutine less
                response = await conn.request(spec.build(conn), flags=spec.flags, payload=spec.custom_payload_prefix,
                                              replies=spec.replies)  # fmt: skip
                if op is not None and op.coordinator is None:
                    op.coordinator = pool.host_info  # the first host that answered (a lost race answers late)
                if attempt is not None:
                    _end(tracker, attempt, None, time.perf_counter() - started)
                return response, conn
            except Unprepared as exc:
                if spec.reprepare is None or reprepares > 2:
                    raise
                reprepares += 1
                if attempt is not None:
                    _end(tracker, attempt, exc, time.perf_counter() - started)
                    attempt = None
                # The node lost the statement (restart, cache eviction): prepare it again there, through
                # this same core. Its failure is judged below, like the attempt's.
                redo = spec.reprepare(exc)
                redo.apply(await _attempt(conn, redo.spec))
                continue  # same host, same connection's node
        except BaseException as exc:
            if attempt is not None:
                _end(tracker, attempt, _reported(exc, options), time.perf_counter() - started)
            if isinstance(exc, asyncio.CancelledError) and options.deadline is not None and options.deadline.expired():
                conn.suspect()  # timed out with no reply: probe the connection (dropped if it does not answer)
            if isinstance(exc, StreamsExhausted):
                errors[pool.host] = exc  # nothing was sent: any request may go to the next host
                exhausted = True
                pool = next(hosts, None)
                continue
            if not isinstance(exc, (ServerError, ConnectionError_)):
                raise
            errors[pool.host] = exc
            decision = retry_policy.decide(RetryInfo(exc, retries, spec.is_idempotent))
            if decision is RetryDecision.IGNORE:
                return VoidResult(), conn  # the policy accepts the failure: an empty result, nothing resent
            if decision is RetryDecision.RETHROW or (not spec.is_idempotent and _unsafe_to_retry(exc)):
                raise
            retries += 1
            if log.isEnabledFor(logging.DEBUG):
                log.debug("request %d: %s on %s (%s: %s); retry %d (%s): %s", request_id, "attempt failed",
                          pool.host, type(exc).__name__, exc, retries, decision.value, _text(options))  # fmt: skip
            if decision is RetryDecision.RETRY_NEXT:
                pool = next(hosts, None)
            # RETRY_SAME keeps the pool
    if exhausted and waiters is not None:
        raise _Exhausted(errors)
    raise _exhausted(errors)


#: What a tracker is told of one attempt: an :class:`AttemptInfo`, or for the built-in :class:`MetricsTracker`
#: (which reads only the host) the metrics of the attempt's node, so that no AttemptInfo is built per attempt.
_Attempt = AttemptInfo | NodeMetrics


def _start(
    tracker: RequestTracker,
    info: RequestInfo,
    host: Host,
    request_id: int,
    counter: _Counter,
    speculative: bool,
    options: ExecutionOptions,
) -> _Attempt:
    """Tell ``tracker`` that an attempt starts on ``host``."""
    number = counter.attempts
    counter.attempts = number + 1
    if type(tracker) is MetricsTracker:
        return tracker.start(host, number, speculative)
    attempt = AttemptInfo(info, host, request_id, number, speculative, options.query, options.operation)
    tracker.on_start(attempt)
    return attempt


def _end(tracker: RequestTracker | None, attempt: _Attempt, error: BaseException | None, latency: float) -> None:
    """Tell ``tracker`` that the attempt :func:`_start` reported ended: a success (``error`` None) or a failure."""
    if isinstance(attempt, NodeMetrics):
        MetricsTracker.end(attempt, error, latency)
        return
    assert tracker is not None
    if error is None:
        tracker.on_success(attempt, latency)
    else:
        tracker.on_error(attempt, error, latency)


def _exhausted(errors: dict[str, BaseException]) -> BaseException:
    """The error of a plan that ran out of hosts. A coordinator that answered Unavailable (too few live
    replicas for the consistency level) states a configuration or capacity problem, not a host problem:
    that server error is raised as is (as the migration guide promises), not wrapped in NoHostAvailable."""
    from aiocql.errors.server import Unavailable

    unavailable = [e for e in errors.values() if isinstance(e, Unavailable)]
    if unavailable:
        return unavailable[-1]
    return NoHostAvailable("no host could run the request", errors)


def _text(options: ExecutionOptions) -> str:
    """The statement's CQL text for a log line (never its bound values), cut to 200 characters."""
    query = options.query
    if query is None:
        return "(batch or statement without text)"
    return query if len(query) <= 200 else query[:200] + "..."


def _reported(exc: BaseException, options: ExecutionOptions) -> BaseException:
    """What trackers hear of a failed attempt: the request's deadline cancels its attempts, but for
    them (and the ``timeouts`` metric) that is a timeout, not a cancellation."""
    deadline = options.deadline
    if isinstance(exc, asyncio.CancelledError) and deadline is not None and deadline.expired():
        return OperationTimedOut("the request's client-side deadline passed during this attempt")
    return exc


def _unsafe_to_retry(exc: BaseException) -> bool:
    from aiocql.errors.server import ReadTimeout, Unavailable

    # Unavailable: the coordinator refused before writing anything; a read timeout is a read.
    return not isinstance(exc, (Unavailable, ReadTimeout))


def run_with_deadline(
    router: Router,
    spec: RequestSpec,
    info: RequestInfo,
    options: ExecutionOptions,
    timeout: float | None,
    throttle: RequestThrottle | None = None,
) -> Coroutine[Any, Any, tuple[Response, Connection]]:
    """:func:`run` under one deadline covering the throttle queue and every attempt (await the result).

    Raises :class:`OperationTimedOut` when the deadline passes. A router with a ``deadlines`` wheel (a
    session) keeps the deadline there, and the request is the one coroutine of :func:`run`; otherwise
    (or behind a throttle) an ``asyncio.timeout`` wraps it.
    """
    if throttle is None and (timeout is None or hasattr(router, "deadlines")):
        return run(router, spec, info, options, timeout)
    return _run_with_timeout(router, spec, info, options, timeout, throttle)


async def _run_with_timeout(
    router: Router,
    spec: RequestSpec,
    info: RequestInfo,
    options: ExecutionOptions,
    timeout: float | None,
    throttle: RequestThrottle | None,
) -> tuple[Response, Connection]:
    if timeout is None:
        assert throttle is not None
        async with throttle:
            return await run(router, spec, info, options)
    wheel: DeadlineWheel | None = getattr(router, "deadlines", None)
    if wheel is not None and throttle is not None:
        # The wheel's deadline covers the wait in the throttle's queue too.
        deadline = options.deadline = wheel.start(timeout)
        try:
            async with throttle:
                return await run(router, spec, info, options)
        except asyncio.CancelledError as exc:
            if deadline.owns(exc):
                raise _timed_out(timeout, options) from None
            raise
        finally:
            deadline.stop()
    timer = asyncio.timeout(timeout)
    options.deadline = timer
    try:
        async with timer:
            if throttle is None:
                return await run(router, spec, info, options)
            async with throttle:
                return await run(router, spec, info, options)
    except TimeoutError as exc:
        if timer.expired():
            raise _timed_out(timeout, options) from exc
        raise


def _timed_out(timeout: float | None, options: ExecutionOptions) -> OperationTimedOut:
    if log.isEnabledFor(logging.DEBUG):
        log.debug("request timed out after %ss: %s", timeout, _text(options))
    return OperationTimedOut(f"request timed out after {timeout}s (client-side deadline)")
