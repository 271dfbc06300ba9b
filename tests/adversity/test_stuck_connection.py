"""Issue 11 item 9: liveness is decoded replies, not bytes; a stuck connection is dropped and replaced.

Three ways a server keeps bytes flowing while no reply ever completes: v4 junk with opcode 0x42, a header
announcing a 256 MiB body (then filler that never finishes it), and a server trickling its replies at
10 bytes/s. In each, requests on that connection time out; the timeout makes the driver probe the connection
(OPTIONS, answered within ``heartbeat_timeout``), the probe goes unanswered, the connection is dropped, the
pool opens a new one, and later requests succeed within a bounded time. An idle connection in the same state
is caught by the periodic heartbeat, which bytes no longer postpone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import pytest

from aiocql import Cluster, OperationTimedOut, Session
from aiocql.connection.connection import Connection, ConnectionOptions
from aiocql.protocol.constants import Opcode
from aiocql.protocol.frames import encode_frame
from aiocql.testing.fakeserver import FakeServer, ServerConnection
from aiocql.testing.polling import wait_until

from .conftest import echo_row, is_kv

HEARTBEAT_TIMEOUT = 0.5
REQUEST_TIMEOUT = 0.3
BOUND = 20.0  # seconds within which a request must succeed again (generous: a shared, loaded machine)
HUGE = 256 * 1024 * 1024


def pool_side(server: FakeServer) -> ServerConnection:
    """The server side of the session's (only) pool connection."""
    conns = [c for c in server.open_connections if c.id not in server.control_connections]
    assert len(conns) == 1, conns
    return conns[0]


async def filler(conn: ServerConnection, chunk: Callable[[], bytes], period: float = 0.05) -> None:
    """Keep bytes arriving at the client (that never complete a reply) until the connection closes."""
    assert conn.transport is not None
    while conn.is_open and not conn.transport.is_closing():
        conn.transport.write(chunk())
        await asyncio.sleep(period)


def junk_0x42(conn: ServerConnection) -> Callable[[], bytes]:
    assert conn.transport is not None
    conn.transport.write(bytes.fromhex("84007fff4200001000") + bytes(8))
    return lambda: bytes(16)


def huge_header(conn: ServerConnection) -> Callable[[], bytes]:
    """A RESULT header announcing 256 MiB on a stream the client uses; filler bytes follow."""
    assert conn.transport is not None
    version = conn.version or 4
    header = bytes([0x80 | version, 0]) + (1).to_bytes(2, "big") + bytes([Opcode.RESULT]) + HUGE.to_bytes(4, "big")
    if version >= 5:  # the envelope's first bytes in a frame that is not self-contained, filler frames after
        conn.transport.write(encode_frame(header + bytes(1000), self_contained=False))
        return lambda: encode_frame(bytes(1000), self_contained=False)
    conn.transport.write(header)
    return lambda: bytes(1000)


