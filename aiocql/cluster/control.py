"""The control connection: topology, events and schema from one node.

One connection (besides the request pools) reads ``system.local`` and ``system.peers_v2`` (falling back to
``system.peers`` on servers without it), registers for TOPOLOGY_CHANGE, STATUS_CHANGE and SCHEMA_CHANGE
events, and reports what it learns to its owner through callbacks. Events are debounced: a burst of events
causes one refresh. When its node fails it moves to another known host, waiting between rounds as the
cluster's :class:`~aiocql.policies.reconnection.ReconnectionPolicy` says (:meth:`ControlConnection.wake`
ends a wait early: a host is reachable again).

Example:
    >>> control = ControlConnection(options, version=5, listener=cluster)  # doctest: +SKIP
    >>> await control.connect(["127.0.0.1"])  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol

from aiocql.connection.connection import Connection, ConnectionOptions
from aiocql.errors import CqlError, NoHostAvailable
from aiocql.model.host import Host
from aiocql.policies.address_translation import AddressTranslator
from aiocql.policies.reconnection import ExponentialReconnectionPolicy, ReconnectionPolicy
from aiocql.protocol.constants import EventType, StatusChangeType
from aiocql.protocol.envelope import Envelope
from aiocql.protocol.events import Event, SchemaChangeEvent, StatusChangeEvent, TopologyChangeEvent
from aiocql.protocol.requests import Register
from aiocql.protocol.responses import decode_response
from aiocql.session.internal import PEERS_TABLES, query_peers, query_rows, send

log = logging.getLogger("aiocql.cluster")

# SELECT *: the columns differ between versions (peers_v2 has native_port, local has rpc_port, ...).
LOCAL_QUERY = "SELECT * FROM system.local WHERE key='local'"


class ControlListener(Protocol):
    """What the control connection tells its owner (the cluster)."""

    def on_topology(self, hosts: Sequence[Host], partitioner: str | None) -> None:
        """The full, fresh list of hosts (after connect and after each topology refresh)."""
        ...

    def on_status(self, address: str, up: bool) -> None:
        """A node's native transport went up or down (a STATUS_CHANGE event)."""
        ...

    def on_schema_change(self, event: SchemaChangeEvent | None) -> None:
        """The schema changed (``None``: refresh everything, e.g. after a reconnect)."""
        ...


def _address(value: object) -> str | None:
    if value is None:
        return None
    text = str(value)
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(text).is_unspecified:
            return None  # 0.0.0.0: the node listens everywhere; its peer address is used instead
    return text


def host_from_row(row: dict[str, Any], *, local: bool, connected_address: str, default_port: int) -> Host | None:
    """Turn one ``system.local`` / ``system.peers(_v2)`` row into a :class:`Host` (None if incomplete)."""
    host_id = row.get("host_id")
    if not isinstance(host_id, uuid.UUID):
        return None
    address: str | None
    if local:
        address = connected_address
        port = default_port
    else:
        address = _address(row.get("native_address")) or _address(row.get("rpc_address")) or _address(row.get("peer"))
        port = row.get("native_port") or default_port
    if address is None:
        return None
    tokens = tuple(sorted(int(t) for t in (row.get("tokens") or ())))
    return Host(
        host_id=host_id,
        address=address,
        port=int(port),
        datacenter=row.get("data_center"),
        rack=row.get("rack"),
        tokens=tokens,
        release_version=row.get("release_version"),
        **_details(row, local),
    )


