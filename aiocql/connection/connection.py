"""``Connection``: open, handshake, request, heartbeat and close one CQL connection.

The byte-level work is :class:`~aiocql.connection.protocol.CqlProtocol`'s; this facade adds the
handshake (STARTUP with compression and driver name, SASL authentication, the switch to v5 framing),
typed replies (server errors raised as their exception classes), a heartbeat on idle connections
and graceful close.

Example:
    >>> conn = await Connection.open("127.0.0.1", ConnectionOptions())  # doctest: +SKIP
    >>> conn.version  # doctest: +SKIP
    5
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable
from typing import Any, NoReturn

from aiocql._version import __version__
from aiocql.connection.auth import Authenticator
from aiocql.connection.config import ConnectionOptions
from aiocql.connection.protocol import CqlProtocol, EventCallback, StreamsExhausted
from aiocql.connection.replies import Replies, check_reply, expected_replies
from aiocql.errors import (
    AuthenticationError,
    ConnectionClosed,
    ConnectionLost,
    ConnectTimeout,
    OperationTimedOut,
    ProtocolError,
    TLSCertificateError,
    UnsupportedProtocolVersion,
)
from aiocql.errors.server import ProtocolErrorFromServer, ServerError
from aiocql.protocol.compression import Lz4Compressor
from aiocql.protocol.constants import HeaderFlag, Opcode
from aiocql.protocol.core import (
    AuthenticationChallenge,
    AuthenticationRequired,
    HandshakeComplete,
    HandshakeFailed,
    HandshakeStep,
    is_version_refusal,
)
from aiocql.protocol.envelope import Envelope
from aiocql.protocol.requests import Options, Request
from aiocql.protocol.responses import ErrorResponse, Response, decode_response
from aiocql.protocol.wire import fast as _fast

DRIVER_NAME = "aiocql"

log = logging.getLogger("aiocql.connection")


_is_version_error = is_version_refusal

_RESULT = Opcode.RESULT
_PREFIXES = int(HeaderFlag.TRACING | HeaderFlag.WARNING | HeaderFlag.CUSTOM_PAYLOAD)
_fast_result = _fast.decode_result if _fast is not None else None


class Connection:
    """One open, ready CQL connection to one node (see the module docs)."""

    def __init__(self, host: str, proto: CqlProtocol, options: ConnectionOptions) -> None:
        self.host = host
        self.proto = proto
        self.options = options
        self.version = proto.version
        self.keyspace: str | None = None
        self._streams = proto.core.streams  # read on every borrow: one attribute hop
        self._heartbeat: asyncio.Task[None] | None = None
        self._probing: asyncio.Task[bool] | None = None  # a liveness probe asked for by a timed-out request
        self._closing = False

    # -- opening ------------------------------------------------------------------------------------
    @classmethod
    async def open(
        cls,
        host: str,
        options: ConnectionOptions,
        *,
        version: int | None = None,
        on_event: EventCallback | None = None,
        on_lost: Callable[[BaseException | None], None] | None = None,
    ) -> Connection:
        """Connect to ``host``, run the handshake on ``version`` (or negotiate) and return a ready connection.

        Raises :class:`ConnectTimeout`, :class:`UnsupportedProtocolVersion`,
        :class:`AuthenticationError`, or an OSError-derived :class:`ConnectionLost`.
        """
        if version is None and options.protocol_version is None:
            return await negotiate(host, options, on_event=on_event, on_lost=on_lost)
        version = version or options.protocol_version
        assert version is not None
        loop = asyncio.get_running_loop()
        tls_name: str | None = None
        if options.ssl_context is not None:
            tls_name = options.tls_name() or (options.tls_name_for and options.tls_name_for(host)) or host
        try:
            async with asyncio.timeout(options.connect_timeout):
                _, proto = await loop.create_connection(
                    lambda: CqlProtocol(
                        version,
                        max_streams=options.max_streams,
                        compressor=Lz4Compressor() if options.compression else None,
                        heartbeat_interval=options.heartbeat_interval,
                        on_event=on_event,
                        on_lost=on_lost,
                    ),
                    host,
                    options.port,
                    ssl=options.ssl_context,
                    server_hostname=tls_name,
                )
                conn = cls(host, proto, options)
                try:
                    await conn._handshake()
                except BaseException:
                    conn.abort()
                    raise
        except TimeoutError as exc:
            raise ConnectTimeout(
                f"connecting to {host}:{options.port} took more than {options.connect_timeout}s"
            ) from exc
        except ssl.SSLCertVerificationError as exc:  # a configuration problem, not a transient loss
            raise TLSCertificateError(
                f"the TLS certificate of {host}:{options.port} was refused (name checked: {tls_name!r}): "
                f"{exc.verify_message or exc}"
            ) from exc
        except OSError as exc:
            raise ConnectionLost(f"cannot connect to {host}:{options.port}: {exc}") from exc
        sock = proto.transport.get_extra_info("socket") if proto.transport else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if options.heartbeat_interval > 0:
            conn._heartbeat = asyncio.ensure_future(conn._heartbeat_loop())
        if log.isEnabledFor(logging.INFO):
            log.info(
                "connected to %s:%d (protocol v%d%s%s)", host, options.port, version,
                ", lz4" if options.compression else "", ", TLS" if options.ssl_context else "",
            )  # fmt: skip
        return conn

    async def _handshake(self) -> None:
        """STARTUP, then SASL through the auth provider's authenticator when the server asks for it.

        The protocol steps (and the switch to v5 framing) are the core's; this only awaits the
        authenticator between them.
        """
        proto = self.proto
        step = await proto.start_handshake(
            {"CQL_VERSION": "3.0.0", "DRIVER_NAME": DRIVER_NAME, "DRIVER_VERSION": __version__}
        )
        auth: Authenticator | None = None
        while True:
            if isinstance(step, HandshakeComplete):
                if auth is not None:
                    await auth.on_authentication_success(step.token)
                return
            if isinstance(step, AuthenticationRequired):
                provider = self.options.auth_provider
                if provider is None:
                    raise AuthenticationError(
                        f"{self.host} requires authentication ({step.authenticator}) but no auth_provider was given"
                    )
                auth = provider.new_authenticator(self.host, step.authenticator)
                token = await auth.initial_response()
            elif isinstance(step, AuthenticationChallenge) and auth is not None:
                token = await auth.evaluate_challenge(step.token)
            else:
                raise self._handshake_error(step)
            step = await proto.send_auth_response(token)

    def _handshake_error(self, step: HandshakeStep) -> BaseException:
        if not isinstance(step, HandshakeFailed):
            return ProtocolError(f"{self.host} sent AUTH_CHALLENGE before AUTHENTICATE: the connection is dropped")
        error = step.error
        if isinstance(error, ServerError):
            if step.during_auth:
                exc = AuthenticationError(f"authentication to {self.host} failed: {error}")
                exc.__cause__ = error
                return exc
            return error
        if isinstance(error, ProtocolError):
            return ProtocolError(f"{error} from {self.host}: the connection is dropped")
        return error

    # -- requests -----------------------------------------------------------------------------------
    async def request(
        self,
        msg: Request,
        *,
        deadline: float | None = None,
        flags: int = 0,
        payload: bytes = b"",
        replies: Replies | None = None,
    ) -> Response:
        """Send one request and return its decoded reply: the way a request reaches the wire (its halves,
        :meth:`submit` and :meth:`response_of`, serve a caller that awaits the reply future itself).

        ``deadline`` is a loop time (``loop.time()`` based) after which the wait ends with
        :class:`OperationTimedOut` (None: no bound here; a caller's own timeout or cancellation
        works too). The stream id of a timed-out or cancelled request stays reserved until its late
        reply arrives. ``flags`` are envelope flags, ``payload`` an encoded custom payload put before
        the body (with the CUSTOM_PAYLOAD flag), ``replies`` the reply kinds that answer it (None:
        what its request kind allows). A server error is raised as its exception class; a reply of a
        kind that does not answer the request raises ProtocolError and drops the connection.

        Example:
            >>> await conn.request(Options(), deadline=asyncio.get_running_loop().time() + 5)  # doctest: +SKIP
            Supported(options={...})
        """
        proto = self.proto
        sent = None
        while sent is None:  # submit() sends nothing while the transport is paused: wait until it is writable
            if proto._writable is not None:
                await self._wait_writable(deadline)
            if deadline is not None and deadline <= proto.loop.time():
                raise OperationTimedOut(f"the deadline passed before the request was sent to {self.host}")
            sent = self.submit(msg, flags, payload)
        stream, fut = sent
        timer: asyncio.TimerHandle | None = None
        if deadline is not None:
            timer = proto.loop.call_at(deadline, self._expire, fut)
        try:
            reply = await fut  # its envelope, or its decoded result when the core's router delivered it
        except OperationTimedOut:
            proto.abandon(stream, fut)
            self.suspect()
            raise
        except asyncio.CancelledError:
            proto.abandon(stream, fut)
            raise
        finally:
            if timer is not None:
                timer.cancel()
        return self.response_of(msg, reply, replies)

    def submit(
        self, msg: Request, flags: int = 0, payload: bytes = b""
    ) -> tuple[int, asyncio.Future[Envelope | Response]] | None:
        """The first half of :meth:`request`, for a caller that awaits the reply itself: send ``msg`` now and
        return its stream id and the future of its reply; None, sending nothing, while the transport is paused
        (the server is not reading: :meth:`request` waits for it). The caller must await that future, call
        :meth:`abandon` if it gives up on it (cancelled), then pass the reply to :meth:`response_of`.

        Example:
            >>> stream, fut = conn.submit(Options())  # doctest: +SKIP
            >>> conn.response_of(Options(), await fut)  # doctest: +SKIP
            Supported(options={...})
        """
        proto = self.proto
        if proto._writable is not None:
            return None
        body = msg.encode(self.version)
        if payload:
            body = payload + body
        # queued, its future registered, written now when it is alone, else at the loop's next turn with the
        # others queued meanwhile (CqlProtocol.send says when)
        return proto.send(msg.opcode, body, flags)

    def abandon(self, stream: int, fut: asyncio.Future[Envelope | Response]) -> None:
        """The caller of a :meth:`submit` gave up waiting (cancelled): its stream id stays reserved until the
        late reply arrives, which is then dropped.

        Example:
            >>> conn.abandon(stream, fut)  # doctest: +SKIP
        """
        self.proto.abandon(stream, fut)

    def response_of(self, msg: Request, reply: Envelope | Response, replies: Replies | None = None) -> Response:
        """The second half of :meth:`request`: the decoded response of ``msg``'s ``reply`` (what its future
        gave). A server error is raised as its exception class; a reply of a kind that does not answer
        ``msg`` (``replies``; None: what its kind allows) raises ProtocolError and drops the connection.

        Example:
            >>> stream, fut = conn.submit(Options())  # doctest: +SKIP
            >>> conn.response_of(Options(), await fut)  # doctest: +SKIP
            Supported(options={...})
        """
        if type(reply) is Envelope:
            # decode_response's compiled common case (Void, a page without metadata) without its wrapper
            fast: Response | None = None
            if _fast_result is not None and reply.opcode is _RESULT and not reply.flags & _PREFIXES:
                fast = _fast_result(reply.body, self.version)
            response = decode_response(reply, self.version) if fast is None else fast
            if type(response) is ErrorResponse:
                raise response.error
        else:
            response = reply  # type: ignore[assignment]
        if replies is None:
            replies = expected_replies(msg)
        if not isinstance(response, replies):
            self.reject_reply(msg, response, replies)
        return response

    async def _wait_writable(self, deadline: float | None) -> None:
        """Wait while the transport is paused (the server is not reading), but never past ``deadline``:
        the request then fails with OperationTimedOut having taken no stream id."""
        if deadline is None:
            await self.proto.wait_writable()
            return
        try:
            async with asyncio.timeout_at(deadline):
                await self.proto.wait_writable()
        except TimeoutError:
            raise OperationTimedOut(
                f"the connection to {self.host} was not writable before the request's deadline "
                "(the server is not reading): the request was not sent"
            ) from None

    def _expire(self, fut: asyncio.Future[Envelope | Response]) -> None:
        if not fut.done():
            fut.set_exception(OperationTimedOut(f"no reply from {self.host} before the request's deadline"))

    def reject_reply(self, msg: Request, response: Response, expected: Replies | None = None) -> NoReturn:
        """A reply of the wrong kind on ``msg``'s stream: drop the connection and raise ProtocolError.

        The server is not speaking the protocol, so no later reply on this connection can be trusted:
        the requests still waiting fail with :class:`ConnectionLost` (retried as their policy allows).
        """
        try:
            check_reply(msg, response, expected)
        except ProtocolError as exc:
            exc.args = (f"{exc} from {self.host}: the connection is dropped",)
            self.break_(ConnectionLost(f"connection to {self.host} dropped: {exc.args[0]}"))
            raise
        raise AssertionError("reject_reply called with a reply of an expected kind")

    def break_(self, exc: ConnectionLost) -> None:
        """Drop a connection that cannot be trusted any more: every waiting request fails with ``exc``."""
        self.proto.fail(exc)
        self.abort()

    async def send(self, msg: Request, *, flags: int = 0, timeout: float | None = None) -> Response:
        """:meth:`request` with a timeout in seconds instead of a deadline.

        Example:
            >>> await conn.send(Options(), timeout=5.0)  # doctest: +SKIP
            Supported(options={...})
        """
        if timeout is None:
            return await self.request(msg, flags=flags)
        try:
            return await self.request(msg, deadline=self.proto.loop.time() + timeout, flags=flags)
        except OperationTimedOut as exc:
            raise OperationTimedOut(f"no reply from {self.host} within {timeout}s") from exc

    # -- state --------------------------------------------------------------------------------------
    @property
    def is_closed(self) -> bool:
        """True once the connection broke or was closed."""
        return self.proto.is_closed

    @property
    def is_closing(self) -> bool:
        """True once :meth:`close` has begun (it may still be draining in-flight requests).

        Example:
            >>> conn.is_closing  # doctest: +SKIP
            False
        """
        return self._closing

    @property
    def probing(self) -> bool:
        """True while a liveness probe (an OPTIONS request asked for by a timed-out request or the
        heartbeat) is waiting for its answer.

        Example:
            >>> conn.probing  # doctest: +SKIP
            False
        """
        return self._probing is not None

    @property
    def in_flight(self) -> int:
        """Requests waiting for a reply."""
        return self._streams.in_flight

    @property
    def orphaned(self) -> int:
        """Stream ids held for replies nobody waits for any more."""
        return self._streams.orphaned

    @property
    def free_streams(self) -> int:
        """Stream ids a request could take now."""
        return self._streams.available

    @property
    def usable(self) -> bool:
        """Open and not worn (:attr:`needs_replacement` False): what a pool lends first.

        Example:
            >>> conn.usable  # doctest: +SKIP
            True
        """
        return self.proto.closed_exc is None and self._streams.orphaned < self.options.max_orphans

    @property
    def needs_replacement(self) -> bool:
        """True when too many stream ids are orphaned: the pool should open a new connection."""
        return self._streams.orphaned >= self.options.max_orphans

    @property
    def framed(self) -> bool:
        """True when requests and replies travel inside v5 frames."""
        return self.proto.core.framed

    @property
    def compression(self) -> str | None:
        """The compression negotiated in STARTUP (``"lz4"``), or None."""
        compressor = self.proto.core.compressor
        return None if compressor is None else compressor.name

    @property
    def on_stream_free(self) -> Callable[[int], None] | None:
        """Called with how many of the connection's stream ids a read freed (and with 1 when it closes)."""
        return self.proto.on_stream_free

    @on_stream_free.setter
    def on_stream_free(self, callback: Callable[[int], None] | None) -> None:
        self.proto.on_stream_free = callback

    @property
    def transport(self) -> asyncio.Transport | None:
        """The connection's transport (e.g. for ``get_extra_info``)."""
        return self.proto.transport

    # -- heartbeat and close ------------------------------------------------------------------------
    async def _heartbeat_loop(self) -> None:
        core = self.proto.core
        loop = asyncio.get_running_loop()
        while not self.is_closed:
            # Idle means no *reply* decoded (bytes that never complete a reply do not count).
            due_in = core.probe_due_in(loop.time())
            if due_in > 0:
                await asyncio.sleep(due_in)
                continue
            probe = self._probing or self._start_probe("heartbeat")
            if not await asyncio.shield(probe):
                return

    def suspect(self) -> None:
        """A request on this connection timed out: probe it now (OPTIONS, answered within ``heartbeat_timeout``).

        A connection whose server stopped answering (or answers too slowly, or sent bytes the decoder waits
        on for ever) is dropped when the probe goes unanswered, and the pool replaces it. One probe at a
        time, and none within a second of a probe that was answered.
        """
        if self._probing is not None or self._closing or self.is_closed:
            return
        if not self.proto.core.probe_after_timeout(self.proto.loop.time()):
            return
        self._start_probe("liveness probe after a timed-out request")

    def _start_probe(self, what: str) -> asyncio.Task[bool]:
        task = asyncio.ensure_future(self._probe(what))
        self._probing = task
        task.add_done_callback(self._probe_done)
        return task

    def _probe_done(self, task: asyncio.Task[bool]) -> None:
        if self._probing is task:
            self._probing = None
        if not task.cancelled():
            task.exception()

    async def _probe(self, what: str) -> bool:
        """Send OPTIONS; False (and the connection dropped) when no SUPPORTED comes within heartbeat_timeout."""
        wait = self.options.heartbeat_timeout
        try:
            await self.send(Options(), timeout=wait)  # a reply of another kind raises ProtocolError
        except asyncio.CancelledError:
            raise
        except StreamsExhausted:
            return True  # no id free for a probe: inconclusive; orphans are handled by max_orphans
        except Exception as exc:
            if isinstance(exc, OperationTimedOut):
                exc = OperationTimedOut(f"no reply within {wait}s")
            log.warning("%s to %s:%d failed (%s: %s): closing the connection", what, self.host,
                        self.options.port, type(exc).__name__, exc)  # fmt: skip
            self.break_(ConnectionLost(f"{what} to {self.host} failed: {exc}: connection dropped"))
            return False
        self.proto.core.probe_answered(self.proto.loop.time())
        return True

    async def close(self, timeout: float = 5.0) -> None:
        """Close gracefully: wait up to ``timeout`` for in-flight requests, then close the socket.

        Closing twice is harmless.
        """
        if self._closing:
            return
        self._closing = True
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        if self._probing is not None:
            self._probing.cancel()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while self.proto.in_flight and loop.time() < deadline and not self.is_closed:
                await asyncio.sleep(0.01)
        finally:  # cancelled while draining: close anyway, or the socket would stay open for good
            self.proto.fail(ConnectionClosed(f"connection to {self.host} was closed"))
            transport = self.proto.transport
            if transport is not None and not transport.is_closing():
                transport.close()

    def abort(self) -> None:
        """Close at once; every waiting request fails with a connection error."""
        self._closing = True
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        if self._probing is not None:
            self._probing.cancel()
        self.proto.fail(ConnectionClosed(f"connection to {self.host} was aborted"))
        if self.proto.transport is not None:
            self.proto.transport.abort()

    def __repr__(self) -> str:
        state = "closed" if self.is_closed else f"in_flight={self.in_flight}"
        return f"<Connection {self.host}:{self.options.port} v{self.version} {state}>"


async def negotiate(host: str, options: ConnectionOptions, **kwargs: Any) -> Connection:
    """Open a connection on v5, falling back to v4 on a fresh socket if the server refuses v5.

    Beta versions are never chosen.
    """
    try:
        return await Connection.open(host, options, version=5, **kwargs)
    except (ProtocolErrorFromServer, UnsupportedProtocolVersion) as exc:
        if not _is_version_error(exc) and not isinstance(exc, UnsupportedProtocolVersion):
            raise
    log.info("%s refused protocol v5: falling back to v4", host)
    return await Connection.open(host, options, version=4, **kwargs)


__all__ = ["Connection", "ConnectionOptions", "Opcode", "negotiate"]
