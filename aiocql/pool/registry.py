"""The cluster's pools: one :class:`SessionPools` per session, by host id, kept by one :class:`PoolRegistry`.

The cluster owns the registry: it adds a host's pools, re-keys them when a host's real identity is read,
and closes them when the host leaves. A session only reads its :class:`SessionPools` (a read-only
mapping from host id to :class:`~aiocql.pool.host_pool.HostPool`); metrics gauges read the registry.

Example:
    >>> registry = PoolRegistry()
    >>> pools = registry.new_set()
    >>> len(pools), registry.for_host(uuid.UUID(int=1))
    (0, [])
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType

from aiocql.model.host import Host
from aiocql.pool.host_pool import HostPool, SetupHook

__all__ = ["PoolRegistry", "SessionPools", "as_pool_set"]

PoolHook = Callable[[HostPool], None]


class SessionPools(Mapping[uuid.UUID, HostPool]):
    """One session's pools by host id: a read-only mapping for the session, changed by its registry.

    ``setup`` is run on every connection the pools open (the session's keyspace); ``on_stream_free`` is
    set on every pool, those added later included. Made without a registry (a session built from pools
    by hand), it is a fixed set.

    Example:
        >>> pools = SessionPools([])
        >>> list(pools), pools.closed
        ([], False)
    """

    def __init__(
        self, pools: Iterable[HostPool] = (), *, setup: SetupHook | None = None, registry: PoolRegistry | None = None
    ) -> None:
        self._by_id: dict[uuid.UUID, HostPool] = {p.host_info.host_id: p for p in pools}
        #: The pools by host id as a read-only mapping whose ``get`` is one C call (the lean request path's).
        self.by_id: Mapping[uuid.UUID, HostPool] = MappingProxyType(self._by_id)
        self.setup = setup
        self.registry = registry
        self.closed = False
        self._on_stream_free: Callable[[int], None] | None = None

    # One session's set, not a value: compared and hashed by identity (a Mapping would compare contents).
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __getitem__(self, host_id: uuid.UUID) -> HostPool:
        return self._by_id[host_id]

    def get(self, host_id: uuid.UUID, default: HostPool | None = None) -> HostPool | None:  # type: ignore[override]
        """The pool of the host with this id, or ``default`` (one dict lookup: on the request path)."""
        return self._by_id.get(host_id, default)

    def __iter__(self) -> Iterator[uuid.UUID]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    @property
    def on_stream_free(self) -> Callable[[int], None] | None:
        """Called when a stream id is freed on any connection of these pools."""
        return self._on_stream_free

    @on_stream_free.setter
    def on_stream_free(self, callback: Callable[[int], None] | None) -> None:
        self._on_stream_free = callback
        for pool in self._by_id.values():
            pool.on_stream_free = callback

    def _put(self, pool: HostPool) -> None:
        pool.on_stream_free = self._on_stream_free
        self._by_id[pool.host_info.host_id] = pool

    def _pop(self, host_id: uuid.UUID) -> HostPool | None:
        return self._by_id.pop(host_id, None)

    def _detach(self) -> list[HostPool]:
        self.closed = True
        if self.registry is not None:
            self.registry._drop(self)
        return list(self._by_id.values())

    async def close(self, timeout: float = 5.0) -> None:
        """Close every pool (draining for at most ``timeout`` seconds); the registry forgets them.

        Cancelled, it aborts every pool at once: no socket stays open.
        """
        pools = self._detach()
        try:
            await asyncio.gather(*(p.close(timeout) for p in pools), return_exceptions=True)
        except BaseException:  # cancelled, maybe before a pool's close first ran: abort them all at once
            for pool in pools:
                pool.abort()
            raise

    def abort(self) -> None:
        """Close every pool at once, without draining; the registry forgets them."""
        for pool in self._detach():
            pool.abort()

    def __repr__(self) -> str:
        return f"<SessionPools {len(self._by_id)} hosts{' closed' if self.closed else ''}>"


class PoolRegistry:
    """Every session's pools, owned by the cluster. ``on_added`` / ``on_closed`` hear of each pool the
    registry starts or stops keeping (the host-status machine counts them).

    Example:
        >>> registry = PoolRegistry()
        >>> pools = registry.new_set()
        >>> registry.sets == [pools], registry.remove(uuid.UUID(int=1))
        (True, [])
    """

    def __init__(self, *, on_added: PoolHook | None = None, on_closed: PoolHook | None = None) -> None:
        self.on_added = on_added
        self.on_closed = on_closed
        self._sets: list[SessionPools] = []

    @property
    def sets(self) -> list[SessionPools]:
        """The open sessions' pool sets."""
        return list(self._sets)

    def new_set(self, setup: SetupHook | None = None) -> SessionPools:
        """A new, empty pool set (for a session being connected)."""
        pools = SessionPools(setup=setup, registry=self)
        self._sets.append(pools)
        return pools

    def add(self, pools: SessionPools, pool: HostPool) -> None:
        """Keep ``pool`` in ``pools`` under its host's id."""
        pools._put(pool)
        if self.on_added is not None:
            self.on_added(pool)

    def remove(self, host_id: uuid.UUID) -> list[HostPool]:
        """Take the host's pool out of every set and return them (for the caller to close)."""
        removed = [p for p in (s._pop(host_id) for s in self._sets) if p is not None]
        for pool in removed:
            self._closed(pool)
        return removed

    def rekey(self, old_id: uuid.UUID, host: Host) -> list[HostPool]:
        """The pools of ``old_id`` now belong to ``host`` (its real identity): kept, under its id."""
        moved = []
        for pools in self._sets:
            pool = pools._pop(old_id)
            if pool is not None:
                pool.host_info = host
                pools._put(pool)
                moved.append(pool)
        return moved

    def for_host(self, host_id: uuid.UUID) -> list[HostPool]:
        """The pools of one host, one per open session that has one."""
        return [p for p in (s.get(host_id) for s in self._sets) if p is not None]

    def __iter__(self) -> Iterator[HostPool]:
        for pools in self._sets:
            yield from pools.values()

    def _drop(self, pools: SessionPools) -> None:
        if any(s is pools for s in self._sets):
            self._sets = [s for s in self._sets if s is not pools]
            for pool in pools.values():
                self._closed(pool)

    def _closed(self, pool: HostPool) -> None:
        if self.on_closed is not None:
            self.on_closed(pool)


def as_pool_set(pools: SessionPools | Iterable[HostPool]) -> SessionPools:
    """``pools`` as a :class:`SessionPools` (a fixed one when given a plain list).

    Example:
        >>> as_pool_set([]).registry is None
        True
    """
    return pools if isinstance(pools, SessionPools) else SessionPools(pools)
