"""``Session``: execute, prepare, batch, page, stream and close, on one event loop.

Example:
    >>> async with Cluster(["127.0.0.1"]) as cluster:  # doctest: +SKIP
    ...     session = await cluster.connect("ks")
    ...     ps = await session.prepare("SELECT v FROM t WHERE k = ?")
    ...     print((await session.execute(ps, (1,))).one())
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar, Unpack, overload

from aiocql.connection.connection import Connection
from aiocql.connection.replies import PREPARED
from aiocql.errors import ConnectionClosed, CqlError, InvalidValueError, ProtocolError
from aiocql.errors.server import InvalidPagingState, ProtocolErrorFromServer
from aiocql.metrics.operations import OperationInfo
from aiocql.metrics.trackers import OperationTracker, has_request_hooks, wants_operation_info
from aiocql.model.host import Host
from aiocql.model.state import ClusterState
from aiocql.policies.load_balancing import LoadBalancingPolicy
from aiocql.policies.request import RequestInfo
from aiocql.policies.timestamps import MonotonicTimestampGenerator
from aiocql.pool.registry import SessionPools, as_pool_set
from aiocql.pool.stream_waiters import StreamWaiters
from aiocql.protocol.constants import Consistency
from aiocql.protocol.requests import (
    Prepare,
    Request,
    keyspace_field,
)
from aiocql.protocol.results import PreparedResult
from aiocql.results import QueryTrace, ResultSet, RowFactory, TypedRowFactory
from aiocql.session import internal
from aiocql.session.call import _STATEMENT_TYPES, _Call, _check_parameters, _check_statement, _options_of
from aiocql.session.concurrent import ExecutionResult, execute_concurrent
from aiocql.session.deadlines import DeadlineWheel
from aiocql.session.describe import _log_failure, _operation_of, _query_text, observed
from aiocql.session.executor import ExecutionOptions, Fixed, RequestSpec, run_with_deadline
from aiocql.session.fast import execute as execute_prepared
from aiocql.session.internal import use_keyspace
from aiocql.session.profiles import ExecutionProfile, ResolvedProfile, as_profile, clone_update
from aiocql.session.reply import _follow_up, _result, _result_set, needs_follow_up
from aiocql.session.settings import _DEFAULT, _DRIVER_HABITS, ClusterView, ExecuteOptions, SessionDefaults
from aiocql.session.specs import _check_keyspace, _is_lwt, _prepared_from, _routing_keyspace, _spec_for
from aiocql.session.targeting import TargetHostPolicy, resolve_target
from aiocql.session.throttle import RequestThrottle
from aiocql.session.tracing import fetch_trace
from aiocql.statements import (
    BatchStatement,
    BoundStatement,
    Parameters,
    PreparedStatement,
    SimpleStatement,
    Statement,
)
from aiocql.types.udt_classes import NO_UDT_CLASSES, UdtClasses
from aiocql.validation import (
    NoPaging,
    check_bool,
    check_consistency,
    check_custom_payload,
    check_fetch_size,
    check_keyspace,
    check_paging_state,
    check_row_factory,
    check_serial_consistency,
    check_timeout,
    check_timestamp,
    describe_value,
)

_describe = describe_value

if TYPE_CHECKING:
    from aiocql.pool.host_pool import HostPool

_T = TypeVar("_T")
__all__ = ["ExecutionResult", "Session", "SessionDefaults", "execute_concurrent", "use_keyspace"]


_log = logging.getLogger("aiocql.session")  # one logger per layer (the executor logs here too)
log = _log


_R = TypeVar("_R")


class Session:
    """Runs statements against the cluster's hosts. Made by :meth:`aiocql.Cluster.connect`.

    Settings are not attributes to assign: cassandra-driver habits such as ``session.row_factory = ...``
    or ``session.default_timeout = ...`` raise :class:`aiocql.UsageError` naming the aiocql way
    (``Cluster(...)`` arguments, execution profiles, or per-call arguments of :meth:`execute`).

    Example:
        >>> session = await cluster.connect("ks")  # doctest: +SKIP
        >>> session  # doctest: +SKIP
        <Session keyspace='ks' hosts=3 up=3 open>
    """

    def __init__(
        self,
        pools: SessionPools | Sequence[HostPool],
        defaults: SessionDefaults,
        keyspace: str | None = None,
        cluster: ClusterView | None = None,
    ) -> None:
        # The cluster's pool registry keeps this set (it adds, re-keys and closes pools); the session reads it.
        self._pools = as_pool_set(pools)
        self.stream_waiters = StreamWaiters()  # requests waiting for a free stream id (the executor's)
        self.deadlines = DeadlineWheel()  # the deadlines of this session's requests (the executor's)
        self._pools.on_stream_free = self.stream_waiters.notify
        self.defaults = defaults
        self.keyspace = keyspace
        self.cluster = cluster
        hosts = [p.host_info for p in self._pools.values()]
        self._static_state = None if cluster is not None else ClusterState.create(hosts)
        if self._static_state is not None:
            defaults.default_profile.load_balancing_policy.on_init(self._static_state, hosts)
        self._default_profile = defaults.profile()
        self._profiles: dict[str, ResolvedProfile] = {
            name: self._default_profile.merge(profile) for name, profile in defaults.execution_profiles.items()
        }
        # A profile named "default" (cassandra-driver's EXEC_PROFILE_DEFAULT) is what plain calls use.
        self._default_profile = self._profiles.setdefault("default", self._default_profile)
        # Load-balancing policies shown the cluster (on_init): the cluster's own and its profiles' were.
        self._initialized: dict[int, LoadBalancingPolicy] = {
            id(p.load_balancing_policy): p.load_balancing_policy for p in self._profiles.values()
        }
        self._throttle = (
            RequestThrottle(defaults.max_requests_in_flight, defaults.max_requests_queued)
            if defaults.max_requests_in_flight
            else None
        )
        self.timestamps = MonotonicTimestampGenerator()
        self._prepared: dict[tuple[str | None, str], PreparedStatement] = {}
        self._preparing: dict[tuple[str | None, str], asyncio.Future[PreparedStatement]] = {}
        self._closed = False
        # Observability, decided once: build an OperationInfo per request only for trackers that read it,
        # call request-level hooks only on trackers that have them (the built-in metrics need neither).
        tracker = defaults.request_tracker
        self._describe = tracker is not None and wants_operation_info(tracker)
        self._request_hooks: OperationTracker | None = (
            tracker if tracker is not None and has_request_hooks(tracker) else None
        )
        self._ready = True  # from here on, __setattr__ refuses new public attributes

    def __setattr__(self, name: str, value: Any) -> None:
        hint = _DRIVER_HABITS.get(name)
        if hint is None and not name.startswith("_") and "_ready" in self.__dict__ and not hasattr(self, name):
            hint = "see docs/migration.md for the aiocql equivalent"
        if hint is not None:
            from aiocql.errors import UsageError

            raise UsageError(f"Session has no setting {name!r} (a cassandra-driver habit?): {hint}")
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        pools = list(self._pools.values())
        up = sum(1 for p in pools if p.is_up)
        state = "closed" if self._closed else "open"
        return f"<Session keyspace={self.keyspace!r} hosts={len(pools)} up={up} {state}>"

    # -- execute ------------------------------------------------------------------------------------
    @overload
    async def execute(
        self,
        query: str | Statement,
        parameters: Parameters = None,
        *,
        row_factory: TypedRowFactory[_R],
        **options: Unpack[ExecuteOptions],
    ) -> ResultSet[_R]: ...

    @overload
    async def execute(
        self,
        query: str | Statement,
        parameters: Parameters = None,
        *,
        row_factory: None = None,
        **options: Unpack[ExecuteOptions],
    ) -> ResultSet[Any]: ...

    async def execute(
        self,
        query: str | Statement,
        parameters: Parameters = None,
        *,
        consistency_level: Consistency | None = None,
        serial_consistency_level: Consistency | None = None,
        timeout: float | None = _DEFAULT,
        fetch_size: int | NoPaging | None = None,
        paging_state: bytes | None = None,
        timestamp: int | None = None,
        trace: bool = False,
        custom_payload: Mapping[str, bytes] | None = None,
        is_idempotent: bool | None = None,
        keyspace: str | None = None,
        row_factory: RowFactory | None = None,
        execution_profile: str | ExecutionProfile | None = None,
        host: Host | str | None = None,
    ) -> ResultSet[Any]:
        """Execute a query string or statement and return its first page as a :class:`ResultSet`.

        ``parameters`` is a sequence (or a mapping by name) of values for the ``?`` / ``:name``
        markers; a string with parameters is prepared transparently (once, then cached) so that each
        value is encoded for its column's type. ``timeout`` (seconds, ``None`` for none) is one
        deadline for every attempt; a timed-out or cancelled call returns at once.
        ``execution_profile`` names one of the cluster's profiles (or is an :class:`ExecutionProfile`):
        its settings stand where the call and the statement give none. ``host`` (a :class:`Host` or its
        address) runs the request on that node only, its next pages too (per-node virtual tables); a host
        that is down raises :class:`NoHostAvailable` naming it, and nothing is sent.

        Every option (and the statement's own) is checked before anything is sent, a transparent PREPARE
        included: a wrong one raises :class:`aiocql.InvalidValueError` naming it and its value.
        ``consistency_level`` is a :class:`aiocql.ConsistencyLevel`, ``serial_consistency_level`` SERIAL or
        LOCAL_SERIAL, ``timeout`` a finite number of seconds > 0 (or ``None``: no deadline), ``fetch_size``
        a positive int or :data:`aiocql.NO_PAGING` (one reply, no paging; ``None`` inherits),
        ``paging_state`` bytes, ``custom_payload`` a mapping of str to bytes, ``keyspace`` a str,
        ``row_factory`` a callable. A reply of a kind the request cannot get raises
        :class:`aiocql.ProtocolError` and drops the connection.

        Example:
            >>> rs = await session.execute("SELECT * FROM t WHERE k = ?", (1,))  # doctest: +SKIP
            >>> rs.one()  # doctest: +SKIP
            Row(k=1, v='one')
        """
        if self._closed:
            self._check_open()  # raises
        if ((type(query) is PreparedStatement or type(query) is BoundStatement) and consistency_level is None
                and serial_consistency_level is None and timeout is _DEFAULT and fetch_size is None
                and paging_state is None and timestamp is None and trace is False and custom_payload is None
                and is_idempotent is None and keyspace is None and row_factory is None and execution_profile is None
                and host is None):  # fmt: skip
            rs = await execute_prepared(self, query, parameters)  # the lean path (aiocql.session.fast)
            if rs is not None:
                return rs
        if isinstance(query, str):
            query = SimpleStatement(query)
        elif isinstance(query, _STATEMENT_TYPES):
            _check_statement(query)  # its attributes may have been set since it was made
        else:
            raise InvalidValueError(
                "execute() takes a CQL string or a statement (SimpleStatement, PreparedStatement, "
                f"BoundStatement, BatchStatement), not {_describe(query)}"
            )
        # Every option is checked before anything is sent (a transparent PREPARE included).
        if consistency_level is not None:
            check_consistency("consistency_level", consistency_level)
        if serial_consistency_level is not None:
            check_serial_consistency("serial_consistency_level", serial_consistency_level)
        if timeout is not _DEFAULT:
            check_timeout("timeout", timeout)
        if fetch_size is not None:
            check_fetch_size("fetch_size", fetch_size)
        if paging_state is not None:
            check_paging_state("paging_state", paging_state)
        if timestamp is not None:
            check_timestamp("timestamp", timestamp)
        if trace is not False:
            check_bool("trace", trace)
        if custom_payload is not None:
            check_custom_payload("custom_payload", custom_payload)
        if is_idempotent is not None:
            check_bool("is_idempotent", is_idempotent)
        if keyspace is not None:
            check_keyspace("keyspace", keyspace)
        if row_factory is not None:
            check_row_factory("row_factory", row_factory)
        defaults = self._resolve_profile(execution_profile)
        if host is not None:
            target = TargetHostPolicy(resolve_target(self, host))  # that host only: no other, no speculation
            defaults = replace(defaults, load_balancing_policy=target, speculative_execution_policy=None)
        if isinstance(query, SimpleStatement) and parameters is not None:
            if type(parameters) not in (tuple, list, dict):
                _check_parameters(parameters)  # before the transparent PREPARE is sent
            prepared = await self.prepare(query.query, keyspace=keyspace or query.keyspace)
            query = BoundStatement(prepared, prepared.encode(parameters), **_options_of(query))
            query.parameters = parameters
        elif isinstance(query, PreparedStatement):
            query = query.bind(parameters)
        elif parameters is not None and not isinstance(query, SimpleStatement):
            raise InvalidValueError(f"{type(query).__name__} carries its own values: pass no parameters")
        elif isinstance(query, BatchStatement):
            await self._prepare_batch_children(query, keyspace or query.keyspace)
        call = _Call(
            # `is not None`, not `or`: ConsistencyLevel.ANY is 0.
            consistency=consistency_level if consistency_level is not None
            else (query.consistency_level if query.consistency_level is not None else defaults.consistency_level),
            serial=serial_consistency_level if serial_consistency_level is not None
            else (query.serial_consistency_level if query.serial_consistency_level is not None
                  else defaults.serial_consistency_level),
            timeout=defaults.request_timeout if timeout is _DEFAULT and query.timeout is None
            else (query.timeout if timeout is _DEFAULT else timeout),
            fetch_size=fetch_size if fetch_size is not None
            else (query.fetch_size if query.fetch_size is not None else defaults.fetch_size),
            timestamp=timestamp if timestamp is not None
            else (self.timestamps() if self.defaults.client_timestamps else None),
            idempotent=query.is_idempotent if is_idempotent is None else is_idempotent,
            keyspace=keyspace or query.keyspace,
            trace=trace,
            custom_payload=custom_payload or query.custom_payload,
            row_factory=row_factory or defaults.row_factory,
            profile=defaults,
        )  # fmt: skip
        if paging_state is None:
            return await self._execute(query, call, None)
        if not isinstance(paging_state, (bytes, bytearray, memoryview)):
            raise InvalidValueError(
                f"paging_state must be bytes (ResultSet.paging_state), not {type(paging_state).__name__}"
            )
        try:
            return await self._execute(query, call, bytes(paging_state))
        except ProtocolErrorFromServer as exc:
            if "paging state" not in exc.message.lower():
                raise
            raise InvalidPagingState(exc.message) from exc

    async def _prepare_batch_children(self, batch: BatchStatement, keyspace: str | None) -> None:
        # Like a query string with parameters, a batch child with parameters is prepared transparently
        # (once, then cached) so that its values are encoded by column type.
        queries = {c.query for c, p in batch.entries if p is not None and isinstance(c, SimpleStatement)}
        if queries:
            await asyncio.gather(*(self.prepare(q, keyspace=keyspace) for q in queries))

    def _resolve_profile(self, profile: str | ExecutionProfile | None) -> ResolvedProfile:
        if profile is None:
            return self._default_profile
        if not isinstance(profile, (str, ExecutionProfile)):
            raise InvalidValueError(
                f"execution_profile must be a profile name (str), an ExecutionProfile or None, not {_describe(profile)}"
            )
        if isinstance(profile, ExecutionProfile):
            if profile.load_balancing_policy is not None:
                self._init_policy(profile.load_balancing_policy)
            return self._default_profile.merge(profile)
        try:
            return self._profiles[profile]
        except KeyError:
            known = ", ".join(sorted(self._profiles))
            raise InvalidValueError(f"no execution profile named {profile!r} (known: {known})") from None

    def add_execution_profile(self, name: str, profile: ExecutionProfile) -> None:
        """Add a named execution profile at run time (``execute(..., execution_profile=name)``).
        :meth:`aiocql.Cluster.add_execution_profile` adds it to every session of the cluster.

        Example:
            >>> session.add_execution_profile("slow", ExecutionProfile(request_timeout=120.0))  # doctest: +SKIP
        """
        if not isinstance(name, str) or not name:
            raise InvalidValueError(f"an execution profile's name is a non-empty str, not {_describe(name)}")
        if not isinstance(profile, ExecutionProfile):
            raise InvalidValueError(f"add_execution_profile() takes an ExecutionProfile, not {_describe(profile)}")
        if name in self._profiles:
            raise InvalidValueError(f"an execution profile named {name!r} exists already: add it under a new name")
        if profile.load_balancing_policy is not None:
            self._init_policy(profile.load_balancing_policy)
        self._profiles[name] = self._default_profile.merge(profile)

    def execution_profile_clone_update(self, profile: str | ExecutionProfile, **changes: Any) -> ExecutionProfile:
        """A copy of a profile (by name, ``"default"`` included, with every setting it resolves to; or a
        profile object) with ``changes``: pass it as ``execution_profile=`` or add it by name.

        Example:
            >>> quick = session.execution_profile_clone_update("default", request_timeout=1.0)  # doctest: +SKIP
            >>> await session.execute("SELECT ...", execution_profile=quick)  # doctest: +SKIP
        """
        base = profile if isinstance(profile, ExecutionProfile) else as_profile(self._resolve_profile(profile))
        return clone_update(base, **changes)

    def _init_policy(self, policy: LoadBalancingPolicy) -> None:
        """Show a policy the cluster once before it plans (``on_init``): one given in a profile object was
        not there at connect. It learns the local DC; a ``local_dc`` no host has is an error here."""
        if id(policy) in self._initialized:
            return
        contact = list(self.cluster.contact_hosts) if self.cluster is not None else list(self.state.host_list)
        try:
            policy.on_init(self.state, contact)
        except ValueError as exc:
            raise InvalidValueError(f"execution profile's load_balancing_policy: {exc}") from exc
        if len(self._initialized) >= 256:  # profile objects made per call: forget (re-initializing is harmless)
            self._initialized.clear()
        self._initialized[id(policy)] = policy  # the policy is kept, so its id is not reused meanwhile

    async def _execute(self, stmt: Statement, call: _Call, paging_state: bytes | None) -> ResultSet[Any]:
        spec = _spec_for(stmt, call, paging_state, self._prepared, self.keyspace)
        profile = call.profile
        # keyspace, routing_key, token, is_idempotent, statement, is_lwt: positional (keywords cost more)
        info = RequestInfo(spec.routing_keyspace or _routing_keyspace(stmt, call, self.keyspace),
                           stmt.routing_key or spec.routing_key, stmt.routing_token, call.idempotent, stmt,
                           _is_lwt(stmt))  # fmt: skip
        options = ExecutionOptions(profile.retry_policy, profile.load_balancing_policy,
                                   profile.speculative_execution_policy, self.defaults.request_tracker,
                                   _query_text(stmt))  # fmt: skip
        threshold = profile.slow_query_threshold
        if not self._describe and threshold is None:
            try:
                response, conn = await run_with_deadline(self, spec, info, options, call.timeout, self._throttle)
            except CqlError as exc:
                _log_failure(exc, stmt)
                raise
            rs = _result_set(self, response, conn, stmt, call)
            if needs_follow_up(response):
                await _follow_up(self, response, conn, stmt, rs)
            return rs
        op = options.operation = _operation_of(stmt, call, info.keyspace)

        async def run() -> ResultSet[Any]:
            try:
                response, conn = await run_with_deadline(self, spec, info, options, call.timeout, self._throttle)
            except CqlError as exc:
                _log_failure(exc, stmt)
                raise
            return await _result(self, response, conn, stmt, call)

        return await observed(self._request_hooks, op, threshold, run)

    # -- user types as the user's classes ----------------------------------------------------------
    _own_udt_classes: UdtClasses = NO_UDT_CLASSES  # this session's registrations (register_user_type)

    @property
    def udt_classes(self) -> UdtClasses:
        """The classes user types decode to in this session: the cluster's registrations
        (:meth:`aiocql.Cluster.register_user_type`), overridden by this session's own."""
        base = self.cluster.udt_classes if self.cluster is not None else NO_UDT_CLASSES
        own = self._own_udt_classes
        return base if not own.entries else base.merged(own)  # merged's first case inline: on the request path

    def register_user_type(self, keyspace: str, user_type: str, klass: type[Any]) -> None:
        """Decode values of user type ``keyspace.user_type`` as ``klass`` in this session only (over any
        class the cluster registered for it); see :meth:`aiocql.Cluster.register_user_type`.

        Example:
            >>> session.register_user_type("shop", "address", Address)  # doctest: +SKIP
            >>> (await session.execute("SELECT home FROM shop.users")).one().home  # doctest: +SKIP
            Address(street='Main St', zip=12345)
        """
        self._own_udt_classes = self._own_udt_classes.with_class(keyspace, user_type, klass)

    # -- read-only views of what the session was set up with -----------------------------------------
    @property
    def throttle(self) -> RequestThrottle | None:
        """The session's request throttle (``Cluster(max_requests_in_flight=...)``), or None when it has none:
        read its ``in_flight``, ``queued``, ``max_in_flight`` and ``max_queued``; the session drives it.

        Example:
            >>> session.throttle.in_flight, session.throttle.queued  # doctest: +SKIP
            (0, 0)
        """
        return self._throttle

    @property
    def builds_operation_info(self) -> bool:
        """True when a request builds an :class:`~aiocql.OperationInfo` (the request tracker reads it); with
        the built-in metrics alone it does not, so plain requests pay nothing for it.

        Example:
            >>> (await cluster.connect()).builds_operation_info  # doctest: +SKIP
            False
        """
        return self._describe

    @property
    def calls_request_hooks(self) -> bool:
        """True when the request tracker has request-level hooks (``on_request_start``/``on_request_end``)
        that each request calls; the built-in metrics have none.

        Example:
            >>> (await cluster.connect()).calls_request_hooks  # doctest: +SKIP
            False
        """
        return self._request_hooks is not None

    # -- routing (the executor's Router) ------------------------------------------------------------
    @property
    def pools(self) -> list[HostPool]:
        """This session's connection pools, one per host it uses."""
        return list(self._pools.values())

    @property
    def host_pools(self) -> Mapping[uuid.UUID, HostPool]:
        """This session's pools by host id, read-only (the cluster's pool registry owns them).

        Example:
            >>> pool = session.host_pools.get(host.host_id)  # doctest: +SKIP
            >>> pool is None or pool.host.host_id == host.host_id  # doctest: +SKIP
            True
        """
        return self._pools

    @property
    def state(self) -> ClusterState:
        """The cluster state plans are made from."""
        if self.cluster is not None:
            return self.cluster.state
        assert self._static_state is not None
        return self._static_state

    def plan(self, info: RequestInfo, policy: LoadBalancingPolicy | None = None) -> Iterator[HostPool]:
        """The pools to try for one request, in the load-balancing policy's order."""
        pools = self._pools
        # The policy is asked even with one pool: it may exclude that host (a HostFilterPolicy).
        for host in (policy or self._default_profile.load_balancing_policy).plan(info, self.state):
            pool = pools.get(host.host_id)
            if pool is not None:
                yield pool

    async def _read_trace(
        self, trace_id: uuid.UUID, max_wait: float, *, query_cl: Consistency, wait_for_complete: bool
    ) -> QueryTrace:
        """Read one trace from ``system_traces`` (what ``ResultSet.get_query_trace`` calls)."""
        return await fetch_trace(self, trace_id, max_wait, query_cl=query_cl, wait_for_complete=wait_for_complete)

    def _is_known_down(self, host_id: uuid.UUID) -> bool:
        # A node the driver knows and has marked down (left out of schema agreement).
        state = self.state
        return state.get_host(host_id) is not None and not state.is_up(host_id)

    # -- prepare ------------------------------------------------------------------------------------
    async def prepare(
        self, query: str, *, keyspace: str | None = None, timeout: float | None = _DEFAULT
    ) -> PreparedStatement:
        """Prepare ``query`` (cached per keyspace and query text: preparing twice costs one round trip).

        ``query`` is the CQL text (a non-empty str), ``keyspace`` a str, ``timeout`` as for :meth:`execute`;
        anything else raises :class:`aiocql.InvalidValueError` before anything is sent.

        Example:
            >>> ps = await session.prepare("INSERT INTO t (k, v) VALUES (?, ?)")  # doctest: +SKIP
            >>> await session.execute(ps, (1, "one"))  # doctest: +SKIP
        """
        self._check_open()
        if not isinstance(query, str) or not query:
            hint = ": prepare the CQL text (statement.query)" if isinstance(query, SimpleStatement) else ""
            raise InvalidValueError(f"prepare() takes a non-empty CQL string, not {_describe(query)}{hint}")
        if keyspace is not None:
            check_keyspace("keyspace", keyspace)
        if timeout is not _DEFAULT:
            check_timeout("timeout", timeout)
        key = (keyspace or self.keyspace, query)
        cached = self._prepared.get(key)
        if cached is not None:
            return cached
        pending = self._preparing.get(key)
        if pending is not None:
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not pending.cancelled() or (task is not None and task.cancelling()):
                    raise  # we were cancelled ourselves
                # The caller that was preparing it gave up; that is not our cancellation: prepare it.
                return await self.prepare(query, keyspace=keyspace, timeout=timeout)
        fut: asyncio.Future[PreparedStatement] = asyncio.get_running_loop().create_future()
        self._preparing[key] = fut
        try:
            wait = self._default_profile.request_timeout if timeout is _DEFAULT else timeout

            def build(conn: Connection) -> Request:
                _check_keyspace(conn, keyspace)
                return Prepare(query, keyspace_field(keyspace, conn.version))

            spec = RequestSpec(build, True, replies=PREPARED)
            options = ExecutionOptions(
                self._default_profile.retry_policy, tracker=self.defaults.request_tracker, query=query
            )
            info = RequestInfo(keyspace=key[0], is_idempotent=True)
            threshold = self._default_profile.slow_query_threshold
            if self._describe or threshold is not None:
                op = options.operation = OperationInfo(
                    "PREPARE", query, keyspace=key[0], is_idempotent=True, parameterized=True
                )
                response, conn = await observed(
                    self._request_hooks, op, threshold, lambda: run_with_deadline(self, spec, info, options, wait)
                )
            else:
                response, conn = await run_with_deadline(self, spec, info, options, wait)
            if not isinstance(response, PreparedResult):
                raise ProtocolError(f"PREPARE returned {type(response).__name__}")
            prepared = _prepared_from(response, query, key[0])
            await self._prepare_on_other_hosts(conn, build, wait)
            self._prepared[key] = prepared
            fut.set_result(prepared)
            return prepared
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                fut.cancel()  # waiters must not mistake our cancellation for theirs
            else:
                fut.set_exception(exc)
                fut.exception()
            raise
        finally:
            del self._preparing[key]

    async def _prepare_on_other_hosts(
        self, done: Connection, build: Callable[[Connection], Request], wait: float | None
    ) -> None:
        """Prepare on every other up host too, so the first execution there needs no extra round trip.

        Best effort: a host that fails here re-prepares on demand (UNPREPARED) later. Each is a request of
        the execution core on that host alone, within the prepare's timeout (or, with none, the
        connection's ``internal_request_timeout``).
        """
        others = [p for p in self._pools.values() if p.is_up and p.host != done.host]
        if not others:
            return
        timeout = wait if wait is not None else done.options.internal_request_timeout
        spec = RequestSpec(build, True, replies=PREPARED)
        await asyncio.gather(*(internal.run(Fixed(p), spec, timeout=timeout) for p in others), return_exceptions=True)

    def on_schema_change(self, keyspace: str | None) -> None:
        """Forget the query strings prepared transparently that ``keyspace`` holds (``None``: all of them):
        after a schema change their bind types may be stale, so the next ``execute`` prepares again.
        Statements returned by :meth:`prepare` keep working: they re-prepare when the server asks."""
        for key, prepared in list(self._prepared.items()):
            places = {key[0], prepared.prepared_keyspace, *(c.keyspace for c in prepared.bind_columns)}
            if keyspace is None or keyspace in places:
                del self._prepared[key]

    # -- streaming, concurrency ---------------------------------------------------------------------
    async def stream(self, query: str | Statement, parameters: Parameters = None, **kwargs: Any) -> AsyncIterator[Any]:
        """Every row of a query, page after page, with the next page fetched while one is consumed.

        Example:
            >>> async for row in session.stream("SELECT * FROM big", fetch_size=1000):  # doctest: +SKIP
            ...     handle(row)
        """
        rs = await self.execute(query, parameters, **kwargs)
        async for row in rs:
            yield row

    async def set_keyspace(self, keyspace: str) -> None:
        """``USE keyspace`` on every connection, now and for connections opened later."""
        check_keyspace("keyspace", keyspace)
        self.keyspace = keyspace
        for pool in self.pools:
            for conn in list(pool.connections):
                if conn.keyspace != keyspace and not conn.is_closed:
                    await use_keyspace(conn, keyspace)

    # -- closing ------------------------------------------------------------------------------------
    @property
    def is_closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise ConnectionClosed("this session is closed: connect a new one with cluster.connect()")

    async def close(self, timeout: float = 5.0) -> None:
        """Drain in-flight requests (up to ``timeout`` seconds), then close. Closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        await self._pools.close(timeout)

    def abort(self) -> None:
        """Close at once, without draining: in-flight requests fail with a connection error.

        Example:
            >>> session.abort()  # doctest: +SKIP
        """
        self._closed = True
        self._pools.abort()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
