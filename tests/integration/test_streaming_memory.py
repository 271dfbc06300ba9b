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
from aiocql.types import speedups
from tests.helpers.looplag import LoopLag

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


#: Collections of any generation while the million rows stream. Every GC allocation counts towards the next
#: young collection: rows that were new objects made about 7 per page of 5,000 (1,400 here, a middle one every
#: 10 and, with them, full collections of the whole heap: a 10-40 ms stall of the loop each). The compiled core
#: reuses a freed page's rows (a free list): what is left is the driver's own objects per page.
MAX_COLLECTIONS = 200
#: The loop's own worst lag while they stream (tests/helpers/looplag.py), as generous as test_resources'.
MAX_LAG = 0.25
MAX_FULL_COLLECTIONS = 1


async def test_stream_a_million_rows_in_flat_memory(cassandra: ServerInfo, keyspace: str) -> None:
    gc.collect()
    collections = [0, 0, 0]
    full_ms: list[float] = []
    started_at = [0.0]

    def on_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections[info["generation"]] += 1
            started_at[0] = time.perf_counter()
        elif info["generation"] == 2:
            full_ms.append((time.perf_counter() - started_at[0]) * 1000)

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
        gc.callbacks.append(on_collection)
        count = 0
        keys = 0
        total_payload = 0
        previous = None
        pages_alive: list[int] = []
        async with LoopLag() as lag:
            async for row in session.stream("SELECT k, c, v FROM big", fetch_size=5000):
                count += 1
                total_payload += len(row.v)
                if row.k != previous:
                    keys += 1
                    previous = row.k
                if count % PAGE_COUNT_EVERY == 0:  # garbage in a cycle counts: it is still allocated
                    pages_alive.append(sum(1 for o in gc.get_objects() if type(o) is ResultSet))
        gc.callbacks.remove(on_collection)
        streaming = False
        await sampler
    elapsed = time.monotonic() - started
    growth = peak_rss - start_rss
    print(
        f"\nstreamed {count} rows in {elapsed:.1f}s: RSS {start_rss:.0f} MB at start, peak {peak_rss:.0f} MB "
        f"(+{growth:.1f} MB); pages alive (every {PAGE_COUNT_EVERY} rows): at most {max(pages_alive)}; "
        f"collections by generation {collections}, full ones {[round(ms, 1) for ms in full_ms]} ms; worst loop "
        f"lag {lag.worst_own * 1000:.1f} ms of its own ({lag.worst * 1000:.1f} ms wall clock)"
    )
    assert count == ROWS
    assert keys == PARTITIONS  # a full scan returns each partition's rows together
    assert total_payload == ROWS * len(PAYLOAD)
    assert len(pages_alive) == ROWS // PAGE_COUNT_EVERY
    assert max(pages_alive) <= MAX_PAGES_ALIVE, pages_alive
    assert growth < MAX_GROWTH_MB
    assert lag.worst_own < MAX_LAG  # generous (a loaded CI machine); the benchmark's scan cell gives the figure
    if speedups.core is not None:  # the pure decoder makes new rows (CPython's tuple free list is 2,000 long)
        # gc.get_objects() above (every 50,000 rows) allocates a list of every object: a young collection each
        assert sum(collections) < MAX_COLLECTIONS, collections
        assert collections[2] <= MAX_FULL_COLLECTIONS, collections
