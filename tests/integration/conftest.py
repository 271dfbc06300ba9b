"""Shared fixtures of the real-server suite: a session per protocol variant, and fast bulk loading.

``session`` is parametrized indirectly: ``@pytest.mark.parametrize("session", VARIANTS, indirect=True)``
gives one test per protocol version / compression pair, each with its own Cluster connected to the
module's keyspace. Without parametrization it is a v5 session without compression.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import pytest

from aiocql import BatchStatement, BatchType, Cluster, Session, WriteTimeout
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

#: (protocol version, LZ4 compression)
V4 = pytest.param((4, False), id="v4")
V5 = pytest.param((5, False), id="v5")
V4_LZ4 = pytest.param((4, True), id="v4-lz4")
V5_LZ4 = pytest.param((5, True), id="v5-lz4")
VERSIONS = [V4, V5]
VARIANTS = [V4, V5, V4_LZ4, V5_LZ4]


@pytest.fixture
async def session(request: pytest.FixtureRequest, cassandra: ServerInfo, keyspace: str) -> AsyncIterator[Session]:
    """A session on the module keyspace, for the (version, compression) the test is parametrized with."""
    version, compression = getattr(request, "param", (5, False))
    async with Cluster(**cluster_kwargs(cassandra, protocol_version=version, compression=compression)) as cluster:
        sess = await cluster.connect(keyspace)
        conn = sess.pools[0].connections[0]
        assert conn.version == version
        assert conn.framed == (version >= 5)
        assert conn.compression == ("lz4" if compression else None)
        yield sess


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest, keyspace: str) -> ServerInfo:
    """The module's server (the mode its markers ask for), for module-scoped set-up such as DDL."""
    from aiocql.testing.pytest_plugin import _MANAGER, ServerMode, _mode_of

    return _MANAGER.get(_mode_of(request.node) or ServerMode())


def ddl(info: ServerInfo, keyspace: str, *statements: str) -> None:
    """Run DDL from a synchronous (module-scoped) fixture on a throwaway loop."""

    async def run() -> None:
        async with Cluster(**cluster_kwargs(info)) as cluster:
            sess = await cluster.connect(keyspace)
            for stmt in statements:
                await sess.execute(stmt, timeout=60)

    asyncio.run(run())


async def load_rows(
    session: Session,
    table: str,
    rows: Iterable[tuple[Any, ...]],
    columns: tuple[str, ...] = ("k", "c", "v"),
    *,
    per_batch: int = 250,
    concurrency: int = 32,
) -> int:
    """Insert ``rows`` fast and in bounded memory: unlogged batches of up to ``per_batch`` prepared
    inserts of one partition each (the first column is the partition key; keep a partition's rows
    together), built lazily, ``concurrency`` batches in flight. Returns the number of rows."""
    insert = await session.prepare(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    )

    def batches() -> Iterator[BatchStatement]:
        current = BatchStatement(BatchType.UNLOGGED)
        key: object = None
        for row in rows:
            if len(current) >= per_batch or (len(current) and row[0] != key):
                yield current
                current = BatchStatement(BatchType.UNLOGGED)
            key = row[0]
            current.add(insert, row)
        if len(current):
            yield current

    source = batches()
    count = 0

    async def worker() -> None:
        nonlocal count
        for batch in source:  # next() runs to completion between awaits: the workers share it safely
            for attempt in range(5):
                try:
                    await session.execute(batch, timeout=120)
                    break
                except WriteTimeout:  # an overloaded test server; these inserts are idempotent
                    if attempt == 4:
                        raise
            count += len(batch)

    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker())
    return count


def count_requests(session: Session) -> Counter[int]:
    """Count the requests (by opcode) the session's current connections send from now on."""
    counts: Counter[int] = Counter()
    for pool in session.pools:
        for conn in pool.connections:
            original = conn.request

            async def counting(msg: Any, _orig: Any = original, **kwargs: Any) -> Any:
                counts[msg.opcode] += 1
                return await _orig(msg, **kwargs)

            conn.request = counting  # type: ignore[method-assign]
    return counts
