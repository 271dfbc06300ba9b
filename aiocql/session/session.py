"""``Session``: execute, prepare, batch, page, stream and close, on one event loop.

Example:
    >>> async with Cluster(["127.0.0.1"]) as cluster:  # doctest: +SKIP
    ...     session = await cluster.connect("ks")
    ...     ps = await session.prepare("SELECT v FROM t WHERE k = ?")
    ...     print((await session.execute(ps, (1,))).one())
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, TypeVar, Unpack, overload

from aiocql.connection.connection import Connection
from aiocql.connection.replies import ANY_RESULT, BATCH_RESULT, PREPARED, ROWS, returns_rows
from aiocql.errors import ConnectionClosed, CqlError, InvalidValueError, ProtocolError
from aiocql.errors.server import InvalidPagingState, ProtocolErrorFromServer, Unprepared
from aiocql.metrics.operations import OperationInfo
from aiocql.metrics.trackers import OperationTracker, RequestTracker, has_request_hooks, wants_operation_info
from aiocql.model.host import Host
from aiocql.model.result_metadata import ResultMetadata, metadata_for
from aiocql.model.state import ClusterState
from aiocql.policies.load_balancing import LoadBalancingPolicy, default_load_balancing_policy
from aiocql.policies.request import RequestInfo
from aiocql.policies.retry import DefaultRetryPolicy, RetryPolicy
from aiocql.policies.speculative import SpeculativeExecutionPolicy
from aiocql.policies.timestamps import MonotonicTimestampGenerator
from aiocql.pool.stream_waiters import StreamWaiters
from aiocql.protocol.constants import Consistency, HeaderFlag
from aiocql.protocol.message import Response
from aiocql.protocol.primitives import write_bytes_map
from aiocql.protocol.requests import (
    Batch,
    BatchPrepared,
    BatchQuery,
    Execute,
    Prepare,
    Query,
    QueryParameters,
    Request,
)
from aiocql.protocol.results import PreparedResult, RowsResult, SchemaChangeResult, SetKeyspaceResult
from aiocql.results import QueryTrace, ResultSet, RowFactory, TypedRowFactory, named_tuple_factory
from aiocql.session import internal
from aiocql.session.concurrent import ExecutionResult, execute_concurrent
from aiocql.session.executor import ExecutionOptions, Fixed, Reprepare, RequestSpec, run_with_deadline
from aiocql.session.internal import use_keyspace
from aiocql.session.lwt import is_conditional
from aiocql.session.profiles import ExecutionProfile, ResolvedProfile, as_profile, clone_update
from aiocql.session.schema_agreement import wait_for_schema_agreement
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

if TYPE_CHECKING:
    from aiocql.pool.host_pool import HostPool

_T = TypeVar("_T")
__all__ = ["ExecutionResult", "Session", "SessionDefaults", "execute_concurrent", "use_keyspace"]


_log = logging.getLogger("aiocql.session")  # one logger per layer (the executor logs here too)
log = _log


_R = TypeVar("_R")


class ExecuteOptions(TypedDict, total=False):
    """The keyword arguments of :meth:`Session.execute` other than ``row_factory`` (for its typed overloads;
    tests/unit/test_typed_rows.py checks that the two lists agree)."""

    consistency_level: Consistency | None
    serial_consistency_level: Consistency | None
    timeout: float | None
    fetch_size: int | NoPaging | None
    paging_state: bytes | None
    timestamp: int | None
    trace: bool
    custom_payload: Mapping[str, bytes] | None
    is_idempotent: bool | None
    keyspace: str | None
    execution_profile: str | ExecutionProfile | None
    host: Host | str | None


class _Default:
    """The "not given" marker of ``timeout=``: the statement's or the execution profile's timeout applies
    (``None`` means no timeout)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<profile default>"


_DEFAULT: Any = _Default()