class _TricklingTransport:
    """Stands in for the server connection's transport: writes are queued and leave a byte at a time.

    (A wrapper, not a patched ``transport.write``: uvloop's transports have read-only attributes.)
    """

    def __init__(self, real: asyncio.Transport) -> None:
        self.real = real
        self.queue = bytearray()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.queue.extend(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def trickle(conn: ServerConnection, rate: float = 10.0) -> asyncio.Task[None]:
    """From now on the server's replies leave at ``rate`` bytes per second."""
    real = conn.transport
    assert real is not None
    slow = _TricklingTransport(real)
    conn.transport = cast(asyncio.Transport, slow)

    async def pump() -> None:
        while not real.is_closing():
            if slow.queue:
                real.write(bytes(slow.queue[:1]))
                del slow.queue[:1]
            await asyncio.sleep(1 / rate)

    return asyncio.ensure_future(pump())


@pytest.fixture(params=[4, 5], ids=["v4", "v5"])
async def session(request: pytest.FixtureRequest, server: FakeServer) -> AsyncIterator[Session]:
    server.on(Opcode.QUERY, match=is_kv, reply=echo_row)
    async with Cluster(
        [server.host],
        port=server.port,
        protocol_version=request.param,
        heartbeat_timeout=HEARTBEAT_TIMEOUT,  # heartbeat_interval stays 30 s: the timed-out requests must do it
        schema_metadata=False,
    ) as cluster:
        yield await cluster.connect()


async def recovers(session: Session) -> float:
    """Run requests (each with a short timeout) until one succeeds on a new connection; return the time taken."""
    pool = session.pools[0]
    old = pool.connections[0]
    loop = asyncio.get_running_loop()
    start = loop.time()
    timeouts = 0
    while loop.time() - start < BOUND:
        try:
            rs = await session.execute("SELECT k, v FROM kv WHERE k = 5", timeout=REQUEST_TIMEOUT)
        except OperationTimedOut:
            timeouts += 1
            continue
        except Exception:  # the dropped connection's requests fail; the pool may be between connections
            await asyncio.sleep(0.05)
            continue
        if pool.connections and pool.connections[0] is not old:
            assert rs.one() == (5, "value-5")
            assert old.is_closed
            return loop.time() - start
    raise AssertionError(f"no request succeeded on a new connection within {BOUND}s ({timeouts} timed out)")


@pytest.mark.parametrize("fault", ["huge-header", "trickle"])
async def test_a_stuck_connection_is_replaced(server: FakeServer, session: Session, fault: str) -> None:
    conn = pool_side(server)
    background: list[asyncio.Task[None]] = []
    if fault == "huge-header":
        background.append(asyncio.ensure_future(filler(conn, huge_header(conn))))
    else:
        background.append(trickle(conn))
    try:
        took = await recovers(session)
    finally:
        for task in background:
            task.cancel()
    assert took < BOUND


async def test_v4_junk_with_opcode_0x42_is_dropped_and_replaced(server: FakeServer) -> None:
    server.on(Opcode.QUERY, match=is_kv, reply=echo_row)
    async with Cluster(
        [server.host], port=server.port, protocol_version=4, heartbeat_timeout=HEARTBEAT_TIMEOUT,
        schema_metadata=False,
    ) as cluster:  # fmt: skip
        session = await cluster.connect()
        conn = pool_side(server)
        task = asyncio.ensure_future(filler(conn, junk_0x42(conn)))
        try:
            assert await recovers(session) < BOUND
        finally:
            task.cancel()


@pytest.mark.parametrize("version", [4, 5])
async def test_an_idle_connection_receiving_bytes_but_no_reply_is_probed(server: FakeServer, version: int) -> None:
    """No request at all, bytes keep coming (filler of a 256 MiB body): the heartbeat still probes and drops."""
    opts = ConnectionOptions(port=server.port, protocol_version=version, heartbeat_interval=0.3,
                             heartbeat_timeout=HEARTBEAT_TIMEOUT)  # fmt: skip
    client = await Connection.open(server.host, opts)
    try:
        conn = server.open_connections[-1]
        task = asyncio.ensure_future(filler(conn, huge_header(conn)))
        try:
            await wait_until(lambda: client.is_closed, timeout=BOUND)
        finally:
            task.cancel()
        assert server.received(Opcode.OPTIONS), "the heartbeat never probed"
    finally:
        client.abort()


async def test_a_slow_but_alive_connection_is_kept(server: FakeServer) -> None:
    """A request that times out because *its* reply is slow does not drop a connection that answers the probe."""
    server.on(Opcode.QUERY, match=lambda r: "k = 9" in (r.query or ""), reply=echo_row, delay=2.0)
    server.on(Opcode.QUERY, match=lambda r: "k = 1" in (r.query or ""), reply=echo_row)
    # The probe is answered: give it a timeout a loaded machine cannot miss (HEARTBEAT_TIMEOUT is for
    # probes that must go unanswered).
    opts = ConnectionOptions(port=server.port, protocol_version=5, heartbeat_timeout=10.0)
    client = await Connection.open(server.host, opts)
    try:
        from aiocql.protocol.requests import Query

        with pytest.raises(OperationTimedOut):
            await client.send(Query("SELECT k, v FROM kv WHERE k = 9"), timeout=REQUEST_TIMEOUT)
        await server.wait_for_requests(1, Opcode.OPTIONS)  # the timeout asked for a probe ...
        await wait_until(lambda: not client.probing, timeout=BOUND)  # ... which was answered in time
        assert not client.is_closed
        assert not isinstance(await client.send(Query("SELECT k, v FROM kv WHERE k = 1"), timeout=10.0), Exception)
    finally:
        with contextlib.suppress(Exception):
            await client.close()
