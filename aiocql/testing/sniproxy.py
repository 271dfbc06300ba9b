"""An SNI-routing TCP proxy (asyncio) for tests: one listening address in front of several TLS nodes.

It reads the client's TLS ClientHello, takes the server name (SNI) from it, and forwards the connection,
bytes untouched (TLS stays end to end), to the node that name maps to. A name it does not know goes to
``default`` (or the connection is closed when there is none). It is the way Astra and many Kubernetes
operators expose nodes behind one address. It records the names it saw (``routed``).

Test tooling, not part of the driver.

Example:
    >>> async with SniProxy({"node1.db.test": ("127.0.0.1", 9042)}) as proxy:  # doctest: +SKIP
    ...     cluster = Cluster([proxy.host], port=proxy.port, ssl_context=ctx,
    ...                       server_hostname=lambda h: "node1.db.test")
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections import Counter
from collections.abc import Mapping

from aiocql.errors import BadClientHello

__all__ = ["SniProxy", "server_name"]

_MAX_HELLO = 64 * 1024


def server_name(hello: bytes) -> str | None:
    """The SNI host name in a TLS ClientHello (the record's bytes), or None when it sends none.

    Raises :class:`~aiocql.errors.BadClientHello` (a ValueError) for bytes that are not a ClientHello.
    """
    if len(hello) < 5 or hello[0] != 22:
        raise BadClientHello("not a TLS handshake record")
    body = hello[5:]
    if not body or body[0] != 1:
        raise BadClientHello("not a ClientHello")
    at = 4 + 2 + 32  # handshake header, client_version, random
    at += 1 + body[at]  # session id
    (suites,) = struct.unpack_from("!H", body, at)
    at += 2 + suites
    at += 1 + body[at]  # compression methods
    if at + 2 > len(body):
        return None  # no extensions
    (ext_total,) = struct.unpack_from("!H", body, at)
    at += 2
    end = min(len(body), at + ext_total)
    while at + 4 <= end:
        ext_type, ext_len = struct.unpack_from("!HH", body, at)
        at += 4
        if ext_type == 0:  # server_name: a list of (type, name)
            inner = at + 2
            while inner + 3 <= at + ext_len:
                name_type, name_len = struct.unpack_from("!BH", body, inner)
                inner += 3
                if name_type == 0:
                    return body[inner : inner + name_len].decode("ascii", "replace")
                inner += name_len
            return None
        at += ext_len
    return None


class SniProxy:
    """Listen on ``host`` (an ephemeral port by default); route each TLS connection by its SNI name."""

    def __init__(
        self,
        routes: Mapping[str, tuple[str, int]],
        *,
        default: tuple[str, int] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.routes = {k.lower(): v for k, v in routes.items()}
        self.default = default
        self.host, self.port = host, port
        self.routed: Counter[str | None] = Counter()  # SNI names seen (None: no SNI), routed or not
        self.refused = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> SniProxy:
        """Start listening; ``port`` is set to the bound port."""
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None

    async def __aenter__(self) -> SniProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            await self._serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        header = await reader.readexactly(5)
        (length,) = struct.unpack_from("!H", header, 3)
        if length > _MAX_HELLO:
            raise BadClientHello("ClientHello too long")
        hello = header + await reader.readexactly(length)
        name = server_name(hello)
        self.routed[name] += 1
        target = self.routes.get(name.lower()) if name else None
        target = target or self.default
        if target is None:
            self.refused += 1
            return
        up_reader, up_writer = await asyncio.open_connection(*target)
        self._writers.add(up_writer)
        try:
            up_writer.write(hello)
            await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
        finally:
            self._writers.discard(up_writer)
            up_writer.transport.abort()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(256 * 1024):
            writer.write(data)
            await writer.drain()
    finally:
        if writer.can_write_eof():
            with contextlib.suppress(OSError):
                writer.write_eof()
