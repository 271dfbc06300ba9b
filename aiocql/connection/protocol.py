"""``CqlProtocol``: the asyncio.Protocol of one TCP connection.

It owns the byte-level state of the connection and nothing else:

- bytes in: ``data_received`` feeds the sans-I/O :class:`~aiocql.protocol.decoder.FrameDecoder` and
  resolves the future waiting on each envelope's stream id (decoding the body is the caller's job, so
  a reply nobody waits for anymore costs nothing);
- bytes out: envelopes queued during one loop iteration leave in one ``transport.write`` (wrapped into
  v5 frames once v5 framing is on); ``pause_writing``/``resume_writing`` hold new requests back;
- stream ids: a cancelled or timed-out caller's id is orphaned, never reused until its late reply
  arrives (and is dropped) or the connection closes;
- connection loss: every waiting request fails at once with :class:`~aiocql.errors.ConnectionLost`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import cast

from aiocql.errors import ConnectionClosed, ConnectionLost, DriverError
from aiocql.protocol.compression import Compressor
from aiocql.protocol.decoder import DecodeError, FrameDecoder
from aiocql.protocol.envelope import Envelope, encode_envelope
from aiocql.protocol.frames import V5FrameEncoder
from aiocql.protocol.streams import StreamIdAllocator

EventCallback = Callable[[Envelope], None]


class StreamsExhausted(DriverError):
    """Every stream id of the connection is in flight or orphaned; the pool should use another one."""


class CqlProtocol(asyncio.Protocol):
    """One connection's transport, decoder, stream table and write coalescing."""

    def __init__(
        self,
        version: int,
        *,
        max_streams: int = 32768,
        on_event: EventCallback | None = None,
        on_lost: Callable[[BaseException | None], None] | None = None,
    ) -> None:
        self.version = version
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.decoder = FrameDecoder(responses=True)
        self.streams = StreamIdAllocator(max_streams)
        self.waiting: dict[int, asyncio.Future[Envelope]] = {}
        self.compressor: Compressor | None = None  # v4 body compression, set after STARTUP
        self.frame_encoder: V5FrameEncoder | None = None  # set when v5 framing starts
        self.on_event = on_event
        self.on_lost = on_lost
        # Called each time a stream id is freed (and when the connection fails): requests waiting for one.
        self.on_stream_free: Callable[[], None] | None = None
        self.closed_exc: BaseException | None = None
        self.connected = asyncio.get_running_loop().create_future()
        self.last_activity = self.loop.time()  # when a reply was last decoded (heartbeat)
        self._outbox: list[bytes] = []
        self._flush_handle: asyncio.Handle | None = None
        self._writable: asyncio.Future[None] | None = None  # set while the transport is paused

    # -- asyncio.Protocol ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing asyncio.Transport.
        self.transport = cast(asyncio.Transport, transport)
        if not self.connected.done():
            self.connected.set_result(None)

    def data_received(self, data: bytes) -> None:
        try:
            envelopes = self.decoder.feed(data)
        except Exception as exc:  # a frame we cannot parse: the stream is unusable from here on
            # The valid replies that arrived before the bad bytes still reach their callers.
            self._dispatch(exc.envelopes if isinstance(exc, DecodeError) else ())
            self._fail(ConnectionLost(f"connection dropped: bad data from server: {exc}"))
            if self.transport is not None:
                self.transport.abort()
            return
        self._dispatch(envelopes)

    def _dispatch(self, envelopes: Sequence[Envelope]) -> None:
        waiting = self.waiting
        replied = False
        for env in envelopes:
            stream = env.stream
            if stream < 0:
                if self.on_event is not None:
                    self.on_event(env)
                continue
            replied = True
            fut = waiting.pop(stream, None)
            if fut is None:
                continue  # a reply for a stream id we never handed out: nothing can claim it
            self.streams.release(stream)
            if not fut.done():
                fut.set_result(env)
            # else: the late reply of an orphaned stream id (its caller gave up): dropped here.
            if self.on_stream_free is not None:
                self.on_stream_free()
        if replied:
            # Liveness is decoded replies, not bytes: a server that trickles bytes, or sent a header whose body
            # never comes, is not answering (the heartbeat probes it; see Connection.suspect).
            self.last_activity = self.loop.time()

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(ConnectionLost(f"connection lost: {exc}" if exc else "connection closed by server"))
        if self.on_lost is not None:
            self.on_lost(exc)

    def pause_writing(self) -> None:
        if self._writable is None:
            self._writable = self.loop.create_future()

    def resume_writing(self) -> None:
        if self._writable is not None:
            if not self._writable.done():
                self._writable.set_result(None)
            self._writable = None

    # -- requests -----------------------------------------------------------------------------------
    @property
    def is_closed(self) -> bool:
        """True once the connection broke or was closed."""
        return self.closed_exc is not None

    @property
    def in_flight(self) -> int:
        """Requests waiting for a reply (not counting orphans)."""
        return self.streams.in_flight

    @property
    def orphaned(self) -> int:
        """Stream ids whose caller gave up and whose reply has not arrived yet."""
        return self.streams.orphaned

    async def wait_writable(self) -> None:
        """Wait while the transport's write buffer is over its high-water mark."""
        while self._writable is not None:
            await asyncio.shield(self._writable)

    def send(self, opcode: int, body: bytes, flags: int = 0) -> tuple[int, asyncio.Future[Envelope]]:
        """Queue one request; return its stream id and the future of its reply envelope."""
        if self.closed_exc is not None:
            raise ConnectionClosed(f"connection is closed: {self.closed_exc}") from self.closed_exc
        stream = self.streams.acquire()
        if stream is None:
            raise StreamsExhausted(f"all {self.streams.max_streams} stream ids are in use")
        fut: asyncio.Future[Envelope] = self.loop.create_future()
        self.waiting[stream] = fut
        self._outbox.append(encode_envelope(self.version, flags, stream, opcode, body, self.compressor))
        if self._flush_handle is None:
            self._flush_handle = self.loop.call_soon(self._flush)
        return stream, fut

    def abandon(self, stream: int, fut: asyncio.Future[Envelope]) -> None:
        """The caller of ``stream`` gave up (cancelled or timed out): orphan the id until its reply comes."""
        # Still in ``waiting`` means no reply yet. The future itself is usually already cancelled
        # (cancelling the task cancels the future it awaits), so its state cannot tell us that.
        if self.waiting.get(stream) is fut:
            fut.cancel()
            self.streams.orphan(stream)

    async def request(self, opcode: int, body: bytes, flags: int = 0) -> Envelope:
        """Send one request and wait for its reply envelope.

        Cancelling the caller (or a timeout around it) returns at once and orphans the stream id.
        """
        if self._writable is not None:
            await self.wait_writable()
        stream, fut = self.send(opcode, body, flags)
        try:
            return await fut
        except asyncio.CancelledError:
            self.abandon(stream, fut)
            raise

    def _flush(self) -> None:
        self._flush_handle = None
        if not self._outbox or self.transport is None or self.closed_exc is not None:
            self._outbox.clear()
            return
        out = self._outbox
        self._outbox = []
        if self.frame_encoder is not None:
            data = self.frame_encoder.encode(out)
        else:
            data = out[0] if len(out) == 1 else b"".join(out)
        # Writes do not count as activity: a server that receives but never answers must be probed.
        self.transport.write(data)

    def expect_v5_framing(self, compressor: Compressor | None) -> None:
        """Before a v5 STARTUP: the decoder switches to frames right after READY/AUTHENTICATE."""
        self.decoder.expect_v5_framing(compressor)

    def start_v5_output(self, compressor: Compressor | None) -> None:
        """After READY/AUTHENTICATE on v5: every later request leaves inside v5 frames."""
        self._flush()  # anything queued before the switch leaves as plain envelopes
        self.frame_encoder = V5FrameEncoder(compressor)

    def _fail(self, exc: BaseException) -> None:
        if self.closed_exc is None:
            self.closed_exc = exc
        waiting, self.waiting = self.waiting, {}
        for fut in waiting.values():
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()  # mark retrieved: nobody may be waiting any more
        self.streams.reset()
        if self.on_stream_free is not None:
            self.on_stream_free()  # a waiting request must look elsewhere now
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None
