"""The pure schema builder and token map fed with system_schema / system.local rows read from a real
Cassandra 5.0 through aiocql itself (what the control connection will do)."""

from __future__ import annotations

import uuid

import pytest

from aiocql import Cluster
from aiocql.model.host import Host
from aiocql.model.replication import StrategyKind
from aiocql.model.schema import ClusteringOrder, ColumnKind, build_keyspaces
from aiocql.model.state import ClusterState
from aiocql.protocol.cqltypes import FLOAT, INT, TEXT, ListType, MapType, UdtType, VectorType
from aiocql.results import dict_factory
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs
from aiocql.types.token import murmur3_token

pytestmark = pytest.mark.server

DDL = [
    "CREATE TYPE phone (kind text, number text)",
    'CREATE TYPE "Address" (street text, phones list<frozen<phone>>, zip int)',
    'CREATE TABLE users (org int, id uuid, "Name" text, addr frozen<"Address">, emb vector<float, 3>,'
    " PRIMARY KEY (org, id)) WITH comment = 'people'",
    "CREATE TABLE events (a int, b text, c timeuuid, d int, s text static, m map<text, frozen<list<int>>>,"
    " PRIMARY KEY ((a, b), c, d)) WITH CLUSTERING ORDER BY (c DESC, d ASC)",
    "CREATE CUSTOM INDEX events_d_sai ON events (d) USING 'StorageAttachedIndex'",
]
TABLES = ("keyspaces", "tables", "columns", "types", "indexes", "views")


async def test_build_keyspaces_from_real_rows(cassandra: ServerInfo, keyspace: str) -> None:
    async with Cluster(**cluster_kwargs(cassandra, row_factory=dict_factory)) as cluster:
        session = await cluster.connect(keyspace)
        for stmt in DDL:
            await session.execute(stmt, timeout=60)
        rows = {t: await (await session.execute(f"SELECT * FROM system_schema.{t}")).all() for t in TABLES}
        local = (
            await session.execute("SELECT host_id, data_center, rack, tokens, partitioner FROM system.local")
        ).one()

    schema = build_keyspaces(*(rows[t] for t in TABLES))
    assert {"system", "system_schema", keyspace} <= set(schema)
    assert schema["system"].replication_settings.kind is StrategyKind.LOCAL
    ks = schema[keyspace]
    assert ks.replication_settings.kind is StrategyKind.SIMPLE

    phone = UdtType(keyspace, "phone", ("kind", "number"), (TEXT, TEXT))
    assert ks.user_types["Address"].field_types == (TEXT, ListType(phone), INT)
    users = ks.tables["users"]
    assert list(users.columns) == ["org", "id", "Name", "addr", "emb"]
    assert users.columns["addr"].cql_type == ks.user_types["Address"].cql_type
    assert users.columns["emb"].cql_type == VectorType(FLOAT, 3)
    assert users.options["comment"] == "people" and isinstance(users.id, uuid.UUID)
    events = ks.tables["events"]
    assert events.primary_key_cql == "PRIMARY KEY ((a, b), c, d)"
    assert [c.clustering_order for c in events.clustering_key] == [ClusteringOrder.DESC, ClusteringOrder.ASC]
    assert events.columns["s"].kind is ColumnKind.STATIC
    assert events.columns["m"].cql_type == MapType(TEXT, ListType(INT))
    assert events.indexes["events_d_sai"].class_name == "StorageAttachedIndex"
    # Every column type of every keyspace parsed without falling back to a custom type.
    for meta in schema.values():
        for table in meta.tables.values():
            for column in table.columns.values():
                assert "CustomType" not in repr(column.cql_type), (meta.name, table.name, column.name)

    # The node owns every token of a one-node ring; with RF 1 it is the only replica.
    assert local is not None
    me = Host(local["host_id"], cassandra.contact_points[0], cassandra.port, local["data_center"], local["rack"],
              tuple(int(t) for t in local["tokens"]))  # fmt: skip
    state = ClusterState.create([me], keyspaces=schema, partitioner=local["partitioner"])
    assert state.token_map is not None and len(state.token_map) == len(local["tokens"])
    token = murmur3_token(b"\x00\x00\x00\x01")
    assert state.token_map.replicas(keyspace, token) == (me,)
    assert state.token_map.replicas("system", token) == ()
