"""Features of issue 13 on one real node: execution profiles at run time, schema refresh of one element
and without events, host details and the cluster name, the list-like ResultSet, readable statements."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

import aiocql
from aiocql import (
    BatchStatement,
    BatchType,
    Cluster,
    ConsistencyLevel,
    ExecutionProfile,
    InvalidValueError,
    Session,
    SimpleStatement,
    dict_factory,
    execute_concurrent,
)
from aiocql.testing.polling import wait_until
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

pytestmark = pytest.mark.server


@pytest.fixture
async def cluster(cassandra: ServerInfo) -> AsyncIterator[Cluster]:
    async with Cluster(**cluster_kwargs(cassandra)) as c:
        yield c


async def test_execution_profiles_added_and_cloned_at_run_time(cluster: Cluster, keyspace: str) -> None:
    session = await cluster.connect(keyspace)
    cluster.add_execution_profile("dicts", ExecutionProfile(row_factory=dict_factory))
    assert (await session.execute("SELECT key FROM system.local", execution_profile="dicts")).one() == {"key": "local"}
    later = await cluster.connect(keyspace)  # a session made afterwards has it too
    assert (await later.execute("SELECT key FROM system.local", execution_profile="dicts")).one() == {"key": "local"}
    with pytest.raises(InvalidValueError, match="exists already"):
        cluster.add_execution_profile("dicts", ExecutionProfile())
    clone = session.execution_profile_clone_update("dicts", consistency_level=ConsistencyLevel.ONE)
    assert clone.row_factory is dict_factory and clone.consistency_level is ConsistencyLevel.ONE
    default_clone = session.execution_profile_clone_update("default", row_factory=dict_factory)
    assert default_clone.fetch_size == 5000  # every setting the default resolves to
    assert (await session.execute("SELECT key FROM system.local", execution_profile=default_clone)).one() == {
        "key": "local"
    }
    with pytest.raises(InvalidValueError, match="no setting"):
        session.execution_profile_clone_update("default", consistency=ConsistencyLevel.ONE)
    results = await execute_concurrent(session, [("SELECT key FROM system.local", None)] * 3, execution_profile="dicts")
    assert [r.result_or_exc.one() for r in results] == [{"key": "local"}] * 3  # type: ignore[union-attr]


async def test_refresh_one_table_with_event_refresh_off(cassandra: ServerInfo, keyspace: str) -> None:
    async with (
        Cluster(**cluster_kwargs(cassandra, schema_event_refresh=False)) as quiet,
        Cluster(**cluster_kwargs(cassandra)) as listening,
        Cluster(**cluster_kwargs(cassandra)) as admin_cluster,
    ):
        await quiet.connect()
        await listening.connect()
        admin = await admin_cluster.connect(keyspace)
        for name in ("r1", "r2"):
            await admin.execute(f"DROP TABLE IF EXISTS {name}", timeout=60)
            await admin.execute(f"CREATE TABLE {name} (k int PRIMARY KEY)", timeout=60)
        await quiet.refresh_schema(schema_agreement_wait=None)  # everything, after schema agreement
        assert {"r1", "r2"} <= set(quiet.metadata[keyspace].tables)
        await admin.execute("ALTER TABLE r1 ADD extra text", timeout=60)
        await admin.execute("ALTER TABLE r2 ADD extra text", timeout=60)

        def listener_saw_both() -> bool:
            tables = listening.metadata[keyspace].tables
            return all("extra" in tables[t].columns for t in ("r1", "r2") if t in tables) and "r2" in tables

        await wait_until(listener_saw_both, timeout=10)
        # The cluster that listens saw both changes; the one with event refresh off saw neither.
        assert "extra" not in quiet.metadata[keyspace].tables["r1"].columns
        await quiet.refresh_table_metadata(keyspace, "r1")
        assert "extra" in quiet.metadata[keyspace].tables["r1"].columns
        assert "extra" not in quiet.metadata[keyspace].tables["r2"].columns  # only r1 was read
        await quiet.refresh_keyspace_metadata(keyspace)
        assert "extra" in quiet.metadata[keyspace].tables["r2"].columns
        await admin.execute("DROP TABLE r2", timeout=60)
        await quiet.refresh_table_metadata(keyspace, "r2")
        assert "r2" not in quiet.metadata[keyspace].tables


async def test_host_details_and_cluster_name(cluster: Cluster) -> None:
    session = await cluster.connect()
    local = (
        await session.execute(
            "SELECT cluster_name, release_version, host_id, broadcast_address, listen_address, rpc_address,"
            " broadcast_port, rpc_port FROM system.local"
        )
    ).one()
    assert cluster.metadata.cluster_name == local.cluster_name
    (host,) = cluster.hosts
    assert host.host_id == local.host_id and host.release_version == local.release_version
    assert host.broadcast_address == str(local.broadcast_address) == host.address
    assert host.listen_address == str(local.listen_address)
    assert host.broadcast_rpc_address == str(local.rpc_address) and host.broadcast_rpc_port == local.rpc_port
    assert host.broadcast_port == local.broadcast_port
    assert cluster.metadata.all_hosts() == (host,) and cluster.metadata.get_host(host.address) == host


async def test_result_set_is_list_like_on_its_page(cluster: Cluster, keyspace: str) -> None:
    session = await cluster.connect(keyspace)
    await session.execute("CREATE TABLE IF NOT EXISTS paged (k int, c int, PRIMARY KEY (k, c))", timeout=60)
    await asyncio.gather(*(session.execute("INSERT INTO paged (k, c) VALUES (1, ?)", (c,)) for c in range(5)))
    rs = await session.execute("SELECT c FROM paged WHERE k = 1")
    assert len(rs) == 5 and rs[0].c == 0 and rs[-1].c == 4 and [r.c for r in rs[1:3]] == [1, 2]
    assert [r.c for r in rs] == [0, 1, 2, 3, 4] and list(rs) == rs.current_rows
    paged = await session.execute("SELECT c FROM paged WHERE k = 1", fetch_size=2)
    assert len(paged) == 2 and paged[1].c == 1
    with pytest.raises(InvalidValueError, match="more pages"):
        list(paged)  # would hide the other pages
    assert [r.c for r in await paged.all()] == [0, 1, 2, 3, 4]


async def test_readable_statements_and_exports(cluster: Cluster, keyspace: str) -> None:
    session: Session = await cluster.connect(keyspace)
    await session.execute("CREATE TABLE IF NOT EXISTS secrets (k int PRIMARY KEY, password text)", timeout=60)
    simple = SimpleStatement("SELECT * FROM secrets", consistency_level=ConsistencyLevel.QUORUM, fetch_size=10)
    assert (
        str(simple)
        == repr(simple)
        == "<SimpleStatement 'SELECT * FROM secrets' consistency_level=QUORUM fetch_size=10>"
    )
    ps = await session.prepare("INSERT INTO secrets (k, password) VALUES (?, ?)")
    assert repr(ps).startswith("<PreparedStatement 'INSERT INTO secrets (k, password) VALUES (?, ?)' id=")
    assert "markers=[k int, password text]" in repr(ps)
    bound = ps.bind((1, "hunter2"))
    assert "hunter2" not in repr(bound) and repr(bound).endswith("2 values>")
    batch = BatchStatement(BatchType.UNLOGGED)
    batch.add(bound)
    assert repr(batch) == "<BatchStatement UNLOGGED of 1 statement>"
    assert aiocql.HostStateListener is not None and "HostStateListener" in aiocql.__all__
    assert not cluster.is_closed
    await cluster.close()
    assert cluster.is_closed
