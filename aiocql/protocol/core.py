"""The sans-I/O connection core (h11-style): one connection's protocol state, no sockets, no clock.

:class:`ClientCore` is a driver connection's state machine; :class:`ServerCore` is the server side of
one connection (the fake server uses it). Both take bytes in (``receive_data``) and give bytes out
(``data_to_send``); the caller moves the bytes and owns time (it passes ``now`` in).

The client core owns:

* the handshake: ``start_handshake`` queues STARTUP (with COMPRESSION when a compressor is given);
  READY ends it, AUTHENTICATE starts the SASL exchange: the caller's authenticator (asynchronous,
  so outside this core) computes each token and hands it to ``send_auth_response`` until
  AUTH_SUCCESS. Each reply to a handshake request yields one :class:`HandshakeStep` event.
  OPTIONS may be sent before STARTUP (spec 4.1.3); any other request waits for the handshake;
* the switch to v5 framing: plain envelopes up to READY/AUTHENTICATE, v5 frames (with the
  negotiated LZ4 block compression) for everything after it, in both directions; on v4, envelope
  body compression after STARTUP;
* the stream table: ``send_request`` takes a free id (:class:`StreamsExhausted` when none is),
  ``cancel`` orphans the id of a caller that gave up; an orphaned id stays reserved until its late
  reply arrives, which frees it and is dropped (never handed to the next owner of the id);
* heartbeat bookkeeping: when a reply was last decoded (liveness is decoded replies, not bytes),
  when a probe is due and whether a timed-out request should trigger one now.

``receive_data(data, now)`` returns events in stream order: an :class:`~aiocql.protocol.envelope.Envelope`
with ``stream >= 0`` is the reply for a request still waiting on that id, with ``stream < 0`` a server
EVENT; :class:`HandshakeStep` events answer handshake requests; :class:`ConnectionBroken` (always last)
says the byte stream can no longer be trusted: every waiting request must fail and the connection close.

Example:
    >>> client, server = ClientCore(5), ServerCore()
    >>> client.start_handshake({"CQL_VERSION": "3.0.0"})
    >>> [env.opcode.name for env in server.receive_data(client.data_to_send())]
    ['STARTUP']
    >>> server.send_reply(0, Opcode.READY, b"", answers_startup=True)
    >>> [type(e).__name__ for e in client.receive_data(server.data_to_send(), now=1.0)]
    ['HandshakeComplete']
    >>> stream = client.send_request(Opcode.OPTIONS, b"")
    >>> request, = server.receive_data(client.data_to_send())  # inside a v5 frame now
    >>> client.framed, server.framed, request.opcode.name, request.stream == stream
    (True, True, 'OPTIONS', True)
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Mapping
from typing import Any

from aiocql.errors.base import ConnectionClosed, CqlError, ProtocolError
from aiocql.protocol.compression import Compressor, Lz4Compressor
from aiocql.protocol.constants import HeaderFlag, Opcode
from aiocql.protocol.decoder import FrameDecoder
from aiocql.protocol.envelope import HEADER, OPCODES, Envelope, encode_envelope
from aiocql.protocol.frames import V5FrameEncoder
from aiocql.protocol.primitives import read_string_map, write_bytes, write_string_map
from aiocql.protocol.responses import (
    AuthChallenge,
    Authenticate,
    AuthSuccess,
    ErrorResponse,
    Ready,
    decode_response,
)
from aiocql.protocol.streams import FREE, IN_FLIGHT, MAX_STREAMS, StreamIdAllocator, StreamsExhausted
from aiocql.protocol.wire import fast as _fast

__all__ = [
    "AuthenticationChallenge",
    "AuthenticationRequired",
    "ClientCore",
    "ConnectionBroken",
    "CoreEvent",
    "CoreState",
    "HandshakeComplete",
    "HandshakeFailed",
    "HandshakeStep",
    "ServerCore",
    "StreamsExhausted",
    "is_version_refusal",
]

_OPTIONS = int(Opcode.OPTIONS)
_HEADER_PACK = HEADER.pack
_NOT_COMPRESSED = ~int(HeaderFlag.COMPRESSION) & 0xFF
_MAX_BODY = 0x7FFFFFFF
_STARTUP_REPLIES = frozenset((int(Opcode.READY), int(Opcode.AUTHENTICATE)))


class CoreState(enum.Enum):
    """Where a :class:`ClientCore` is in its life."""

    IDLE = "idle"  # nothing sent yet (OPTIONS allowed)
    STARTING = "starting"  # STARTUP sent, no reply yet
    AUTHENTICATING = "authenticating"  # the authenticator owes the next token (send_auth_response)
    AUTH_SENT = "auth sent"  # AUTH_RESPONSE sent, no reply yet
    READY = "ready"  # requests may be sent
    CLOSED = "closed"  # broken or closed: nothing more is sent or delivered


_IDLE, _STARTING, _AUTHENTICATING, _AUTH_SENT, _READY, _CLOSED = CoreState


# -- events -------------------------------------------------------------------------------------------
class HandshakeStep:
    """Base of the events that answer a handshake request (one per STARTUP / AUTH_RESPONSE)."""

    __slots__ = ()


class HandshakeComplete(HandshakeStep):
    """READY (or AUTH_SUCCESS with its final ``token``): requests may be sent now."""

    __slots__ = ("token",)

    def __init__(self, token: bytes | None = None) -> None:
        self.token = token


class AuthenticationRequired(HandshakeStep):
    """AUTHENTICATE: the server requires SASL with ``authenticator`` (its class name).

    Send the authenticator's initial response with :meth:`ClientCore.send_auth_response`.
    """

    __slots__ = ("authenticator",)

    def __init__(self, authenticator: str) -> None:
        self.authenticator = authenticator


class AuthenticationChallenge(HandshakeStep):
    """AUTH_CHALLENGE: answer ``token`` with :meth:`ClientCore.send_auth_response`."""

    __slots__ = ("token",)

    def __init__(self, token: bytes | None) -> None:
        self.token = token


class HandshakeFailed(HandshakeStep):
    """The handshake cannot go on: ``error`` is the server's error or a :class:`ProtocolError`.

    ``during_auth`` tells a refused AUTH_RESPONSE (bad credentials) from a refused STARTUP (for
    example an unsupported protocol version: see :func:`is_version_refusal`).
    """

    __slots__ = ("during_auth", "error")

    def __init__(self, error: CqlError, during_auth: bool = False) -> None:
        self.error = error
        self.during_auth = during_auth


class ConnectionBroken:
    """The peer sent bytes that are not the protocol: ``error`` says what; the connection must close.

    Replies decoded before the bad bytes come first in the same ``receive_data`` result.
    """

    __slots__ = ("error",)

    def __init__(self, error: ProtocolError) -> None:
        self.error = error


CoreEvent = Envelope | HandshakeStep | ConnectionBroken
"""What ``receive_data`` returns (see the module docs)."""


def is_version_refusal(error: BaseException) -> bool:
    """True for the server's answer to a STARTUP in a protocol version it does not speak.

    Example:
        >>> from aiocql.errors.server import ProtocolErrorFromServer
        >>> is_version_refusal(ProtocolErrorFromServer("Invalid or unsupported protocol version (5)"))
        True
    """
    from aiocql.errors.server import ProtocolErrorFromServer

    text = str(error).lower()
    return isinstance(error, ProtocolErrorFromServer) and (
        "protocol version" in text or "beta" in text or "unsupported" in text
    )


def _name(response: object) -> str:
    return type(response).__name__


# -- the client role ----------------------------------------------------------------------------------
class ClientCore:
    """One driver connection's protocol state (see the module docs).

    ``compressor`` is the compression to negotiate (None: none); ``now`` is the caller's clock at
    creation (the heartbeat counts idleness from it); ``heartbeat_interval`` (0: no periodic probe)
    is how long the connection may go without a decoded reply before a probe is due.

    Example:
        >>> core = ClientCore(4, max_streams=2)
        >>> core.send_request(Opcode.QUERY, b"")
        Traceback (most recent call last):
        ...
        aiocql.errors.base.ProtocolError: QUERY before the handshake completed (state: idle)
    """

    __slots__ = (
        "_body_compressor",
        "_frame_encoder",
        "_handshake_stream",
        "_outbox",
        "_plain",
        "_router",
        "compressor",
        "decoder",
        "failure",
        "freed",
        "heartbeat_interval",
        "last_probe_ok",
        "last_reply_at",
        "state",
        "streams",
        "version",
    )

    def __init__(
        self,
        version: int,
        *,
        max_streams: int = MAX_STREAMS,
        compressor: Compressor | None = None,
        heartbeat_interval: float = 0.0,
        now: float = 0.0,
    ) -> None:
        self.version = version
        self.state = _IDLE
        self.decoder = FrameDecoder(responses=True)
        self.streams = StreamIdAllocator(max_streams)
        self.compressor = compressor
        """The compression negotiated in STARTUP (None: none)."""
        self._body_compressor: Compressor | None = None  # v4 envelope bodies, after STARTUP
        self._frame_encoder: V5FrameEncoder | None = None  # v5 framing, after READY/AUTHENTICATE
        self._outbox: list[bytes] = []  # encoded envelopes not yet handed out
        self._plain: list[bytes] = []  # bytes that leave before the framed outbox (the v5 switch)
        self._handshake_stream = -1  # the id of the handshake request waiting for its reply
        self._router: Any = None  # the compiled ReplyRouter, once v5 framing starts (None: not built)
        self.failure: BaseException | None = None
        """Why the core closed (None while it is open)."""
        self.freed = 0
        """How many stream ids the last ``receive_data`` freed (replies delivered and orphans dropped)."""
        self.heartbeat_interval = heartbeat_interval
        self.last_reply_at = now
        """The caller's clock when a reply was last decoded (``now`` of ``receive_data``)."""
        self.last_probe_ok = -1e9
        """When the last liveness probe was answered (see :meth:`probe_answered`)."""

    # -- state ----------------------------------------------------------------------------------------
    @property
    def is_ready(self) -> bool:
        """True once the handshake completed and until the core closes."""
        return self.state is _READY

    @property
    def is_closed(self) -> bool:
        """True once the core broke or was closed."""
        return self.state is _CLOSED

    @property
    def framed(self) -> bool:
        """True once requests leave inside v5 frames."""
        return self._frame_encoder is not None

    @property
    def in_flight(self) -> int:
        """Requests waiting for a reply (orphans excluded)."""
        return self.streams.in_flight

    @property
    def orphaned(self) -> int:
        """Stream ids whose caller gave up and whose reply has not arrived yet."""
        return self.streams.orphaned

    @property
    def free_streams(self) -> int:
        """Stream ids a request could take now."""
        return self.streams.available

    # -- handshake ------------------------------------------------------------------------------------
    def start_handshake(self, options: Mapping[str, str]) -> None:
        """Queue STARTUP with ``options`` (``CQL_VERSION`` at least); COMPRESSION is added when a
        compressor was given. The reply yields a :class:`HandshakeStep`."""
        if self.state is not _IDLE:
            raise ProtocolError(f"the handshake was already started (state: {self.state.value})")
        startup = dict(options)
        compressor = self.compressor
        if compressor is not None:
            startup["COMPRESSION"] = compressor.name
        if self.version >= 5:
            # The server frames everything after READY/AUTHENTICATE, maybe in the same read.
            self.decoder.expect_v5_framing(compressor)
        else:
            self.decoder.compressor = compressor  # v4: the reply to STARTUP is already compressed
        self._send_handshake(Opcode.STARTUP, write_string_map(startup))
        self.state = _STARTING

    def send_auth_response(self, token: bytes | None) -> None:
        """Queue AUTH_RESPONSE with the authenticator's ``token`` (after AUTHENTICATE or a challenge)."""
        if self.state is not _AUTHENTICATING:
            raise ProtocolError(f"no authentication step is due (state: {self.state.value})")
        self._send_handshake(Opcode.AUTH_RESPONSE, write_bytes(token))
        self.state = _AUTH_SENT

    def _send_handshake(self, opcode: Opcode, body: bytes) -> None:
        stream = self.streams.acquire()
        if stream is None:  # pragma: no cover - the handshake is the only request in flight
            raise StreamsExhausted("no stream id free for the handshake")
        self._handshake_stream = stream
        self._outbox.append(encode_envelope(self.version, 0, stream, opcode, body, self._body_compressor))

    def _handshake_reply(self, env: Envelope) -> HandshakeStep:
        self.streams.settle(env.stream)
        self._handshake_stream = -1
        starting = self.state is _STARTING
        try:
            response = decode_response(env, self.version)
        except ProtocolError as exc:
            self.state = _CLOSED
            return HandshakeFailed(exc, not starting)
        if starting:
            if self.version >= 5:
                if env.opcode in _STARTUP_REPLIES:
                    self._start_framing()
            else:
                self._body_compressor = self.compressor
            if isinstance(response, Ready):
                self.state = _READY
                return HandshakeComplete()
            if isinstance(response, Authenticate):
                self.state = _AUTHENTICATING
                return AuthenticationRequired(response.authenticator)
            expected = "READY or AUTHENTICATE"
        else:
            if isinstance(response, AuthSuccess):
                self.state = _READY
                return HandshakeComplete(response.token)
            if isinstance(response, AuthChallenge):
                self.state = _AUTHENTICATING
                return AuthenticationChallenge(response.token)
            expected = "AUTH_SUCCESS or AUTH_CHALLENGE"
        self.state = _CLOSED
        if isinstance(response, ErrorResponse):
            return HandshakeFailed(response.error, not starting)
        request = "STARTUP" if starting else "AUTH_RESPONSE"
        return HandshakeFailed(
            ProtocolError(f"the server answered {request} with {_name(response)} (expected {expected})"),
            not starting,
        )

    def _start_framing(self) -> None:
        if self._outbox:  # queued before the switch: leaves as plain envelopes
            self._plain.append(b"".join(self._outbox))
            self._outbox = []
        self._frame_encoder = V5FrameEncoder(self.compressor)
        if _fast is not None and self.compressor is None:
            self._router = _fast.ReplyRouter(self.streams, self.version, self.decoder.max_envelope_size)
            self.decoder.replies = self._router.frames

    # -- requests -------------------------------------------------------------------------------------
    def send_request(self, opcode: int, body: bytes, flags: int = 0) -> int:
        """Queue one request; return its stream id.

        Raises :class:`StreamsExhausted` when every id is in flight or orphaned, ConnectionClosed
        once the core closed, and ProtocolError for a request (other than OPTIONS) before the
        handshake completed.
        """
        if self.state is not _READY:
            self._check_can_send(opcode)
        elif self._router is not None:  # the compiled common case (v5 framing, no compression)
            stream: int = self._router.queue(opcode, body, flags, self._outbox)
            if stream >= 0:
                return stream
        streams = self.streams
        free = streams._free
        if not free:
            raise StreamsExhausted(f"all {streams.max_streams} stream ids are in use")
        stream = free.popleft()  # StreamIdAllocator.acquire, inline: once per request
        streams._state[stream] = IN_FLIGHT
        streams.in_flight += 1
        if self._body_compressor is None and 0 <= opcode <= 0xFF and 0 <= flags <= 0xFF and len(body) <= _MAX_BODY:
            # encode_envelope's work without its checks for the common case (validated just above).
            self._outbox.append(_HEADER_PACK(self.version, flags & _NOT_COMPRESSED, stream, opcode, len(body)) + body)
        else:
            self._outbox.append(encode_envelope(self.version, flags, stream, opcode, body, self._body_compressor))
        return stream

    def _check_can_send(self, opcode: int) -> None:
        if self.state is _CLOSED:
            failure = self.failure
            raise ConnectionClosed(f"connection is closed: {failure}") from failure
        if opcode == _OPTIONS and self.state is _IDLE:
            return
        op = OPCODES.get(opcode)
        name = op.name if op is not None else f"opcode 0x{opcode:02x}"
        raise ProtocolError(f"{name} before the handshake completed (state: {self.state.value})")

    def cancel(self, stream: int) -> bool:
        """The caller of ``stream`` gave up: orphan the id until its late reply comes (True if it was in flight).

        Example:
            >>> core = ClientCore(4)
            >>> s = core.send_request(Opcode.OPTIONS, b"")
            >>> core.cancel(s), core.orphaned, core.cancel(s)
            (True, 1, False)
        """
        streams = self.streams
        if 0 <= stream < streams.max_streams and streams._state[stream] == IN_FLIGHT:
            streams.orphan(stream)
            return True
        return False

    def data_to_send(self) -> bytes:
        """The bytes to write now (everything queued since the last call), or ``b""``."""
        out = self._outbox
        if not out and not self._plain:
            return b""
        self._outbox = []
        encoder = self._frame_encoder
        if encoder is not None:
            data = encoder.encode(out) if out else b""
        else:
            data = out[0] if len(out) == 1 else b"".join(out)
        if self._plain:
            data = b"".join((*self._plain, data))
            self._plain = []
        return data

    # -- bytes in -------------------------------------------------------------------------------------
    def receive_data(
        self, data: bytes | bytearray | memoryview, now: float, waiting: dict[int, Any] | None = None
    ) -> list[CoreEvent]:
        """Feed bytes read from the socket at time ``now``; return the events they complete (module docs).

        ``waiting`` (stream id -> the waiter of a request: anything with ``done()`` and ``set_result()``) lets the
        compiled reply router complete the waiters of the common replies (a RESULT Void, or a page without
        metadata, on v5 uncompressed frames) itself, with the decoded result
        (:func:`~aiocql.protocol.responses.decode_response`'s), instead of returning their envelopes: the caller
        completes the waiters of the envelopes returned. The stream ids are settled alike either way.
        """
        if self.state is _CLOSED:
            return []
        router = self._router
        if router is not None:
            router.waiting = waiting if self.state is _READY else None
        error: ProtocolError | None = None
        try:
            envelopes = self.decoder.feed(data)
        except ProtocolError as exc:  # a DecodeError carries the valid envelopes read before the bad bytes
            envelopes = list(getattr(exc, "envelopes", ()))
            error = exc
        finally:
            if router is not None:
                router.waiting = None
        freed = orphans = 0
        replied = False
        if router is not None and router.replies:  # what the router delivered, counted as the loop below counts
            freed, orphans, replied = router.freed, router.orphans, True
            router.freed = router.orphans = router.replies = 0
        events: list[CoreEvent] = []
        append = events.append
        streams = self.streams
        # StreamIdAllocator.settle, inline (once per reply): a reply frees its id, in flight or orphaned.
        table = streams._state
        free = streams._free
        size = len(table)
        handshake = self._handshake_stream
        for env in envelopes:
            stream = env.stream
            if stream < 0:
                append(env)  # a server EVENT
                continue
            replied = True
            if stream == handshake:
                append(self._handshake_reply(env))
                handshake = -1
                continue
            if stream >= size:
                continue  # outside the range: an id never handed out
            state = table[stream]
            if state == IN_FLIGHT:
                append(env)
            elif state == FREE:
                continue  # a reply for an id never handed out: nothing can claim it
            else:  # the late reply of an orphaned id (its caller gave up): the id is free again, the reply dropped
                orphans += 1
            table[stream] = FREE
            free.append(stream)
            freed += 1
        if freed:
            streams.in_flight -= freed - orphans
            streams.orphaned -= orphans
        if replied:
            self.last_reply_at = now
        self.freed = freed
        if error is not None:
            self.close(error)
            events.append(ConnectionBroken(error))
        return events

    def close(self, reason: BaseException) -> None:
        """Close the core: nothing more is sent or delivered; every stream id is free again."""
        if self.failure is None:
            self.failure = reason
        self.state = _CLOSED
        self._outbox = []
        self._plain = []
        self._handshake_stream = -1
        self.streams.reset()

    # -- heartbeat ------------------------------------------------------------------------------------
    def probe_due_in(self, now: float) -> float:
        """Seconds until an idle-connection probe (OPTIONS) is due; <= 0: due now (inf: no heartbeat).

        Example:
            >>> ClientCore(5, heartbeat_interval=30.0, now=100.0).probe_due_in(110.0)
            20.0
        """
        if self.heartbeat_interval <= 0:
            return float("inf")
        return self.heartbeat_interval - (now - self.last_reply_at)

    def probe_answered(self, now: float) -> None:
        """A liveness probe was answered at ``now``."""
        self.last_probe_ok = now

    def probe_after_timeout(self, now: float) -> bool:
        """A request timed out at ``now``: should the connection be probed (not within 1 s of an answered probe)?"""
        return self.state is not _CLOSED and now - self.last_probe_ok >= 1.0


