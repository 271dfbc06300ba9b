"""Token-range scans on the real node: every row exactly once (whole ring, wrap-around, a sub-range),
per-range progress, a page retried after a transient error without duplicates, and ranges handed to Dask
processes (its local mode), each task reading its range on its own event loop."""

from __future__ import annotations

import asyncio
import itertools
import pickle
from collections import Counter
from typing import Any

import pytest

from aiocql import (
    Cluster,
    ReadTimeout,
    Session,
    TokenRange,
    scan_range,
    scan_table,
    token_ranges,
)
from aiocql.protocol.constants import Consistency
from aiocql.scan import MAX_TOKEN, MIN_TOKEN
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

from .conftest import ddl, load_rows

pytestmark = pytest.mark.server

ROWS = 3000  # 1000 partitions of 3 rows


@pytest.fixture(scope="module", autouse=True)
def table(server: ServerInfo, keyspace: str) -> None:
    ddl(server, keyspace, "CREATE TABLE scanned (k int, c int, v text, PRIMARY KEY ((k), c))")

    async def fill() -> None:
        async with Cluster(**cluster_kwargs(server)) as cluster:
            session = await cluster.connect(keyspace)
            rows = ((k, c, f"v{k}-{c}") for k in range(ROWS // 3) for c in range(3))
            assert await load_rows(session, "scanned", rows) == ROWS

    asyncio.run(fill())


async def _tokens(session: Session) -> dict[int, int]:
    """The server's token of every partition key."""
    rs = await session.execute("SELECT DISTINCT k, token(k) FROM scanned", fetch_size=5000)
    return {row[0]: row[1] async for row in rs}


async def test_whole_table_every_row_once(session: Session, keyspace: str) -> None:
    done: list[TokenRange] = []
    scan = scan_table(
        session,
        f"{keyspace}.scanned",
        splits=40,
        concurrency=6,
        fetch_size=100,
        on_range_done=lambda p: done.append(p.range),
    )
    seen = Counter([(row.k, row.c, row.v) async for row in scan])
    assert len(seen) == ROWS and set(seen.values()) == {1}
    assert seen[(7, 2, "v7-2")] == 1
    progress = scan.progress
    assert progress.rows == ROWS and progress.ranges_done == len(scan.ranges) and progress.ranges_failed == 0
    assert sum(r.rows for r in progress.ranges) == ROWS
    assert sorted(done) == sorted(scan.ranges)
    # The ranges tile the ring: contiguous from MIN to MAX, none overlapping, aligned to the node's tokens.
    ranges = scan.ranges
    assert ranges[0].start == MIN_TOKEN and ranges[-1].end == MAX_TOKEN
    assert all(a.end == b.start for a, b in itertools.pairwise(ranges))
    ring = [t for t, _ in session.state.token_map.ring]  # type: ignore[union-attr]
    assert set(ring) <= {r.end for r in ranges}
    assert len(ranges) >= 40
    assert all(r.replicas == (session.state.host_list[0].address,) for r in ranges)


async def test_wrap_around_and_sub_range(session: Session, keyspace: str) -> None:
    tokens = await _tokens(session)
    ordered = sorted(tokens.values())
    # A wrapping range: from the token at 90% of the keys, past MAX, to the token at 10%.
    wrap = TokenRange(ordered[len(ordered) * 9 // 10], ordered[len(ordered) // 10])
    assert wrap.wraps
    expected = {k for k, t in tokens.items() if wrap.contains(t)}
    assert 150 < len(expected) < 250
    scan = scan_table(session, "scanned", keyspace=keyspace, within=wrap, splits=8, concurrency=3)
    got = Counter([row.k async for row in scan])
    assert set(got) == expected and set(got.values()) == {3}
    assert all(not r.wraps for r in scan.ranges)
    # A plain sub-range, with its bounds on partition tokens: start excluded, end included.
    lo, hi = ordered[100], ordered[400]
    sub = TokenRange(lo, hi)
    rows = [row async for row in scan_table(session, "scanned", keyspace=keyspace, within=sub, columns=["k"])]
    assert Counter(r.k for r in rows) == Counter({k: 3 for k, t in tokens.items() if lo < t <= hi})
    assert rows[0]._fields == ("k",)


async def test_page_retried_from_its_paging_state(session: Session, keyspace: str) -> None:
    calls: list[bytes | None] = []
    original = session.execute

    async def flaky(stmt: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("paging_state"))
        if len(calls) == 3:  # the third page request fails once, after two pages were handed out
            raise ReadTimeout("injected", consistency=Consistency.ONE, received=0, block_for=1, data_present=False)
        return await original(stmt, *args, **kwargs)

    session.execute = flaky  # type: ignore[method-assign]
    scan = scan_table(session, "scanned", keyspace=keyspace, ranges=[TokenRange(MIN_TOKEN, MAX_TOKEN)], fetch_size=500)
    seen = Counter([(row.k, row.c) async for row in scan])
    assert len(seen) == ROWS and set(seen.values()) == {1}
    assert scan.progress.retries == 1 and scan.progress.ranges[0].attempts == len(calls)
    assert calls[2] is not None and calls[3] == calls[2]  # the retry asked for the same page again


async def test_a_range_that_keeps_failing_raises(session: Session, keyspace: str) -> None:
    async def failing(*args: Any, **kwargs: Any) -> Any:
        raise ReadTimeout("injected", consistency=Consistency.ONE, received=0, block_for=1, data_present=False)

    session.execute = failing  # type: ignore[method-assign]
    scan = scan_table(session, "scanned", keyspace=keyspace, splits=4, retries=1)
    with pytest.raises(ReadTimeout):
        async for _ in scan:
            pass
    assert scan.progress.ranges_failed >= 1 and scan.progress.rows == 0


def test_ranges_pickle() -> None:
    r = TokenRange(-5, 99, ("127.0.0.1",))
    back = pickle.loads(pickle.dumps(r))
    assert back == r and back.replicas == ("127.0.0.1",)
    whole = token_ranges(None, splits=16)
    assert len(whole) == 16 and sum(x.width for x in whole) == MAX_TOKEN - MIN_TOKEN


def _count_range(args: tuple[dict[str, Any], str, TokenRange]) -> int:
    """One Dask task: its own event loop, its own Cluster, one range."""
    kwargs, keyspace, token_range = args

    async def run() -> int:
        async with Cluster(**kwargs) as cluster:
            session = await cluster.connect()
            return sum([1 async for _ in scan_range(session, f"{keyspace}.scanned", token_range)])

    return asyncio.run(run())


async def test_dask_processes_one_task_per_range(cassandra: ServerInfo, session: Session, keyspace: str) -> None:
    import dask
    import dask.bag

    ranges = token_ranges(session.state, keyspace, splits=6)
    kwargs = cluster_kwargs(cassandra)
    kwargs.pop("ssl_context", None)
    bag = dask.bag.from_sequence([(kwargs, keyspace, r) for r in ranges], npartitions=2).map(_count_range)
    loop = asyncio.get_running_loop()
    counts = await loop.run_in_executor(None, lambda: bag.compute(scheduler="processes", num_workers=2))
    assert sum(counts) == ROWS and len(counts) == len(ranges)
