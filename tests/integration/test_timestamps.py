"""Client-side timestamps: explicit ones (USING TIMESTAMP, execute(timestamp=...)) are what WRITETIME
shows; the default ones are the session's monotonic microseconds, strictly increasing."""

from __future__ import annotations

import time

import pytest

from aiocql import BatchStatement, BatchType, Cluster, Session
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

from .conftest import VERSIONS, ddl

pytestmark = pytest.mark.server


@pytest.fixture(scope="module", autouse=True)
def tables(server: ServerInfo, keyspace: str) -> None:
    ddl(server, keyspace, "CREATE TABLE ts (k text, c int, v int, PRIMARY KEY (k, c))")


async def _writetime(session: Session, key: str, c: int) -> int:
    row = (await session.execute("SELECT writetime(v) AS wt FROM ts WHERE k = ? AND c = ?", (key, c))).one()
    return int(row.wt)


@pytest.mark.parametrize("session", VERSIONS, indirect=True)
async def test_explicit_timestamps(session: Session, request: pytest.FixtureRequest) -> None:
    key = request.node.callspec.id
    await session.execute(f"INSERT INTO ts (k, c, v) VALUES ('{key}', 0, 1) USING TIMESTAMP 1234567")
    assert await _writetime(session, key, 0) == 1234567
    await session.execute("INSERT INTO ts (k, c, v) VALUES (?, 1, 1)", (key,), timestamp=7654321)
    assert await _writetime(session, key, 1) == 7654321
    # A write with an older timestamp loses to the newer one already there.
    await session.execute("UPDATE ts SET v = 99 WHERE k = ? AND c = 1", (key,), timestamp=7654320)
    assert (await session.execute("SELECT v FROM ts WHERE k = ? AND c = 1", (key,))).one().v == 1
    # USING TIMESTAMP in the text wins over the request's default timestamp.
    await session.execute(f"INSERT INTO ts (k, c, v) VALUES ('{key}', 2, 1) USING TIMESTAMP 42", timestamp=43)
    assert await _writetime(session, key, 2) == 42
    batch = BatchStatement(BatchType.LOGGED)
    insert = await session.prepare("INSERT INTO ts (k, c, v) VALUES (?, ?, ?)")
    batch.add(insert, (key, 3, 3))
    batch.add(insert, (key, 4, 4))
    await session.execute(batch, timestamp=5_000_000)
    assert [await _writetime(session, key, c) for c in (3, 4)] == [5_000_000, 5_000_000]


@pytest.mark.parametrize("session", VERSIONS, indirect=True)
async def test_default_timestamps_are_client_side_and_increasing(
    session: Session, request: pytest.FixtureRequest
) -> None:
    key = request.node.callspec.id
    insert = await session.prepare("INSERT INTO ts (k, c, v) VALUES (?, ?, ?)")
    before = time.time_ns() // 1000
    for c in range(50):
        await session.execute(insert, (key, 100 + c, c))
    after = time.time_ns() // 1000
    stamps = [await _writetime(session, key, 100 + c) for c in range(50)]
    assert stamps == sorted(stamps) and len(set(stamps)) == 50  # strictly increasing
    assert before <= stamps[0] and stamps[-1] <= after + 1000
    # Rewriting one cell many times in a row: each write has a newer timestamp, so the last one wins
    # even when several land within the same microsecond.
    for v in range(200):
        await session.execute(insert, (key, 200, v))
    assert (await session.execute("SELECT v FROM ts WHERE k = ? AND c = 200", (key,))).one().v == 199


@pytest.mark.parametrize("client_timestamps", [True, False])
async def test_the_session_timestamp_generator(cassandra: ServerInfo, keyspace: str, client_timestamps: bool) -> None:
    """The default timestamp comes from ``session.timestamps`` (a replaceable generator), and is not
    sent at all with ``client_timestamps=False`` (the coordinator then stamps the write)."""
    async with Cluster(**cluster_kwargs(cassandra, client_timestamps=client_timestamps)) as cluster:
        session = await cluster.connect(keyspace)
        session.timestamps = lambda: 5  # type: ignore[assignment]
        key = f"generator-{client_timestamps}"
        await session.execute("INSERT INTO ts (k, c, v) VALUES (?, 0, 0)", (key,))
        written = await _writetime(session, key, 0)
        assert written == 5 if client_timestamps else written > 1_600_000_000_000_000
