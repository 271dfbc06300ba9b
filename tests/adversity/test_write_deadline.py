"""``Connection.request(deadline=...)`` bounds the whole call, the wait for a writable transport included.

While the transport is paused (the server stopped reading and the write buffer is over its high-water
mark), a request waits before it takes a stream id. A caller with a deadline must still get
:class:`OperationTimedOut` at its deadline, having taken no stream id, and the connection must carry
requests normally once the server reads again.
"""

from __future__ import annotations

import asyncio

import pytest

from aiocql import Cluster, OperationTimedOut
from aiocql.connection.connection import Connection, ConnectionOptions
from aiocql.connection.protocol import CqlProtocol
from aiocql.protocol.constants import Opcode
from aiocql.protocol.requests import Options, Query
from aiocql.protocol.responses import Supported
from aiocql.testing.fakeserver import FakeServer
from aiocql.testing.polling import wait_until
from tests.helpers.transports import FakeTransport, supported

from .conftest import echo_row, is_kv

#: uvloop's clock and timers count whole milliseconds: a timer set for the deadline may fire at the
#: deadline rounded to its millisecond, a hair before the float deadline.
CLOCK_RESOLUTION = 0.001


async def test_deadline_bounds_the_wait_for_a_paused_transport() -> None:
    transport = FakeTransport()
    proto = CqlProtocol(4)
    proto.connection_made(transport)
    conn = Connection("fake", proto, ConnectionOptions())
    proto.pause_writing()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 0.2
    # Without the fix the call waits for resume_writing for ever; the outer bound only keeps a broken
    # driver from hanging the suite (it is far beyond the deadline).
    with pytest.raises(OperationTimedOut, match="writable"):
        await asyncio.wait_for(conn.request(Options(), deadline=deadline), 10.0)
    assert loop.time() >= deadline - CLOCK_RESOLUTION  # not before its deadline ...
    assert proto.in_flight == 0 and proto.orphaned == 0 and transport.writes == []  # ... and it took no id
    assert not conn.is_closed
    # The connection is consistent afterwards: once writable, a request goes out and gets its reply.
    proto.resume_writing()
    task = asyncio.ensure_future(conn.request(Options(), deadline=loop.time() + 30.0))
    await wait_until(lambda: transport.writes, timeout=10.0)
    proto.data_received(supported(0))
    assert isinstance(await task, Supported)
    assert proto.in_flight == 0 and proto.orphaned == 0


async def test_a_deadline_already_passed_while_paused_raises_at_once() -> None:
    proto = CqlProtocol(4)
    proto.connection_made(FakeTransport())
    conn = Connection("fake", proto, ConnectionOptions())
    proto.pause_writing()
    with pytest.raises(OperationTimedOut):
        await asyncio.wait_for(conn.request(Options(), deadline=asyncio.get_running_loop().time() - 1), 30.0)
    assert proto.in_flight == 0


@pytest.mark.parametrize("version", [4, 5])
async def test_a_server_that_stops_reading_cannot_hold_a_caller_past_its_deadline(
    server: FakeServer, version: int
) -> None:
    """Real sockets: the server stops reading, 1 MiB queries fill the buffers until the transport pauses;
    a request with a deadline then returns at its deadline; once the server reads again everything
    queued completes and the connection still answers."""
    big = "SELECT k, v FROM kv WHERE k = 1 AND pad = '" + "x" * (1 << 20) + "'"
    server.on(Opcode.QUERY, match=is_kv, reply=echo_row)
    async with Cluster([server.host], port=server.port, protocol_version=version) as cluster:
        session = await cluster.connect()
        conn = session.pools[0].connections[0]
        server.pause_reading()
        fill = [asyncio.ensure_future(session.execute(big, timeout=60)) for _ in range(64)]
        await wait_until(lambda: conn.proto.is_paused, timeout=10.0, message="the transport never paused")
        in_flight = conn.in_flight
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 0.3
        query = Query("SELECT k, v FROM kv WHERE k = 2")
        with pytest.raises(OperationTimedOut):
            await asyncio.wait_for(conn.request(query, deadline=deadline), 30.0)
        assert loop.time() >= deadline - CLOCK_RESOLUTION
        assert conn.in_flight == in_flight and not conn.is_closed  # it took no stream id
        server.resume_reading()
        done = await asyncio.gather(*fill)
        assert len(done) == 64
        assert (await session.execute("SELECT k, v FROM kv WHERE k = 3")).one() == (3, "value-3")
        assert len(server.received(Opcode.QUERY, is_kv)) == 65  # the timed-out request never reached it
