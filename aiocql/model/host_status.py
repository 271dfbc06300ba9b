"""Whether each host is up: one pure state machine, fed by what the driver observes.

:class:`HostStatus` does no I/O and reads no clock of its own: its owner (the cluster) feeds it inputs and
carries out the :data:`Action` values each input returns; ``clock`` (seconds, e.g. the event loop's
``time``) is read when an input needs the time. The owner publishes :attr:`HostStatus.up` in its
:class:`~aiocql.model.state.ClusterState`.

Inputs:

* :meth:`~HostStatus.topology`: the control connection's fresh host list (after it connects, and after the
  debounced refresh that every TOPOLOGY_CHANGE (NEW_NODE, REMOVED_NODE, MOVED_NODE) and STATUS_CHANGE
  causes: those events name an address only, the host id comes from the peers tables) and the hosts the
  load-balancing policy ignores (they get no pool).
* :meth:`~HostStatus.server_up` / :meth:`~HostStatus.server_down`: STATUS_CHANGE events.
* :meth:`~HostStatus.control_connection`: which control connection the events come on.
* what each pool reports, connectivity only: :meth:`~HostStatus.pool_added`, :meth:`~HostStatus.pool_connected`
  (it has a connection again), :meth:`~HostStatus.pool_lost` (its last connection was lost),
  :meth:`~HostStatus.pool_failed` (a connection attempt failed while it had none), :meth:`~HostStatus.pool_closed`.
* :meth:`~HostStatus.tick`: a :class:`WakeAt` time has come.

The rules, each from a failure seen on real nodes (docs/cluster-awareness.md):

1. A host that appears is up: the driver connects to it; a pool that cannot connect makes it down.
2. A DOWN event makes the host down, and that sticks: a pool that (re)connects does not bring it back (a
   node shutting down gracefully announces DOWN and goes on accepting connections for seconds).
3. An UP event clears rule 2 and asks every pool of the host to reconnect now; the host is up at once
   if one of its pools is connected (or it has none), else when one connects.
4. A pool that lost its last connection makes the host down at once. A pool that connects again within
   ``settle`` seconds of the host's last loss makes it up only once ``settle`` seconds have passed since
   that loss with no DOWN event (the DOWN event often arrives just after the pool has reconnected).
5. A new control connection may have missed events: the DOWN reports heard on the old one are forgotten,
   and a host whose pool is connected is up again.
6. A host at a new address (same host id) has restarted: its pools are replaced and its DOWN report is
   forgotten.
7. A host known by a stand-in identity (:func:`stand_in_id`: a contact point whose system tables were not
   read) whose real identity appears at the same address keeps its pools and its status, re-keyed.

Example:
    >>> import uuid
    >>> from aiocql.model.host import Host
    >>> now = [0.0]
    >>> status = HostStatus(lambda: now[0])
    >>> a = Host(uuid.UUID(int=1), "10.0.0.1")
    >>> status.topology([a])
    [OpenPool(host=...)]
    >>> status.pool_added(a.host_id, "pool") + status.pool_connected(a.host_id, "pool")
    []
    >>> status.server_down(a.host_id), status.is_up(a.host_id)
    ([], False)
    >>> status.pool_lost(a.host_id, "pool") + status.pool_connected(a.host_id, "pool"), status.is_up(a.host_id)
    ([], False)
    >>> status.server_up(a.host_id), status.is_up(a.host_id)
    ([ReconnectNow(host_id=UUID('00000000-0000-0000-0000-000000000001'))], True)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Hashable, Iterable
from dataclasses import dataclass, field

from aiocql.model.host import Host

__all__ = [
    "UP_SETTLE",
    "Action",
    "ClosePool",
    "HostStatus",
    "OpenPool",
    "ReconnectNow",
    "RekeyPool",
    "WakeAt",
    "stand_in",
    "stand_in_id",
]

# Seconds a host whose pool lost its connections stays down when the pool reconnects at once: time for the
# server's DOWN event to arrive if the node is shutting down (it comes within ~50 ms on a local cluster).
UP_SETTLE = 1.0


def stand_in_id(address: str, port: int) -> uuid.UUID:
    """The host id given to a node whose system tables give none (a proxy, a minimal fake server).

    Example:
        >>> stand_in_id("10.0.0.1", 9042) == stand_in_id("10.0.0.1", 9042) != stand_in_id("10.0.0.1", 9043)
        True
    """
    return uuid.uuid5(uuid.NAMESPACE_URL, f"cql://{address}:{port}")


def stand_in(address: str, port: int, datacenter: str | None = None) -> Host:
    """A host for a node whose system tables give no identity, keyed by :func:`stand_in_id`.

    Example:
        >>> stand_in("10.0.0.1", 9042).host_id == stand_in_id("10.0.0.1", 9042)
        True
    """
    return Host(stand_in_id(address, port), address, port, datacenter)


@dataclass(frozen=True, slots=True)
class OpenPool:
    """Give ``host`` a pool in every session that has none for it.

    Example:
        >>> OpenPool(stand_in("10.0.0.1", 9042)).host.address
        '10.0.0.1'
    """

    host: Host


@dataclass(frozen=True, slots=True)
class ClosePool:
    """Close every pool of the host with this id (it left, moved, or is ignored now).

    Example:
        >>> ClosePool(stand_in_id("10.0.0.1", 9042)).host_id.version
        5
    """

    host_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class RekeyPool:
    """The pools of ``old_id`` (a stand-in) now belong to ``host``: keep them, under its id.

    Example:
        >>> import uuid
        >>> RekeyPool(stand_in_id("10.0.0.1", 9042), Host(uuid.UUID(int=1), "10.0.0.1")).host.host_id.int
        1
    """

    old_id: uuid.UUID
    host: Host


@dataclass(frozen=True, slots=True)
class ReconnectNow:
    """Ask every pool of the host to reconnect now, skipping its back-off (the server says it is up).

    Example:
        >>> ReconnectNow(stand_in_id("10.0.0.1", 9042)) == ReconnectNow(stand_in_id("10.0.0.1", 9042))
        True
    """

    host_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class WakeAt:
    """Call :meth:`HostStatus.tick` once the clock reads ``at`` or later.

    Example:
        >>> WakeAt(12.5).at
        12.5
    """

    at: float


Action = OpenPool | ClosePool | RekeyPool | ReconnectNow | WakeAt


@dataclass(slots=True)
class _Entry:
    host: Host
    up: bool = True
    ignored: bool = False
    down_by_event: bool = False  # the server said DOWN and not UP since (rule 2)
    lost_at: float | None = None  # when a pool of the host last lost its connections (rule 4)
    confirm_at: float | None = None  # a reconnected pool makes the host up at this time (rule 4)
    pools: dict[Hashable, bool] = field(default_factory=dict)  # the host's pools -> connected

    @property
    def connected(self) -> bool:
        return any(self.pools.values())


class HostStatus:
    """The status of every known host and the pool actions it calls for (see the module docs).

    Every input returns the actions to carry out, in order (often none); :attr:`up` and :meth:`is_up`
    give the status after it. Pools are identified by any hashable key the owner chooses.

    Example:
        >>> import uuid
        >>> from aiocql.model.host import Host
        >>> status = HostStatus(lambda: 0.0)
        >>> h = Host(uuid.UUID(int=7), "10.0.0.7")
        >>> status.topology([h], ignored={h.host_id}), status.is_up(h.host_id)
        ([], True)
    """

    def __init__(self, clock: Callable[[], float], *, settle: float = UP_SETTLE) -> None:
        self.clock = clock
        self.settle = settle
        self._entries: dict[uuid.UUID, _Entry] = {}
        self._events_from: Hashable | None = None  # the control connection the DOWN reports came on

    # -- reading ----------------------------------------------------------------------------------
    @property
    def up(self) -> frozenset[uuid.UUID]:
        """The ids of the hosts that are up."""
        return frozenset(i for i, e in self._entries.items() if e.up)

    def is_up(self, host_id: uuid.UUID) -> bool:
        """Whether the host is known and up."""
        entry = self._entries.get(host_id)
        return entry is not None and entry.up

    @property
    def hosts(self) -> tuple[Host, ...]:
        """Every known host (the last topology's, in its order)."""
        return tuple(e.host for e in self._entries.values())

    def has_pools(self, host_id: uuid.UUID) -> bool:
        """Whether some pool of the host was added and not closed."""
        entry = self._entries.get(host_id)
        return entry is not None and bool(entry.pools)

    def down_by_event(self, host_id: uuid.UUID) -> bool:
        """Whether the server reported the host DOWN and not UP since (on the current control connection)."""
        entry = self._entries.get(host_id)
        return entry is not None and entry.down_by_event

    # -- topology -----------------------------------------------------------------------------------
    def topology(self, hosts: Iterable[Host], ignored: Collection[uuid.UUID] = ()) -> list[Action]:
        """A fresh host list (every host, replacing the last one): hosts appear (up), leave (their pools
        close), move (new pools, rule 6) or get their real identity (rule 7); ``ignored`` ids get no pool."""
        actions: list[Action] = []
        old = self._entries
        listed = {h.host_id: h for h in hosts}
        entries: dict[uuid.UUID, _Entry] = {}
        appeared: dict[tuple[str, int], uuid.UUID] = {}
        for host_id, host in listed.items():
            entry = old.get(host_id)
            if entry is None:
                entry = _Entry(host)  # rule 1
                appeared[host.endpoint] = host_id
            elif entry.host.endpoint != host.endpoint:  # rule 6: it restarted elsewhere
                if entry.pools:
                    actions.append(ClosePool(host_id))
                    entry.pools = {}
                entry.down_by_event = False
                entry.confirm_at = None
            entry.host = host
            entry.ignored = host_id in ignored
            entries[host_id] = entry
        for host_id, entry in old.items():
            if host_id in listed:
                continue
            real = appeared.get(entry.host.endpoint) if host_id == stand_in_id(*entry.host.endpoint) else None
            if real is not None and entry.pools and not entries[real].ignored:  # rule 7
                kept = entries[real]
                entry.host, entry.ignored = kept.host, False
                entries[real] = entry
                actions.append(RekeyPool(host_id, entry.host))
            elif entry.pools:
                actions.append(ClosePool(host_id))
        for host_id, entry in entries.items():
            if entry.ignored and entry.pools:
                actions.append(ClosePool(host_id))
                entry.pools = {}
            elif not entry.ignored and not entry.pools:
                actions.append(OpenPool(entry.host))
        self._entries = entries
        return actions

    # -- server events ------------------------------------------------------------------------------
    def control_connection(self, key: Hashable | None) -> list[Action]:
        """Events now come on the control connection ``key``: if it is a new one, rule 5."""
        if key == self._events_from:
            return []
        self._events_from = key
        for entry in self._entries.values():
            if entry.down_by_event:
                entry.down_by_event = False
                if entry.connected:
                    entry.up = True
                    entry.confirm_at = None
        return []

    def server_down(self, host_id: uuid.UUID) -> list[Action]:
        """A STATUS_CHANGE DOWN event (rule 2)."""
        entry = self._entries.get(host_id)
        if entry is not None:
            entry.down_by_event = True
            entry.up = False
            entry.confirm_at = None
        return []

    def server_up(self, host_id: uuid.UUID) -> list[Action]:
        """A STATUS_CHANGE UP event (rule 3)."""
        entry = self._entries.get(host_id)
        if entry is None:
            return []
        entry.down_by_event = False
        if not entry.pools or entry.connected:
            entry.up = True
            entry.confirm_at = None
        return [ReconnectNow(host_id)] if entry.pools else []

    # -- what the pools report ----------------------------------------------------------------------
    def pool_added(self, host_id: uuid.UUID, pool: Hashable) -> list[Action]:
        """A pool for the host was made (not connected yet)."""
        entry = self._entries.get(host_id)
        if entry is not None:
            entry.pools.setdefault(pool, False)
        return []

    def pool_closed(self, host_id: uuid.UUID, pool: Hashable) -> list[Action]:
        """A pool of the host was closed by its owner (it no longer counts; the status stays)."""
        entry = self._entries.get(host_id)
        if entry is not None:
            entry.pools.pop(pool, None)
        return []

    def pool_connected(self, host_id: uuid.UUID, pool: Hashable) -> list[Action]:
        """A pool of the host has a connection again (rules 2 and 4)."""
        entry = self._entries.get(host_id)
        if entry is None:
            return []
        entry.pools[pool] = True
        if entry.down_by_event or entry.up:
            return []
        due = None if entry.lost_at is None else entry.lost_at + self.settle
        if due is not None and due > self.clock():
            entry.confirm_at = due
            return [WakeAt(due)]
        entry.up = True
        return []

    def pool_lost(self, host_id: uuid.UUID, pool: Hashable) -> list[Action]:
        """A pool of the host lost its last connection (rule 4)."""
        entry = self._entries.get(host_id)
        if entry is not None:
            entry.pools[pool] = False
            entry.lost_at = self.clock()
            entry.up = False
            entry.confirm_at = None
        return []

    def pool_failed(self, host_id: uuid.UUID, pool: Hashable) -> list[Action]:
        """A pool of the host with no connection failed to connect (rule 1)."""
        entry = self._entries.get(host_id)
        if entry is not None:
            entry.pools[pool] = False
            if not entry.connected:
                entry.up = False
                entry.confirm_at = None
        return []

    def tick(self) -> list[Action]:
        """A :class:`WakeAt` time came: hosts whose settle time is over are up (rule 4)."""
        now = self.clock()
        for entry in self._entries.values():
            if entry.confirm_at is not None and entry.confirm_at <= now:
                entry.confirm_at = None
                if entry.connected and not entry.down_by_event:
                    entry.up = True
        return []
