"""When requests reach the socket: a lone request at once, the requests of a burst together.

A request alone on an idle connection is written by ``request`` itself (at concurrency 1 the flush would
otherwise cost one loop iteration per request: 3 epoll_wait instead of 2); requests sent while others are in
flight, or by several callers one read (or the end of a write pause) woke together, leave in one
``transport.write`` at the loop's next turn. And the session's stream-id waiters are told once per read how
many ids it freed.
"""

from __future__ import annotations

import asyncio

from aiocql.pool.stream_waiters import StreamWaiters
from aiocql.protocol.constants import Opcode
from aiocql.protocol.decoder import FrameDecoder
from aiocql.protocol.requests import Options
from aiocql.protocol.responses import Supported
from tests.helpers.transports import FakeTransport, connection, supported


def streams_in(writes: list[bytes]) -> list[list[int]]:
    return [[e.stream for e in FrameDecoder().feed(w)] for w in writes]


async def turn() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def test_a_lone_request_is_written_before_the_loop_turns() -> None:
    transport = FakeTransport()
    _, proto = connection(transport)
    stream, fut = proto.send(Opcode.OPTIONS, b"")
    assert streams_in(transport.writes) == [[stream]]  # written by send itself, no flush pending
    assert proto._flush_handle is None
    proto.data_received(supported(stream))
    assert (await fut).stream == stream


async def test_requests_sent_while_one_is_in_flight_are_coalesced() -> None:
    transport = FakeTransport()
    _, proto = connection(transport)
    first, _ = proto.send(Opcode.OPTIONS, b"")
    second, _ = proto.send(Opcode.OPTIONS, b"")
    third, _ = proto.send(Opcode.OPTIONS, b"")
    assert streams_in(transport.writes) == [[first]]
    await turn()
    assert streams_in(transport.writes) == [[first], [second, third]]


async def test_the_callers_one_read_woke_are_coalesced() -> None:
    transport = FakeTransport()
    conn, proto = connection(transport)
    streams = [proto.send(Opcode.OPTIONS, b"")[0] for _ in range(3)]
    await turn()
    transport.writes.clear()
    proto.data_received(b"".join(supported(s) for s in streams))  # the connection is idle again
    assert proto.in_flight == 0 and proto.woke_several
    tasks = [asyncio.ensure_future(conn.request(Options())) for _ in range(3)]
    await turn()
    assert len(transport.writes) == 1 and len(streams_in(transport.writes)[0]) == 3  # the first did not go alone
    proto.data_received(b"".join(supported(s) for s in streams_in(transport.writes)[0]))
    assert [type(r) for r in await asyncio.gather(*tasks)] == [Supported] * 3


async def test_a_lone_request_after_a_single_reply_goes_at_once() -> None:
    transport = FakeTransport()
    conn, proto = connection(transport)
    for _ in range(3):  # concurrency 1: each request is written by request() itself
        task = asyncio.ensure_future(conn.request(Options()))
        await asyncio.sleep(0)  # one step of the task: it sent and now awaits its reply
        assert proto._flush_handle is None and len(transport.writes) == 1
        (stream,) = streams_in(transport.writes)[0]
        transport.writes.clear()
        proto.data_received(supported(stream))
        assert isinstance(await task, Supported)


async def test_waiters_are_told_how_many_ids_a_read_freed() -> None:
    transport = FakeTransport()
    _, proto = connection(transport)
    told: list[int] = []
    proto.on_stream_free = told.append
    streams = [proto.send(Opcode.OPTIONS, b"")[0] for _ in range(4)]
    proto.data_received(b"".join(supported(s) for s in streams[:3]))
    proto.data_received(supported(streams[3]))
    assert told == [3, 1]


async def test_stream_waiters_wake_as_many_as_were_freed_oldest_first() -> None:
    waiters = StreamWaiters()
    tasks = [asyncio.ensure_future(waiters.wait()) for _ in range(4)]
    await turn()
    waiters.notify(2)
    await turn()
    assert [t.done() for t in tasks] == [True, True, False, False]
    waiters.notify()
    await turn()
    assert [t.done() for t in tasks] == [True, True, True, False]
    waiters.notify(5)  # more ids than waiters: everyone left is woken, nothing is kept for later
    await turn()
    assert all(t.done() for t in tasks) and waiters.waiting == 0
