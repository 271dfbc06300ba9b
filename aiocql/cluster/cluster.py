"""``Cluster``: configuration, connecting, and the lifetime of the sessions it makes.

Example:
    >>> async with Cluster(["127.0.0.1"], compression=True) as cluster:  # doctest: +SKIP
    ...     session = await cluster.connect("ks")
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import ssl
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Never

from aiocql.cluster.config import ClusterSettings, default
from aiocql.cluster.control import ControlConnection
from aiocql.cluster.schema_refresh import refreshed_state
from aiocql.connection.auth import AuthProvider
from aiocql.connection.config import ConnectionConfig, ConnectionOptions
from aiocql.connection.connection import Connection, negotiate
from aiocql.errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionClosed,
    CqlError,
    InvalidValueError,
    NoHostAvailable,
    TLSCertificateError,
)
from aiocql.errors.server import RequestValidationError
from aiocql.metrics.nodes import Metrics
from aiocql.metrics.operations import node_label
from aiocql.metrics.trackers import CompositeTracker, MetricsTracker, RequestTracker
from aiocql.model.host import Host, HostDistance
from aiocql.model.metadata import ClusterMetadata
from aiocql.model.state import ClusterState
from aiocql.net.resolver import DnsResolver, NameResolutionError, Resolver, ip_literal
from aiocql.policies.address_translation import AddressTranslator
from aiocql.policies.load_balancing import LoadBalancingPolicy
from aiocql.policies.reconnection import ReconnectionPolicy
from aiocql.policies.retry import RetryPolicy
from aiocql.policies.speculative import SpeculativeExecutionPolicy
from aiocql.pool.config import PoolConfig
from aiocql.pool.host_pool import HostPool
from aiocql.protocol.constants import Consistency
from aiocql.protocol.events import SchemaChangeEvent
from aiocql.results import RowFactory
from aiocql.session.profiles import EXEC_PROFILE_DEFAULT, ExecutionProfile, ResolvedProfile, as_profile
from aiocql.session.schema_agreement import wait_for_schema_agreement
from aiocql.session.session import Session, SessionDefaults, use_keyspace
from aiocql.types.udt_classes import NO_UDT_CLASSES, UdtClasses, check_class
from aiocql.validation import NoPaging

log = logging.getLogger("aiocql.cluster")  # one logger per layer: aiocql.cluster

# Seconds a host whose pool lost its connections stays down when the pool reconnects at once: time for the
# server's DOWN event to arrive if the node is shutting down (it comes within ~50 ms on a local cluster).
UP_SETTLE = 1.0


def _no_host(errors: dict[str, BaseException]) -> CqlError:
    """The error of a failed connect: NoHostAvailable, or AuthenticationError when every host refused
    the credentials (a configuration problem to fix, not a host problem to wait out)."""
    failure = NoHostAvailable("could not connect to any contact point", errors)
    if errors and all(isinstance(e, AuthenticationError) for e in errors.values()):
        auth = AuthenticationError(f"authentication failed: {'; '.join(f'{h}: {e}' for h, e in errors.items())}")
        auth.__cause__ = failure
        return auth
    if errors and all(isinstance(e, TLSCertificateError) for e in errors.values()):
        tls = TLSCertificateError("; ".join(f"{e}" for e in errors.values()))
        tls.__cause__ = failure
        return tls
    # Every host refused the request itself (``connect("no_such_keyspace")``: InvalidRequest): the
    # server's error is the answer, not a host problem.
    if errors and all(isinstance(e, RequestValidationError) for e in errors.values()):
        first = next(iter(errors.values()))
        assert isinstance(first, RequestValidationError)
        first.__cause__ = failure
        return first
    return failure


class HostStateListener:
    """Told when a host joins, leaves, goes up or goes down; register with :meth:`Cluster.add_listener`.

    Override the methods you need (the others do nothing). Each is called on the event loop right after
    :attr:`Cluster.state` has changed, so ``cluster.is_up(host)`` already answers accordingly. A host that
    joins is reported by ``on_add`` only (new hosts start up; ``on_down`` follows if it cannot be
    reached). A listener must not block; an exception it raises is logged and ignored.

    Example:
        >>> class Log(HostStateListener):
        ...     def on_down(self, host: Host) -> None:
        ...         print("down:", host.address)
        >>> cluster.add_listener(Log())  # doctest: +SKIP
    """

    def on_add(self, host: Host) -> None:
        """A host joined the cluster (or was discovered)."""

    def on_remove(self, host: Host) -> None:
        """A host left the cluster."""

    def on_up(self, host: Host) -> None:
        """A known host is up again (the server said so, or a connection to it opened)."""

    def on_down(self, host: Host) -> None:
        """A known host is down (the server said so, or its pool lost its last connection)."""


class Cluster:
    """The entry point: where the cluster is and how to talk to it.

    Settings come in three public, frozen config objects, each default written once in its class (every
    setting and its default: docs/configuration.md):

    - ``connection=`` a :class:`ConnectionConfig`: port, protocol version to ask for (``None`` negotiates v5,
      falling back to v4), TLS (``ssl_context``, ``server_hostname``), LZ4 ``compression``, ``auth_provider``,
      ``connect_timeout``, heartbeats, stream-table limits;
    - ``pool=`` a :class:`PoolConfig`: connections per local and remote host, the ``reconnection_policy``;
    - ``execution_profiles={EXEC_PROFILE_DEFAULT: ExecutionProfile(...)}``: the default request settings
      (consistency, serial consistency, request timeout, fetch size, row factory, retry, load-balancing
      and speculative policies, slow-query threshold); other names are profiles to choose per request.

    The keyword arguments (cassandra-driver's way) are kept as a thin, documented shim that builds them: a
    connection keyword (``port``, ``protocol_version``, ``auth_provider``, ``ssl_context``, ``compression``,
    ``connect_timeout``, ``heartbeat_interval``, ``heartbeat_timeout``, ``server_hostname``,
    ``max_streams_per_connection``, ``max_orphans_per_connection``) sets that field of the
    :class:`ConnectionConfig`; a pool keyword (``connections_per_host``, ``remote_connections_per_host``,
    ``reconnection_policy``) the :class:`PoolConfig`'s; a request keyword (``consistency_level``,
    ``serial_consistency_level``, ``request_timeout``, ``fetch_size``, ``row_factory``, ``retry_policy``,
    ``load_balancing_policy``, ``speculative_execution_policy``, ``slow_query_threshold``) the default
    profile's. A keyword left out takes its config class's default (``help(Cluster)`` shows it); a keyword
    given together with the object holding its setting (``connect_timeout=`` with ``connection=``, or
    ``consistency_level=`` with a ``"default"`` profile that sets it) raises :class:`UsageError`. The
    objects are never changed: the negotiated version is :attr:`protocol_version`, the settings plain
    calls use :attr:`default_profile`. Every argument is checked here: a wrong one raises
    :class:`InvalidValueError` naming it (``fetch_size=NO_PAGING`` turns paging off); a cassandra-driver
    argument aiocql does not take (``idle_heartbeat_interval=``...) or a misspelt one raises
    :class:`UsageError` with the aiocql way (docs/migration.md).

    The cluster keeps a control connection that discovers every node from one contact point, follows
    topology, status and schema events, and keeps :attr:`metadata` current. Requests are routed by the
    load-balancing policy (by default token-aware over DC-aware round robin, the local DC given as
    ``local_dc`` or taken from the contact points; pools are sized by its distances), retried by the retry
    policy, and speculated by the speculative execution policy (idempotent requests only).
    ``request_tracker`` is called around every attempt; ``metrics`` counts them; ``slow_query_threshold``
    (seconds) logs slower requests on ``aiocql.session.slow`` (docs/observability.md). A connection with no
    decoded reply for ``heartbeat_interval`` is probed, and a timed-out request probes its connection at
    once; a probe unanswered within ``heartbeat_timeout`` drops the connection and the pool replaces it.
    ``client_timestamps``, ``schema_agreement_wait`` (after DDL) and the throttle
    (``max_requests_in_flight``, ``max_requests_queued``) are the sessions' settings.
    ``resolver`` turns contact-point names into addresses, every address of a name becoming a contact
    point (default :class:`~aiocql.net.DnsResolver`: /etc/hosts and DNS on the loop's own sockets, no
    thread; ``GetaddrinfoResolver()`` opts into the C library's, which runs in a thread).
    Contact points are where discovery starts: the hosts are the nodes ``system.local`` and
    ``system.peers_v2`` list, so a contact point that is not in the ring (unreachable, or a typo) is not
    a host. ``contact_points_are_hosts=True`` makes every contact point a host even when the ring does not
    list its address (one proxy per node, test servers without peers tables).
    With TLS, a certificate is checked against ``server_hostname``: a fixed name, or a callable giving
    each :class:`Host`'s name (e.g. from its ``host_id``, as an SNI-routing proxy needs); by default
    against the contact point's name as given (``"localhost"``), and a discovered peer's address. A
    refused certificate raises :class:`TLSCertificateError` (a configuration error, not a lost connection).
    ``address_translator`` maps each peer's announced address to where the client reaches it (NAT,
    port-forwarding proxies). When no known host answers, the contact points are resolved again.

    Example:
        >>> cluster = Cluster(["127.0.0.1"], protocol_version=4)
        >>> cluster.contact_points, cluster.connection.connect_timeout
        (['127.0.0.1'], 5.0)
        >>> from aiocql import ConnectionConfig, ConsistencyLevel, ExecutionProfile, PoolConfig
        >>> cluster = Cluster(
        ...     ["10.0.0.1", "10.0.0.2"],
        ...     connection=ConnectionConfig(connect_timeout=2.0, compression=True),
        ...     pool=PoolConfig(connections_per_host=2),
        ...     execution_profiles={"default": ExecutionProfile(consistency_level=ConsistencyLevel.QUORUM)},
        ... )
        >>> cluster.default_profile.consistency_level, cluster.default_profile.request_timeout
        (<Consistency.QUORUM: 4>, 10.0)
        >>> Cluster(connect_timeout=1.0, connection=ConnectionConfig())  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        aiocql.errors.base.UsageError: Cluster(connect_timeout=...) and Cluster(connection=...) both set ...
    """

    def __init__(
        self,
        contact_points: Sequence[str] = ("127.0.0.1",),
        port: int = default(ConnectionConfig, "port"),
        *,
        connection: ConnectionConfig | None = None,
        pool: PoolConfig | None = None,
        protocol_version: int | None = default(ConnectionConfig, "protocol_version"),
        auth_provider: AuthProvider | None = default(ConnectionConfig, "auth_provider"),
        ssl_context: ssl.SSLContext | None = default(ConnectionConfig, "ssl_context"),
        compression: bool = default(ConnectionConfig, "compression"),
        connect_timeout: float = default(ConnectionConfig, "connect_timeout"),
        request_timeout: float | None = default(ResolvedProfile, "request_timeout"),
        connections_per_host: int = default(PoolConfig, "connections_per_host"),
        remote_connections_per_host: int = default(PoolConfig, "remote_connections_per_host"),
        heartbeat_interval: float = default(ConnectionConfig, "heartbeat_interval"),
        heartbeat_timeout: float = default(ConnectionConfig, "heartbeat_timeout"),
        consistency_level: Consistency = default(ResolvedProfile, "consistency_level"),
        serial_consistency_level: Consistency | None = default(ResolvedProfile, "serial_consistency_level"),
        fetch_size: int | NoPaging = default(ResolvedProfile, "fetch_size"),
        row_factory: RowFactory = default(ResolvedProfile, "row_factory"),
        retry_policy: RetryPolicy | None = None,
        load_balancing_policy: LoadBalancingPolicy | None = None,
        local_dc: str | None = None,
        reconnection_policy: ReconnectionPolicy | None = None,
        speculative_execution_policy: SpeculativeExecutionPolicy | None = None,
        execution_profiles: Mapping[str, ExecutionProfile] | None = None,
        request_tracker: RequestTracker | None = None,
        max_requests_in_flight: int | None = default(SessionDefaults, "max_requests_in_flight"),
        max_requests_queued: int = default(SessionDefaults, "max_requests_queued"),
        client_timestamps: bool = default(SessionDefaults, "client_timestamps"),
        schema_agreement_wait: float = default(SessionDefaults, "schema_agreement_wait"),
        max_streams_per_connection: int = default(ConnectionConfig, "max_streams"),
        max_orphans_per_connection: int = default(ConnectionConfig, "max_orphans"),
        schema_metadata: bool = True,
        resolver: Resolver | None = None,
        contact_points_are_hosts: bool = False,
        schema_event_refresh: bool = True,
        server_hostname: str | Callable[[Host], str | None] | None = default(ConnectionConfig, "server_hostname"),
        address_translator: AddressTranslator | None = None,
        slow_query_threshold: float | None = default(ResolvedProfile, "slow_query_threshold"),
        **unsupported: Never,  # cassandra-driver's arguments and misspellings: a UsageError with the aiocql way
    ) -> None:
        # Every argument is checked, and the config objects built, before anything else: InvalidValueError
        # naming a wrong one, UsageError for a keyword given with the config object holding its setting.
        settings = ClusterSettings.build({name: value for name, value in locals().items() if name != "self"})
        if isinstance(contact_points, str):
            contact_points = [contact_points]
        self.contact_points = list(contact_points)
        #: The connection settings (the object given as ``connection=``, or built from the keywords).
        self.connection = settings.connection
        #: The pool settings (the object given as ``pool=``, or built from the keywords).
        self.pool = settings.pool
        self._protocol_version: int | None = None  # negotiated (or pinned) at the first connect
        self.port = self.connection.port
        self.connections_per_host = self.pool.connections_per_host
        self.remote_connections_per_host = self.pool.remote_connections_per_host
        self.reconnection_policy = self.pool.reconnection_policy
        self.schema_metadata = schema_metadata
        # Host names resolve on the loop's own sockets (no executor thread); getaddrinfo is an opt-in.
        self.resolver: Resolver = resolver if resolver is not None else DnsResolver()
        # Contact points the ring does not list (proxies, fake servers) become hosts only when asked for:
        # otherwise one that is unreachable would stay a phantom host that reconnects for ever.
        self.contact_points_are_hosts = contact_points_are_hosts
        # False: schema events no longer refresh metadata (the session's own DDL and refresh_schema() still do).
        self.schema_event_refresh = schema_event_refresh
        self.server_hostname = self.connection.server_hostname
        self.address_translator = address_translator
        self._point_names: dict[str, str] = {}  # contact-point address -> the host name it came from
        # What each connection is opened with: the connection config, its TLS names resolved per address.
        self.options = ConnectionOptions.of(self.connection, tls_name_for=self._tls_name)
        self.metrics = Metrics()
        tracker: RequestTracker = MetricsTracker(self.metrics)
        if settings.session.request_tracker is not None:
            tracker = CompositeTracker(tracker, settings.session.request_tracker)
        self.load_balancing_policy = settings.load_balancing_policy
        self.defaults = dataclasses.replace(settings.session, request_tracker=tracker)
        self.sessions: list[Session] = []
        self.control: ControlConnection | None = None
        self._state = ClusterState.create()
        self._contact_hosts: list[Host] = []
        self._init_lock: asyncio.Lock | None = None
        self._schema_task: asyncio.Task[None] | None = None
        self._schema_stale = False  # a schema event came in since the running refresh started
        self._schema_pending: set[str | None] = set()  # keyspaces those events named (None: everything)
        self._opening: set[asyncio.Task[None]] = set()
        self._listeners: list[HostStateListener] = []
        # Hosts the server reported DOWN and not UP since; a reconnected pool does not mark them up.
        self._down_by_event: set[uuid.UUID] = set()
        self._events_from: Connection | None = None  # the control connection those reports came on
        self._lost_at: dict[uuid.UUID, float] = {}  # loop time each host's pool last lost its connections
        self._closed = False

    @property
    def default_profile(self) -> ExecutionProfile:
        """The execution profile plain calls use, every setting filled in: the ``Cluster(...)`` keywords' values
        (else the built-in defaults) with a profile named ``"default"`` in ``execution_profiles`` laid over them.

        Example:
            >>> Cluster(["127.0.0.1"], request_timeout=3.0).default_profile.request_timeout
            3.0
        """
        base = self.defaults.default_profile
        chosen = self.defaults.execution_profiles.get(EXEC_PROFILE_DEFAULT)
        return as_profile(base.merge(chosen) if chosen is not None else base)

    # -- state --------------------------------------------------------------------------------------
    @property
    def protocol_version(self) -> int | None:
        """The protocol version the cluster speaks: negotiated at the first :meth:`connect`, or the one
        ``ConnectionConfig.protocol_version`` pins (``None`` before a negotiating cluster connected).

        Example:
            >>> Cluster(["127.0.0.1"], protocol_version=4).protocol_version
            4
        """
        return self._protocol_version if self._protocol_version is not None else self.connection.protocol_version

    @protocol_version.setter
    def protocol_version(self, value: object) -> None:
        from aiocql.errors import UsageError

        raise UsageError(
            f"cluster.protocol_version = {value!r} is cassandra-driver's habit: the version is asked for when the "
            "cluster is made, Cluster(protocol_version=...) or ConnectionConfig(protocol_version=...)"
        )

    @property
    def state(self) -> ClusterState:
        """The current cluster state: hosts, which are up, token map, schema (immutable; replaced whole)."""
        return self._state

    @property
    def metadata(self) -> ClusterMetadata:
        """Schema metadata by keyspace name, kept current by schema events (a snapshot of the moment it is
        read), with ``cluster_name``, ``get_replicas()`` and ``export_schema_as_string()``.

        Example:
            >>> cluster.metadata["ks"].tables["t"].partition_key  # doctest: +SKIP
        """
        return ClusterMetadata(self._state, self.control.cluster_name if self.control is not None else None)

    @property
    def hosts(self) -> tuple[Host, ...]:
        """Every known host."""
        return self._state.host_list

    @property
    def contact_hosts(self) -> tuple[Host, ...]:
        """The hosts the contact points resolved to, the control connection's first (known after connect)."""
        return tuple(self._contact_hosts)

    def is_up(self, host: Host) -> bool:
        """Whether ``host`` is currently considered up."""
        return self._state.is_up(host)

    def add_listener(self, listener: HostStateListener) -> None:
        """Call ``listener``'s ``on_add`` / ``on_remove`` / ``on_up`` / ``on_down`` on every host change."""
        self._listeners.append(listener)

    def remove_listener(self, listener: HostStateListener) -> None:
        """Stop telling ``listener`` about host changes (unknown listeners are ignored)."""
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def _set_state(self, state: ClusterState) -> None:
        """Swap the state and tell the listeners which hosts were added, removed, or went up or down."""
        before, self._state = self._state, state
        if state.hosts is before.hosts and state.up is before.up:
            return
        old, new = before.hosts, state.hosts
        changes: list[tuple[str, Host]] = [("on_remove", h) for i, h in old.items() if i not in new]
        changes += [("on_add", h) for i, h in new.items() if i not in old]
        changes += [("on_down", new[i]) for i in before.up - state.up if i in new]
        changes += [("on_up", new[i]) for i in state.up - before.up if i in old]
        if log.isEnabledFor(logging.INFO):
            for name, host in changes:
                level = logging.WARNING if name == "on_down" else logging.INFO
                log.log(level, "host %s (dc %s) %s", host.address, host.datacenter, _CHANGE_WORDS[name])
        if not self._listeners:
            return
        for name, host in changes:
            for listener in list(self._listeners):
                try:
                    getattr(listener, name)(host)
                except Exception:
                    log.exception("host listener %r failed in %s(%s)", listener, name, host.address)

    def add_execution_profile(self, name: str, profile: ExecutionProfile) -> None:
        """Add a named execution profile at run time, to every open session and the ones made later.

        Example:
            >>> cluster.add_execution_profile("analytics", ExecutionProfile(request_timeout=60.0))  # doctest: +SKIP
            >>> await session.execute("SELECT ...", execution_profile="analytics")  # doctest: +SKIP
        """
        if not isinstance(profile, ExecutionProfile):
            raise InvalidValueError(f"add_execution_profile() takes an ExecutionProfile, not {type(profile).__name__}")
        open_sessions = [s for s in self.sessions if not s.is_closed]
        if name in self.defaults.execution_profiles or name == "default":
            raise InvalidValueError(f"an execution profile named {name!r} exists already: add it under a new name")
        for session in open_sessions:  # each checks name and profile; the first refusal stops here
            session.add_execution_profile(name, profile)
        profiles = self.defaults.execution_profiles
        assert isinstance(profiles, dict)  # made by __init__: later sessions read it
        profiles[name] = profile

    @property
    def is_closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    # -- connecting ---------------------------------------------------------------------------------
    async def connect(self, keyspace: str | None = None) -> Session:
        """Discover the cluster (first call), open pools to its hosts and return a :class:`Session`.

        One reachable contact point is enough; hosts that are down get pools that keep reconnecting.
        When no host can be reached, raises :class:`NoHostAvailable` with each host's error
        (:class:`AuthenticationError` when every host refused the credentials).

        Example:
            >>> session = await cluster.connect("my_keyspace")  # doctest: +SKIP
        """
        if self._closed:
            raise ConnectionClosed("this cluster is closed")
        if self._init_lock is None:
            self._init_lock = asyncio.Lock()
        async with self._init_lock:
            if self.control is None:
                await self._init()
        version = self.protocol_version
        assert version is not None
        made: list[Session] = []

        async def setup(conn: Connection) -> None:
            # A connection opened later (refill, reconnect) joins the session's *current* keyspace,
            # which a USE may have changed since connect().
            current = made[0].keyspace if made else keyspace
            if current is not None:
                await use_keyspace(conn, current)

        pools = [p for p in (self._make_pool(h, setup) for h in self._ordered_hosts()) if p is not None]
        errors: dict[str, BaseException] = {}
        live: list[HostPool] = []
        try:
            results = await asyncio.gather(*(p.open() for p in pools), return_exceptions=True)
        except BaseException:  # cancelled: pools already open must not leak their connections
            for pool in pools:
                pool.abort()
            raise
        for pool, result in zip(pools, results, strict=True):
            if isinstance(result, BaseException):
                errors[pool.host] = result
                self._mark(pool.host_info, up=False)
                pool.reconnect_now()  # keeps trying in the background with the reconnection policy
            else:
                live.append(pool)
        if not live:
            for pool in pools:
                pool.abort()
            raise _no_host(errors)
        log.info("session connected to %d of %d hosts (keyspace %s)", len(live), len(pools), keyspace)
        session = Session(pools, self.defaults, keyspace, cluster=self)
        session._setup = setup
        made.append(session)
        self.sessions = [s for s in self.sessions if not s.is_closed]
        self.sessions.append(session)
        return session

    async def _init(self) -> None:
        """Resolve contact points, pick the protocol version, open the control connection, read schema."""
        errors: dict[str, BaseException] = {}
        addresses = await self._resolve_contact_points(errors)
        if not addresses:
            raise _no_host(errors)
        version = await self._negotiate(addresses, errors)
        control = ControlConnection(
            self.options,
            version=version,
            listener=self,
            translator=self.address_translator,
            resolve_contact_points=self._resolve_again,
        )
        self.control = control
        try:
            try:
                await control.connect(addresses)
            except NoHostAvailable as exc:
                raise _no_host({**errors, **exc.errors}) from None
            found = {h.address: h for h in self._state.host_list}
            # Assumed to sit in the control node's datacenter: nothing else is known about them.
            dc = next((h.datacenter for h in self._state.host_list if h.address == control.address), None)
            if self.contact_points_are_hosts:
                self._contact_hosts = [found.get(a) or _stand_in(a, self.port, dc) for a in addresses]
            else:  # contact points are where discovery starts; the hosts are the ring's members
                self._contact_hosts = [found[a] for a in addresses if a in found]
            missing = [h for h in self._contact_hosts if h.address not in found]
            if missing:  # contact points the topology does not list, kept as hosts (proxies, fake servers)
                self._set_state(self._state.with_hosts([*self._state.host_list, *missing], new_hosts_up=True))
            if self.schema_metadata:
                try:
                    await self.refresh_schema()
                except CqlError as exc:  # metadata is a convenience: requests work without it
                    log.warning("could not read the schema: %s", exc)
            for policy in self._policies():
                try:
                    policy.on_init(self._state, self._contact_hosts)
                except ValueError as exc:  # a local_dc the cluster does not have, or none to infer
                    if isinstance(exc, CqlError):
                        raise
                    raise ConfigurationError(str(exc)) from exc
        except BaseException:
            self.control = None
            await control.close()
            raise

    async def _resolve_contact_points(self, errors: dict[str, BaseException]) -> list[str]:
        """Every address of every contact point (a name with several A/AAAA records gives them all),
        in the order given; a point that does not resolve goes to ``errors``."""
        addresses: list[str] = []
        results = await asyncio.gather(*(self.resolver.resolve(p) for p in self.contact_points), return_exceptions=True)
        for point, result in zip(self.contact_points, results, strict=True):
            if isinstance(result, (NameResolutionError, OSError)):
                errors[point] = NameResolutionError(f"cannot resolve contact point {point!r}: {result}")
            elif isinstance(result, BaseException):
                raise result
            else:
                addresses.extend(a for a in result if a not in addresses)
                if ip_literal(point) is None:
                    self._point_names.update((a, point) for a in result)
        return addresses

    async def _resolve_again(self) -> list[str]:
        """The contact points' current addresses (for a control connection that lost every known host)."""
        errors: dict[str, BaseException] = {}
        addresses = await self._resolve_contact_points(errors)
        if not addresses:
            raise _no_host(errors)
        return addresses

    def _tls_name(self, address: str) -> str | None:
        """The name a TLS certificate is checked against when connecting to ``address`` (no fixed
        ``server_hostname``): the callable's answer for the host there, else the contact point's name."""
        if callable(self.server_hostname):
            host = self._state.host_at(address)
            if host is not None:
                return self.server_hostname(host)
        return self._point_names.get(address)

    def _policies(self) -> list[LoadBalancingPolicy]:
        out = [self.load_balancing_policy]
        for profile in self.defaults.execution_profiles.values():
            if profile.load_balancing_policy is not None and profile.load_balancing_policy not in out:
                out.append(profile.load_balancing_policy)
        return out

    def _ordered_hosts(self) -> list[Host]:
        """Contact points first (in the order given), then the other hosts."""
        first = [h for h in self._contact_hosts]
        return first + [h for h in self._state.host_list if h not in first]

    def _make_pool(self, host: Host, setup: Any) -> HostPool | None:
        distance = self.load_balancing_policy.distance(host, self._state)
        if distance is HostDistance.IGNORED:
            return None
        assert self.protocol_version is not None
        size = self.connections_per_host if distance is HostDistance.LOCAL else self.remote_connections_per_host
        options = self.options if host.port == self.port else _with_port(self.options, host.port)
        if callable(self.server_hostname):  # per host, even when hosts share an address (an SNI proxy)
            options = dataclasses.replace(options, server_hostname=self.server_hostname(host))
        pool = HostPool(
            host.address,
            options,
            version=self.protocol_version,
            size=size,
            setup=setup,
            host_info=host,
            reconnection=self.reconnection_policy,
            on_state=self._on_pool_state,
        )
        self._register_gauges(host)
        return pool

    def _register_gauges(self, host: Host) -> None:
        node = self.metrics.node(node_label(host))
        host_id = host.host_id

        def pools() -> list[HostPool]:
            return [p for s in self.sessions for p in s.pools if p.host_info.host_id == host_id]

        node.add_gauge("in_flight", lambda: sum(p.in_flight for p in pools()))
        node.add_gauge("open_connections", lambda: sum(len(p.connections) for p in pools()))
        node.add_gauge("orphaned_streams", lambda: sum(p.orphaned for p in pools()))
        node.add_gauge("pool_size", lambda: sum(p.size for p in pools()))  # connections each pool keeps open

    async def _negotiate(self, hosts: list[str], errors: dict[str, BaseException]) -> int:
        """The protocol version to use: pinned, or negotiated with the first host that answers."""
        if self.connection.protocol_version is not None:
            self._protocol_version = self.connection.protocol_version
            log.info("using protocol v%d (pinned)", self._protocol_version)
            return self._protocol_version
        for host in hosts:
            try:
                conn = await negotiate(host, self.options)
            except Exception as exc:
                log.info("could not negotiate the protocol with %s: %s: %s", host, type(exc).__name__, exc)
                errors[host] = exc
                continue
            version = conn.version
            await conn.close()
            self._protocol_version = version  # the cluster's state: the user's ConnectionConfig is not changed
            log.info("negotiated protocol v%d with %s", version, host)
            return version
        raise _no_host(errors)

    # -- what the control connection and the pools report -------------------------------------------
    def on_topology(self, hosts: Sequence[Host], partitioner: str | None) -> None:
        """A fresh host list from the control connection: swap the state, add and drop pools."""
        known = {h.address for h in hosts}
        # A contact point the topology does not list (a proxy, a fake server) is still a host we reach.
        extra = [h for h in self._contact_hosts if h.address not in known] if self.contact_points_are_hosts else []
        if not hosts and not extra and self.control is not None and self.control.conn is not None:
            extra = [_stand_in(self.control.conn.host, self.port)]
        before = self._state
        self._set_state(before.with_hosts([*hosts, *extra], new_hosts_up=True).with_partitioner(partitioner))
        self._trust_pools_after_missed_events()
        if before.host_list:
            self._sync_pools(before)
        labels = {node_label(h) for h in self._state.host_list}
        for host in before.host_list:
            if node_label(host) not in labels:  # the host left (or moved): so do its metrics and gauges
                self.metrics.remove_node(node_label(host))

    def on_status(self, address: str, up: bool) -> None:
        """A STATUS_CHANGE event. DOWN: mark the host down. UP: reconnect its pools at once; the host is up
        when one is connected (at once if one still is, or if no session has a pool for it)."""
        # An event from a new control connection: forget the old connection's DOWN reports first, or its
        # first topology refresh (still in flight) would forget this one.
        self._trust_pools_after_missed_events()
        host = self._state.host_at(address)
        if host is None:
            return
        if not up:
            self._down_by_event.add(host.host_id)
            self._mark(host, False)
            return
        self._down_by_event.discard(host.host_id)
        pools = [p for s in self.sessions if not s.is_closed for p in [s._pools.get(host.host_id)] if p is not None]
        if not pools or any(p.is_up for p in pools):
            self._mark(host, True)
        for pool in pools:
            pool.reconnect_now()  # marks the host up when it connects (_on_pool_state)

    def on_schema_change(self, event: SchemaChangeEvent | None) -> None:
        """A SCHEMA_CHANGE event (debounced by the control connection): refresh the metadata of the keyspace
        it names (all of it for ``None``), unless ``schema_event_refresh=False``."""
        if self._closed:
            return
        for session in self.sessions:  # their transparently prepared statements may have stale bind types
            session.on_schema_change(event.keyspace if event is not None else None)
        if not self.schema_metadata or not self.schema_event_refresh:
            return
        # A change that arrives while a refresh runs may come after that refresh read its table: read again.
        self._schema_pending.add(event.keyspace if event is not None else None)
        self._schema_stale = True
        if self._schema_task is None or self._schema_task.done():
            self._schema_task = asyncio.ensure_future(self._refresh_schema_quietly())

    async def _refresh_schema_quietly(self) -> None:
        while self._schema_stale and not self._closed:
            self._schema_stale = False
            pending, self._schema_pending = self._schema_pending, set()
            try:
                if None in pending or len(pending) > 4:
                    await self.refresh_schema()
                else:
                    for keyspace in pending:
                        await self.refresh_schema(keyspace)
            except CqlError as exc:
                log.warning("schema refresh failed: %s", exc)

    def _on_pool_state(self, pool: HostPool, up: bool) -> None:
        # A node shutting down gracefully closes its clients' connections, announces itself DOWN, and keeps
        # accepting connections for a few seconds: a pool that reconnects meanwhile must not make it up
        # again (requests would go to a node that is going away). Its UP event does that; so does a new
        # control connection (events missed). The pool reconnects at once, often before the DOWN event
        # arrives: a connection that replaces a lost one marks the host up only after UP_SETTLE seconds
        # without a DOWN event.
        host_id = pool.host_info.host_id
        loop = asyncio.get_running_loop()
        if not up:
            self._lost_at[host_id] = loop.time()
            self._mark(pool.host_info, False)
            return
        if host_id in self._down_by_event:
            return
        lost = self._lost_at.get(host_id)
        wait = 0.0 if lost is None else lost + UP_SETTLE - loop.time()
        if wait > 0:
            loop.call_later(wait, self._confirm_up, pool)
            return
        self._mark(pool.host_info, True)

    def _confirm_up(self, pool: HostPool) -> None:
        if not self._closed and pool.is_up and pool.host_info.host_id not in self._down_by_event:
            self._mark(pool.host_info, True)

    def _trust_pools_after_missed_events(self) -> None:
        """On a new control connection, forget DOWN reports (their UP may have been missed): a host whose
        pool is connected is up again."""
        control = self.control
        conn = control.conn if control is not None else None
        if conn is self._events_from:
            return
        self._events_from = conn
        stale, self._down_by_event = self._down_by_event, set()
        for session in self.sessions:
            for host_id in stale:
                pool = session._pools.get(host_id)
                if pool is not None and pool.is_up:
                    self._mark(pool.host_info, True)

    def _mark(self, host: Host, up: bool) -> None:
        if self._state.get_host(host.host_id) is None:
            return
        self._set_state(self._state.with_host_up(host.host_id) if up else self._state.with_host_down(host.host_id))

    def _sync_pools(self, before: ClusterState) -> None:
        """After a topology change: pools for new hosts, none for removed or ignored ones."""
        for session in self.sessions:
            if session.is_closed:
                continue
            wanted = {h.host_id: h for h in self._state.host_list}
            by_endpoint = {(h.address, h.port): h for h in wanted.values() if h.host_id not in session._pools}
            for host_id, current in list(session._pools.items()):
                host = wanted.get(host_id)
                real = by_endpoint.get((current.host, current.options.port))
                if (
                    host is None
                    and real is not None
                    and host_id == _stand_in(current.host, current.options.port).host_id
                ):
                    # A contact point known by a stand-in identity now has its own (its system.local was read,
                    # e.g. by a control connection that moved there): keep its connected pool under that id.
                    pool = session.remove_pool(host_id)
                    if pool is not None:
                        pool.host_info = real
                        session.add_pool(pool)
                        if pool.is_up:
                            self._mark(real, True)
                    continue
                # The same node at a new address (restarted with a new IP, or a translation changed): its
                # pool is replaced; a node that comes back elsewhere has restarted, so its DOWN is stale.
                moved = host is not None and (current.host, current.options.port) != (host.address, host.port)
                if moved:
                    log.info("host %s moved from %s to %s", host_id, current.host, host.address if host else "?")
                    self._down_by_event.discard(host_id)
                if (
                    host is None
                    or moved
                    or self.load_balancing_policy.distance(host, self._state) is HostDistance.IGNORED
                ):
                    pool = session.remove_pool(host_id)
                    if pool is not None:
                        self._spawn(pool.close())
            for host_id, host in wanted.items():
                if host_id in session._pools:
                    continue
                pool = self._make_pool(host, session._setup)
                if pool is not None:
                    session.add_pool(pool)
                    self._spawn(_open_or_reconnect(pool))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._opening.add(task)
        task.add_done_callback(self._opening.discard)

    # -- schema ---------------------------------------------------------------------------------------
    async def refresh_schema(
        self, keyspace: str | None = None, table: str | None = None, *, schema_agreement_wait: float | None = 0.0
    ) -> None:
        """Read the schema again now and replace :attr:`metadata` (and the token map's replication): all of
        it, or only ``keyspace`` (and in it only ``table``, a table or view). ``schema_agreement_wait``
        (seconds; ``None``: the cluster's ``schema_agreement_wait``) first waits for every node up to agree on
        the schema version (cassandra-driver's ``max_schema_agreement_wait``); by default it reads at once.

        Example:
            >>> await cluster.refresh_schema()  # doctest: +SKIP
            >>> await cluster.refresh_schema("ks", "t", schema_agreement_wait=None)  # doctest: +SKIP
            >>> sorted(cluster.metadata)  # doctest: +SKIP
        """
        control = self.control
        if control is None or control.conn is None:
            raise ConnectionClosed("no control connection: the schema cannot be read now")
        conn = control.conn
        wait = self.defaults.schema_agreement_wait if schema_agreement_wait is None else schema_agreement_wait
        if wait > 0:
            state = self._state

            def is_down(host_id: uuid.UUID) -> bool:
                return state.get_host(host_id) is not None and not state.is_up(host_id)

            if not await wait_for_schema_agreement(conn, wait, is_down=is_down, peers_table=control.peers_table):
                log.warning("schema refresh: the nodes did not agree on a schema version within %ss", wait)
        refreshed = await refreshed_state(conn, self._state, keyspace, table)
        # Only the schema comes from the read: hosts may have changed while it ran.
        self._state = self._state.with_keyspaces(refreshed.keyspaces)

    async def refresh_keyspace_metadata(self, keyspace: str) -> None:
        """Read one keyspace again (its tables, views, types, functions and aggregates).

        Example:
            >>> await cluster.refresh_keyspace_metadata("ks")  # doctest: +SKIP
        """
        await self.refresh_schema(keyspace)

    async def refresh_table_metadata(self, keyspace: str, table: str) -> None:
        """Read one table (or materialized view) again.

        Example:
            >>> await cluster.refresh_table_metadata("ks", "t")  # doctest: +SKIP
        """
        await self.refresh_schema(keyspace, table)

    async def refresh_user_type_metadata(self, keyspace: str, user_type: str) -> None:
        """Read a user type again (with its keyspace: types may use one another).

        Example:
            >>> await cluster.refresh_user_type_metadata("ks", "address")  # doctest: +SKIP
        """
        await self.refresh_schema(keyspace)

    async def refresh_user_function_metadata(self, keyspace: str, signature: str) -> None:
        """Read a user function (or aggregate) again, with its keyspace.

        Example:
            >>> await cluster.refresh_user_function_metadata("ks", "plus(int, int)")  # doctest: +SKIP
        """
        await self.refresh_schema(keyspace)

    # -- closing --------------------------------------------------------------------------------------
    async def close(self) -> None:
        """Close every session and the control connection. Closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        for task in [self._schema_task, *self._opening]:
            if task is not None:
                task.cancel()
        if self.control is not None:
            await self.control.close()
        await asyncio.gather(*(s.close() for s in self.sessions), return_exceptions=True)

    shutdown = close  # cassandra-driver's name

    #: The classes user types decode to (replaced whole by :meth:`register_user_type`).
    udt_classes: UdtClasses = NO_UDT_CLASSES

    def register_user_type(self, keyspace: str, user_type: str, klass: type[Any]) -> None:
        """Decode values of user type ``keyspace.user_type`` as instances of ``klass`` (cassandra-driver's
        ``register_user_type``), in every session of this cluster, wherever they appear: a column, inside a
        list, set, map, tuple or another user type. Results read after this call use the class.

        ``klass`` is a dataclass or NamedTuple with a field per UDT field (by name), or any class whose
        ``__init__`` takes the fields as keyword arguments (or ``**fields``). It is checked against the
        type's fields once, when the first result containing it is decoded (and now, if the schema
        metadata already knows the type): a UDT field the class cannot take, or a required argument
        that is not a UDT field, raises :class:`aiocql.InvalidValueError` naming them. Writes accept
        instances of the class as they accept any object with the fields as attributes. Names are the
        schema's (lower case unless created quoted). :meth:`aiocql.Session.register_user_type` does
        the same for one session.

        Example:
            >>> @dataclass
            ... class Address:
            ...     street: str
            ...     zip: int
            >>> cluster.register_user_type("shop", "address", Address)  # doctest: +SKIP
            >>> row = (await session.execute("SELECT home FROM shop.users WHERE id = 1")).one()  # doctest: +SKIP
            >>> row.home  # doctest: +SKIP
            Address(street='Main St', zip=12345)
        """
        classes = self.udt_classes.with_class(keyspace, user_type, klass)
        known = self._state.keyspaces.get(keyspace)
        udt = known.user_types.get(user_type) if known is not None else None
        if udt is not None:
            check_class(udt.cql_type, klass)  # early feedback; decoding checks again per type version
        self.udt_classes = classes

    async def __aenter__(self) -> Cluster:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<Cluster {self.contact_points} port={self.port} v{self.protocol_version or '?'}>"


_CHANGE_WORDS = {"on_add": "added", "on_remove": "removed", "on_up": "is up", "on_down": "is down"}


def _stand_in(address: str, port: int, datacenter: str | None = None) -> Host:
    """A host for a node whose system tables give no identity (a proxy or a minimal fake server)."""
    return Host(uuid.uuid5(uuid.NAMESPACE_URL, f"cql://{address}:{port}"), address, port, datacenter)


def _with_port(options: ConnectionOptions, port: int) -> ConnectionOptions:
    import dataclasses

    return dataclasses.replace(options, port=port)


async def _open_or_reconnect(pool: HostPool) -> None:
    try:
        await pool.open()
    except Exception:  # the new host is not reachable yet: keep trying in the background
        pool.reconnect_now()
