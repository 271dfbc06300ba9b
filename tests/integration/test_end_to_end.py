"""The first end-to-end path against a real Cassandra: handshake on v4 and v5, system.local, DDL, rows."""

from __future__ import annotations

import threading

import pytest

from aiocql import Cluster
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

pytestmark = pytest.mark.server


@pytest.mark.parametrize("version", [4, 5])
@pytest.mark.parametrize("compression", [False, True])
async def test_release_version_and_rows(cassandra: ServerInfo, keyspace: str, version: int, compression: bool) -> None:
    threads_before = threading.active_count()
    async with Cluster(**cluster_kwargs(cassandra, protocol_version=version, compression=compression)) as cluster:
        session = await cluster.connect(keyspace)
        conn = session.pools[0].connections[0]
        assert conn.version == version
        row = (await session.execute("SELECT release_version FROM system.local")).one()
        assert row.release_version.startswith("5.0.")
        table = f"kv_v{version}_{'lz4' if compression else 'plain'}"
        await session.execute(f"CREATE TABLE {table} (k int PRIMARY KEY, v text)")
        await session.execute(f"INSERT INTO {table} (k, v) VALUES (1, 'one')")
        await session.execute(f"INSERT INTO {table} (k, v) VALUES (?, ?)", (2, "twö"))
        rows = sorted(await (await session.execute(f"SELECT k, v FROM {table}")).all())
        assert rows == [(1, "one"), (2, "twö")]
    assert threading.active_count() == threads_before


async def test_negotiation_picks_v5(cassandra: ServerInfo) -> None:
    async with Cluster(**cluster_kwargs(cassandra)) as cluster:
        session = await cluster.connect()
        assert session.pools[0].connections[0].version == 5
        assert cluster.protocol_version == 5
