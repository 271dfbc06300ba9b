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
from aiocql.cluster.contact_points import no_host_error, resolve_contact_points
from aiocql.cluster.control import ControlConnection
from aiocql.cluster.hosts import ClusterHosts, HostStateListener
from aiocql.cluster.schema_refresh import refreshed_state
from aiocql.connection.auth import AuthProvider
from aiocql.connection.config import ConnectionConfig, ConnectionOptions
from aiocql.connection.connection import Connection, negotiate
from aiocql.errors import (
    ConfigurationError,
    ConnectionClosed,
    CqlError,
    InvalidValueError,
    NoHostAvailable,
)
from aiocql.metrics.nodes import Metrics
from aiocql.metrics.trackers import CompositeTracker, MetricsTracker, RequestTracker
from aiocql.model.host import Host, HostDistance
from aiocql.model.host_status import stand_in
from aiocql.model.metadata import ClusterMetadata
from aiocql.model.state import ClusterState
from aiocql.net.resolver import DnsResolver, Resolver
from aiocql.policies.address_translation import AddressTranslator
from aiocql.policies.load_balancing import LoadBalancingPolicy
from aiocql.policies.reconnection import ReconnectionPolicy
from aiocql.policies.retry import RetryPolicy
from aiocql.policies.speculative import SpeculativeExecutionPolicy
from aiocql.pool.config import PoolConfig
from aiocql.pool.host_pool import HostPool, SetupHook
from aiocql.protocol.constants import Consistency
from aiocql.protocol.events import SchemaChangeEvent
from aiocql.results import RowFactory
from aiocql.session.profiles import EXEC_PROFILE_DEFAULT, ExecutionProfile, ResolvedProfile, as_profile
from aiocql.session.schema_agreement import wait_for_schema_agreement
from aiocql.session.session import Session, SessionDefaults, use_keyspace
from aiocql.types.udt_classes import NO_UDT_CLASSES, UdtClasses, check_class
from aiocql.validation import NoPaging

log = logging.getLogger("aiocql.cluster")  # one logger per layer: aiocql.cluster

