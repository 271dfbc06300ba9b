"""Stream id allocation with orphans.

A stream id whose caller gave up (timeout, cancellation) must not be reused until the server's late
reply for it arrives: otherwise that reply would be delivered to the next request using the id.
Such ids are *orphaned*; they come back when the late reply arrives (``release``) or when the
connection closes (``reset``). All operations are O(1).

Freed ids are reused in FIFO order (the least recently freed first): a duplicated or very late reply
from a buggy server or proxy would reach a new owner only after every other free id was handed out
in between, instead of the very next request (issue 11, defect 10).

Example:
    >>> ids = StreamIdAllocator(max_streams=2)
    >>> a, b = ids.acquire(), ids.acquire()
    >>> (a, b, ids.acquire())
    (0, 1, None)
    >>> ids.orphan(a)
    >>> ids.acquire() is None  # an orphan is not handed out again...
    True
    >>> ids.release(a)  # ...until its late reply arrives (True: it was an orphan, drop the reply)
    True
    >>> ids.acquire()
    0
"""

from __future__ import annotations

from collections import deque

from aiocql.errors.base import InvalidValueError
from aiocql.errors.base import StreamIdError as StreamIdError  # defined with the other errors; exported here too
from aiocql.errors.base import StreamsExhausted as StreamsExhausted

__all__ = ["FREE", "IN_FLIGHT", "MAX_STREAMS", "ORPHANED", "StreamIdAllocator", "StreamIdError", "StreamsExhausted"]

MAX_STREAMS = 32768
"""Stream ids a connection has under protocol v3 and later (a signed [short]): the most requests in flight."""

FREE = 0
IN_FLIGHT = 1
ORPHANED = 2
_FREE, _IN_FLIGHT, _ORPHANED = FREE, IN_FLIGHT, ORPHANED


class StreamIdAllocator:
    """Hands out stream ids ``0 .. max_streams - 1``; lowest ids first, then freed ids in the order they were freed.

    Example:
        >>> ids = StreamIdAllocator(max_streams=4)
        >>> s = ids.acquire()
        >>> (ids.in_flight, ids.available)
        (1, 3)
    """

    __slots__ = ("_free", "_state", "in_flight", "max_streams", "orphaned")

    def __init__(self, max_streams: int = MAX_STREAMS) -> None:
        if not 1 <= max_streams <= MAX_STREAMS:
            raise InvalidValueError(f"max_streams must be in 1..{MAX_STREAMS}, got {max_streams}")
        self.max_streams = max_streams
        self._state = bytearray(max_streams)
        self._free = deque(range(max_streams))  # a FIFO queue: popleft() yields 0 first
        self.in_flight = 0
        """Ids in use by a waiting caller (orphans excluded)."""
        self.orphaned = 0
        """Ids whose caller gave up and whose reply has not arrived yet."""

    @property
    def available(self) -> int:
        """Ids that ``acquire`` can hand out now."""
        return len(self._free)

    def acquire(self) -> int | None:
        """Take a free id, or return ``None`` when all are in flight or orphaned.

        Example:
            >>> StreamIdAllocator(1).acquire()
            0
        """
        if not self._free:
            return None
        sid = self._free.popleft()
        self._state[sid] = _IN_FLIGHT
        self.in_flight += 1
        return sid

    def release(self, sid: int) -> bool:
        """Free ``sid`` because its reply arrived; return True if it was orphaned (drop the reply).

        Raises :class:`StreamIdError` if ``sid`` is not in use (a reply for an id never handed
        out: check :meth:`in_use` first to drop such replies).

        Example:
            >>> ids = StreamIdAllocator(1)
            >>> ids.release(ids.acquire())
            False
        """
        state = self._state_of(sid)
        if state == _IN_FLIGHT:
            self.in_flight -= 1
        elif state == _ORPHANED:
            self.orphaned -= 1
        else:
            raise StreamIdError(f"stream id {sid} is not in use")
        self._state[sid] = _FREE
        self._free.append(sid)
        return state == _ORPHANED

    def settle(self, sid: int) -> int:
        """A reply arrived on ``sid``: free it and return the state it was in (never raises).

        :data:`IN_FLIGHT`: deliver the reply; :data:`ORPHANED`: its caller gave up, drop the reply;
        :data:`FREE`: an id never handed out (or outside the range), nothing to free: drop the reply.
        The hot path of every reply: one lookup, no exception.

        Example:
            >>> ids = StreamIdAllocator(2)
            >>> a = ids.acquire(); b = ids.acquire(); ids.orphan(b)
            >>> ids.settle(a), ids.settle(b), ids.settle(a), ids.settle(7)
            (1, 2, 0, 0)
        """
        if not 0 <= sid < self.max_streams:
            return _FREE
        state = self._state[sid]
        if state == _IN_FLIGHT:
            self.in_flight -= 1
        elif state == _ORPHANED:
            self.orphaned -= 1
        else:
            return _FREE
        self._state[sid] = _FREE
        self._free.append(sid)
        return state

    def orphan(self, sid: int) -> None:
        """Mark an in-flight ``sid`` as orphaned: kept out of circulation until its reply arrives.

        Orphaning an already orphaned id is a no-op.

        Example:
            >>> ids = StreamIdAllocator(1)
            >>> ids.orphan(ids.acquire()); ids.orphaned
            1
        """
        state = self._state_of(sid)
        if state == _ORPHANED:
            return
        if state != _IN_FLIGHT:
            raise StreamIdError(f"stream id {sid} is not in flight and cannot be orphaned")
        self._state[sid] = _ORPHANED
        self.in_flight -= 1
        self.orphaned += 1

    def release_orphan(self, sid: int) -> None:
        """Free an orphaned ``sid`` (its late reply arrived); raises if it is not orphaned.

        Example:
            >>> ids = StreamIdAllocator(1)
            >>> s = ids.acquire(); ids.orphan(s); ids.release_orphan(s); ids.orphaned
            0
        """
        if self._state_of(sid) != _ORPHANED:
            raise StreamIdError(f"stream id {sid} is not orphaned")
        self.release(sid)

    def in_use(self, sid: int) -> bool:
        """True if ``sid`` is in flight or orphaned (a reply for it is expected)."""
        return 0 <= sid < self.max_streams and self._state[sid] != _FREE

    def is_orphaned(self, sid: int) -> bool:
        """True if ``sid`` is orphaned."""
        return 0 <= sid < self.max_streams and self._state[sid] == _ORPHANED

    def reset(self) -> None:
        """Free every id (the connection closed: no reply will ever come).

        Example:
            >>> ids = StreamIdAllocator(2); _ = ids.acquire(); ids.reset(); ids.available
            2
        """
        self._state = bytearray(self.max_streams)
        self._free = deque(range(self.max_streams))
        self.in_flight = 0
        self.orphaned = 0

    def _state_of(self, sid: int) -> int:
        if not 0 <= sid < self.max_streams:
            raise StreamIdError(f"stream id {sid} is outside 0..{self.max_streams - 1}")
        return self._state[sid]
