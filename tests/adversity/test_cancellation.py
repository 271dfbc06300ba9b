"""Cancellation is a tested contract: a cancelled caller returns at once, its
stream id is orphaned until the late reply comes, the connection stays usable, and nothing (socket,
task) is left behind. One cancel-mid-flight test per public coroutine of the request path."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from aiocql import Cluster, ResultSet, execute_concurrent
from aiocql.connection.connection import Connection, ConnectionOptions
from aiocql.pool.host_pool import HostPool
from aiocql.protocol.requests import Query
from aiocql.testing.fakeserver import NO_REPLY, FakeServer, Opcode, Prepared, ReceivedRequest, start_fake_servers
from aiocql.testing.polling import wait_until
from aiocql.types import INT
from tests.helpers.cancellation import cancellation_storm, check_storm_outcomes

from .conftest import KV_COLUMNS, echo_row, is_kv, key_of


def kv_query(k: int) -> str:
    return f"SELECT k, v FROM kv WHERE k = {k}"


async def assert_no_tasks_left(before: set[asyncio.Task[object]]) -> None:
    """No task started by the code under test is still running (heartbeats, refills, ...)."""
    me = asyncio.current_task()

    def left() -> set[asyncio.Task[object]]:
        return {t for t in asyncio.all_tasks() if t is not me and not t.done()} - before

    await wait_until(lambda: not left(), timeout=10.0, message=lambda: f"tasks left: {left()!r}")


@pytest.mark.parametrize("version", [4, 5])
async def test_cancel_1000_queries_at_random_moments(server: FakeServer, version: int) -> None:
    """1000 queries, four kinds mixed at random: cancelled before they leave (A), cancelled while the
    server holds them (B: it answers only after the cancel), cancelled at a random time (D), or not
    cancelled (C). Then 1000 more: each gets its own row; every orphan comes back."""
    rng = random.Random(1234)
    kinds = [rng.choice("ABCD") for _ in range(1000)]
    tasks: list[asyncio.Future[ResultSet[Any]]] = []

    async def handler(req: ReceivedRequest) -> object:
        k = key_of(req)
        if 0 <= k < 1000 and kinds[k] == "B":
            tasks[k].cancel()  # the caller gives up while the request is in flight...
        await asyncio.sleep(rng.uniform(0, 0.003))  # ...and the reply comes a random moment later
        return echo_row(req)

    server.on(Opcode.QUERY, match=is_kv, reply=handler)
    async with Cluster([server.host], port=server.port, protocol_version=version) as cluster:
        session = await cluster.connect()
        conn = session.pools[0].connections[0]
        outcomes, peak = await cancellation_storm(
            lambda k: session.execute(kv_query(k)), kinds, conn, rng=rng, max_delay=0.1, tasks=tasks
        )
        cancelled = check_storm_outcomes(kinds, outcomes, lambda k: (k, f"value-{k}"), cancelled="AB")
        print(f"\n{cancelled} of 1000 cancelled, up to {peak} orphaned stream ids at once")
        assert peak > 0

        rows = await asyncio.gather(*(session.execute(kv_query(k)) for k in range(1000, 2000)))
        assert [rs.one() for rs in rows] == [(k, f"value-{k}") for k in range(1000, 2000)]
        await wait_until(lambda: conn.orphaned == 0 and conn.in_flight == 0, timeout=10.0)
        assert session.pools[0].connections == [conn] and not conn.is_closed


async def test_cancel_connection_send(server: FakeServer) -> None:
    server.on(Opcode.QUERY, match=is_kv, reply=echo_row)
    slow = server.on(Opcode.QUERY, match=lambda r: r.query == kv_query(1), reply=echo_row, delay=0.3)
    conn = await Connection.open(server.host, ConnectionOptions(port=server.port))
    try:
        task = asyncio.ensure_future(conn.send(Query(kv_query(1))))
        await wait_until(lambda: slow.hits == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert conn.orphaned == 1
        assert (await conn.send(Query(kv_query(2)))).rows_count == 1  # type: ignore[attr-defined]
        await wait_until(lambda: conn.orphaned == 0, timeout=10.0)
    finally:
        await conn.close()


@pytest.mark.parametrize("auth", [False, True])
async def test_cancel_connection_open_mid_handshake(auth: bool) -> None:
    authenticator = "org.apache.cassandra.auth.PasswordAuthenticator" if auth else None
    async with FakeServer(authenticator=authenticator) as server:
        stuck = server.on(Opcode.AUTH_RESPONSE if auth else Opcode.STARTUP, reply=NO_REPLY)
        before = set(asyncio.all_tasks())
        from aiocql import PlainTextAuthProvider

        options = ConnectionOptions(port=server.port, auth_provider=PlainTextAuthProvider("cassandra", "cassandra"))
        task = asyncio.ensure_future(Connection.open(server.host, options, version=5))
        await wait_until(lambda: stuck.hits == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await wait_until(lambda: not server.open_connections)
        await assert_no_tasks_left(before)


async def test_cancel_connection_close_still_closes_the_socket(server: FakeServer) -> None:
    server.on(Opcode.QUERY, match=is_kv, reply=NO_REPLY)
    conn = await Connection.open(server.host, ConnectionOptions(port=server.port))
    waiting = asyncio.ensure_future(conn.send(Query(kv_query(1))))
    await server.wait_for_requests(1, Opcode.QUERY, is_kv)
    closing = asyncio.ensure_future(conn.close(timeout=5.0))  # drains: waits for the request
    await wait_until(lambda: conn.is_closing)
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    assert conn.is_closed
    await wait_until(lambda: not server.open_connections)
    with pytest.raises(Exception):  # noqa: B017 - the waiting request fails with a connection error
        await waiting


async def test_cancel_host_pool_open_leaves_no_connection() -> None:
    async with FakeServer() as server:
        stuck = server.on(Opcode.STARTUP, reply=NO_REPLY, match=lambda r: r.connection == 2)
        before = set(asyncio.all_tasks())
        pool = HostPool(server.host, ConnectionOptions(port=server.port), version=5, size=2)
        task = asyncio.ensure_future(pool.open())
        await wait_until(lambda: stuck.hits == 1 and len(server.received(Opcode.STARTUP)) == 2)
        await wait_until(lambda: len(server.requests) == 2 and server.replies_sent == 1)  # #1 is ready
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await wait_until(lambda: not server.open_connections, message="a pool connection was left open")
        await pool.close()
        await assert_no_tasks_left(before)


async def test_cancel_host_pool_close_still_closes(server: FakeServer) -> None:
    server.on(Opcode.QUERY, match=is_kv, reply=NO_REPLY)
    pool = HostPool(server.host, ConnectionOptions(port=server.port), version=5, size=2)
    await pool.open()
    busy = pool.borrow()
    waiting = asyncio.ensure_future(busy.send(Query(kv_query(1))))
    await server.wait_for_requests(1, Opcode.QUERY, is_kv)
    closing = asyncio.ensure_future(pool.close(timeout=5.0))
    # close() is in its drain wait once the request's connection is closing, the request still in flight
    await wait_until(lambda: busy.is_closing and not busy.is_closed and not waiting.done())
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    await wait_until(lambda: not server.open_connections, message="cancelled pool.close() left sockets open")
    with pytest.raises(Exception):  # noqa: B017
        await waiting


async def test_cancel_session_prepare_does_not_break_a_concurrent_prepare(server: FakeServer) -> None:
    reply = Prepared(bind=[("k", INT)], result=KV_COLUMNS)
    server.on(Opcode.PREPARE, reply=reply)
    slow = server.on(Opcode.PREPARE, reply=reply, delay=0.2, times=1)  # newest rule first
    async with Cluster([server.host], port=server.port) as cluster:
        session = await cluster.connect()
        first = asyncio.ensure_future(session.prepare("SELECT k, v FROM kv WHERE k = ?"))
        await wait_until(lambda: slow.hits == 1)
        second = asyncio.ensure_future(session.prepare("SELECT k, v FROM kv WHERE k = ?"))
        await asyncio.sleep(0)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        ps = await asyncio.wait_for(second, 2.0)  # the second caller was not cancelled: it gets a statement
        assert ps.query == "SELECT k, v FROM kv WHERE k = ?"
        await wait_until(lambda: session.pools[0].orphaned == 0, timeout=10.0)


async def test_cancel_cluster_connect_leaves_no_connection() -> None:
    servers = await start_fake_servers(2)
    try:
        stuck = servers[1].on(Opcode.STARTUP, reply=NO_REPLY, match=lambda r: r.connection >= 1)
        before = set(asyncio.all_tasks())
        cluster = Cluster(
            [s.host for s in servers], port=servers[0].port, protocol_version=5, contact_points_are_hosts=True
        )
        task = asyncio.ensure_future(cluster.connect())
        await wait_until(lambda: stuck.hits >= 1 and servers[0].replies_sent >= 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await cluster.close()
        for s in servers:
            await wait_until(lambda s=s: not s.open_connections, message=f"{s.host}: connection left open")
        await assert_no_tasks_left(before)
    finally:
        for s in servers:
            await s.close()


async def test_cancel_execute_concurrent(server: FakeServer) -> None:
    server.on(Opcode.QUERY, match=is_kv, reply=echo_row, delay=0.2)
    async with Cluster([server.host], port=server.port) as cluster:
        session = await cluster.connect()
        task = asyncio.ensure_future(execute_concurrent(session, [(kv_query(k), None) for k in range(200)]))
        await server.wait_for_requests(100, Opcode.QUERY, is_kv)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert session.pools[0].orphaned == 100
        await wait_until(lambda: session.pools[0].orphaned == 0, timeout=10.0)
        assert len(server.received(Opcode.QUERY, is_kv)) == 100  # nothing more was sent after the cancel


async def test_cancel_session_close_and_cluster_close_still_close(server: FakeServer) -> None:
    server.on(Opcode.QUERY, match=is_kv, reply=NO_REPLY)
    cluster = Cluster([server.host], port=server.port)
    session = await cluster.connect()
    waiting = asyncio.ensure_future(session.execute(kv_query(1), timeout=None))
    await server.wait_for_requests(1, Opcode.QUERY, is_kv)
    busy = [c for pool in session.pools for c in pool.connections if c.in_flight]
    assert len(busy) == 1
    closing = asyncio.ensure_future(cluster.close())
    # close() is in its drain wait once the request's connection is closing, the request still in flight
    await wait_until(lambda: busy[0].is_closing and not busy[0].is_closed and not waiting.done())
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    await wait_until(lambda: not server.open_connections, message="cancelled close() left sockets open")
    with pytest.raises(Exception):  # noqa: B017
        await waiting


def cancel_when_called(target: object, method: str, closing: list[asyncio.Future[None]]) -> None:
    """Make ``target.method(...)`` cancel ``closing[0]`` as it is called: the closer is cancelled right
    after it handed ``target`` its close coroutine and before that coroutine's task first ran."""
    original = getattr(target, method)

    def call_then_cancel(*args: Any, **kwargs: Any) -> object:
        coro = original(*args, **kwargs)
        closing[0].cancel()
        return coro

    setattr(target, method, call_then_cancel)


