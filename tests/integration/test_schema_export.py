"""Schema export as CQL, round-tripped on the real server: export a keyspace, drop it, run the export
statement by statement, read the schema again and compare it with the original (ids aside)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from aiocql import Cluster, KeyspaceMetadata, TableMetadata
from aiocql.model.schema_cql import SYSTEM_KEYSPACES, split_statements
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

pytestmark = pytest.mark.server

KS = '"ExportKs"'  # mixed case: every name must come out quoted where CQL needs it

SCHEMA = [
    f"CREATE KEYSPACE {KS} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
    " AND durable_writes = false",
    f'CREATE TYPE {KS}.inner (x int, "Y" text)',
    f'CREATE TYPE {KS}."Outer" (i frozen<inner>, tags set<text>, pair frozen<tuple<int, text>>)',
    f'CREATE TABLE {KS}.events (day date, ts timeuuid, "Who" text, n int static, payload frozen<"Outer">,'
    ' m map<text, frozen<list<int>>>, v vector<float, 3>, PRIMARY KEY ((day, "Who"), ts))'
    " WITH CLUSTERING ORDER BY (ts DESC) AND comment = 'it''s; a comment' AND default_time_to_live = 3600"
    " AND gc_grace_seconds = 7200 AND compaction = {'class': 'LeveledCompactionStrategy', 'sstable_size_in_mb': '64'}"
    " AND caching = {'keys': 'NONE', 'rows_per_partition': '10'} AND speculative_retry = '50ms'",
    f"CREATE TABLE {KS}.counts (k text PRIMARY KEY, hits counter)",
    f"CREATE TABLE {KS}.plain (k int, c1 int, c2 text, v text, PRIMARY KEY (k, c1, c2))"
    " WITH CLUSTERING ORDER BY (c1 ASC, c2 DESC)",
    f"CREATE INDEX plain_v ON {KS}.plain (v)",
    f"CREATE INDEX events_m_keys ON {KS}.events (keys(m))",
    f"CREATE CUSTOM INDEX plain_sai ON {KS}.plain (c2) USING 'StorageAttachedIndex'",
    f"CREATE MATERIALIZED VIEW {KS}.plain_by_v AS SELECT k, c1, c2, v FROM {KS}.plain"
    " WHERE v IS NOT NULL AND k IS NOT NULL AND c1 IS NOT NULL AND c2 IS NOT NULL"
    " PRIMARY KEY (v, k, c1, c2) WITH comment = 'by v'",
    f"CREATE FUNCTION {KS}.plus(a int, b int) CALLED ON NULL INPUT RETURNS int LANGUAGE java"
    " AS 'return (a == null ? 0 : a) + (b == null ? 0 : b);'",
    f'CREATE FUNCTION {KS}."Half"(a int) RETURNS NULL ON NULL INPUT RETURNS double LANGUAGE java'
    " AS $$return a / 2.0;$$",
    f'CREATE AGGREGATE {KS}.total(int) SFUNC plus STYPE int FINALFUNC "Half" INITCOND 0',
]


def comparable(ks: KeyspaceMetadata) -> Any:
    """The keyspace's metadata without table ids (a recreated table gets a new one)."""

    def table(t: TableMetadata) -> TableMetadata:
        views = {n: dataclasses.replace(v, table=dataclasses.replace(v.table, id=None)) for n, v in t.views.items()}
        return dataclasses.replace(t, id=None, views=views)

    return (
        ks.name, dict(ks.replication), ks.durable_writes,
        {n: table(t) for n, t in ks.tables.items()},
        {n: table(v.table) for n, v in ks.views.items()},
        dict(ks.user_types), dict(ks.functions), dict(ks.aggregates), dict(ks.indexes),
    )  # fmt: skip


async def test_export_drop_recreate_gives_the_same_schema(cassandra: ServerInfo) -> None:
    async with Cluster(**cluster_kwargs(cassandra)) as cluster:
        session = await cluster.connect()
        await session.execute(f"DROP KEYSPACE IF EXISTS {KS}", timeout=60)
        for stmt in SCHEMA:
            await session.execute(stmt, timeout=60)
        before = cluster.metadata["ExportKs"]
        assert set(before.tables) == {"events", "counts", "plain"}
        assert set(before.views) == {"plain_by_v"} and set(before.tables["plain"].views) == {"plain_by_v"}
        assert set(before.indexes) == {"plain_v", "events_m_keys", "plain_sai"}
        assert set(before.functions) == {"plus(int, int)", '"Half"(int)'}
        assert set(before.aggregates) == {"total(int)"}
        exported = before.export_as_string()
        statements = split_statements(exported)
        assert len(statements) == len(SCHEMA)
        assert statements[0].startswith('CREATE KEYSPACE "ExportKs" WITH replication')
        assert exported.index("CREATE TYPE") < exported.index("CREATE TABLE")
        assert exported.index('"ExportKs".inner (') < exported.index('"ExportKs"."Outer" (')  # dependency first
        await session.execute(f"DROP KEYSPACE {KS}", timeout=60)
        assert "ExportKs" not in cluster.metadata
        for stmt in statements:
            await session.execute(stmt, timeout=60)
        after = cluster.metadata["ExportKs"]
        assert comparable(after) == comparable(before)
        assert after.export_as_string() == exported


async def test_table_cql_and_whole_schema_export(cassandra: ServerInfo, keyspace: str) -> None:
    async with Cluster(**cluster_kwargs(cassandra)) as cluster:
        session = await cluster.connect(keyspace)
        await session.execute("CREATE TABLE IF NOT EXISTS kv (k int PRIMARY KEY, v text)", timeout=60)
        table = cluster.metadata[keyspace].tables["kv"]
        cql = table.as_cql_query()
        assert cql.startswith(f"CREATE TABLE {keyspace}.kv (\n    k int PRIMARY KEY,\n    v text\n) WITH ")
        assert "read_repair_chance" not in cql and cql.endswith(";")
        # The server's own DESCRIBE has the same columns and key (its option list also shows defaults).
        server = (await session.execute(f"DESCRIBE TABLE {keyspace}.kv")).one().create_statement
        assert server.split(") WITH")[0] == cql.split(") WITH")[0]
        assert table.export_as_string() == cql
        schema = cluster.metadata.export_schema_as_string()
        assert f"CREATE KEYSPACE {keyspace} " in schema and cql in schema
        assert "CREATE KEYSPACE system_schema" not in schema  # the server's keyspaces only when asked
        full = cluster.metadata.export_schema_as_string(include_system=True)
        assert "CREATE TABLE system_schema.tables" in full
        assert not SYSTEM_KEYSPACES & {ks for ks in cluster.metadata if f"CREATE KEYSPACE {ks} " in schema}


async def test_virtual_keyspaces_are_described(cassandra: ServerInfo) -> None:
    async with Cluster(**cluster_kwargs(cassandra)) as cluster:
        await cluster.connect()
        views = cluster.metadata["system_views"]
        assert views.virtual and "settings" in views.tables
        assert [c.name for c in views.tables["settings"].partition_key] == ["name"]
        assert cluster.metadata["system_virtual_schema"].virtual
        assert not cluster.metadata["system_schema"].virtual
        assert views.export_as_string().startswith("/*\nWarning: Keyspace system_views is a virtual keyspace")
