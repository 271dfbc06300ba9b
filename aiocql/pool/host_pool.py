"""``HostPool``: N multiplexed connections to one host, least-busy first, refilled in the background.

A connection that breaks or holds too many orphaned stream ids is dropped and replaced by a task on the
loop; while the pool has no open connection, reconnection is retried on the reconnection policy's schedule
until the pool is closed. The pool reports its connectivity only (:class:`Connectivity`: connected again,
last connection lost, an attempt failed with none open); whether the host is up is the cluster's
host-status machine's decision (:mod:`aiocql.model.host_status`).

Example:
    >>> pool = HostPool("127.0.0.1", options, version=5, size=2)  # doctest: +SKIP
    >>> await pool.open()  # doctest: +SKIP
    >>> conn = pool.borrow()  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from enum import Enum

from aiocql.connection.connection import Connection, ConnectionOptions
from aiocql.errors import ConnectionClosed
from aiocql.model.host import Host
from aiocql.model.host_status import stand_in
from aiocql.policies.reconnection import ReconnectionPolicy
from aiocql.pool.config import default_reconnection_policy

log = logging.getLogger("aiocql.pool")

SetupHook = Callable[[Connection], Awaitable[None]]


class Connectivity(Enum):
    """What a pool reports about its connections (never whether its host is up)."""

    CONNECTED = "connected"  # it has a usable connection again (or for the first time)
    LOST = "lost"  # its last usable connection was lost
    FAILED = "failed"  # an attempt to connect failed while it had no usable connection


ConnectivityHook = Callable[["HostPool", Connectivity], None]


class HostPool:
    """Connections to one host. ``borrow()`` never awaits: it returns the least busy open connection."""

    def __init__(
        self,
        host: str,
        options: ConnectionOptions,
        *,
        version: int,
        size: int = 1,
        setup: SetupHook | None = None,
        host_info: Host | None = None,
        reconnection: ReconnectionPolicy | None = None,
        on_connectivity: ConnectivityHook | None = None,
    ) -> None:
        self.host = host
        # The host's identity for policies and trackers; pools made without one (tests, tools) get a
        # stand-in keyed by address.
        self.host_info: Host = host_info or stand_in(host, options.port)
        self.reconnection = reconnection or default_reconnection_policy()
        self.on_connectivity = on_connectivity
        self._up = False
        self.options = options
        self.version = version
        self.size = size
        self.setup = setup
        self.connections: list[Connection] = []
        self.last_error: BaseException | None = None
        self._closed = False
        self._refill: asyncio.Task[None] | None = None
        # Worn connections draining before they close: close() and abort() close them too.
        self._retiring: dict[Connection, asyncio.Task[None]] = {}
        self._draining: list[Connection] = []  # handed to close(): abort() still reaches them
        self._wake: asyncio.Event | None = None
        self._on_stream_free: Callable[[int], None] | None = None

    async def open(self) -> None:
        """Open the pool's connections; raises the first connection's error if none could be opened."""
        tasks = [asyncio.ensure_future(self._connect()) for _ in range(self.size)]
        try:
            results = await asyncio.gather(*tasks, return_exceptions=True)
        except BaseException:  # cancelled: the pool is abandoned; no connection may leak or be refilled
            self.abort()
            for task in tasks:
                task.add_done_callback(_abort_opened)
            raise
        for result in results:
            if isinstance(result, Connection):
                self.connections.append(result)
            elif isinstance(result, BaseException):
                self.last_error = result
        if self._closed:  # closed while opening (its host left): what opened must not leak
            for conn in self.connections:
                conn.abort()
            self.connections = []
            raise ConnectionClosed(f"the pool to {self.host} was closed while opening")
        if not self.connections:
            assert self.last_error is not None
            self._report(Connectivity.FAILED)
            raise self.last_error
        self._set_up(True)
        if len(self.connections) < self.size:
            self._schedule_refill()

    async def _connect(self) -> Connection:
        opened: list[Connection] = []

        def lost(exc: BaseException | None) -> None:
            # Only a pooled connection's loss matters: an attempt that fails in its handshake is its
            # caller's error, and must not start another refill (that would restart the reconnection
            # schedule after it ended, and try for ever).
            if opened and opened[0] in self.connections:
                self._on_lost(exc)

        conn = await Connection.open(self.host, self.options, version=self.version, on_lost=lost)
        opened.append(conn)
        conn.on_stream_free = self._on_stream_free
        if self.setup is not None:
            try:
                await self.setup(conn)
            except BaseException:
                conn.abort()
                raise
        return conn

    @property
    def on_stream_free(self) -> Callable[[int], None] | None:
        """Called when a stream id is freed on one of the pool's connections (the session's waiters); set
        on each connection itself, so a reply costs one call."""
        return self._on_stream_free

    @on_stream_free.setter
    def on_stream_free(self, callback: Callable[[int], None] | None) -> None:
        self._on_stream_free = callback
        for conn in self.connections:
            conn.on_stream_free = callback

    def borrow(self) -> Connection:
        """The open connection with the fewest requests in flight.

        A connection holding too many orphaned stream ids is being replaced: it is used only while
        its replacement is not ready, so requests never fail for want of a fresh connection.
        Raises :class:`ConnectionClosed` when the host has no open connection (the executor then
        moves to the next host).
        """
        connections = self.connections
        if len(connections) == 1:  # the common pool of one connection: one property call
            conn = connections[0]
            if conn.usable:
                return conn  # open and not worn: what the loop below would choose
        best: Connection | None = None
        best_load = 1 << 30
        worn: Connection | None = None
        worn_load = 1 << 30
        stale = False
        for conn in connections:
            if conn.is_closed:
                stale = True
                continue
            load = conn.in_flight
            if conn.needs_replacement:
                stale = True
                if load < worn_load:
                    worn, worn_load = conn, load
                continue
            if load < best_load:
                best, best_load = conn, load
        if stale:
            self._drop_stale()
        if best is None:
            best = worn
        if best is None:
            self._set_up(False)
            self._schedule_refill()
            raise ConnectionClosed(f"no open connection to {self.host}: {self.last_error or 'down'}")
        return best

    def _on_lost(self, exc: BaseException | None) -> None:
        if not self._closed:
            log.info("connection to %s lost: %s", self.host, exc or "closed by the server")
            self.last_error = exc or self.last_error
            asyncio.get_running_loop().call_soon(self._drop_stale)

    def _healthy(self) -> list[Connection]:
        return [c for c in self.connections if not c.is_closed and not c.needs_replacement]

    def _drop_stale(self) -> None:
        """Forget closed connections; retire worn ones (too many orphans) once a healthy one exists."""
        have_healthy = bool(self._healthy())
        keep = []
        for conn in self.connections:
            if conn.is_closed:
                continue
            if conn.needs_replacement and have_healthy:
                task = asyncio.ensure_future(conn.close())  # drain what is in flight, then close
                self._retiring[conn] = task
                task.add_done_callback(functools.partial(self._retired, conn))
                continue
            keep.append(conn)
        self.connections = keep
        if not keep:
            self._set_up(False)
        if len(self._healthy()) < self.size:
            self._schedule_refill()

    def _retired(self, conn: Connection, _task: asyncio.Task[None]) -> None:
        if self._retiring.get(conn) is _task:
            del self._retiring[conn]

    def _schedule_refill(self) -> None:
        if self._closed or (self._refill is not None and not self._refill.done()):
            return
        self._refill = asyncio.ensure_future(self._refill_loop())

    @property
    def reconnecting(self) -> bool:
        """True while the pool is refilling: connecting, or backing off between failed attempts.

        Example:
            >>> pool.reconnecting  # doctest: +SKIP
            False
        """
        return self._refill is not None and not self._refill.done()

    @property
    def backing_off(self) -> bool:
        """True while a refill waits out the reconnection policy's delay after a failed attempt
        (:meth:`reconnect_now` ends the wait).

        Example:
            >>> pool.backing_off  # doctest: +SKIP
            False
        """
        return self._wake is not None

    @property
    def is_up(self) -> bool:
        """Whether the pool has a usable connection (its connectivity, not its host's status)."""
        return self._up

    def _set_up(self, up: bool) -> None:
        if up != self._up:
            self._up = up
            self._report(Connectivity.CONNECTED if up else Connectivity.LOST)

    def _report(self, event: Connectivity) -> None:
        if self.on_connectivity is not None and not self._closed:
            self.on_connectivity(self, event)

    def reconnect_now(self) -> None:
        """Try to reconnect at once (the server said the node is up), skipping the current back-off."""
        if self._wake is not None:
            self._wake.set()
        self._schedule_refill()

    async def _refill_loop(self) -> None:
        schedule = self.reconnection.new_schedule()
        failures = 0
        while not self._closed and len(self._healthy()) < self.size:
            try:
                conn = await self._connect()
            except Exception as exc:  # host down or refusing: back off as the policy says and try again
                self.last_error = exc
                failures += 1
                if not self._up:
                    self._report(Connectivity.FAILED)
                delay = next(schedule, None)
                if delay is None:
                    log.warning("reconnecting to %s failed %d times (%s: %s): giving up until the server reports "
                                "it up", self.host, failures, type(exc).__name__, exc)  # fmt: skip
                    return  # the policy gave up: wait for the server to report the node up
                # The first failure at WARNING, the next ones (every back-off step) at INFO.
                log.log(logging.WARNING if failures == 1 else logging.INFO,
                        "reconnecting to %s failed (%s: %s): next attempt in %.1fs", self.host,
                        type(exc).__name__, exc, delay)  # fmt: skip
                self._wake = asyncio.Event()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
                self._wake = None
                continue
            if self._closed:
                conn.abort()
                return
            self.connections.append(conn)
            if failures:
                log.info("reconnected to %s after %d failed attempts", self.host, failures)
            failures = 0
            self._set_up(True)
            schedule = self.reconnection.new_schedule()
            self._drop_stale()  # a replacement is here: retire worn connections

    @property
    def in_flight(self) -> int:
        """Requests in flight over all connections."""
        return sum(c.in_flight for c in self.connections)

    @property
    def orphaned(self) -> int:
        """Orphaned stream ids over all connections."""
        return sum(c.orphaned for c in self.connections)

    async def close(self, timeout: float = 5.0) -> None:
        """Close every connection, draining in-flight requests for at most ``timeout`` seconds.

        Cancelled, it stops draining and aborts every connection at once: none stays open.
        """
        self._closed = True
        self._up = False
        try:
            if self._refill is not None:
                self._refill.cancel()
                await asyncio.wait([self._refill])  # not 'await task': that would swallow our own cancellation
            self._draining, self.connections = self.connections, []
            closes: list[Awaitable[object]] = [c.close(timeout) for c in self._draining]
            if self._retiring:  # they drain on their own schedule: within this close's timeout too
                closes.append(asyncio.wait(list(self._retiring.values()), timeout=timeout))
            await asyncio.gather(*closes, return_exceptions=True)
        except BaseException:  # cancelled, maybe before the close tasks first ran (then they never will)
            self.abort()
            raise
        self._abort_retiring()  # those still draining at the timeout: no connection outlives close()
        self._draining = []

    def abort(self) -> None:
        """Close at once, without draining: every waiting request fails with a connection error."""
        self._closed = True
        self._up = False
        if self._refill is not None:
            self._refill.cancel()
        conns, self.connections, self._draining = [*self.connections, *self._draining], [], []
        for conn in conns:
            conn.abort()
        self._abort_retiring()

    def _abort_retiring(self) -> None:
        retiring, self._retiring = self._retiring, {}
        for conn, task in retiring.items():
            task.cancel()  # Connection.close closes its socket when cancelled while draining
            conn.abort()

    def __repr__(self) -> str:
        return f"<HostPool {self.host} up={self.is_up} connections={len(self.connections)}/{self.size}>"


def _abort_opened(task: asyncio.Future[Connection]) -> None:
    if not task.cancelled() and task.exception() is None:
        task.result().abort()
