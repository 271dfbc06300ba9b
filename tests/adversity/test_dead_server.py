"""A server that dies while requests wait: every waiting request fails at once, nothing hangs."""

from __future__ import annotations

import asyncio

import pytest

from aiocql import Cluster, ConnectionError, ConnectionLost, ConnectTimeout, NoHostAvailable
from aiocql.testing.fakeserver import ABORT, CLOSE, NO_REPLY, FakeServer, Opcode
from aiocql.testing.polling import wait_until

from .conftest import echo_row, is_kv

#: What "at once" may take on a loaded machine: far below the timeouts that would otherwise end the wait.
PROMPTLY = 3.0


@pytest.mark.parametrize("version", [4, 5])
@pytest.mark.parametrize("abort", [True, False], ids=["rst", "fin"])
async def test_all_waiting_requests_fail_promptly_when_the_server_dies(
    server: FakeServer, version: int, abort: bool
) -> None:
    rule = server.on(Opcode.QUERY, match=is_kv, reply=NO_REPLY)
    loop = asyncio.get_running_loop()
    async with Cluster([server.host], port=server.port, protocol_version=version, request_timeout=30) as cluster:
        session = await cluster.connect()
        old_conn = session.pools[0].connections[0]
        tasks = [asyncio.ensure_future(session.execute(f"SELECT k, v FROM kv WHERE k = {k}")) for k in range(100)]
        await server.wait_for_requests(100, Opcode.QUERY, is_kv)
        assert not any(t.done() for t in tasks)
        dropped_at = loop.time()
        server.drop_connections(abort=abort)
        # "At once": well before the requests' 30 s timeout, with room for a loaded machine.
        done, pending = await asyncio.wait(tasks, timeout=PROMPTLY)
        elapsed = loop.time() - dropped_at
        assert not pending, f"{len(pending)} requests still waiting {PROMPTLY} s after the server died"
        errors = [t.exception() for t in done]
        assert all(isinstance(e, ConnectionLost) and isinstance(e, ConnectionError) for e in errors), errors[:3]
        assert elapsed < PROMPTLY
        how = "RST" if abort else "FIN"
        print(f"\nv{version} {how}: 100 waiting requests failed {elapsed * 1000:.1f} ms after the drop")

        # The pool notices, reconnects in the background, and the session works again.
        rule.remove()
        server.on(Opcode.QUERY, match=is_kv, reply=echo_row)
        pool = session.pools[0]
        await wait_until(lambda: pool.is_up and pool.connections and pool.connections[0] is not old_conn, timeout=15.0)
        row = (await session.execute("SELECT k, v FROM kv WHERE k = 5", timeout=10.0)).one()
        assert row == (5, "value-5")


async def test_server_that_accepts_but_never_answers_startup_times_out(server: FakeServer) -> None:
    server.on(Opcode.STARTUP, reply=NO_REPLY)
    loop = asyncio.get_running_loop()
    cluster = Cluster([server.host], port=server.port, connect_timeout=0.2)
    start = loop.time()
    with pytest.raises(NoHostAvailable) as info:
        await cluster.connect()
    assert loop.time() - start < PROMPTLY  # the 0.2 s connect timeout, not a hang
    assert any(isinstance(e, ConnectTimeout) for e in info.value.errors.values()), info.value.errors
    await cluster.close()
    await wait_until(lambda: not server.open_connections)  # the half-open socket was closed


@pytest.mark.parametrize("abort", [True, False], ids=["rst", "fin"])
async def test_server_dying_during_the_handshake(server: FakeServer, abort: bool) -> None:
    server.on(Opcode.STARTUP, reply=ABORT if abort else CLOSE)
    # A connect timeout far beyond the wait: only noticing the closed socket can end it in time.
    cluster = Cluster([server.host], port=server.port, connect_timeout=60.0)
    with pytest.raises(NoHostAvailable) as info:
        await asyncio.wait_for(cluster.connect(), 10.0)
    assert all(isinstance(e, ConnectionError) for e in info.value.errors.values()), info.value.errors
    await cluster.close()


async def test_nothing_listening(server: FakeServer) -> None:
    port = server.port
    await server.close()  # the port is free now: connections are refused
    cluster = Cluster([server.host], port=port, connect_timeout=60.0)  # a refusal must end it, not a timeout
    with pytest.raises(NoHostAvailable) as info:
        await asyncio.wait_for(cluster.connect(), 10.0)
    assert all(isinstance(e, ConnectionError) for e in info.value.errors.values()), info.value.errors
    await cluster.close()