async def test_cancel_host_pool_close_before_the_connection_closes_run(server: FakeServer) -> None:
    pool = HostPool(server.host, ConnectionOptions(port=server.port), version=5, size=2)
    await pool.open()
    await wait_until(lambda: len(server.open_connections) == 2)
    closing: list[asyncio.Future[None]] = []
    for conn in pool.connections:
        cancel_when_called(conn, "close", closing)
    closing.append(asyncio.ensure_future(pool.close(timeout=5.0)))
    with pytest.raises(asyncio.CancelledError):
        await closing[0]
    await wait_until(lambda: not server.open_connections, message="cancelled pool.close() left sockets open")
    assert pool.connections == []


async def test_cancel_session_close_before_the_pool_closes_run(server: FakeServer) -> None:
    async with Cluster([server.host], port=server.port) as cluster:
        session = await cluster.connect()
        pools = list(session.pools)
        opened = sum(p.size for p in pools)
        await wait_until(lambda: len(server.open_connections) == opened + 1)  # + the control connection
        closing: list[asyncio.Future[None]] = []
        for pool in pools:
            cancel_when_called(pool, "close", closing)
        closing.append(asyncio.ensure_future(session.close()))
        with pytest.raises(asyncio.CancelledError):
            await closing[0]
        await wait_until(lambda: len(server.open_connections) == 1, message="cancelled session.close() left sockets")
        assert session.is_closed and all(p.connections == [] for p in pools)