def _port(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _details(row: dict[str, Any], local: bool) -> dict[str, Any]:
    """The node's own addresses and ports (system.local and system.peers_v2 name them differently)."""
    if local:
        return {
            "broadcast_address": _address(row.get("broadcast_address")),
            "broadcast_port": _port(row.get("broadcast_port")),
            "broadcast_rpc_address": _address(row.get("rpc_address")),
            "broadcast_rpc_port": _port(row.get("rpc_port")),
            "listen_address": _address(row.get("listen_address")),
            "listen_port": _port(row.get("listen_port")),
        }
    return {
        "broadcast_address": _address(row.get("peer")),
        "broadcast_port": _port(row.get("peer_port")),
        "broadcast_rpc_address": _address(row.get("native_address")) or _address(row.get("rpc_address")),
        "broadcast_rpc_port": _port(row.get("native_port")),
    }


class ControlConnection:
    """Keeps one connection to some node for metadata and events (see the module docs)."""

    def __init__(
        self,
        options: ConnectionOptions,
        *,
        version: int,
        listener: ControlListener,
        debounce: float = 0.2,
        reconnection: ReconnectionPolicy | None = None,
        translator: AddressTranslator | None = None,
        resolve_contact_points: Callable[[], Awaitable[list[str]]] | None = None,
    ) -> None:
        self.options = options
        self.version = version
        self.listener = listener
        self.debounce = debounce
        # Delays between reconnection rounds (every known host and contact point tried once per round).
        self.reconnection: ReconnectionPolicy = reconnection or ExponentialReconnectionPolicy(1.0, 30.0)
        # Peers' announced addresses -> where to reach them (NAT, proxies); None: as announced.
        self.translator = translator
        # Resolves the contact points again (their addresses may have changed) when no host answers.
        self.resolve_contact_points = resolve_contact_points
        self.conn: Connection | None = None
        self.hosts: tuple[Host, ...] = ()
        self.peers_table = PEERS_TABLES[0]  # system.peers on a server without system.peers_v2
        self.cluster_name: str | None = None  # system.local.cluster_name, once read
        self._pending_topology = False
        self._pending_schema: list[SchemaChangeEvent | None] = []
        self._refresh_task: asyncio.Task[None] | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None  # set to end the current back-off wait early
        self._contact_points: list[str] = []  # where connect() was first told to look
        self._connecting = False
        self._lost: str | None = None  # the node the connection was lost from (tried last when reconnecting)
        self._closed = False

    @property
    def address(self) -> str | None:
        """The node the control connection is on."""
        return self.conn.host if self.conn is not None else None

    @property
    def contact_addresses(self) -> tuple[str, ...]:
        """The addresses the control connection looks for a node at when it has none left to try: the
        contact points as resolved (every address of a name, in its order), resolved again when no
        known host answers; empty before the first connect.

        Example:
            >>> cluster.control.contact_addresses  # doctest: +SKIP
            ('127.0.0.1',)
        """
        return tuple(self._contact_points)

    @property
    def refreshing(self) -> bool:
        """True while a refresh (topology, or schema events passed on after the debounce) is running.

        Example:
            >>> cluster.control.refreshing  # doctest: +SKIP
            False
        """
        return self._refresh_task is not None and not self._refresh_task.done()

    @property
    def events_pending(self) -> bool:
        """True while schema-change events wait for the next (debounced) refresh to pass them on.

        Example:
            >>> cluster.control.events_pending  # doctest: +SKIP
            False
        """
        return bool(self._pending_schema)

    @property
    def reconnecting(self) -> bool:
        """True while the control connection reconnects on the reconnection policy's schedule.

        Example:
            >>> cluster.control.reconnecting  # doctest: +SKIP
            False
        """
        return self._reconnect_task is not None and not self._reconnect_task.done()

    async def connect(self, candidates: Iterable[str]) -> None:
        """Connect to the first candidate that answers, register for events and read the topology."""
        errors: dict[str, BaseException] = {}
        candidates = list(dict.fromkeys(candidates))
        if not self._contact_points:
            self._contact_points = candidates
        self._connecting = True
        try:
            for address in candidates:
                try:
                    await self._open(address)
                    return
                except (CqlError, OSError) as exc:
                    errors[address] = exc
        finally:
            self._connecting = False
        raise NoHostAvailable("the control connection could not reach any host", errors)

    async def _open(self, address: str) -> None:
        opened: list[Connection] = []

        def lost(exc: BaseException | None) -> None:
            # Only the loss of the live control connection counts: a candidate that fails while being set
            # up is connect()'s to handle (it tries the next one), and its callback, late or not, must not
            # start a second control connection or clobber the one that replaced it.
            if opened and opened[0] is self.conn and not self._connecting:
                self._on_lost(exc)

        conn = await Connection.open(
            address, self.options, version=self.version, on_event=self._on_event_envelope, on_lost=lost
        )
        opened.append(conn)
        try:
            await send(conn, Register((EventType.TOPOLOGY_CHANGE, EventType.STATUS_CHANGE, EventType.SCHEMA_CHANGE)))
            self.conn = conn
            await self.refresh_topology()
        except BaseException:
            self.conn = None
            conn.abort()
            raise

    async def refresh_topology(self) -> tuple[Host, ...]:
        """Read system.local and the peers table now and report the hosts to the listener."""
        conn = self.conn
        if conn is None:
            return self.hosts
        local_rows = await query_rows(conn, LOCAL_QUERY)
        peer_rows, self.peers_table = await query_peers(conn, table=self.peers_table)
        port = self.options.port
        hosts = [host_from_row(r, local=True, connected_address=conn.host, default_port=port) for r in local_rows]
        peers = [host_from_row(r, local=False, connected_address=conn.host, default_port=port) for r in peer_rows]
        hosts += [self._translated(h) for h in peers if h is not None]
        self.hosts = tuple(h for h in hosts if h is not None)
        partitioner = local_rows[0].get("partitioner") if local_rows else None
        name = local_rows[0].get("cluster_name") if local_rows else None
        self.cluster_name = name if isinstance(name, str) else self.cluster_name
        self.listener.on_topology(self.hosts, partitioner if isinstance(partitioner, str) else None)
        return self.hosts

    def _translated(self, host: Host) -> Host:
        if self.translator is None:
            return host
        address, port = self.translator.translate(host.address, host.port)
        if (address, port) == (host.address, host.port):
            return host
        return dataclasses.replace(host, address=address, port=port)

    # -- events ---------------------------------------------------------------------------------------
    def _on_event_envelope(self, envelope: Envelope) -> None:
        try:
            event = decode_response(envelope, self.version)
        except CqlError as exc:
            log.warning("undecodable event from %s: %s", self.address, exc)
            return
        if isinstance(event, Event):
            self.handle_event(event)

    def handle_event(self, event: Event) -> None:
        """React to one server event: status changes at once, topology and schema debounced."""
        if isinstance(event, StatusChangeEvent):
            address = str(event.address[0])
            if self.translator is not None:  # the event names the node as it announces itself
                address = self.translator.translate(address, int(event.address[1]))[0]
            self.listener.on_status(address, event.change is StatusChangeType.UP)
            self._pending_topology = True  # an UP node may have new tokens or a new address
        elif isinstance(event, TopologyChangeEvent):
            self._pending_topology = True
        elif isinstance(event, SchemaChangeEvent):
            self._pending_schema.append(event)
        self._schedule_refresh()

    def _schedule_refresh(self) -> None:
        if self._closed or (self._refresh_task is not None and not self._refresh_task.done()):
            return
        self._refresh_task = asyncio.ensure_future(self._debounced_refresh())

    async def _debounced_refresh(self) -> None:
        await asyncio.sleep(self.debounce)  # let a burst of events settle into one refresh
        topology, self._pending_topology = self._pending_topology, False
        schema, self._pending_schema = self._pending_schema, []
        if topology:
            try:
                await self.refresh_topology()
            except CqlError as exc:
                log.warning("topology refresh on %s failed: %s", self.address, exc)
        if schema:
            self.listener.on_schema_change(schema[0] if len(schema) == 1 else None)

    # -- failure and close ----------------------------------------------------------------------------
    def _on_lost(self, exc: BaseException | None) -> None:
        if self._closed:
            return
        if self.conn is not None:
            self._lost = self.conn.host
        self.conn = None
        if self._reconnect_task is None or self._reconnect_task.done():
            self._reconnect_task = asyncio.ensure_future(self._reconnect())

    def wake(self) -> None:
        """A host is reachable again (a pool connected): if the control connection is lost, try now
        instead of waiting out the back-off, or start again if the reconnection policy had given up."""
        if self._closed or self.conn is not None or self._connecting or not self._contact_points:
            return
        if self._reconnect_task is not None and not self._reconnect_task.done():
            if self._wake is not None:
                self._wake.set()
            return
        self._reconnect_task = asyncio.ensure_future(self._reconnect())

    async def _reconnect(self) -> None:
        schedule = self.reconnection.new_schedule()
        while not self._closed and self.conn is None:
            # Every known host, then the contact points (the peers tables may list nobody, e.g. behind a
            # proxy); the node just lost comes last, so a dead node does not hold up the move.
            known = list(dict.fromkeys([*(h.address for h in self.hosts), *self._contact_points]))
            candidates = [a for a in known if a != self._lost] + [a for a in known if a == self._lost]
            try:
                await self.connect(candidates)
                self.listener.on_schema_change(None)
                return
            except NoHostAvailable as exc:
                if await self._try_resolved_again(candidates):
                    return
                delay = next(schedule, None)
                if delay is None:
                    log.error("control connection: %s; the reconnection policy gave up: trying again once a "
                              "host is reachable", exc)  # fmt: skip
                    return
                log.warning("control connection: %s; retrying in %.1fs", exc, delay)
                self._wake = asyncio.Event()
                try:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(delay):
                            await self._wake.wait()
                finally:
                    self._wake = None

    async def _try_resolved_again(self, tried: list[str]) -> bool:
        """No known host answered: resolve the contact points again (a Kubernetes service whose pods all
        restarted has new addresses) and try the addresses not tried yet. True when connected."""
        if self.resolve_contact_points is None:
            return False
        try:
            fresh = await self.resolve_contact_points()
        except CqlError as exc:
            log.warning("control connection: the contact points do not resolve: %s", exc)
            return False
        if fresh:
            self._contact_points = list(dict.fromkeys(fresh))
        new = [a for a in fresh if a not in tried]
        if not new:
            return False
        log.info("control connection: contact points resolve to new addresses %s", new)
        try:
            await self.connect(new)
        except NoHostAvailable:
            return False
        self.listener.on_schema_change(None)
        return True

    async def close(self) -> None:
        """Close the control connection and stop its background tasks."""
        self._closed = True
        current = asyncio.current_task()
        try:
            for task in (self._refresh_task, self._reconnect_task):
                if task is not None and task is not current:  # never the task close() itself runs in
                    task.cancel()
                    # asyncio.wait, not ``await task``: the task's own end (cancelled, failed) is not this
                    # caller's, but a cancel of this caller must propagate at once (cancellation contract).
                    await asyncio.wait([task])
                    if not task.cancelled():
                        task.exception()  # retrieved: a failed refresh is not logged as never retrieved
        except asyncio.CancelledError:
            if self.conn is not None:  # cancelled mid-close: the socket still closes, without waiting
                self.conn.abort()
                self.conn = None
            raise
        if self.conn is not None:
            await self.conn.close(timeout=1.0)
            self.conn = None