#: cassandra-driver ``Session`` attributes and the aiocql way to get the same effect.
_DRIVER_HABITS = {
    "row_factory": "pass row_factory= to Cluster(...), to an ExecutionProfile or to execute()",
    "default_timeout": "pass request_timeout= to Cluster(...) or an ExecutionProfile, or timeout= to execute()",
    "default_consistency_level": "pass consistency_level= to Cluster(...), an ExecutionProfile, a statement "
    "or execute()",
    "default_serial_consistency_level": "pass serial_consistency_level= to Cluster(...), an ExecutionProfile, "
    "a statement or execute()",
    "default_fetch_size": "pass fetch_size= to Cluster(...), an ExecutionProfile, a statement or execute()",
    "default_retry_policy": "pass retry_policy= to Cluster(...) or an ExecutionProfile",
    "use_client_timestamp": "pass client_timestamps= to Cluster(...)",
    "client_protocol_handler": "rows are decoded by aiocql itself: choose the row shape with row_factory=",
    "encoder": "values are encoded by their column's CQL type: nothing to configure",
    "max_trace_wait": "pass max_wait= to ResultSet.get_query_trace()",
}


@dataclass(frozen=True, slots=True)
class SessionDefaults:
    """Request settings used when neither the call, the statement nor an execution profile gives one.

    The first eight fields form the execution profile named ``"default"``.
    """

    consistency_level: Consistency = Consistency.LOCAL_ONE
    serial_consistency_level: Consistency | None = None
    request_timeout: float | None = 10.0
    fetch_size: int | NoPaging = 5000
    row_factory: RowFactory = named_tuple_factory
    retry_policy: RetryPolicy = field(default_factory=DefaultRetryPolicy)
    load_balancing_policy: LoadBalancingPolicy = field(default_factory=default_load_balancing_policy)
    speculative_execution_policy: SpeculativeExecutionPolicy | None = None
    client_timestamps: bool = True
    schema_agreement_wait: float = 10.0
    execution_profiles: Mapping[str, ExecutionProfile] = field(default_factory=dict)
    request_tracker: RequestTracker | None = None
    max_requests_in_flight: int | None = None
    max_requests_queued: int = 10_000
    slow_query_threshold: float | None = None

    def profile(self) -> ResolvedProfile:
        """The default execution profile."""
        return ResolvedProfile(
            consistency_level=self.consistency_level,
            serial_consistency_level=self.serial_consistency_level,
            request_timeout=self.request_timeout,
            fetch_size=self.fetch_size,
            row_factory=self.row_factory,
            retry_policy=self.retry_policy,
            load_balancing_policy=self.load_balancing_policy,
            speculative_execution_policy=self.speculative_execution_policy,
            slow_query_threshold=self.slow_query_threshold,
        )


