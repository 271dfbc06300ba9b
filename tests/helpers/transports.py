"""A transport that records what is written, and a connection on it: for tests that drive a connection's
flow control and replies by hand, with no socket."""

from __future__ import annotations

import asyncio
from typing import Any

from aiocql.connection.connection import Connection, ConnectionOptions
from aiocql.connection.protocol import CqlProtocol
from aiocql.protocol.constants import Opcode
from aiocql.protocol.envelope import encode_envelope
from aiocql.protocol.primitives import write_string_multimap


class FakeTransport(asyncio.Transport):
    """Records what is written; never blocks (pausing is driven by the test)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closing = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


def connection(transport: FakeTransport) -> tuple[Connection, CqlProtocol]:
    """A v4 connection on ``transport`` (no handshake: OPTIONS may precede STARTUP)."""
    proto = CqlProtocol(4)
    proto.connection_made(transport)
    return Connection("fake", proto, ConnectionOptions()), proto


def supported(stream: int) -> bytes:
    """A v4 SUPPORTED reply on ``stream`` (the answer to OPTIONS)."""
    return encode_envelope(4, 0, stream, Opcode.SUPPORTED, write_string_multimap({}), response=True)
