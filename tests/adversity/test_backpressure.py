"""Backpressure: while the transport's write buffer is over its high-water mark (pause_writing), new
requests wait before taking a stream id or a byte of buffer; resume_writing releases them."""

from __future__ import annotations

import asyncio

import pytest

from aiocql import Cluster, ConnectionError, OperationTimedOut, ResultSet
from aiocql.protocol.constants import Opcode
from aiocql.protocol.decoder import FrameDecoder
from aiocql.protocol.requests import Options
from aiocql.protocol.responses import Supported
from aiocql.testing.fakeserver import FakeServer, ReceivedRequest, Void, start_fake_servers
from aiocql.testing.polling import wait_until
from tests.helpers.transports import FakeTransport, connection, supported

from .conftest import is_kv


async def settle() -> None:
    """Let every ready callback run (a few loop iterations); nothing here waits for time to pass."""
    for _ in range(10):
        await asyncio.sleep(0)


async def test_paused_transport_holds_new_requests_until_resumed() -> None:
    transport = FakeTransport()
    conn, proto = connection(transport)
    proto.pause_writing()
    tasks = [asyncio.ensure_future(conn.request(Options())) for _ in range(3)]
    await settle()
    assert transport.writes == [] and proto.in_flight == 0 and not any(t.done() for t in tasks)
    proto.resume_writing()
    await wait_until(lambda: proto.in_flight == 3 and transport.writes)
    assert len(transport.writes) == 1  # coalesced into one transport.write
    sent = FrameDecoder().feed(transport.writes[0])
    assert [(e.opcode, e.stream) for e in sent] == [(Opcode.OPTIONS, s) for s in range(3)]
    proto.data_received(b"".join(supported(s) for s in range(3)))
    replies = await asyncio.gather(*tasks)
    assert [type(reply) for reply in replies] == [Supported] * 3
    assert proto.in_flight == 0


async def test_cancel_while_paused_takes_no_stream_id() -> None:
    transport = FakeTransport()
    conn, proto = connection(transport)
    proto.pause_writing()
    task = asyncio.ensure_future(conn.request(Options()))
    await settle()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    proto.resume_writing()
    await settle()
    assert transport.writes == [] and proto.in_flight == 0 and proto.orphaned == 0


async def test_connection_lost_while_paused_fails_waiting_requests() -> None:
    conn, proto = connection(FakeTransport())
    proto.pause_writing()
    task = asyncio.ensure_future(conn.request(Options()))
    await settle()
    proto.connection_lost(ConnectionResetError("reset"))
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(task, 1.0)


async def test_a_server_that_stops_reading_pauses_the_driver(server: FakeServer) -> None:
    """Real sockets: the fake server stops reading, 1 MiB queries fill the socket buffers until
    asyncio pauses the transport; later requests wait without taking stream ids; all complete once
    the server reads again."""
    big = "SELECT k, v FROM kv WHERE k = 1 AND pad = '" + "x" * (1 << 20) + "'"
    async with Cluster([server.host], port=server.port, protocol_version=5) as cluster:
        session = await cluster.connect()
        conn = session.pools[0].connections[0]
        server.pause_reading()
        first = [asyncio.ensure_future(session.execute(big, timeout=30)) for _ in range(64)]
        await wait_until(lambda: conn.proto.is_paused, timeout=5.0, message="transport never paused")
        in_flight = conn.in_flight
        later = [asyncio.ensure_future(session.execute(big, timeout=30)) for _ in range(10)]
        await settle()
        assert conn.in_flight == in_flight  # held back before taking stream ids
        server.resume_reading()
        done = await asyncio.gather(*first, *later)
        assert len(done) == 74 and not conn.proto.is_paused
        assert len(server.received(Opcode.QUERY, is_kv)) == 74


def kv_requests(server: FakeServer) -> int:
    return len(server.received(Opcode.QUERY, is_kv))


async def test_a_connection_out_of_stream_ids_sends_the_request_to_the_next_node() -> None:
    """Node A holds its replies until both of its stream ids are taken; the next request planned
    for A was never sent there, so it goes to B (even a non-idempotent one)."""
    servers = await start_fake_servers(2)
    a, b = servers
    try:
        release = asyncio.Event()

        async def held(req: ReceivedRequest) -> object:
            await release.wait()
            return Void()

        a.on(Opcode.QUERY, match=is_kv, reply=held)
        cluster = Cluster([a.host, b.host], port=a.port, max_streams_per_connection=2, contact_points_are_hosts=True)
        async with cluster:
            session = await cluster.connect()
            insert = "INSERT INTO kv (k, v) VALUES (1, 'x')"
            held_on_a: list[asyncio.Future[ResultSet]] = []
            while len(a.received(Opcode.QUERY, is_kv)) < 2:  # fill A's two stream ids
                held_on_a.append(asyncio.ensure_future(session.execute(insert, timeout=5.0)))
                sent = len(held_on_a)
                await wait_until(lambda: kv_requests(a) + kv_requests(b) >= sent)  # noqa: B023 - awaited here
            # Two more: whichever the plan starts with A finds no free stream id there and goes to B.
            on_b = len(b.received(Opcode.QUERY, is_kv))
            for _ in range(2):
                await session.execute(insert, timeout=5.0)
            assert len(b.received(Opcode.QUERY, is_kv)) == on_b + 2
            assert len(a.received(Opcode.QUERY, is_kv)) == 2
            release.set()
            await asyncio.gather(*held_on_a)
            release.clear()
            # Both nodes saturated: a request waits for a free stream id until its deadline (not failing
            # at once); one that waits long enough is sent when a reply frees an id.
            b.on(Opcode.QUERY, match=is_kv, reply=held)
            before = kv_requests(a) + kv_requests(b)
            held_tasks = [asyncio.ensure_future(session.execute(insert, timeout=5.0)) for _ in range(4)]
            await wait_until(lambda: kv_requests(a) + kv_requests(b) == before + 4)
            with pytest.raises(OperationTimedOut):
                await session.execute(insert, timeout=0.3)
            assert session.stream_waiters.waiting == 0  # the one that gave up left the queue
            waiting = asyncio.ensure_future(session.execute(insert, timeout=5.0))
            await wait_until(lambda: session.stream_waiters.waiting == 1)
            assert kv_requests(a) + kv_requests(b) == before + 4  # nothing was sent for it yet
            release.set()
            await asyncio.gather(*held_tasks, waiting)
            assert kv_requests(a) + kv_requests(b) == before + 5
    finally:
        for s in servers:
            await s.close()