class ClusterView(Protocol):
    """What a session needs from its cluster: the current state, and a schema refresh after DDL."""

    @property
    def state(self) -> ClusterState:
        """The current, immutable cluster state."""
        ...

    @property
    def contact_hosts(self) -> Sequence[Host]:
        """The hosts the contact points resolved to (load-balancing policies infer the local DC from them)."""
        ...

    async def refresh_schema(self, keyspace: str | None = None) -> None:
        """Read the schema again (after DDL this session ran): all of it, or one keyspace."""
        ...

    @property
    def udt_classes(self) -> UdtClasses:
        """The classes user types decode to (:meth:`aiocql.Cluster.register_user_type`)."""
        ...


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
        pools: Sequence[HostPool],
        defaults: SessionDefaults,
        keyspace: str | None = None,
        cluster: ClusterView | None = None,
    ) -> None:
        self._pools: dict[uuid.UUID, HostPool] = {p.host_info.host_id: p for p in pools}
        self.stream_waiters = StreamWaiters()  # requests waiting for a free stream id (the executor's)
        for pool in pools:
            pool.on_stream_free = self.stream_waiters.notify
        self.defaults = defaults
        self.keyspace = keyspace
        self.cluster = cluster
        self._static_state = None if cluster is not None else ClusterState.create([p.host_info for p in pools])
        if self._static_state is not None:
            defaults.load_balancing_policy.on_init(self._static_state, [p.host_info for p in pools])
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
        self._setup: Callable[[Connection], Awaitable[None]] | None = None  # for pools added later
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
        self._check_open()
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
            consistency=_first(consistency_level, query.consistency_level, defaults.consistency_level),
            serial=_first(serial_consistency_level, query.serial_consistency_level, defaults.serial_consistency_level),
            timeout=defaults.request_timeout if timeout is _DEFAULT and query.timeout is None
            else (query.timeout if timeout is _DEFAULT else timeout),
            fetch_size=_first(fetch_size, query.fetch_size, defaults.fetch_size),
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
        spec = self._spec_for(stmt, call, paging_state)
        profile = call.profile
        info = RequestInfo(
            keyspace=spec.routing_keyspace or self._routing_keyspace(stmt, call),
            routing_key=stmt.routing_key or spec.routing_key,
            token=stmt.routing_token,
            is_idempotent=call.idempotent,
            statement=stmt,
            is_lwt=_is_lwt(stmt),
        )
        options = ExecutionOptions(
            profile.retry_policy,
            profile.load_balancing_policy,
            profile.speculative_execution_policy,
            self.defaults.request_tracker,
            _query_text(stmt),
        )
        threshold = profile.slow_query_threshold
        if not self._describe and threshold is None:
            try:
                response, conn = await run_with_deadline(self, spec, info, options, call.timeout, self._throttle)
            except CqlError as exc:
                _log_failure(exc, stmt)
                raise
            return await self._result(response, conn, stmt, call)
        op = options.operation = _operation_of(stmt, call, info.keyspace)

        async def run() -> ResultSet[Any]:
            try:
                response, conn = await run_with_deadline(self, spec, info, options, call.timeout, self._throttle)
            except CqlError as exc:
                _log_failure(exc, stmt)
                raise
            return await self._result(response, conn, stmt, call)

        return await self._observed(op, threshold, run)

    async def _observed(self, op: OperationInfo, threshold: float | None, run: Callable[[], Awaitable[_T]]) -> _T:
        """Run one logical request between the trackers' request hooks; time it; log it if it was slow."""
        hooks = self._request_hooks
        if hooks is not None:
            try:
                hooks.on_request_start(op)
            except Exception:
                _log.exception("request tracker %r failed in on_request_start", hooks)
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
                    _log.exception("request tracker %r failed in on_request_end", hooks)
            if threshold is not None and op.latency >= threshold:
                from aiocql.observability.slow_queries import log_slow_query

                log_slow_query(op, threshold)

    def _routing_keyspace(self, stmt: Statement, call: _Call) -> str | None:
        if isinstance(stmt, BoundStatement) and stmt.prepared is not None and stmt.prepared.bind_columns:
            return stmt.prepared.bind_columns[0].keyspace  # where the table really is
        return call.keyspace or self.keyspace

    # -- user types as the user's classes ----------------------------------------------------------
    _own_udt_classes: UdtClasses = NO_UDT_CLASSES  # this session's registrations (register_user_type)

    @property
    def udt_classes(self) -> UdtClasses:
        """The classes user types decode to in this session: the cluster's registrations
        (:meth:`aiocql.Cluster.register_user_type`), overridden by this session's own."""
        base = self.cluster.udt_classes if self.cluster is not None else NO_UDT_CLASSES
        return base.merged(self._own_udt_classes)

    def register_user_type(self, keyspace: str, user_type: str, klass: type[Any]) -> None:
        """Decode values of user type ``keyspace.user_type`` as ``klass`` in this session only (over any
        class the cluster registered for it); see :meth:`aiocql.Cluster.register_user_type`.

        Example:
            >>> session.register_user_type("shop", "address", Address)  # doctest: +SKIP
            >>> (await session.execute("SELECT home FROM shop.users")).one().home  # doctest: +SKIP
            Address(street='Main St', zip=12345)
        """
        self._own_udt_classes = self._own_udt_classes.with_class(keyspace, user_type, klass)

    # -- routing (the executor's Router) ------------------------------------------------------------
    @property
    def pools(self) -> list[HostPool]:
        """This session's connection pools, one per host it uses."""
        return list(self._pools.values())

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

    def add_pool(self, pool: HostPool) -> None:
        """Start using a new host's pool (the cluster calls this when a host joins)."""
        pool.on_stream_free = self.stream_waiters.notify
        self._pools[pool.host_info.host_id] = pool

    def remove_pool(self, host_id: uuid.UUID) -> HostPool | None:
        """Stop using a host's pool and return it (to be closed by the caller)."""
        return self._pools.pop(host_id, None)

    def _spec_for(self, stmt: Statement, call: _Call, paging_state: bytes | None) -> RequestSpec:
        flags = 0
        prefix = b""
        if call.trace:
            flags |= HeaderFlag.TRACING
        if call.custom_payload:
            flags |= HeaderFlag.CUSTOM_PAYLOAD
            prefix = write_bytes_map(call.custom_payload)
        keyspace = call.keyspace
        page_size = call.fetch_size if type(call.fetch_size) is int else None  # None: NO_PAGING

        def params(values: Any = (), skip_metadata: bool = False, version: int = 5) -> QueryParameters:
            return QueryParameters(
                consistency=call.consistency,
                values=values,
                skip_metadata=skip_metadata,
                page_size=page_size,
                paging_state=paging_state,
                serial_consistency=call.serial,
                timestamp=call.timestamp,
                keyspace=keyspace if version >= 5 else None,
            )

        if isinstance(stmt, SimpleStatement):
            query = stmt.query

            def build_query(conn: Connection) -> Request:
                self._check_keyspace(conn, keyspace)
                return Query(query, params(version=conn.version))

            replies = ROWS if returns_rows(query) else ANY_RESULT
            return RequestSpec(build_query, call.idempotent, flags, prefix, replies=replies)

        if isinstance(stmt, BoundStatement):
            prepared = stmt.prepared
            assert prepared is not None
            bound = stmt

            def build_execute(conn: Connection) -> Request:
                # Skip metadata only on v5, where METADATA_CHANGED tells us when our copy is stale.
                # The reply is decoded with the metadata that matches the id sent *now*: a re-prepare
                # (after UNPREPARED) or another reply may replace the statement's copy meanwhile.
                meta = prepared.result_metadata if conn.version >= 5 else None
                call.sent_metadata = meta
                return Execute(
                    prepared.query_id,
                    params(bound.values, meta is not None, conn.version),  # encoded again by a re-prepare
                    prepared.result_metadata_id if conn.version >= 5 else None,
                )

            # A statement with result columns (a SELECT, an LWT) answers with rows, and only rows.
            replies = ROWS if prepared.result_metadata is not None else ANY_RESULT

            def reprepare(exc: Unprepared) -> Reprepare:
                return self._reprepare(prepared, bound)

            return RequestSpec(build_execute, call.idempotent, flags, prefix, reprepare, replies=replies)

        assert isinstance(stmt, BatchStatement)
        children: list[BoundStatement | SimpleStatement] = []
        prepared_children: dict[bytes, BoundStatement] = {}
        for child, child_params in stmt.entries:
            if isinstance(child, SimpleStatement) and child_params is not None:
                prepared_child = self._prepared.get((keyspace or self.keyspace, child.query))
                if prepared_child is None:  # not prepared by execute() (e.g. a BatchStatement changed since)
                    raise InvalidValueError(f"batch child {child.query!r} has parameters but was not prepared")
                child = prepared_child
            if isinstance(child, PreparedStatement):
                child = child.bind(child_params)
            if isinstance(child, BoundStatement):
                assert child.prepared is not None
                prepared_children[child.prepared.query_id] = child
            children.append(child)
        if not children:
            raise InvalidValueError("a BatchStatement needs at least one statement")

        def build_batch(conn: Connection) -> Request:
            self._check_keyspace(conn, keyspace)
            # Built per attempt: a re-prepare may have given a child a new id or encoded its values again.
            entries: list[BatchQuery | BatchPrepared] = [
                BatchQuery(c.query) if isinstance(c, SimpleStatement)
                else BatchPrepared(c.prepared.query_id if c.prepared else b"", c.values) for c in children
            ]  # fmt: skip
            return Batch(
                entries, stmt.batch_type, call.consistency, call.serial, call.timestamp,
                keyspace if conn.version >= 5 else None,
            )  # fmt: skip

        def reprepare_child(exc: Unprepared) -> Reprepare:
            child = prepared_children.get(bytes(exc.statement_id))
            if child is None or child.prepared is None:
                raise exc
            return self._reprepare(child.prepared, child)

        spec = RequestSpec(build_batch, call.idempotent, flags, prefix, reprepare_child, replies=BATCH_RESULT)
        if stmt.routing_key is None:  # the batch's own (explicit) one wins; else its first child's that has one
            first = next((c for c in children if c.routing_key is not None), None)
            if first is not None:
                spec.routing_key = first.routing_key
                if isinstance(first, BoundStatement):
                    spec.routing_keyspace = self._routing_keyspace(first, call)
        return spec

    def _check_keyspace(self, conn: Connection, keyspace: str | None) -> None:
        if keyspace is not None and conn.version < 5 and keyspace != conn.keyspace:
            raise InvalidValueError(
                f"a per-request keyspace needs protocol v5 (this connection speaks v{conn.version}): "
                "qualify the table name or connect with that keyspace"
            )

    async def _read_trace(
        self, trace_id: uuid.UUID, max_wait: float, *, query_cl: Consistency, wait_for_complete: bool
    ) -> QueryTrace:
        """Read one trace from ``system_traces`` (what ``ResultSet.get_query_trace`` calls)."""
        return await fetch_trace(self, trace_id, max_wait, query_cl=query_cl, wait_for_complete=wait_for_complete)

    async def _result(self, response: Response, conn: Connection, stmt: Statement, call: _Call) -> ResultSet[Any]:
        rs: ResultSet[Any] = ResultSet(
            warnings=response.warnings,
            tracing_id=response.tracing_id,
            custom_payload=dict(response.custom_payload) if response.custom_payload else None,  # type: ignore[arg-type]
            coordinator=conn.host,
            _session=self,
        )
        if response.warnings:
            for warning in response.warnings:  # as cassandra-driver: the server's words and the statement's text
                log.warning("server warning from %s: %s; query: %s", conn.host, warning, _statement_text(stmt))
        if isinstance(response, RowsResult):
            meta = self._rows_metadata(response, stmt, call)
            # the default rows and tuples are built by the decoder; any other factory gets the tuples
            rs.current_rows = meta.decoder_for(self.udt_classes).decode_page(
                response.buffer, response.offset, response.rows_count, call.row_factory
            )
            rs.column_names = meta.names
            rs.column_types = tuple(c.type for c in meta.columns)
            rs.paging_state = response.metadata.paging_state
            if rs.paging_state is not None:

                async def next_page(state: bytes) -> ResultSet[Any]:
                    self._check_open()
                    page = await self._execute(stmt, call, state)
                    page._earlier_traces = rs.tracing_ids  # get_all_query_traces() sees every page's trace
                    return page

                rs._next_page = next_page
        elif isinstance(response, SetKeyspaceResult):
            # USE through execute(): every connection (and every one opened later) must follow, or
            # the next statement would run in whichever keyspace its connection happens to be in.
            conn.keyspace = response.keyspace
            await self.set_keyspace(response.keyspace)
        elif isinstance(response, SchemaChangeResult):
            self.on_schema_change(response.keyspace)
            wait = self.defaults.schema_agreement_wait
            rs.schema_agreement = await wait_for_schema_agreement(conn, wait, is_down=self._is_known_down)
            if not rs.schema_agreement:
                log.warning("schema agreement not reached within %ss after: %s", wait, _statement_text(stmt))
            elif log.isEnabledFor(logging.DEBUG):
                log.debug("schema change %s %s %s.%s on %s: agreed", response.change_type, response.target,
                          response.keyspace, response.name or "", conn.host)  # fmt: skip
            if self.cluster is not None:
                # The caller sees its own DDL in cluster.metadata as soon as execute() returns.
                with contextlib.suppress(CqlError):
                    await self.cluster.refresh_schema(response.keyspace)  # that keyspace's rows only
        return rs

    def _is_known_down(self, host_id: uuid.UUID) -> bool:
        # A node the driver knows and has marked down (left out of schema agreement).
        state = self.state
        return state.get_host(host_id) is not None and not state.is_up(host_id)

    def _rows_metadata(self, response: RowsResult, stmt: Statement, call: _Call) -> ResultMetadata:
        md = response.metadata
        prepared = stmt.prepared if isinstance(stmt, BoundStatement) else None
        if md.columns is None:
            if call.sent_metadata is None:
                raise ProtocolError("the server sent rows without metadata for a statement we have none for")
            return call.sent_metadata
        meta = metadata_for(md.columns)
        if prepared is not None and (md.metadata_changed or prepared.result_metadata is None):
            prepared.result_metadata = meta  # the table changed: later executions decode with this
            if md.new_metadata_id is not None:
                prepared.result_metadata_id = md.new_metadata_id
        return meta

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
                self._check_keyspace(conn, keyspace)
                return Prepare(query, keyspace if conn.version >= 5 else None)

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
                response, conn = await self._observed(
                    op, threshold, lambda: run_with_deadline(self, spec, info, options, wait)
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

    def _reprepare(self, prepared: PreparedStatement, bound: BoundStatement | None = None) -> Reprepare:
        """What answers an UNPREPARED for ``prepared``: PREPARE it again (on the node that lost it)."""
        keyspace = prepared.prepared_keyspace

        def build(conn: Connection) -> Request:
            return Prepare(prepared.query, keyspace if conn.version >= 5 else None)

        def apply(response: Response) -> None:
            if isinstance(response, PreparedResult):
                _take_reprepared(prepared, bound, response)

        return Reprepare(RequestSpec(build, True, replies=PREPARED), apply)

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
        await asyncio.gather(*(p.close(timeout) for p in self.pools), return_exceptions=True)

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


@dataclass(slots=True)
class _Call:
    consistency: Consistency
    serial: Consistency | None
    timeout: float | None
    fetch_size: int | NoPaging
    timestamp: int | None
    idempotent: bool
    keyspace: str | None
    trace: bool
    custom_payload: Mapping[str, bytes] | None
    row_factory: RowFactory
    profile: ResolvedProfile
    sent_metadata: ResultMetadata | None = None  # the result metadata an EXECUTE skipped (v5)


_STATEMENT_TYPES = (SimpleStatement, PreparedStatement, BoundStatement, BatchStatement)
_describe = describe_value


def _check_parameters(parameters: object) -> None:
    if isinstance(parameters, (str, bytes, bytearray)) or not isinstance(parameters, (Sequence, Mapping)):
        raise InvalidValueError(
            f"parameters must be a sequence or a mapping, not {_describe(parameters)}: wrap one value in a tuple"
        )


def _check_statement(stmt: Statement) -> None:
    """The statement's options, checked again at execute (cheaply: they are usually None, or right)."""
    cl = stmt.consistency_level
    if cl is not None and type(cl) is not Consistency:
        check_consistency(f"{type(stmt).__name__}.consistency_level", cl)
    serial = stmt.serial_consistency_level
    if serial is not None and serial is not Consistency.SERIAL and serial is not Consistency.LOCAL_SERIAL:
        check_serial_consistency(f"{type(stmt).__name__}.serial_consistency_level", serial)
    if stmt.fetch_size is not None:
        check_fetch_size(f"{type(stmt).__name__}.fetch_size", stmt.fetch_size)
    if stmt.timeout is not None:
        check_timeout(f"{type(stmt).__name__}.timeout", stmt.timeout)
    if stmt.keyspace is not None:
        check_keyspace(f"{type(stmt).__name__}.keyspace", stmt.keyspace)
    if stmt.custom_payload is not None:
        check_custom_payload(f"{type(stmt).__name__}.custom_payload", stmt.custom_payload)
    if stmt.is_idempotent is not False and stmt.is_idempotent is not True:
        check_bool(f"{type(stmt).__name__}.is_idempotent", stmt.is_idempotent)


def _first(*values: Any) -> Any:
    """The first value that is not None (unlike ``or``, keeps falsy settings such as ``Consistency.ANY``)."""
    return next((v for v in values if v is not None), None)


def _options_of(stmt: SimpleStatement) -> dict[str, Any]:
    return {
        name: getattr(stmt, name)
        for name in ("consistency_level", "serial_consistency_level", "fetch_size", "timeout", "is_idempotent",
                     "keyspace", "custom_payload", "routing_key", "routing_token")
        if getattr(stmt, name) is not None
    }  # fmt: skip


def _prepared_from(response: PreparedResult, query: str, keyspace: str | None) -> PreparedStatement:
    result_columns = response.result_metadata.columns
    return PreparedStatement(
        query=query,
        query_id=response.query_id,
        bind_columns=tuple(response.bind_metadata.columns),
        pk_indexes=tuple(response.bind_metadata.pk_indexes),
        result_metadata=metadata_for(result_columns) if result_columns else None,
        result_metadata_id=response.result_metadata_id,
        prepared_keyspace=keyspace,
        is_lwt=is_conditional(query),
    )


def _is_lwt(stmt: Statement) -> bool:
    """Whether a statement is a lightweight transaction (prepared: decided once, at prepare time)."""
    if isinstance(stmt, BoundStatement):
        return stmt.prepared is not None and stmt.prepared.is_lwt
    if isinstance(stmt, PreparedStatement):
        return stmt.is_lwt
    if isinstance(stmt, BatchStatement):  # a conditional batch (its conditions all hit one partition)
        return any(_is_lwt(child) for child, _ in stmt.entries)
    query = getattr(stmt, "query", None)
    return isinstance(query, str) and is_conditional(query)


def _take_reprepared(prepared: PreparedStatement, bound: BoundStatement | None, response: PreparedResult) -> None:
    """Update ``prepared`` (and the values of ``bound``) from a re-PREPARE's reply, in one synchronous step."""
    if response.query_id != prepared.query_id:
        prepared.query_id = response.query_id
    # The statement may have been evicted because its table changed (ALTER TABLE): the
    # new metadata id comes with new columns. Replace both together, or the next EXECUTE
    # would skip metadata under the new id and have its rows decoded with the old columns.
    columns = response.result_metadata.columns
    prepared.result_metadata = metadata_for(columns) if columns else None
    prepared.result_metadata_id = response.result_metadata_id
    # The bind markers may have new types too (a table dropped and created again): the
    # encoder follows, and values bound with the old one are encoded again.
    bind = response.bind_metadata
    if prepared.update_bind_metadata(bind.columns, bind.pk_indexes) and bound is not None:
        if bound.parameters is None:
            raise InvalidValueError(
                f"the bind markers of {prepared.query!r} changed on the server since these values "
                "were encoded: bind them again"
            )
        bound.values = prepared.encode(bound.parameters)


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