async def test_cancel_cluster_close_before_the_session_closes_run(server: FakeServer) -> None:
    cluster = Cluster([server.host], port=server.port)
    session = await cluster.connect()
    await wait_until(lambda: len(server.open_connections) == 1 + sum(p.size for p in session.pools))
    closing: list[asyncio.Future[None]] = []
    cancel_when_called(session, "close", closing)
    closing.append(asyncio.ensure_future(cluster.close()))
    with pytest.raises(asyncio.CancelledError):
        await closing[0]
    await wait_until(lambda: not server.open_connections, message="cancelled cluster.close() left sockets open")


async def test_cancel_control_connection_close_while_it_stops_a_refresh(server: FakeServer) -> None:
    """``ControlConnection.close()`` waits for its refresh task to stop; a caller cancelled during that wait
    returns at once (CancelledError), and the control connection's socket is still closed."""
    cluster = Cluster([server.host], port=server.port)
    session = await cluster.connect()
    control = cluster.control
    assert control is not None
    opened = 1 + sum(p.size for p in session.pools)  # the control connection and the session's pools
    await wait_until(lambda: len(server.open_connections) == opened)
    release = asyncio.Event()
    started = asyncio.Event()
    stopping = asyncio.Event()

    async def slow_to_stop() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            stopping.set()
            await release.wait()  # a refresh that takes its time to unwind
            raise

    control._refresh_task = asyncio.ensure_future(slow_to_stop())  # stands in for a refresh in progress
    await started.wait()  # it must be running to be cancelled in the middle of its work
    closing = asyncio.ensure_future(control.close())
    await stopping.wait()  # close() cancelled the refresh and now waits for it
    closing.cancel()
    try:
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(closing, timeout=5.0)
        await wait_until(
            lambda: len(server.open_connections) == opened - 1,
            message="a cancelled control-connection close() left its socket open",
        )
    finally:
        release.set()
        await cluster.close()
