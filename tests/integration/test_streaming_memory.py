"""Streaming a million rows keeps memory flat: one page is consumed while at most one more is fetched.

Two checks: the pages alive while streaming (counted, so the machine's load cannot move it) and the
growth of the process's RSS (a backstop for memory held outside pages). A page that nothing refers to
must be freed at once, not when the cyclic garbage collector happens to run: pages caught in a reference
cycle once piled up to +64 MB on an idle machine and +237 MB on a loaded one.

Slow (about a minute, most of it inserting the rows), but part of the default suite.
"""

from __future__ import annotations

import asyncio
import gc
import time

import pytest

from aiocql import Cluster, ResultSet
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

from .conftest import ddl, load_rows

pytestmark = [pytest.mark.server, pytest.mark.slow]

PARTITIONS = 1000
PER_PARTITION = 1000
ROWS = PARTITIONS * PER_PARTITION
PAYLOAD = "p" * 100
#: Every row kept alive would cost far more than this (1M named tuples holding a 100-character str,
#: two ints: well over 250 MB); two pages of 5000 rows cost a few MB (+8 MB measured over the stream).
MAX_GROWTH_MB = 60
#: The page being read and the one prefetched, plus one for a control-connection query meanwhile.
MAX_PAGES_ALIVE = 3
PAGE_COUNT_EVERY = 50_000  # rows; gc.get_objects() is too slow to run on every page


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
        pages_alive: list[int] = []
        async for row in session.stream("SELECT k, c, v FROM big", fetch_size=5000):
            count += 1
            total_payload += len(row.v)
            if row.k != previous:
                keys += 1
                previous = row.k
            if count % PAGE_COUNT_EVERY == 0:  # garbage in a cycle counts: it is still allocated
                pages_alive.append(sum(1 for o in gc.get_objects() if type(o) is ResultSet))
        streaming = False
        await sampler
    elapsed = time.monotonic() - started
    growth = peak_rss - start_rss
    print(
        f"\nstreamed {count} rows in {elapsed:.1f}s: RSS {start_rss:.0f} MB at start, peak {peak_rss:.0f} MB "
        f"(+{growth:.1f} MB); pages alive (every {PAGE_COUNT_EVERY} rows): at most {max(pages_alive)}"
    )
    assert count == ROWS
    assert keys == PARTITIONS  # a full scan returns each partition's rows together
    assert total_payload == ROWS * len(PAYLOAD)
    assert len(pages_alive) == ROWS // PAGE_COUNT_EVERY
    assert max(pages_alive) <= MAX_PAGES_ALIVE, pages_alive
    assert growth < MAX_GROWTH_MB