# -- the server role ----------------------------------------------------------------------------------
class ServerCore:
    """The server side of one connection: requests in, replies out, the same framing rules.

    The protocol version is the first request's; STARTUP's options are kept
    (:attr:`startup_options`); the reply to STARTUP (``answers_startup=True``) switches compression
    on (v4: that reply is already compressed) and v5 framing after it, as Cassandra does.

    Example:
        >>> server = ServerCore()
        >>> [e.opcode.name for e in server.receive_data(encode_envelope(4, 0, 3, Opcode.OPTIONS, b""))]
        ['OPTIONS']
        >>> server.version
        4
    """

    __slots__ = ("_body_compressor", "_frame_encoder", "_outbox", "_plain", "decoder", "failure", "startup_options",
                 "version")  # fmt: skip

    def __init__(self) -> None:
        self.decoder = FrameDecoder()
        self.version: int | None = None
        """The protocol version of the first request (None before it)."""
        self.startup_options: dict[str, str] = {}
        self._body_compressor: Compressor | None = None
        self._frame_encoder: V5FrameEncoder | None = None
        self._outbox: list[bytes] = []
        self._plain: list[bytes] = []
        self.failure: ProtocolError | None = None

    @property
    def framed(self) -> bool:
        """True once replies travel in v5 frames."""
        return self._frame_encoder is not None

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Envelope | ConnectionBroken]:
        """Feed bytes from the client; return the request envelopes they complete (then
        :class:`ConnectionBroken` if the bytes are not the protocol)."""
        if self.failure is not None:
            return []
        if self.version is None and data:
            self.version = data[0] & 0x7F
        events: list[Envelope | ConnectionBroken] = []
        try:
            events.extend(self.decoder.feed(data))
        except ProtocolError as exc:
            events.extend(getattr(exc, "envelopes", ()))
            self.failure = exc
            events.append(ConnectionBroken(exc))
        for env in events:
            if isinstance(env, Envelope) and env.opcode is Opcode.STARTUP:
                # A malformed body: the caller decodes the request and answers the error.
                with contextlib.suppress(ProtocolError):
                    self.startup_options = dict(read_string_map(env.body, 0, "startup options")[0])
        return events

    def send_reply(
        self,
        stream: int,
        opcode: int,
        body: bytes,
        flags: int = 0,
        *,
        answers_startup: bool = False,
        version: int | None = None,
    ) -> None:
        """Queue a reply on ``stream`` (-1 for an EVENT) in ``version`` (default: the connection's).

        A READY/AUTHENTICATE that ``answers_startup`` switches compression and v5 framing on after it.
        """
        version = version or self.version or 4
        switch = answers_startup and opcode in _STARTUP_REPLIES
        compressor = self._body_compressor if self._frame_encoder is None else None
        lz4 = self.startup_options.get("COMPRESSION") == "lz4"
        if switch and version < 5 and lz4:
            compressor = Lz4Compressor()  # v4: the reply to STARTUP is already compressed
        self._outbox.append(encode_envelope(version, flags, stream, opcode, body, compressor, response=True))
        if not switch:
            return
        if version >= 5:
            frames = Lz4Compressor() if lz4 else None
            self._plain.append(self._take())  # this reply leaves unframed; everything after it is framed
            self.decoder.start_v5_framing(frames)
            self._frame_encoder = V5FrameEncoder(frames)
        elif lz4:
            self._body_compressor = Lz4Compressor()
            self.decoder.compressor = self._body_compressor

    def _take(self) -> bytes:
        out, self._outbox = self._outbox, []
        if self._frame_encoder is not None:
            return self._frame_encoder.encode(out) if out else b""
        return b"".join(out)

    def data_to_send(self) -> bytes:
        """The bytes to write now (everything queued since the last call), or ``b""``."""
        data = self._take()
        if self._plain:
            data = b"".join((*self._plain, data))
            self._plain = []
        return data

    def discard_output(self) -> None:
        """Drop every queued reply (the connection is aborted)."""
        self._outbox = []
        self._plain = []
