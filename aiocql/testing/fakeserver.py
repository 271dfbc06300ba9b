"""An in-process fake CQL server for fault-injection tests: scripted replies, delays, errors, drops.

It speaks the native protocol v4 and v5 (v5 framing starts after READY/AUTHENTICATE, optional LZ4)
with :mod:`aiocql.protocol` and answers sensibly by default: STARTUP (READY, or AUTHENTICATE when
``authenticator`` is set, then PLAIN SASL), OPTIONS, REGISTER, PREPARE (ids it remembers, so an
unknown id gets UNPREPARED like a restarted node), ``USE ks``, ``SELECT ... FROM system.local``
and the peers tables (enough for schema agreement polling); any other SELECT gets an empty page
and anything else a Void result. A request in a version not in ``versions`` gets the server's
"Invalid or unsupported protocol version" error and the connection is closed, so a driver falls
back to a lower version on a fresh socket.

Rules change the answers. :meth:`FakeServer.on` matches requests by opcode and predicate; the newest
matching rule wins; ``times`` limits how often it applies; ``delay`` holds the reply back. A rule's
``reply`` is a :class:`~aiocql.testing.replies.Reply`, an action (:data:`NO_REPLY`, :data:`CLOSE`,
:data:`ABORT`), or a function of the :class:`ReceivedRequest` (plain or ``async``) returning one of
those, or ``None`` for the default answer. Every request is recorded in :attr:`FakeServer.requests`.

Example:
    >>> from aiocql.errors.server import Overloaded
    >>> async def demo():
    ...     async with FakeServer() as server:
    ...         busy = Error(Overloaded("busy"))
    ...         server.on(Opcode.QUERY, match=lambda r: "kv" in (r.query or ""), reply=busy, times=1)
    ...         server.on(Opcode.QUERY, match=lambda r: "slow" in (r.query or ""), reply=Void(), delay=0.5)
    ...         ...  # point a Cluster at server.host, port=server.port
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias, cast

from aiocql.errors.base import ProtocolError, TestingError
from aiocql.errors.server import BadCredentials, InternalServerError, ProtocolErrorFromServer, Unprepared
from aiocql.protocol.constants import HeaderFlag, Opcode
from aiocql.protocol.core import ConnectionBroken, ServerCore
from aiocql.protocol.cqltypes import BLOB
from aiocql.protocol.envelope import Envelope
from aiocql.protocol.primitives import read_bytes_map
from aiocql.protocol.requests import AuthResponse, Batch, BatchPrepared, Execute, Prepare, Query
from aiocql.testing.polling import wait_until
from aiocql.testing.replies import (
    ABORT,
    CLOSE,
    NO_REPLY,
    Action,
    AuthChallenge,
    Authenticate,
    AuthSuccess,
    CloseConnection,
    Column,
    Error,
    Event,
    NoReply,
    Prepared,
    Raw,
    Ready,
    ReceivedRequest,
    Reply,
    Rows,
    SchemaChange,
    SetKeyspace,
    Supported,
    Void,
    prepared_id,
)
from aiocql.testing.requestcodec import decode_request
from aiocql.testing.systemtables import system_rows, token_of

__all__ = [
    "ABORT",
    "CLOSE",
    "NO_REPLY",
    "Action",
    "AuthChallenge",
    "AuthSuccess",
    "Authenticate",
    "CloseConnection",
    "Column",
    "Error",
    "Event",
    "FakeServer",
    "Handler",
    "NoReply",
    "Opcode",
    "Prepared",
    "Raw",
    "Ready",
    "ReceivedRequest",
    "Reply",
    "Rows",
    "Rule",
    "SchemaChange",
    "ServerConnection",
    "SetKeyspace",
    "Supported",
    "Void",
    "introduce",
    "prepared_id",
    "start_fake_servers",
]

Outcome: TypeAlias = Reply | Action
Handler: TypeAlias = Callable[[ReceivedRequest], "Outcome | Awaitable[Outcome | None] | None"]
"""A function deciding the answer to one request; ``None`` means the server's default answer."""

