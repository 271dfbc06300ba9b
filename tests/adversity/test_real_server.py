"""Adversity against a real Cassandra: cancellation storms, and a node that dies mid-load (cut at a
fault-injecting proxy)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from aiocql import (
    Cluster,
    ConnectionError,
    ConnectionLost,
    NoHostAvailable,
    OperationTimedOut,
    PreparedStatement,
    Session,
)
from aiocql.testing.polling import wait_until
from aiocql.testing.proxy import FaultProxy
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs
from tests.helpers.cancellation import cancellation_storm, check_storm_outcomes

pytestmark = pytest.mark.server

ROWS = 1000


@pytest.fixture
async def kv(cassandra: ServerInfo, keyspace: str) -> AsyncIterator[str]:
    """Table kv with rows k = 0..ROWS-1, v = 'value-k'."""
    async with Cluster(**cluster_kwargs(cassandra)) as cluster:
        session = await cluster.connect(keyspace)
        await session.execute("CREATE TABLE IF NOT EXISTS kv (k int PRIMARY KEY, v text)", timeout=30)
        insert = await session.prepare("INSERT INTO kv (k, v) VALUES (?, ?)")
        await asyncio.gather(*(session.execute(insert, (k, f"value-{k}")) for k in range(ROWS)))
    yield keyspace


async def select(session: Session) -> PreparedStatement:
    return await session.prepare("SELECT k, v FROM kv WHERE k = ?")


@pytest.mark.parametrize("version", [4, 5])
async def test_cancel_1000_in_flight_queries_then_1000_more_each_get_their_row(
    cassandra: ServerInfo, kv: str, version: int
) -> None:
    rng = random.Random(99)
    async with Cluster(**cluster_kwargs(cassandra, protocol_version=version)) as cluster:
        session = await cluster.connect(kv)
        ps = await select(session)
        conn = session.pools[0].connections[0]
        kinds = [rng.choice("ADDC") for _ in range(ROWS)]  # A: before sending, D: at a random moment
        outcomes, peak = await cancellation_storm(
            lambda k: session.execute(ps, (k,)), kinds, conn, rng=rng, max_delay=0.3
        )
        cancelled = check_storm_outcomes(kinds, outcomes, lambda k: (k, f"value-{k}"), cancelled="A")
        print(f"\nv{version}: {cancelled} of {ROWS} cancelled, up to {peak} orphaned stream ids at once")

        rows = await asyncio.gather(*(session.execute(ps, (k,)) for k in range(ROWS)))
        assert [rs.one() for rs in rows] == [(k, f"value-{k}") for k in range(ROWS)]
        await wait_until(lambda: conn.orphaned == 0 and conn.in_flight == 0, timeout=10.0)
        assert session.pools[0].connections == [conn] and not conn.is_closed


#: "At once" on a loaded machine: far below the 10 s request timeout that would otherwise end the wait.
PROMPTLY = 3.0


async def load(session: Session, ps: PreparedStatement, stop: asyncio.Event, outcomes: list[object]) -> None:
    """One client: SELECTs one after another until ``stop``; records each row or error."""
    k = 0
    while not stop.is_set():
        k = (k + 7) % ROWS
        try:
            row = (await session.execute(ps, (k,), timeout=10.0)).one()
            assert row == (k, f"value-{k}"), (k, row)
            outcomes.append(row)
        except (ConnectionError, NoHostAvailable) as exc:
            outcomes.append(exc)
            await asyncio.sleep(0.01)  # a dead node fails fast: do not spin


@pytest.mark.parametrize("pause_first", [True, False], ids=["hung-then-cut", "cut-mid-load"])
async def test_node_dies_mid_load_behind_the_proxy(cassandra: ServerInfo, kv: str, pause_first: bool) -> None:
    loop = asyncio.get_running_loop()
    async with FaultProxy(cassandra.host, cassandra.port) as proxy:
        kwargs = cluster_kwargs(cassandra, contact_points=[proxy.host], port=proxy.port, request_timeout=10.0)
        async with Cluster(**kwargs) as cluster:
            session = await cluster.connect(kv)
            ps = await select(session)
            conn = session.pools[0].connections[0]
            stop = asyncio.Event()
            outcomes: list[object] = []
            workers = [asyncio.ensure_future(load(session, ps, stop, outcomes)) for _ in range(50)]
            await wait_until(lambda: len(outcomes) >= 500, timeout=10.0)
            assert all(isinstance(o, tuple) for o in outcomes)  # healthy so far
            if pause_first:  # the node hangs: 50 requests stay in flight
                proxy.pause()
                await wait_until(lambda: conn.in_flight == 50, timeout=10.0)
            before = len(outcomes)
            proxy.refuse()  # the node stays down for a while: reconnections are refused
            cut_at = loop.time()
            assert proxy.cut() >= 1
            await wait_until(lambda: conn.is_closed, timeout=PROMPTLY)
            failed_in = loop.time() - cut_at
            await wait_until(lambda: conn.in_flight == 0 and len(outcomes) >= before + 50, timeout=PROMPTLY)
            all_failed_in = loop.time() - cut_at
            errors = [o for o in outcomes[before:] if not isinstance(o, tuple)]
            assert errors and all(isinstance(e, (ConnectionLost, NoHostAvailable)) for e in errors), errors[:3]
            print(
                f"\nconnection closed {failed_in * 1000:.1f} ms after the cut; the 50 waiting requests "
                f"failed within {all_failed_in * 1000:.1f} ms"
            )
            assert all_failed_in < PROMPTLY  # at the cut, not at the 10 s request timeout
            proxy.resume()
            proxy.accept()  # the node is back: the pool reconnects and the load succeeds again
            after = len(outcomes)
            await wait_until(lambda: sum(isinstance(o, tuple) for o in outcomes[after:]) >= 200, timeout=15.0)
            stop.set()
            await asyncio.wait_for(asyncio.gather(*workers), 10.0)


async def test_timeouts_through_a_slow_link_never_mix_up_rows(cassandra: ServerInfo, kv: str) -> None:
    """The proxy delays the server's bytes: requests time out, their late rows arrive while other
    requests are in flight, and every caller still gets exactly its own row."""
    async with FaultProxy(cassandra.host, cassandra.port) as proxy:
        kwargs = cluster_kwargs(cassandra, contact_points=[proxy.host], port=proxy.port)
        async with Cluster(**kwargs) as cluster:
            session = await cluster.connect(kv)
            ps = await select(session)
            conn = session.pools[0].connections[0]
            proxy.delay_to_client = 0.5
            timed_out = await asyncio.gather(
                *(session.execute(ps, (k,), timeout=0.2) for k in range(200)), return_exceptions=True
            )
            assert all(isinstance(r, OperationTimedOut) for r in timed_out), timed_out[:3]
            assert conn.orphaned == 200
            proxy.delay_to_client = 0.1  # the late rows arrive while these are in flight
            rows = await asyncio.gather(*(session.execute(ps, (k,), timeout=5.0) for k in range(200, 600)))
            assert [rs.one() for rs in rows] == [(k, f"value-{k}") for k in range(200, 600)]
            await wait_until(lambda: conn.orphaned == 0, timeout=5.0)
            assert session.pools[0].connections == [conn] and not conn.is_closed
