"""No threads, a responsive loop: the driver runs on the event loop alone and never blocks it for long."""

from __future__ import annotations

import asyncio
import threading

import pytest

from aiocql import Cluster, execute_concurrent, tuple_factory
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs
from tests.helpers.looplag import LoopLag

from .conftest import ddl, load_rows

pytestmark = pytest.mark.server

LAG_ROWS = 100_000
#: Generous: CI machines are slow. A driver that decoded a whole page of 5000 rows in one go measures a
#: few tens of ms here; one that blocked (threads joined, sync I/O) would show whole seconds. The bound
#: applies to the loop's own lag (LoopLag.own: the wall-clock lag less the time the loop's thread waited
#: for a CPU that other processes, the server included, had), so a loaded machine does not fail it.
MAX_LAG = 0.25


@pytest.fixture(scope="module", autouse=True)
def tables(server: ServerInfo, keyspace: str) -> None:
    ddl(server, keyspace, "CREATE TABLE lag (k int, c int, v text, PRIMARY KEY (k, c))")

    async def fill() -> None:
        async with Cluster(**cluster_kwargs(server)) as cluster:
            session = await cluster.connect(keyspace)
            rows = ((k, c, f"value {k}:{c}") for k in range(100) for c in range(LAG_ROWS // 100))
            assert await load_rows(session, "lag", rows) == LAG_ROWS

    asyncio.run(fill())


@pytest.mark.parametrize("version", [4, 5])
async def test_no_threads(cassandra: ServerInfo, keyspace: str, version: int) -> None:
    before = threading.active_count()
    names_before = {t.name for t in threading.enumerate()}
    cluster = Cluster(**cluster_kwargs(cassandra, protocol_version=version, compression=True, connections_per_host=2))
    session = await cluster.connect(keyspace)
    select = await session.prepare("SELECT v FROM lag WHERE k = ? AND c = ?")
    results = await execute_concurrent(session, [(select, (i % 100, i % 1000)) for i in range(10_000)], concurrency=128)
    assert len(results) == 10_000 and all(r.success for r in results)
    assert results[1234].result_or_exc.one().v == "value 34:234"  # type: ignore[union-attr]
    during = threading.active_count()
    await cluster.close()
    after = threading.active_count()
    assert (before, during, after) == (before, before, before), {t.name for t in threading.enumerate()} - names_before


@pytest.mark.parametrize("version", [4, 5])
async def test_loop_lag_while_streaming(cassandra: ServerInfo, keyspace: str, version: int) -> None:
    async with Cluster(**cluster_kwargs(cassandra, protocol_version=version, compression=True)) as cluster:
        session = await cluster.connect(keyspace)
        count = 0
        checksum = 0
        async with LoopLag() as lag:
            async for row in session.stream("SELECT k, c, v FROM lag", fetch_size=5000, row_factory=tuple_factory):
                count += 1
                checksum += row[1]
    assert count == LAG_ROWS
    assert checksum == 100 * sum(range(LAG_ROWS // 100))
    lags = lag.lags
    assert len(lags) > 10
    worst = lag.worst_own
    print(
        f"\nloop lag streaming {LAG_ROWS} rows on v{version}: max {worst * 1000:.1f} ms of its own "
        f"({lag.worst * 1000:.1f} ms wall clock{'' if lag.measures_own else ', no run-queue figures'}) "
        f"over {len(lags)} probes"
    )
    assert worst < MAX_LAG