_DEFAULT_AUTHENTICATOR = "org.apache.cassandra.auth.PasswordAuthenticator"
_UNSUPPORTED = "Invalid or unsupported protocol version ({version}); supported versions are ({supported})"


@dataclass(eq=False)
class Rule:
    """One scripted answer (see :meth:`FakeServer.on`). ``hits`` counts the requests it answered."""

    opcodes: frozenset[Opcode] | None
    match: Callable[[ReceivedRequest], bool] | None
    reply: Outcome | Handler | None
    delay: float = 0.0
    times: int | None = None
    hits: int = 0
    server: FakeServer | None = field(default=None, repr=False)

    def matches(self, req: ReceivedRequest) -> bool:
        """True if this rule applies to ``req`` (and has uses left)."""
        if self.times is not None and self.hits >= self.times:
            return False
        if self.opcodes is not None and req.opcode not in self.opcodes:
            return False
        return self.match is None or bool(self.match(req))

    def remove(self) -> None:
        """Stop applying this rule."""
        if self.server is not None and self in self.server.rules:
            self.server.rules.remove(self)


class ServerConnection(asyncio.Protocol):
    """The server side of one client connection: the server role of the protocol core
    (:class:`~aiocql.protocol.core.ServerCore`: decoding, framing, compression) and the writing of replies."""

    def __init__(self, server: FakeServer, conn_id: int) -> None:
        self.server = server
        self.id = conn_id
        self.transport: asyncio.Transport | None = None
        self.core = ServerCore()
        self.keyspace: str | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self._flush_handle: asyncio.Handle | None = None

    # -- asyncio.Protocol ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.server._connection_made(self)

    def data_received(self, data: bytes) -> None:
        for event in self.core.receive_data(data):
            if isinstance(event, ConnectionBroken):  # the valid requests before the bad bytes were served
                self.server.errors.append(event.error)
                self.abort()
                return
            self.server._dispatch(self, event)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        self.server._connection_lost(self)

    # -- state --------------------------------------------------------------------------------------
    @property
    def version(self) -> int | None:
        """The protocol version of the client's first request."""
        return self.core.version

    @property
    def startup_options(self) -> dict[str, str]:
        """The options of the client's STARTUP."""
        return self.core.startup_options

    @property
    def is_open(self) -> bool:
        """True until the connection closes."""
        return not self.closed.done()

    @property
    def framed(self) -> bool:
        """True once replies travel in v5 frames."""
        return self.core.framed

    # -- writing ------------------------------------------------------------------------------------
    def send(self, stream: int, reply: Reply, *, request: ReceivedRequest | None = None) -> None:
        """Write ``reply`` on ``stream`` (-1 for an event). Replies written in one loop iteration share a
        v5 frame. The reply to STARTUP switches compression and v5 framing on, as a server does."""
        if self.transport is None or self.transport.is_closing():
            return
        opcode, flags, body = reply.encode(self.core.version or 4)
        startup = request is not None and request.opcode == Opcode.STARTUP
        self.core.send_reply(stream, opcode, body, flags, answers_startup=startup)
        self.server.replies_sent += 1
        if startup:
            self._flush()  # the reply to STARTUP leaves at once, unframed (what follows is framed on v5)
        elif self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_soon(self._flush)

    def send_now(self, stream: int, reply: Reply, version: int) -> None:
        """Write ``reply`` at once in ``version`` (the refusal of an unsupported version)."""
        if self.transport is None or self.transport.is_closing():
            return
        opcode, flags, body = reply.encode(version)
        self.core.send_reply(stream, opcode, body, flags, version=version)
        self.server.replies_sent += 1
        self._flush()

    def push_event(self, event: Event) -> None:
        """Push an EVENT on stream -1."""
        self.send(-1, event)

    def _flush(self) -> None:
        self._flush_handle = None
        data = self.core.data_to_send()
        if not data or self.transport is None or self.transport.is_closing():
            return
        self.transport.write(data)

    def close(self) -> None:
        """Close gracefully (FIN) after what is already written."""
        self._flush()
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Close at once (RST), dropping unsent replies."""
        self.core.discard_output()
        if self.transport is not None:
            self.transport.abort()

    def __repr__(self) -> str:
        return f"<ServerConnection #{self.id} v{self.version} {'open' if self.is_open else 'closed'}>"


class FakeServer:
    """A scriptable CQL server on ``host`` (an ephemeral port unless ``port`` is given).

    ``versions`` are the protocol versions it accepts (a request in another version gets the error
    Cassandra sends, then the connection is closed unless ``close_on_refusal`` is False);
    ``authenticator`` turns on SASL PLAIN with
    ``credentials``; ``release_version`` and ``cluster_name`` show up in ``system.local``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        versions: Sequence[int] = (4, 5),
        authenticator: str | None = None,
        credentials: tuple[str, str] = ("cassandra", "cassandra"),
        release_version: str = "5.0.6",
        cluster_name: str = "fake",
        schema_version: uuid.UUID | None = None,
        close_on_refusal: bool = True,
        datacenter: str = "datacenter1",
        rack: str = "rack1",
    ) -> None:
        self.host = host
        self.port = port
        self.versions = tuple(versions)
        self.authenticator = authenticator
        self.credentials = credentials
        self.release_version = release_version
        self.cluster_name = cluster_name
        self.schema_version = schema_version or uuid.uuid4()
        self.close_on_refusal = close_on_refusal
        self.datacenter = datacenter
        self.rack = rack
        self.host_id = uuid.uuid4()
        self.token = 0  # the one token this node owns (in system.local and its peer row); see introduce()
        self.peers: list[dict[str, object]] = []  # rows of system.peers_v2 / system.peers (see peer_row)
        self.rules: list[Rule] = []
        self.requests: list[ReceivedRequest] = []
        self.connections: list[ServerConnection] = []
        self.errors: list[BaseException] = []
        self.prepared: dict[bytes, str] = {}
        self.replies_sent = 0
        self.pending = 0  # replies scheduled for later (delays, async handlers) and not sent yet
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._reading_paused = False
        self._next_id = 0

    # -- lifetime -----------------------------------------------------------------------------------
    async def start(self) -> FakeServer:
        """Start listening; ``port`` is set to the bound port."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._new_connection, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop listening, drop every connection and cancel scheduled replies."""
        if self._server is not None:
            self._server.close()
        for conn in self.connections:
            conn.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None

    async def __aenter__(self) -> FakeServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) to connect to."""
        return self.host, self.port

    # -- scripting ----------------------------------------------------------------------------------
    def on(
        self,
        opcode: Opcode | Iterable[Opcode] | None = None,
        *,
        match: Callable[[ReceivedRequest], bool] | None = None,
        reply: Outcome | Handler | None = None,
        delay: float = 0.0,
        times: int | None = None,
    ) -> Rule:
        """Script the answer to requests with ``opcode`` (any if None) for which ``match`` is true.

        ``reply=None`` keeps the default answer (useful with ``delay``). Newest rules are tried first.

        Example:
            >>> server.on(Opcode.EXECUTE, reply=NO_REPLY, times=1)  # doctest: +SKIP
        """
        if opcode is None:
            opcodes = None
        elif isinstance(opcode, Opcode):
            opcodes = frozenset((opcode,))
        else:
            opcodes = frozenset(opcode)
        rule = Rule(opcodes, match, reply, delay, times, server=self)
        self.rules.insert(0, rule)
        return rule

    def clear_rules(self) -> None:
        """Back to the default answers."""
        self.rules.clear()

    def forget_prepared(self) -> None:
        """Forget every prepared statement (as a restart does): EXECUTE then gets UNPREPARED."""
        self.prepared.clear()

    # -- observing ----------------------------------------------------------------------------------
    def received(
        self, opcode: Opcode | None = None, match: Callable[[ReceivedRequest], bool] | None = None
    ) -> list[ReceivedRequest]:
        """The requests received so far, optionally only those with ``opcode`` matching ``match``."""
        return [r for r in self.requests if (opcode is None or r.opcode == opcode) and (match is None or match(r))]

    @property
    def control_connections(self) -> set[int]:
        """Numbers of the connections that registered for events: a driver's control connections."""
        return {r.connection for r in self.requests if r.opcode == Opcode.REGISTER}

    def is_pool_request(self, request: ReceivedRequest) -> bool:
        """True for a request that did not come over a control connection (a ``match`` for the helpers)."""
        return request.connection not in self.control_connections

    async def wait_for_requests(
        self,
        count: int,
        opcode: Opcode | None = None,
        match: Callable[[ReceivedRequest], bool] | None = None,
        *,
        timeout: float = 5.0,
    ) -> list[ReceivedRequest]:
        """Wait until at least ``count`` matching requests arrived; return them."""

        def enough() -> list[ReceivedRequest]:
            found = self.received(opcode, match)
            return found if len(found) >= count else []

        return await wait_until(
            enough,
            timeout=timeout,
            message=lambda: f"{len(self.received(opcode, match))} of {count} requests arrived",
        )

    @property
    def open_connections(self) -> list[ServerConnection]:
        """The client connections still open."""
        return [c for c in self.connections if c.is_open]

    def push_event(self, event: Event) -> int:
        """Push ``event`` on every open connection that registered for events; return how many got it."""
        registered = self.control_connections
        targets = [c for c in self.open_connections if c.id in registered]
        for conn in targets:
            conn.push_event(event)
        return len(targets)

    def peer_row(self) -> dict[str, object]:
        """This server as another node's ``system.peers_v2`` row (append it to that node's :attr:`peers`).

        Example:
            >>> a, b = FakeServer("127.0.0.1"), FakeServer("127.0.0.2")
            >>> a.peers.append(b.peer_row()); a.peers[0]["native_address"]
            '127.0.0.2'
        """
        return {
            "peer": self.host,
            "peer_port": 7000,
            "data_center": self.datacenter,
            "host_id": self.host_id,
            "native_address": self.host,
            "native_port": self.port,
            "rack": self.rack,
            "release_version": self.release_version,
            "schema_version": self.schema_version,
            "tokens": {str(self.token)},
        }

    # -- faults -------------------------------------------------------------------------------------
    def drop_connections(self, *, abort: bool = True) -> None:
        """Close every open connection: RST (``abort``) or FIN."""
        for conn in self.open_connections:
            if abort:
                conn.abort()
            else:
                conn.close()

    def pause_reading(self) -> None:
        """Stop reading from every connection (new ones too): clients' writes back up."""
        self._reading_paused = True
        for conn in self.open_connections:
            if conn.transport is not None:
                conn.transport.pause_reading()

    def resume_reading(self) -> None:
        """Read again after :meth:`pause_reading`."""
        self._reading_paused = False
        for conn in self.open_connections:
            if conn.transport is not None:
                conn.transport.resume_reading()

    # -- internals ----------------------------------------------------------------------------------
    def _new_connection(self) -> ServerConnection:
        self._next_id += 1
        return ServerConnection(self, self._next_id)

    def _connection_made(self, conn: ServerConnection) -> None:
        self.connections.append(conn)
        if self._reading_paused and conn.transport is not None:
            conn.transport.pause_reading()

    def _connection_lost(self, conn: ServerConnection) -> None:
        pass

    def _dispatch(self, conn: ServerConnection, env: Envelope) -> None:
        loop = asyncio.get_running_loop()
        body: bytes | memoryview = env.body
        payload = None
        try:
            if env.flags & HeaderFlag.CUSTOM_PAYLOAD:
                payload, pos = read_bytes_map(body, 0, "custom payload")
                body = body[pos:]
            message = decode_request(env.opcode, body, env.version)
        except ProtocolError as exc:
            if env.version not in self.versions:
                self._refuse(conn, env)
                return
            self.errors.append(exc)
            conn.send(env.stream, Error(ProtocolErrorFromServer(f"cannot decode request: {exc}")))
            return
        req = ReceivedRequest(
            conn.id, env.version, env.stream, env.opcode, env.flags, message, self._query_of(message),
            payload, loop.time(),
        )  # fmt: skip
        self.requests.append(req)
        if env.version not in self.versions:
            self._refuse(conn, env)
            return
        rule = next((r for r in self.rules if r.matches(req)), None)
        if rule is not None:
            rule.hits += 1
        reply = rule.reply if rule is not None else None
        delay = rule.delay if rule is not None else 0.0
        if delay <= 0 and not callable(reply):
            self._answer(conn, req, reply)
            return
        self.pending += 1
        task = loop.create_task(self._answer_later(conn, req, reply, delay))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer_later(
        self, conn: ServerConnection, req: ReceivedRequest, reply: Outcome | Handler | None, delay: float
    ) -> None:
        try:
            if delay > 0:
                await asyncio.sleep(delay)
            if callable(reply):
                try:
                    result = reply(req)
                    if inspect.isawaitable(result):
                        result = await result
                except Exception as exc:
                    self.errors.append(exc)
                    result = Error(InternalServerError(f"fake server handler failed: {exc!r}"))
                self._answer(conn, req, result)
            else:
                self._answer(conn, req, reply)
        finally:
            self.pending -= 1

    def _answer(self, conn: ServerConnection, req: ReceivedRequest, outcome: Outcome | None) -> None:
        if outcome is None:
            outcome = self.default_reply(req, conn)
        if isinstance(outcome, NoReply):
            return
        if isinstance(outcome, CloseConnection):
            if outcome.abort:
                conn.abort()
            else:
                conn.close()
            return
        assert isinstance(outcome, Reply), f"a rule answered {outcome!r}"
        if isinstance(outcome, Prepared) and isinstance(req.message, Prepare):
            if not outcome.query_id:
                outcome = _with_query_id(outcome, prepared_id(req.message.query, req.message.keyspace))
            self.prepared[outcome.query_id] = req.message.query
        conn.send(req.stream, outcome, request=req)

    def _refuse(self, conn: ServerConnection, env: Envelope) -> None:
        supported = ", ".join(f"{v}/v{v}" for v in self.versions)
        error = ProtocolErrorFromServer(_UNSUPPORTED.format(version=env.version, supported=supported))
        conn.send_now(env.stream, Error(error), max(self.versions))
        if self.close_on_refusal:
            conn.close()

    def _query_of(self, message: object) -> str | None:
        if isinstance(message, (Query, Prepare)):
            return message.query
        if isinstance(message, Execute):
            return self.prepared.get(message.query_id)
        if isinstance(message, Batch):
            texts = [
                (self.prepared.get(c.query_id) or "?") if isinstance(c, BatchPrepared) else c.query
                for c in message.statements
            ]
            return "; ".join(texts)
        return None

    # -- default answers ----------------------------------------------------------------------------
    def default_reply(self, req: ReceivedRequest, conn: ServerConnection | None = None) -> Outcome:
        """What the server answers when no rule says otherwise (handlers may delegate to it)."""
        msg = req.message
        if req.opcode == Opcode.STARTUP:
            return Authenticate(self.authenticator) if self.authenticator else Ready()
        if isinstance(msg, AuthResponse):
            user, password = self.credentials
            if msg.token == b"\x00" + user.encode() + b"\x00" + password.encode():
                return AuthSuccess()
            return Error(BadCredentials("Provided username and/or password are incorrect"))
        if req.opcode == Opcode.OPTIONS:
            versions = [f"{v}/v{v}" for v in self.versions]
            return Supported({"CQL_VERSION": ["3.4.7"], "COMPRESSION": ["lz4"], "PROTOCOL_VERSIONS": versions})
        if req.opcode == Opcode.REGISTER:
            return Ready()
        if isinstance(msg, Prepare):
            markers = msg.query.count("?")
            return Prepared(bind=[(f"p{i}", BLOB) for i in range(markers)])
        if isinstance(msg, Execute) and msg.query_id not in self.prepared:
            return Error(
                Unprepared(f"Prepared query with ID {msg.query_id.hex()} not found", statement_id=msg.query_id)
            )
        if isinstance(msg, Batch):
            for child in msg.statements:
                if isinstance(child, BatchPrepared) and child.query_id not in self.prepared:
                    return Error(Unprepared("Prepared query not found", statement_id=child.query_id))
            return Void()
        if req.query is not None:
            return self._default_query(req.query, conn)
        return Void()

    def _default_query(self, query: str, conn: ServerConnection | None) -> Reply:
        text = query.strip()
        use = re.match(r"(?is)use\s+\"?([\w]+)\"?\s*;?$", text)
        if use:
            if conn is not None:
                conn.keyspace = use.group(1)
            return SetKeyspace(use.group(1))
        select = re.match(r"(?is)select\s+(.*?)\s+from\s+([\w.\"]+)", text)
        if select is None:
            return Void()
        table = select.group(2).replace('"', "").lower()
        wanted = [c.strip() for c in select.group(1).split(",")]
        return system_rows(table, wanted, self._local_row() if table == "system.local" else {}, self.peers)

    def _local_row(self) -> dict[str, object]:
        return {
            "key": "local",
            "bootstrapped": "COMPLETED",
            "broadcast_address": self.host,
            "cluster_name": self.cluster_name,
            "cql_version": "3.4.7",
            "data_center": self.datacenter,
            "host_id": self.host_id,
            "listen_address": self.host,
            "native_protocol_version": str(max(self.versions)),
            "partitioner": "org.apache.cassandra.dht.Murmur3Partitioner",
            "rack": self.rack,
            "release_version": self.release_version,
            "rpc_address": self.host,
            "rpc_port": self.port,
            "schema_version": self.schema_version,
            "tokens": {str(self.token)},
        }

    def __repr__(self) -> str:
        return f"<FakeServer {self.host}:{self.port} v{'/'.join(map(str, self.versions))}>"


