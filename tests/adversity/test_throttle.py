"""The session's request throttle (``max_requests_in_flight``, ``max_requests_queued``) seen from the server:
never more than N requests there at once, queued requests leave in FIFO order, a full queue refuses at
once with RequestThrottled, time queued counts against the request's timeout, and a cancelled queued
request gives its place back."""

from __future__ import annotations

import asyncio
import time

import pytest

from aiocql import Cluster, OperationTimedOut, RequestThrottled, Session
from aiocql.testing.fakeserver import FakeServer, Opcode, ReceivedRequest
from aiocql.testing.polling import wait_until

from .conftest import echo_row, is_kv, key_of
from .fakecluster import Gate


def select(k: int) -> str:
    return f"SELECT k, v FROM kv WHERE k = {k}"


def throttled_cluster(server: FakeServer, in_flight: int, queued: int, **kwargs: object) -> Cluster:
    return Cluster(
        [server.host],
        port=server.port,
        max_requests_in_flight=in_flight,
        max_requests_queued=queued,
        **kwargs,  # type: ignore[arg-type]
    )


def queued(session: Session) -> int:
    throttle = session.throttle
    assert throttle is not None
    return throttle.queued


async def test_never_more_than_n_requests_at_the_server(server: FakeServer) -> None:
    in_server = {"now": 0, "peak": 0}

    async def slow_echo(req: ReceivedRequest) -> object:
        in_server["now"] += 1
        in_server["peak"] = max(in_server["peak"], in_server["now"])
        try:
            await asyncio.sleep(0.005)  # a scripted service time, so that requests overlap
        finally:
            in_server["now"] -= 1
        return echo_row(req)

    server.on(Opcode.QUERY, match=is_kv, reply=slow_echo)
    async with throttled_cluster(server, in_flight=4, queued=1000) as cluster:
        session = await cluster.connect()
        rows = await asyncio.gather(*(session.execute(select(k)) for k in range(200)))
        assert [rs.one() for rs in rows] == [(k, f"value-{k}") for k in range(200)]
        assert in_server["peak"] == 4  # reached, never passed
        assert queued(session) == 0 and session.throttle.in_flight == 0  # type: ignore[union-attr]


async def test_queued_requests_leave_in_fifo_order(server: FakeServer) -> None:
    gate = Gate()
    server.on(Opcode.QUERY, match=is_kv, reply=gate.hold)
    async with throttled_cluster(server, in_flight=1, queued=100) as cluster:
        session = await cluster.connect()
        tasks = [asyncio.ensure_future(session.execute(select(0)))]
        await server.wait_for_requests(1, Opcode.QUERY, is_kv)
        for k in range(1, 21):
            tasks.append(asyncio.ensure_future(session.execute(select(k))))
            await wait_until(lambda k=k: queued(session) == k, timeout=10.0)  # type: ignore[misc]
        assert len(server.received(Opcode.QUERY, is_kv)) == 1  # the others wait in the driver
        gate.open()
        rows = await asyncio.gather(*tasks)
        assert [rs.one() for rs in rows] == [(k, f"value-{k}") for k in range(21)]
        assert [key_of(r) for r in gate.order] == list(range(21))
        assert gate.peak == 1


async def test_a_full_queue_refuses_at_once(server: FakeServer) -> None:
    gate = Gate()
    server.on(Opcode.QUERY, match=is_kv, reply=gate.hold)
    async with throttled_cluster(server, in_flight=1, queued=2) as cluster:
        session = await cluster.connect()
        held = [asyncio.ensure_future(session.execute(select(k))) for k in range(3)]
        await wait_until(lambda: queued(session) == 2 and gate.held == 1, timeout=10.0)
        started = time.perf_counter()
        with pytest.raises(RequestThrottled, match="1 requests in flight and 2 queued"):
            await session.execute(select(99))
        # Nothing frees a place while the gate holds, and the request timeout is 10 s: only refusing at
        # once ends this quickly (the bound leaves room for a loaded machine).
        assert time.perf_counter() - started < 2.0
        gate.open()
        assert [rs.one() for rs in await asyncio.gather(*held)] == [(k, f"value-{k}") for k in range(3)]
        assert 99 not in [key_of(r) for r in server.received(Opcode.QUERY, is_kv)]
        # with the queue drained, requests are accepted again
        assert (await session.execute(select(5))).one() == (5, "value-5")


async def test_time_in_the_queue_counts_against_the_timeout(server: FakeServer) -> None:
    gate = Gate()  # the slow request keeps the one place until the end: the queued one never gets it
    server.on(Opcode.QUERY, match=lambda r: is_kv(r) and key_of(r) < 0, reply=gate.hold)
    server.on(Opcode.QUERY, match=lambda r: is_kv(r) and key_of(r) >= 0, reply=echo_row)
    async with throttled_cluster(server, in_flight=1, queued=10) as cluster:
        session = await cluster.connect()
        slow = asyncio.ensure_future(session.execute(select(-1), timeout=30.0))
        await server.wait_for_requests(1, Opcode.QUERY, is_kv)
        started = time.perf_counter()
        with pytest.raises(OperationTimedOut):
            await session.execute(select(1), timeout=0.1)
        elapsed = time.perf_counter() - started
        assert 0.09 <= elapsed < 2.0, elapsed  # its 0.1 s, spent in the queue (room for a loaded machine)
        assert queued(session) == 0  # the timed-out request left the queue
        assert [key_of(r) for r in server.received(Opcode.QUERY, is_kv)] == [-1]  # and was never sent
        gate.open()
        assert (await slow).one() == (-1, "value--1")
        assert (await session.execute(select(2))).one() == (2, "value-2")


async def test_a_cancelled_queued_request_frees_its_place(server: FakeServer) -> None:
    gate = Gate()
    server.on(Opcode.QUERY, match=is_kv, reply=gate.hold)
    async with throttled_cluster(server, in_flight=1, queued=1) as cluster:
        session = await cluster.connect()
        first = asyncio.ensure_future(session.execute(select(0)))
        await wait_until(lambda: gate.held == 1, timeout=10.0)
        waiting = asyncio.ensure_future(session.execute(select(1)))
        await wait_until(lambda: queued(session) == 1, timeout=10.0)
        with pytest.raises(RequestThrottled):
            await session.execute(select(2))
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert queued(session) == 0
        third = asyncio.ensure_future(session.execute(select(3)))  # takes the freed place
        await wait_until(lambda: queued(session) == 1, timeout=10.0)
        gate.open()
        assert (await first).one() == (0, "value-0")
        assert (await third).one() == (3, "value-3")
        assert [key_of(r) for r in gate.order] == [0, 3]  # the cancelled request never reached the server
        assert session.throttle.in_flight == 0  # type: ignore[union-attr]
