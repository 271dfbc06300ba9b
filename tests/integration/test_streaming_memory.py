"""Streaming a million rows keeps memory flat: one page is consumed while at most one more is fetched.

Slow (about a minute, most of it inserting the rows), but part of the default suite.
"""

from __future__ import annotations

import asyncio
import gc
import time

import pytest

from aiocql import Cluster
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

from .conftest import ddl, load_rows

pytestmark = [pytest.mark.server, pytest.mark.slow]

PARTITIONS = 1000
PER_PARTITION = 1000
ROWS = PARTITIONS * PER_PARTITION
PAYLOAD = "p" * 100
#: Every row kept alive would cost far more than this (1M named tuples holding a 100-character str,
#: two ints: well over 250 MB); two pages of 5000 rows cost a few MB.
MAX_GROWTH_MB = 150


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.fixture(scope="module", autouse=True)
def rows(server: ServerInfo, keyspace: str) -> None:
    ddl(server, keyspace, "CREATE TABLE big (k int, c int, v text, PRIMARY KEY (k, c))")

    async def fill() -> None:
        async with Cluster(**cluster_kwargs(server, compression=True)) as cluster:
            session = await cluster.connect(keyspace)
            rows = ((k, c, PAYLOAD) for k in range(PARTITIONS) for c in range(PER_PARTITION))
            started = time.monotonic()
            assert await load_rows(session, "big", rows, per_batch=250, concurrency=24) == ROWS
            print(f"\ninserted {ROWS} rows in {time.monotonic() - started:.1f}s")

    asyncio.run(fill())


async def test_stream_a_million_rows_in_flat_memory(cassandra: ServerInfo, keyspace: str) -> None:
    gc.collect()
    start_rss = _rss_mb()
    peak_rss = start_rss
    streaming = True

    async def sample() -> None:
        nonlocal peak_rss
        while streaming:
            peak_rss = max(peak_rss, _rss_mb())
            await asyncio.sleep(0.01)

    started = time.monotonic()
    async with Cluster(**cluster_kwargs(cassandra, compression=True)) as cluster:
        session = await cluster.connect(keyspace)
        sampler = asyncio.ensure_future(sample())
        count = 0
        keys = 0
        total_payload = 0
        previous = None
        async for row in session.stream("SELECT k, c, v FROM big", fetch_size=5000):
            count += 1
            total_payload += len(row.v)
            if row.k != previous:
                keys += 1
                previous = row.k
        streaming = False
        await sampler
    elapsed = time.monotonic() - started
    growth = peak_rss - start_rss
    print(
        f"\nstreamed {count} rows in {elapsed:.1f}s: RSS {start_rss:.0f} MB at start, peak {peak_rss:.0f} MB "
        f"(+{growth:.1f} MB)"
    )
    assert count == ROWS
    assert keys == PARTITIONS  # a full scan returns each partition's rows together
    assert total_payload == ROWS * len(PAYLOAD)
    assert growth < MAX_GROWTH_MB