def _with_query_id(reply: Prepared, query_id: bytes) -> Prepared:
    return dataclasses.replace(reply, query_id=query_id)


async def start_fake_servers(count: int, **kwargs: Any) -> list[FakeServer]:
    """Start ``count`` fake servers on 127.0.0.1, 127.0.0.2, ... sharing one ephemeral port, so that
    one ``Cluster(contact_points, port=...)`` reaches them all (Linux routes all of 127/8 to lo).

    Example:
        >>> servers = await start_fake_servers(2)  # doctest: +SKIP
        >>> Cluster([s.host for s in servers], port=servers[0].port)  # doctest: +SKIP
    """
    for _ in range(20):
        first = await FakeServer("127.0.0.1", **kwargs).start()
        servers = [first]
        try:
            for i in range(2, count + 1):
                servers.append(await FakeServer(f"127.0.0.{i}", first.port, **kwargs).start())
        except OSError:  # the port is taken on another address: try another one
            for server in servers:
                await server.close()
            continue
        return servers
    raise TestingError(f"could not find a port free on every address 127.0.0.1..127.0.0.{count} after 20 tries")


def introduce(servers: Sequence[FakeServer]) -> None:
    """Make fake servers one cluster: each lists the others in its peers tables, all share one schema
    version, and each owns a token of its own (derived from its address).

    Example (the cluster discovers all three):
        >>> servers = await start_fake_servers(3); introduce(servers)  # doctest: +SKIP
        >>> Cluster([servers[0].host], port=servers[0].port)  # doctest: +SKIP
    """
    version = servers[0].schema_version if servers else None
    for server in servers:
        server.schema_version = version or server.schema_version
        server.token = token_of(server.host)  # distinct tokens: a ring the token map can route over
    for server in servers:
        server.peers = [other.peer_row() for other in servers if other is not server]