__all__ = ["Cluster", "HostStateListener"]


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
        # Hosts, their status and pools; ClusterState is published from them.
        self._hosts = ClusterHosts(make_pool=self._make_pool, distance=self.load_balancing_policy.distance,
                                   metrics=self.metrics, on_pool_connected=self._pool_connected)  # fmt: skip
        self._contact_hosts: list[Host] = []
        self._init_lock: asyncio.Lock | None = None
        self._schema_task: asyncio.Task[None] | None = None
        self._schema_stale = False  # a schema event came in since the running refresh started
        self._schema_pending: set[str | None] = set()  # keyspaces those events named (None: everything)
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
        return self._hosts.state

    @property
    def _state(self) -> ClusterState:
        return self._hosts.state

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

    def reported_down(self, host: Host) -> bool:
        """Whether the server reported ``host`` DOWN and not UP since (a pool reconnecting does not make it up).

        Example: ``cluster.reported_down(cluster.hosts[0])``, False unless a STATUS_CHANGE DOWN came."""
        return self._hosts.status.down_by_event(host.host_id)

    def add_listener(self, listener: HostStateListener) -> None:
        """Call ``listener``'s ``on_add`` / ``on_remove`` / ``on_up`` / ``on_down`` on every host change."""
        self._hosts.listeners.append(listener)

    def remove_listener(self, listener: HostStateListener) -> None:
        """Stop telling ``listener`` about host changes (unknown listeners are ignored)."""
        with contextlib.suppress(ValueError):
            self._hosts.listeners.remove(listener)

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

        # The session's pools are the cluster's (its registry) from the start: a topology change while they
        # open reaches them too. A pool that cannot connect reports it (its host goes down).
        pool_set = self._hosts.registry.new_set(setup)
        pools = [p for p in (self._make_pool(h, setup) for h in self._ordered_hosts()) if p is not None]
        for pool in pools:
            self._hosts.registry.add(pool_set, pool)
        errors: dict[str, BaseException] = {}
        live: list[HostPool] = []
        try:
            results = await asyncio.gather(*(p.open() for p in pools), return_exceptions=True)
        except BaseException:  # cancelled: pools already open must not leak their connections
            pool_set.abort()
            raise
        for pool, result in zip(pools, results, strict=True):
            if isinstance(result, BaseException):
                errors[pool.host] = result
                pool.reconnect_now()  # keeps trying in the background with the reconnection policy
            else:
                live.append(pool)
        if not live:
            pool_set.abort()
            raise no_host_error(errors)
        log.info("session connected to %d of %d hosts (keyspace %s)", len(live), len(pools), keyspace)
        session = Session(pool_set, self.defaults, keyspace, cluster=self)
        made.append(session)
        self.sessions = [s for s in self.sessions if not s.is_closed]
        self.sessions.append(session)
        return session

    async def _init(self) -> None:
        """Resolve contact points, pick the protocol version, open the control connection, read schema."""
        errors: dict[str, BaseException] = {}
        addresses = await self._resolve_contact_points(errors)
        if not addresses:
            raise no_host_error(errors)
        version = await self._negotiate(addresses, errors)
        control = ControlConnection(
            self.options,
            version=version,
            listener=self,
            reconnection=self.reconnection_policy,
            translator=self.address_translator,
            resolve_contact_points=self._resolve_again,
        )
        self.control = control
        try:
            try:
                await control.connect(addresses)
            except NoHostAvailable as exc:
                raise no_host_error({**errors, **exc.errors}) from None
            found = {h.address: h for h in self._state.host_list}
            # Assumed to sit in the control node's datacenter: nothing else is known about them.
            dc = next((h.datacenter for h in self._state.host_list if h.address == control.address), None)
            if self.contact_points_are_hosts:
                self._contact_hosts = [found.get(a) or stand_in(a, self.port, dc) for a in addresses]
            else:  # contact points are where discovery starts; the hosts are the ring's members
                self._contact_hosts = [found[a] for a in addresses if a in found]
            missing = [h for h in self._contact_hosts if h.address not in found]
            if missing:  # contact points the topology does not list, kept as hosts (proxies, fake servers)
                self._hosts.set_topology([*self._state.host_list, *missing], self._state.partitioner)
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
        return await resolve_contact_points(self.resolver, self.contact_points, errors, self._point_names)

    async def _resolve_again(self) -> list[str]:
        """The contact points' current addresses (for a control connection that lost every known host)."""
        errors: dict[str, BaseException] = {}
        addresses = await self._resolve_contact_points(errors)
        if not addresses:
            raise no_host_error(errors)
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

    def _make_pool(self, host: Host, setup: SetupHook | None) -> HostPool | None:
        distance = self.load_balancing_policy.distance(host, self._state)
        if distance is HostDistance.IGNORED:
            return None
        assert self.protocol_version is not None
        size = self.connections_per_host if distance is HostDistance.LOCAL else self.remote_connections_per_host
        options = self.options if host.port == self.port else dataclasses.replace(self.options, port=host.port)
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
            on_connectivity=self._hosts.on_connectivity,
        )
        return pool

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
        raise no_host_error(errors)

    # -- what the control connection and the pools report -------------------------------------------
    def on_topology(self, hosts: Sequence[Host], partitioner: str | None) -> None:
        """A fresh host list from the control connection (the contact points kept as hosts when asked)."""
        known = {h.address for h in hosts}
        # A contact point the topology does not list (a proxy, a fake server) is still a host we reach.
        extra = [h for h in self._contact_hosts if h.address not in known] if self.contact_points_are_hosts else []
        conn = self.control.conn if self.control is not None else None
        if not hosts and not extra and conn is not None:
            extra = [stand_in(conn.host, self.port)]
        self._hosts.control_connection(conn)
        self._hosts.set_topology([*hosts, *extra], partitioner)

    def on_status(self, address: str, up: bool) -> None:
        """A STATUS_CHANGE event: the host-status machine decides (aiocql.model.host_status)."""
        # An event from a new control connection: forget the old connection's DOWN reports first, or its
        # first topology refresh (still in flight) would forget this one.
        self._hosts.control_connection(self.control.conn if self.control is not None else None)
        self._hosts.server_status(address, up)

    def _pool_connected(self) -> None:
        if self.control is not None:  # a host is reachable: a lost control connection tries it now
            self.control.wake()

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

    @property
    def refreshing_schema(self) -> bool:
        """True while the schema metadata is refreshed after schema-change events.

        Example:
            >>> cluster.refreshing_schema  # doctest: +SKIP
            False
        """
        return self._schema_task is not None and not self._schema_task.done()

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
        self._hosts.state = self._state.with_keyspaces(refreshed.keyspaces)

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
        self._hosts.close()
        if self._schema_task is not None:
            self._schema_task.cancel()
        try:
            if self.control is not None:
                await self.control.close()
            await asyncio.gather(*(s.close() for s in self.sessions), return_exceptions=True)
        except BaseException:  # cancelled, maybe before a session's close ran: abort what is still open
            if self.control is not None and self.control.conn is not None:
                self.control.conn.abort()
            for session in self.sessions:
                session.abort()
            raise

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
            >>> from dataclasses import dataclass
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
