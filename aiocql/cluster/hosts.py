"""The cluster's hosts: their status (one :class:`~aiocql.model.host_status.HostStatus` machine), their pools
(one :class:`~aiocql.pool.registry.PoolRegistry`), the :class:`ClusterState` published from both, and the
:class:`HostStateListener` objects told of every change.

:class:`ClusterHosts` turns what happens into the machine's inputs (a topology read, a STATUS_CHANGE
event, a new control connection, what a pool reports) and carries out the actions the machine returns
(open, close or re-key pools, reconnect them now, wake it at a time); it decides nothing itself.

Example:
    >>> hosts = ClusterHosts(make_pool=lambda host, setup: None, distance=lambda host, state: HostDistance.LOCAL,
    ...                      metrics=Metrics())
    >>> hosts.state.host_list
    ()
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Hashable, Sequence
from typing import Any, Protocol

from aiocql.metrics.nodes import Metrics
from aiocql.metrics.operations import node_label
from aiocql.model.host import Host, HostDistance
from aiocql.model.host_status import Action, ClosePool, HostStatus, OpenPool, ReconnectNow, RekeyPool, WakeAt
from aiocql.model.state import ClusterState
from aiocql.pool.host_pool import Connectivity, HostPool, SetupHook
from aiocql.pool.registry import PoolRegistry, SessionPools

__all__ = ["ClusterHosts", "HostStateListener"]

log = logging.getLogger("aiocql.cluster")

PoolMaker = Callable[[Host, "SetupHook | None"], "HostPool | None"]


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


_CHANGE_WORDS = {"on_add": "added", "on_remove": "removed", "on_up": "is up", "on_down": "is down"}


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


class StatusClock(Protocol):
    """What the host-status machine's timers run on: the event loop (the default) is one, and so is
    :class:`aiocql.testing.clock.ManualClock`, which a test steps instead of sleeping."""

    def time(self) -> float:
        """The current time, in seconds."""

    def call_at(self, when: float, callback: Callable[[], None], /) -> object:
        """Call ``callback()`` once :meth:`time` reads ``when`` or later."""


class ClusterHosts:
    """The hosts of one cluster, their status and their pools (see the module docs).

    ``make_pool(host, setup)`` builds a host's pool for one session (``None``: none for it);
    ``distance(host, state)`` is the load-balancing policy's (IGNORED hosts get no pool);
    ``on_pool_connected`` is called whenever a pool has a connection again (the control connection
    takes it as a sign to stop waiting out its back-off).

    Example:
        >>> hosts = ClusterHosts(make_pool=lambda host, setup: None, distance=lambda host, state: HostDistance.LOCAL,
        ...                      metrics=Metrics())
        >>> hosts.registry.sets, hosts.status.up
        ([], frozenset())
    """

    def __init__(
        self,
        *,
        make_pool: PoolMaker,
        distance: Callable[[Host, ClusterState], HostDistance],
        metrics: Metrics,
        on_pool_connected: Callable[[], None] | None = None,
        clock: Callable[[], float] = _loop_time,
    ) -> None:
        self.state = ClusterState.create()
        self.status = HostStatus(clock)
        self.registry = PoolRegistry(on_added=self._pool_added, on_closed=self._pool_closed)
        self.listeners: list[HostStateListener] = []
        self.metrics = metrics
        self._make_pool = make_pool
        self._distance = distance
        self._on_pool_connected = on_pool_connected
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        self._timers: StatusClock | None = None  # None: the running loop

    def use_clock(self, clock: StatusClock) -> None:
        """Read the time and run the status machine's timers on ``clock`` instead of the event loop."""
        self.status.clock = clock.time
        self._timers = clock

    # -- inputs ---------------------------------------------------------------------------------------
    def set_topology(self, hosts: Sequence[Host], partitioner: str | None) -> None:
        """A fresh host list (from the control connection, with the contact points kept as hosts)."""
        before = self.state
        state = before.with_hosts(hosts, new_hosts_up=True).with_partitioner(partitioner)
        ignored = {h.host_id for h in state.host_list if self._distance(h, state) is HostDistance.IGNORED}
        actions = self.status.topology(state.host_list, ignored)
        self._publish(state)
        self._carry_out(actions)
        labels = {node_label(h) for h in self.state.host_list}
        for host in before.host_list:
            if node_label(host) not in labels:  # the host left (or moved): so do its metrics and gauges
                self.metrics.remove_node(node_label(host))

    def control_connection(self, key: Hashable | None) -> None:
        """Events and topology now come on the control connection ``key`` (a new one may have missed some)."""
        self._handle(self.status.control_connection(key))

    def server_status(self, address: str, up: bool) -> None:
        """A STATUS_CHANGE event for the host at ``address`` (unknown addresses are ignored)."""
        host = self.state.host_at(address)
        if host is not None:
            self._handle(self.status.server_up(host.host_id) if up else self.status.server_down(host.host_id))

    def on_connectivity(self, pool: HostPool, event: Connectivity) -> None:
        """What a pool reports (its ``on_connectivity`` hook)."""
        host_id = pool.host_info.host_id
        if event is Connectivity.CONNECTED:
            self._handle(self.status.pool_connected(host_id, pool))
            if self._on_pool_connected is not None:
                self._on_pool_connected()
        elif event is Connectivity.LOST:
            self._handle(self.status.pool_lost(host_id, pool))
        else:
            self._handle(self.status.pool_failed(host_id, pool))

    def _tick(self) -> None:
        if not self._closed:
            self._handle(self.status.tick())

    def _pool_added(self, pool: HostPool) -> None:
        self.status.pool_added(pool.host_info.host_id, pool)
        self._register_gauges(pool.host_info)

    def _pool_closed(self, pool: HostPool) -> None:
        self.status.pool_closed(pool.host_info.host_id, pool)

    # -- outputs --------------------------------------------------------------------------------------
    def _handle(self, actions: list[Action]) -> None:
        self._publish(self.state)
        self._carry_out(actions)

    def _publish(self, state: ClusterState) -> None:
        """Publish ``state`` with the machine's up set, telling the listeners what changed."""
        up = self.status.up
        for host_id in state.up - up:
            state = state.with_host_down(host_id)
        for host_id in up - state.up:
            state = state.with_host_up(host_id)
        self.set_state(state)

    def _carry_out(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, OpenPool):
                for pools in self.registry.sets:
                    self.open_pool(pools, action.host)
            elif isinstance(action, ClosePool):
                for pool in self.registry.remove(action.host_id):
                    self.spawn(pool.close())
            elif isinstance(action, RekeyPool):
                log.info("host %s is known by its real id %s now: its pools are kept", action.host.address,
                         action.host.host_id)  # fmt: skip
                self.registry.rekey(action.old_id, action.host)
                self._register_gauges(action.host)
            elif isinstance(action, ReconnectNow):
                for pool in self.registry.for_host(action.host_id):
                    pool.reconnect_now()
            elif isinstance(action, WakeAt):
                timers = self._timers if self._timers is not None else asyncio.get_running_loop()
                timers.call_at(action.at, self._tick)

    def open_pool(self, pools: SessionPools, host: Host) -> HostPool | None:
        """Give ``host`` a pool in ``pools`` (unless it has one or the policy ignores it), opened in the
        background; returns it."""
        if pools.closed or host.host_id in pools:
            return None
        pool = self._make_pool(host, pools.setup)
        if pool is not None:
            self.registry.add(pools, pool)
            self.spawn(_open_or_reconnect(pool))
        return pool

    def set_state(self, state: ClusterState) -> None:
        """Swap the state and tell the listeners which hosts were added, removed, or went up or down."""
        before, self.state = self.state, state
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
        if not self.listeners:
            return
        for name, host in changes:
            for listener in list(self.listeners):
                try:
                    getattr(listener, name)(host)
                except Exception:
                    log.exception("host listener %r failed in %s(%s)", listener, name, host.address)

    def _register_gauges(self, host: Host) -> None:
        node = self.metrics.node(node_label(host))
        host_id = host.host_id
        registry = self.registry

        def pools() -> list[HostPool]:
            return registry.for_host(host_id)

        node.add_gauge("in_flight", lambda: sum(p.in_flight for p in pools()))
        node.add_gauge("open_connections", lambda: sum(len(p.connections) for p in pools()))
        node.add_gauge("orphaned_streams", lambda: sum(p.orphaned for p in pools()))
        node.add_gauge("pool_size", lambda: sum(p.size for p in pools()))  # connections each pool keeps open

    # -- tasks ----------------------------------------------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` in the background (cancelled by :meth:`close`)."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        """Stop: background tasks are cancelled and timers do nothing (the sessions close their pools)."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()


async def _open_or_reconnect(pool: HostPool) -> None:
    try:
        await pool.open()
    except Exception:  # the new host is not reachable yet: keep trying in the background
        pool.reconnect_now()
