"""A fault-injecting TCP proxy (asyncio) to put in front of a real server.

Each client connection gets its own upstream connection; bytes are pumped both ways, and the
proxy can, at any moment:

- delay what flows to the client (``delay_to_client``) or to the server (``delay_to_server``),
  keeping the byte order;
- pause forwarding (:meth:`FaultProxy.pause`: the node looks hung: sockets open, nothing moves)
  and :meth:`~FaultProxy.resume` it;
- cut every connection (:meth:`~FaultProxy.cut`: RST both sides, as a dead node) and refuse new
  ones (:meth:`~FaultProxy.refuse`) until :meth:`~FaultProxy.accept`;
- count the bytes forwarded each way (``bytes_to_client``, ``bytes_to_server``).

Example:
    >>> async def demo(server_host: str):
    ...     async with FaultProxy(server_host, 9042) as proxy:
    ...         cluster = Cluster(["127.0.0.1"], port=proxy.port)
    ...         proxy.cut()  # every connection through the proxy dies now
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

__all__ = ["FaultProxy", "ProxiedConnection"]

_CHUNK = 256 * 1024


@dataclass(eq=False)
class ProxiedConnection:
    """One client connection and its upstream connection."""

    id: int
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def abort(self) -> None:
        """RST both sides and stop pumping."""
        for writer in (self.client, self.upstream):
            transport = writer.transport
            if not transport.is_closing():
                transport.abort()
        for task in self.tasks:
            task.cancel()

    @property
    def is_open(self) -> bool:
        """True while both sides are open."""
        return not (self.client.transport.is_closing() or self.upstream.transport.is_closing())


class FaultProxy:
    """Listens on ``listen_host`` (ephemeral port by default) and forwards to ``target_host:target_port``."""

    def __init__(self, target_host: str, target_port: int, *, listen_host: str = "127.0.0.1", listen_port: int = 0):
        self.target_host = target_host
        self.target_port = target_port
        self.host = listen_host
        self.port = listen_port
        self.delay_to_client = 0.0
        self.delay_to_server = 0.0
        self.bytes_to_client = 0
        self.bytes_to_server = 0
        self.connections: list[ProxiedConnection] = []
        self.accepted = 0
        self.refused = 0
        self._accepting = True
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    # -- lifetime -----------------------------------------------------------------------------------
    async def start(self) -> FaultProxy:
        """Start listening; ``port`` is set to the bound port."""
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop listening and cut every connection."""
        if self._server is not None:
            self._server.close()
        self.cut()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- faults -------------------------------------------------------------------------------------
    def pause(self) -> None:
        """Stop forwarding in both directions (connections stay open: a hung node)."""
        self._flowing.clear()

    def resume(self) -> None:
        """Forward again what was held back, then everything new."""
        self._flowing.set()

    @property
    def paused(self) -> bool:
        """True while forwarding is paused."""
        return not self._flowing.is_set()

    def cut(self) -> int:
        """RST every current connection (both sides); return how many were cut."""
        live = [c for c in self.connections if c.is_open]
        for conn in self.connections:
            conn.abort()
        self.connections = []
        return len(live)

    def refuse(self) -> None:
        """Close new connections as soon as they are accepted (a node that is down)."""
        self._accepting = False

    def accept(self) -> None:
        """Accept new connections again."""
        self._accepting = True

    @property
    def open_connections(self) -> list[ProxiedConnection]:
        """Connections currently proxied."""
        return [c for c in self.connections if c.is_open]

    # -- pumping ------------------------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._serve(reader, writer)
        finally:
            self._handlers.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._accepting:
            self.refused += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self.accepted += 1
        conn = ProxiedConnection(self.accepted, writer, up_writer)
        self.connections.append(conn)
        conn.tasks = [
            asyncio.create_task(self._pump(reader, up_writer, conn, to_client=False)),
            asyncio.create_task(self._pump(up_reader, writer, conn, to_client=True)),
        ]
        try:
            await asyncio.gather(*conn.tasks, return_exceptions=True)
        finally:
            conn.abort()
            if conn in self.connections:
                self.connections.remove(conn)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: ProxiedConnection, *, to_client: bool
    ) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue()

        async def read() -> None:
            while True:
                try:
                    data = await reader.read(_CHUNK)
                except OSError:  # reset by the peer: pass the reset on
                    await queue.put((loop.time(), None))
                    return
                await queue.put((loop.time(), data))
                if not data:
                    return

        reading = asyncio.create_task(read())
        try:
            while True:
                received_at, data = await queue.get()
                delay = self.delay_to_client if to_client else self.delay_to_server
                wait = received_at + delay - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._flowing.wait()
                if data is None:
                    conn.abort()
                    return
                if not data:  # EOF: pass the half-close on
                    if writer.can_write_eof() and not writer.transport.is_closing():
                        with contextlib.suppress(OSError):
                            writer.write_eof()
                    return
                if writer.transport.is_closing():
                    return
                writer.write(data)
                if to_client:
                    self.bytes_to_client += len(data)
                else:
                    self.bytes_to_server += len(data)
                await writer.drain()
        except OSError:
            conn.abort()
        finally:
            reading.cancel()
            with contextlib.suppress(BaseException):
                await reading

    def __repr__(self) -> str:
        return f"<FaultProxy {self.host}:{self.port} -> {self.target_host}:{self.target_port}>"
