"""``CqlProtocol``: the asyncio.Protocol of one TCP connection, a thin adapter around the sans-I/O core.

The protocol state (handshake, framing, compression, stream ids, orphans, heartbeat bookkeeping) is
:class:`~aiocql.protocol.core.ClientCore`'s. This adapter only moves bytes and completes futures:

- bytes in: ``data_received`` feeds the core and completes the future waiting on each reply's stream id
  with the reply envelope (decoding the body is the caller's job, so a reply nobody waits for any more
  costs nothing), or, for the common replies the core's compiled router takes (a RESULT Void or a page
  without metadata on v5 frames), the router completes it with the decoded result itself, no envelope made;
  server EVENTs go to ``on_event``; handshake steps to the handshake waiter;
- bytes out: the first request on an idle connection is written at once (a lone request costs no
  extra loop iteration); the requests queued while others are in flight leave together in one
  ``transport.write`` at the loop's next turn; ``pause_writing``/``resume_writing`` hold new requests back;
- a caller that gives up (``abandon``) orphans its id in the core until the late reply arrives;
- connection loss or bad bytes: every waiting request fails at once with :class:`~aiocql.errors.ConnectionLost`.

Only :class:`~aiocql.connection.connection.Connection` uses it: requests reach the wire through
``Connection.request``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import cast

from aiocql.errors import ConnectionLost
from aiocql.protocol.compression import Compressor
from aiocql.protocol.core import ClientCore, ConnectionBroken, HandshakeStep
from aiocql.protocol.envelope import Envelope
from aiocql.protocol.message import Response
from aiocql.protocol.streams import MAX_STREAMS, StreamsExhausted

EventCallback = Callable[[Envelope], None]

__all__ = ["CqlProtocol", "EventCallback", "StreamsExhausted"]


#: The most bytes one socket read takes. asyncio's selector transport reads up to its ``max_size`` (256 KiB) into
#: a new bytes object each time: an allocation over glibc's mmap threshold, so one mmap, mremap and munmap per
#: read, which at low concurrency (a read per reply) cost more system time than the request itself. 64 KiB
#: comes from the heap; a large page just takes more reads.
READ_SIZE = 64 * 1024


class CqlProtocol(asyncio.Protocol):
    """One connection's transport, its core, the futures of waiting requests and write coalescing."""

    def __init__(
        self,
        version: int,
        *,
        max_streams: int = MAX_STREAMS,
        compressor: Compressor | None = None,
        heartbeat_interval: float = 0.0,
        on_event: EventCallback | None = None,
        on_lost: Callable[[BaseException | None], None] | None = None,
    ) -> None:
        self.version = version
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.core = ClientCore(
            version,
            max_streams=max_streams,
            compressor=compressor,
            heartbeat_interval=heartbeat_interval,
            now=self.loop.time(),
        )
        self.waiting: dict[int, asyncio.Future[Envelope | Response]] = {}
        self.on_event = on_event
        self.on_lost = on_lost
        # Called with how many stream ids a read freed (and with 1 when the connection fails): requests waiting
        # for one.
        self.on_stream_free: Callable[[int], None] | None = None
        self.closed_exc: BaseException | None = None
        self._step: asyncio.Future[HandshakeStep] | None = None
        self._flush_handle: asyncio.Handle | None = None
        self._writable: asyncio.Future[None] | None = None  # set while the transport is paused
        # True when the last read freed several stream ids (or writing resumed): it woke several callers, whose
        # requests are coalesced even when the first of them finds the connection idle.
        self.woke_several = False

    # -- asyncio.Protocol ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing asyncio.Transport.
        self.transport = cast(asyncio.Transport, transport)
        if isinstance(getattr(transport, "max_size", None), int):
            transport.max_size = READ_SIZE  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        core = self.core
        waiting = self.waiting
        # The core's compiled router completes the common replies' futures itself, with their decoded result.
        events = core.receive_data(data, self.loop.time(), waiting)
        for event in events:
            if type(event) is Envelope:
                if event.stream >= 0:
                    fut = waiting.pop(event.stream, None)
                    if fut is not None and not fut.done():
                        fut.set_result(event)
                elif self.on_event is not None:
                    self.on_event(event)
            elif isinstance(event, HandshakeStep):
                step = self._step
                if step is not None and not step.done():
                    step.set_result(event)
            elif isinstance(event, ConnectionBroken):
                self.fail(ConnectionLost(f"connection dropped: bad data from server: {event.error}"))
                if self.transport is not None:
                    self.transport.abort()
                return
        freed = core.freed
        self.woke_several = freed > 1
        if freed and self.on_stream_free is not None:
            self.on_stream_free(freed)

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(ConnectionLost(f"connection lost: {exc}" if exc else "connection closed by server"))
        if self.on_lost is not None:
            self.on_lost(exc)

    def pause_writing(self) -> None:
        if self._writable is None:
            self._writable = self.loop.create_future()

    def resume_writing(self) -> None:
        if self._writable is not None:
            self.woke_several = True  # the requests held back are sent together
            if not self._writable.done():
                self._writable.set_result(None)
            self._writable = None

    # -- state --------------------------------------------------------------------------------------
    @property
    def is_closed(self) -> bool:
        """True once the connection broke or was closed."""
        return self.closed_exc is not None

    @property
    def is_paused(self) -> bool:
        """True while the transport's write buffer is over its high-water mark."""
        return self._writable is not None

    @property
    def in_flight(self) -> int:
        """Requests waiting for a reply (not counting orphans)."""
        return self.core.streams.in_flight

    @property
    def orphaned(self) -> int:
        """Stream ids whose caller gave up and whose reply has not arrived yet."""
        return self.core.streams.orphaned

    # -- handshake ----------------------------------------------------------------------------------
    def start_handshake(self, options: Mapping[str, str]) -> asyncio.Future[HandshakeStep]:
        """Send STARTUP; the future gets the core's answer (:class:`~aiocql.protocol.core.HandshakeStep`)."""
        return self._handshake(lambda: self.core.start_handshake(options))

    def send_auth_response(self, token: bytes | None) -> asyncio.Future[HandshakeStep]:
        """Send AUTH_RESPONSE; the future gets the next handshake step."""
        return self._handshake(lambda: self.core.send_auth_response(token))

    def _handshake(self, send: Callable[[], None]) -> asyncio.Future[HandshakeStep]:
        if self.closed_exc is not None:
            raise ConnectionLost(f"connection is closed: {self.closed_exc}") from self.closed_exc
        step: asyncio.Future[HandshakeStep] = self.loop.create_future()
        self._step = step
        send()
        self._flush()
        return step

    # -- requests -----------------------------------------------------------------------------------
    async def wait_writable(self) -> None:
        """Wait while the transport's write buffer is over its high-water mark."""
        while self._writable is not None:
            await asyncio.shield(self._writable)

    def send(self, opcode: int, body: bytes, flags: int = 0) -> tuple[int, asyncio.Future[Envelope | Response]]:
        """Queue one request; return its stream id and the future of its reply envelope.

        Raises ConnectionClosed once the connection closed and StreamsExhausted when no id is free.
        """
        core = self.core
        stream = core.send_request(opcode, body, flags)
        fut: asyncio.Future[Envelope | Response] = self.loop.create_future()
        self.waiting[stream] = fut
        if self._flush_handle is None:
            if core.streams.in_flight == 1 and not self.woke_several:
                # Alone on an idle connection and not one of several callers the last read woke (they would
                # send too, in this loop iteration): written now, no loop iteration spent waiting for the flush.
                self._flush()
            else:
                self._flush_handle = self.loop.call_soon(self._flush)
        return stream, fut

    def abandon(self, stream: int, fut: asyncio.Future[Envelope | Response]) -> None:
        """The caller of ``stream`` gave up (cancelled or timed out): orphan the id until its reply comes."""
        # Still in ``waiting`` means no reply yet. The future itself is usually already cancelled
        # (cancelling the task cancels the future it awaits), so its state cannot tell us that.
        if self.waiting.get(stream) is fut:
            del self.waiting[stream]
            fut.cancel()
            self.core.cancel(stream)

    def _flush(self) -> None:
        self._flush_handle = None
        data = self.core.data_to_send()
        if not data or self.transport is None or self.closed_exc is not None:
            return
        # Writes do not count as activity: a server that receives but never answers must be probed.
        self.transport.write(data)

    def fail(self, exc: BaseException) -> None:
        """Close the core and fail every waiting request (and the handshake) with ``exc``."""
        if self.closed_exc is None:
            self.closed_exc = exc
        self.core.close(exc)
        waiting, self.waiting = self.waiting, {}
        for fut in waiting.values():
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()  # mark retrieved: nobody may be waiting any more
        step = self._step
        if step is not None and not step.done():
            step.set_exception(exc)
            step.exception()
        if self.on_stream_free is not None:
            self.on_stream_free(1)  # a waiting request must look elsewhere now
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None
